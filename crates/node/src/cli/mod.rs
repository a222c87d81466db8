//! The StarOS-style command-line engine of the node.
//!
//! A pure function of (mode, line): it parses what an operator types into a command id, its
//! arguments and its output filters, answers `?` help, and offers Tab completions. It does no
//! I/O and knows nothing of the node's state; the node's dispatcher matches on the
//! [`CommandId`] and runs the command.
//!
//! - The command table ([`COMMANDS`]) is data: each [`CommandSpec`] names the modes it is valid
//!   in and a pattern such as `show license enforcement status [allowed|blocked]
//!   [feature|service]` (the pattern language is described in [`grammar`]).
//! - Keywords may be abbreviated to any unique prefix, in any case (`conf`, `sh lic su`); a
//!   keyword typed in full wins over a longer one it starts (the alias `config`), and a keyword
//!   may name a priority abbreviation (`stat` for `status`, though it also starts `statistics`,
//!   so that the contract's `sh lic stat` works). Other ambiguous prefixes are errors.
//! - A show command may end in `| grep [-A|-B|-C N] [-Ecinvw] PATTERN` and `| more` ([`Filter`]).
//! - Every error prints as a line starting with `Invalid command` ([`CliError`]), and points at a
//!   column for StarOS's `^` marker.
//! - [`Grammar::interpret`] treats a trailing `?` as a help request, as `smartlic cli -c` needs;
//!   [`Grammar::complete`] returns `(start, words)` as rustyline's `Completer` wants them.
//! - Configuration modes run Exec commands as `do COMMAND`; lines starting with `#` or `!` are
//!   comments.
//!
//! ```
//! use smartlic_node::cli::{CommandId, Filter, Grammar, Mode};
//!
//! let cli = Grammar::standard();
//! let parsed = cli
//!     .parse(Mode::Exec, "sh lic enf stat blocked | grep -i pgw")
//!     .expect("valid")
//!     .expect("not empty");
//! assert_eq!(parsed.id, CommandId::ShowLicenseEnforcementStatus);
//! assert!(parsed.has("blocked") && !parsed.has("allowed"));
//! let output = "pgw    BLOCK\nsgw    ALLOW\n";
//! assert_eq!(Filter::apply(&parsed.filters, output), "pgw    BLOCK\n");
//!
//! let parsed = cli
//!     .parse(Mode::Config, "snmp target nms 192.0.2.1 port 1162")
//!     .expect("valid")
//!     .expect("not empty");
//! assert_eq!(parsed.arg("ip"), Some("192.0.2.1"));
//! assert_eq!(parsed.number("port"), Some(1162));
//!
//! let err = cli
//!     .parse(Mode::Exec, "license smart register idtoken")
//!     .expect_err("incomplete");
//! assert_eq!(err.to_string(), "Invalid command: incomplete, expected <token:WORD>");
//!
//! let help = cli.help(Mode::Exec, "show license enforcement ").expect("valid");
//! let words: Vec<&str> = help.iter().map(|h| h.word.as_str()).collect();
//! assert_eq!(words, ["policy", "status"]);
//!
//! let completion = cli.complete(Mode::Exec, "show lic");
//! assert_eq!((completion.start, completion.candidates), (5, vec!["license".to_string()]));
//! assert_eq!(Mode::Config.prompt("asr5500"), "[local]asr5500(config)#");
//! ```

mod commands;
mod error;
pub mod grammar;
mod lexer;
mod mode;
mod pipe;

#[cfg(test)]
mod tests;

pub use commands::{COMMANDS, COMMON_HELP, CommandId};
pub use error::CliError;
pub use grammar::{CommandSpec, Completion, Grammar, GrammarError, HelpItem, Line, Parsed, format_help, inside_quotes};
pub use mode::{Mode, ModeKind};
pub use pipe::{Filter, GrepOptions};
