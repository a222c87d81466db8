//! Why a command line was refused.

/// A command line the engine refused. Its `Display` is the line the CLI prints, and always starts
/// with `Invalid command`. Errors that point at a place in the line carry its character column:
/// [`CliError::caret_line`] draws StarOS's `^` marker under it and [`CliError::render`] prints
/// the line, the marker and the message together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// A word that no command accepts at that place (unknown keyword or extra word).
    #[error("Invalid command at '^' marker.")]
    Unknown {
        /// Character column of the word.
        column: usize,
        /// The word as typed.
        word: String,
    },
    /// An abbreviation that starts more than one keyword (or choice) valid at that place.
    #[error("Invalid command: ambiguous \"{word}\": {}", .candidates.join(", "))]
    Ambiguous {
        /// Character column of the word.
        column: usize,
        /// The word as typed.
        word: String,
        /// The keywords it could stand for.
        candidates: Vec<String>,
    },
    /// The line stops before the command is complete.
    #[error("Invalid command: incomplete, expected {}", expected_list(.expected))]
    Incomplete {
        /// Character column of the end of the line.
        column: usize,
        /// What could come next: keywords, and parameters written `<name:TYPE>`.
        expected: Vec<String>,
    },
    /// A word in a parameter's place that the parameter does not accept.
    #[error("Invalid command: \"{word}\" is not {reason} for {param}")]
    BadValue {
        /// Character column of the word.
        column: usize,
        /// The word as typed (quotes removed).
        word: String,
        /// The parameter, written `<name:TYPE>`.
        param: String,
        /// What the parameter wants, e.g. `a number from 1 to 4`.
        reason: String,
    },
    /// A `"` that is never closed.
    #[error("Invalid command: unmatched quote")]
    UnmatchedQuote {
        /// Character column of the opening quote.
        column: usize,
    },
    /// A malformed output filter after `|`.
    #[error("Invalid command: {reason}")]
    BadFilter {
        /// Character column of the offending place.
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// `|` after a command that does not produce filterable output.
    #[error("Invalid command: output filters (|) are only allowed after show commands")]
    PipeNotAllowed {
        /// Character column of the `|`.
        column: usize,
    },
}

fn expected_list(expected: &[String]) -> String {
    match expected {
        [one] => one.clone(),
        many => format!("one of: {}", many.join(", ")),
    }
}

impl CliError {
    /// The character column in the line that the error points at.
    pub fn column(&self) -> usize {
        match self {
            CliError::Unknown { column, .. }
            | CliError::Ambiguous { column, .. }
            | CliError::Incomplete { column, .. }
            | CliError::BadValue { column, .. }
            | CliError::UnmatchedQuote { column }
            | CliError::BadFilter { column, .. }
            | CliError::PipeNotAllowed { column } => *column,
        }
    }

    /// StarOS's marker line: `indent + column` spaces and a `^`. In an interactive shell pass the
    /// prompt's width as `indent`, so the marker sits under the typed line.
    pub fn caret_line(&self, indent: usize) -> String {
        format!("{}^", " ".repeat(indent.saturating_add(self.column()).min(4096)))
    }

    /// The whole report for a line that is not already on screen (e.g. `smartlic cli -c`):
    /// the line, the marker under it, and the message.
    ///
    /// ```
    /// # use smartlic_node::cli::{Grammar, Mode};
    /// let line = "show licence status";
    /// let err = Grammar::standard().parse(Mode::Exec, line).expect_err("misspelt");
    /// assert_eq!(
    ///     err.render(line),
    ///     "show licence status\n     ^\nInvalid command at '^' marker."
    /// );
    /// ```
    pub fn render(&self, line: &str) -> String {
        format!("{line}\n{}\n{self}", self.caret_line(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_starts_with_invalid_command() {
        let errors = [
            CliError::Unknown {
                column: 0,
                word: "x".into(),
            },
            CliError::Ambiguous {
                column: 0,
                word: "s".into(),
                candidates: vec!["show".into(), "snmp".into()],
            },
            CliError::Incomplete {
                column: 0,
                expected: vec!["<token:WORD>".into()],
            },
            CliError::BadValue {
                column: 0,
                word: "x".into(),
                param: "<n:NUMBER>".into(),
                reason: "a number".into(),
            },
            CliError::UnmatchedQuote { column: 0 },
            CliError::BadFilter {
                column: 0,
                reason: "x".into(),
            },
            CliError::PipeNotAllowed { column: 0 },
        ];
        for e in errors {
            assert!(e.to_string().starts_with("Invalid command"), "{e}");
        }
    }

    #[test]
    fn messages() {
        let e = CliError::Ambiguous {
            column: 0,
            word: "s".into(),
            candidates: vec!["show".into(), "snmp".into()],
        };
        assert_eq!(e.to_string(), r#"Invalid command: ambiguous "s": show, snmp"#);
        let e = CliError::Incomplete {
            column: 3,
            expected: vec!["<token:WORD>".into()],
        };
        assert_eq!(e.to_string(), "Invalid command: incomplete, expected <token:WORD>");
        let e = CliError::Incomplete {
            column: 3,
            expected: vec!["id".into(), "auth".into()],
        };
        assert_eq!(e.to_string(), "Invalid command: incomplete, expected one of: id, auth");
        assert_eq!(e.caret_line(2), "     ^");
    }
}
