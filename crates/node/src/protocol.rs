//! The CLI session protocol between `smartlic cli` and a node, over the Unix socket
//! `DIR/cli.sock`: one JSON request per line, one JSON reply per line. A connection is one CLI
//! session (its mode lives on the node's side of the connection).

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Largest request line accepted (without its newline).
pub const MAX_LINE: usize = 64 * 1024;

/// One line read from a session by [`read_line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRead {
    /// A line (without its newline; the last line of a stream may lack one).
    Line(Vec<u8>),
    /// A line longer than the limit: it was read up to its newline and thrown away.
    TooLong,
    /// The end of the stream.
    Eof,
}

/// Reads one line of at most `max` bytes. A longer line is consumed up to and including its
/// newline (or the end of the stream) without being kept, so its tail is never taken for the
/// next request; memory stays bounded by `max` plus the reader's buffer.
pub async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> std::io::Result<LineRead> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if too_long {
                LineRead::TooLong
            } else if line.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Line(line)
            });
        }
        let (chunk, used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        if done {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line(line)
            });
        }
    }
}

/// What the client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Run a line as if typed at the prompt.
    Exec {
        /// The line.
        line: String,
    },
    /// Tab completion of a partial line.
    Complete {
        /// The line up to the cursor.
        line: String,
    },
    /// `?` help for a partial line (the text before the `?`).
    Help {
        /// The line before `?`.
        line: String,
    },
    /// The current prompt.
    Prompt,
}

/// What the node answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Reply {
    /// Text to print (may be empty).
    pub output: String,
    /// False if the command failed (`Failure:` / `Invalid command`).
    pub ok: bool,
    /// The prompt after the command.
    pub prompt: String,
    /// For `Complete`: the byte offset where the completed word starts.
    #[serde(default)]
    pub start: usize,
    /// For `Complete`: candidate replacements of the word at `start`.
    #[serde(default)]
    pub candidates: Vec<String>,
    /// The session ended (`exit` in Exec mode).
    #[serde(default)]
    pub exit: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    async fn lines(input: &[u8], max: usize, buffer: usize) -> Vec<LineRead> {
        let mut reader = tokio::io::BufReader::with_capacity(buffer, input);
        let mut out = Vec::new();
        loop {
            match read_line(&mut reader, max).await {
                Ok(LineRead::Eof) => return out,
                Ok(l) => out.push(l),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        match tokio::runtime::Builder::new_current_thread().build() {
            Ok(rt) => rt.block_on(f),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_over_long_line_is_dropped_whole() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"{\"op\":\"prompt\"}\nok\n\nlast");
        let got = block_on(lines(&input, 50, 16));
        assert_eq!(
            got,
            [
                LineRead::TooLong,
                LineRead::Line(b"ok".to_vec()),
                LineRead::Line(Vec::new()),
                LineRead::Line(b"last".to_vec())
            ]
        );
        // Exactly the limit is accepted; one more byte is not.
        let got = block_on(lines(b"12345\n123456\n", 5, 4));
        assert_eq!(got, [LineRead::Line(b"12345".to_vec()), LineRead::TooLong]);
        // An over-long last line without a newline.
        assert_eq!(block_on(lines(&[b'y'; 9], 5, 4)), [LineRead::TooLong]);
    }

    proptest! {
        /// Over any bytes and any buffer size: one result per line, each line either itself (when
        /// short enough) or TooLong, never a piece of a line.
        #[test]
        fn lines_split_like_the_text(
            input in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..400),
            max in 0usize..40,
            buffer in 1usize..50,
        ) {
            let got = block_on(lines(&input, max, buffer));
            let mut want: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
            if input.last().is_none_or(|b| *b == b'\n') {
                want.pop();
            }
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                if w.len() > max {
                    prop_assert_eq!(g, &LineRead::TooLong);
                } else {
                    prop_assert_eq!(g, &LineRead::Line(w.to_vec()));
                }
            }
        }
    }
}
