//! An error and its causes as one line of text, for messages that cross a process boundary (a
//! refusal naming why the parent could not be reached, a webhook delivery's recorded failure).

use std::error::Error;

/// `e` and its sources, outermost first.
pub fn causes<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |&cur| cur.source())
}

/// The innermost cause of `e`, in one line (`e` itself when it has no source).
pub fn root_cause(e: &(dyn Error + 'static)) -> String {
    causes(e).last().unwrap_or(e).to_string()
}

/// `e` with its causes, `a: b: c`; a cause whose text the line already holds is left out (many
/// errors repeat their source in their own message).
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut text = e.to_string();
    for cause in causes(e).skip(1) {
        let t = cause.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn Error + 'static))
        }
    }

    fn layers(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |inner, t| Some(Layer(t, inner.map(Box::new))))
            .unwrap_or(Layer("", None))
    }

    #[test]
    fn root_cause_is_the_innermost_text() {
        assert_eq!(
            root_cause(&layers(&["request failed", "connect", "connection refused"])),
            "connection refused"
        );
        assert_eq!(root_cause(&layers(&["alone"])), "alone");
    }

    #[test]
    fn chain_joins_causes_but_those_already_said() {
        let e = layers(&[
            "error sending request",
            "connect: connection refused",
            "connection refused",
        ]);
        assert_eq!(chain(&e), "error sending request: connect: connection refused");
        assert_eq!(chain(&layers(&["alone"])), "alone");
    }
}
