//! The CLI session protocol between `smartlic cli` and a node, over the Unix socket
//! `DIR/cli.sock`: one JSON request per line, one JSON reply per line. A connection is one CLI
//! session (its mode lives on the node's side of the connection).

use serde::{Deserialize, Serialize};

/// Largest request line accepted.
pub const MAX_LINE: usize = 64 * 1024;

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
