//! The grammar engine: command patterns, how they compile, and parse / help / completion.
//!
//! # Pattern language
//!
//! A [`CommandSpec`]'s pattern is a sequence of whitespace-separated elements:
//!
//! | element | meaning |
//! |---|---|
//! | `license` | a keyword (lower case, digits, `-`); typed in full or as a unique prefix, any case |
//! | `status(stat)` | the keyword `status`; an abbreviation of at least `stat` selects it even where it also starts another keyword (`statistics`) |
//! | `<name:WORD>` | one word, no whitespace (`<name>` alone means the same) |
//! | `<name:STRING>` | one word, or a double-quoted string that may hold spaces (quotes removed) |
//! | `<name:NUMBER>` | a decimal number (fits in a `u64`) |
//! | `<name:1-4>` | a decimal number in that range |
//! | `<name:IPV4>` | an IPv4 address in dotted-quad form |
//! | `<name:pgw\|sgw>` | one of the listed words (unique prefixes accepted); the full word is the value |
//! | `[ ... ]` | optional; `[a\|b c]` is an optional choice between `a` and `b c` |
//! | `{ a \| b }` | a required choice |
//!
//! Groups nest and are matched in the order written. Every keyword matched is recorded in
//! [`Parsed::keywords`], so a dispatcher tells alternatives apart with [`Parsed::has`].
//!
//! # Matching a word
//!
//! At each place, among the commands still possible: a keyword typed in full wins; else a prefix
//! that starts exactly one keyword; else the one keyword with a priority abbreviation the prefix
//! reaches (so `sh lic stat` is `show license status`, while `sh lic s` stays ambiguous); else a parameter that accepts the
//! word; else the word is ambiguous (it starts several keywords), a bad value for the parameter
//! there, or unknown.
//! Hidden commands (aliases such as `config`) match only when typed in full and are never listed.

//!
//! # Layout
//!
//! `pattern` compiles patterns into the ways through them, `walk` matches typed words against
//! them, and `help` answers `?` and Tab; this module holds the table's types and the entry points.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::commands::CommandId;
use super::error::CliError;
use super::lexer::{Lexeme, Word, lex};
use super::mode::{Mode, ModeKind};
use super::pipe::{Filter, Segment, parse_segments};

mod help;
mod pattern;
mod walk;

pub use help::format_help;
pub(crate) use help::{Candidate, CandidateKind};
use pattern::{Atom, Param, Refusal, compile};

/// One command of a grammar: where it is valid, what it looks like, and its help texts.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// What the dispatcher runs.
    pub id: CommandId,
    /// The modes the command is valid in.
    pub modes: &'static [ModeKind],
    /// The pattern (see the [module documentation](self)).
    pub pattern: &'static str,
    /// Help texts special to this command, looked up before the grammar's common table: keys are
    /// keyword paths (`"enforcement status"`, `"status"`), parameter names in angle brackets
    /// (`"<count>"`) and choice words.
    pub help: &'static [(&'static str, &'static str)],
    /// True if the command's output may be filtered with `| grep` / `| more`.
    pub pipe: bool,
    /// True for aliases that match only when typed in full and are never listed in help.
    pub hidden: bool,
    /// True for Exec commands that configuration modes may run as `do COMMAND`.
    pub doable: bool,
}

/// A successfully parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The command.
    pub id: CommandId,
    /// Parameter values by name: quotes removed; numbers and IPv4 addresses normalised
    /// (`007` → `7`); choices as the full word (`sa` → `saegw` when unique).
    pub args: BTreeMap<&'static str, String>,
    /// Every keyword matched, in full and in order (e.g. `["show", "license", "enforcement",
    /// "status", "blocked"]`); `do` comes first when a configuration mode ran an Exec command.
    pub keywords: Vec<&'static str>,
    /// Output filters after `|`, in order.
    pub filters: Vec<Filter>,
}

impl Parsed {
    /// The value of parameter `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args.get(name).map(String::as_str)
    }

    /// The value of a numeric parameter.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.arg(name).and_then(|v| v.parse().ok())
    }

    /// The value of an IPv4 parameter.
    pub fn ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        self.arg(name).and_then(|v| v.parse().ok())
    }

    /// True if `keyword` (written in full) was part of the line, e.g. an optional `blocked`.
    pub fn has(&self, keyword: &str) -> bool {
        self.keywords.contains(&keyword)
    }
}

/// One line of `?` help: a keyword (or `<name:TYPE>`, `<cr>`, `|`) and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpItem {
    /// What may be typed.
    pub word: String,
    /// What it means.
    pub help: String,
}

/// Tab-completion candidates. Replace the text from byte `start` to the cursor with one of the
/// `candidates` (this is what rustyline's `Completer::complete` returns as `(start, pairs)`).
/// A shell usually appends a space when there is exactly one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// Byte offset in the line where the word being completed starts.
    pub start: usize,
    /// Whole words that may replace it, in table order.
    pub candidates: Vec<String>,
}

/// A pattern in a command table that does not follow the pattern language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad command pattern {pattern:?}: {reason}")]
pub struct GrammarError {
    /// The pattern.
    pub pattern: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// A compiled command table: parses lines, answers `?` and completes words.
#[derive(Debug, Clone)]
pub struct Grammar {
    specs: &'static [CommandSpec],
    common_help: &'static [(&'static str, &'static str)],
    paths: Vec<Path>,
}

/// One way through one command's pattern (optional groups and choices expanded).
#[derive(Debug, Clone)]
struct Path {
    spec: usize,
    atoms: Vec<Atom>,
    modes: u8,
    hidden: bool,
    /// The path is an Exec command behind `do` (its first atom).
    via_do: bool,
}

impl Grammar {
    /// Compiles a command table. `common_help` holds help texts shared by all commands, looked
    /// up like [`CommandSpec::help`].
    ///
    /// # Errors
    ///
    /// A pattern that does not follow the pattern language, or two commands that read the same
    /// in a mode they share.
    pub fn new(
        specs: &'static [CommandSpec],
        common_help: &'static [(&'static str, &'static str)],
    ) -> Result<Grammar, GrammarError> {
        let mut paths = Vec::new();
        let config_bits = ModeKind::CONFIG_ALL.iter().fold(0, |bits, m| bits | m.bit());
        for (index, spec) in specs.iter().enumerate() {
            let fail = |reason: String| GrammarError {
                pattern: spec.pattern,
                reason,
            };
            let modes = spec.modes.iter().fold(0, |bits, m| bits | m.bit());
            for atoms in compile(spec.pattern).map_err(fail)? {
                if spec.doable && modes & ModeKind::Exec.bit() != 0 {
                    let mut behind_do = vec![Atom::Keyword {
                        word: "do",
                        priority: None,
                    }];
                    behind_do.extend(atoms.iter().cloned());
                    paths.push(Path {
                        spec: index,
                        atoms: behind_do,
                        modes: config_bits,
                        hidden: spec.hidden,
                        via_do: true,
                    });
                }
                paths.push(Path {
                    spec: index,
                    atoms,
                    modes,
                    hidden: spec.hidden,
                    via_do: false,
                });
            }
        }
        // Two commands that read the same in one mode would make the table ambiguous.
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                if a.modes & b.modes != 0 && a.atoms == b.atoms {
                    return Err(GrammarError {
                        pattern: specs[b.spec].pattern,
                        reason: format!("reads the same as {:?} in a common mode", specs[a.spec].pattern),
                    });
                }
            }
        }
        Ok(Grammar {
            specs,
            common_help,
            paths,
        })
    }

    /// The command table.
    pub fn specs(&self) -> &'static [CommandSpec] {
        self.specs
    }

    /// Parses one line typed in `mode`. `Ok(None)` for a line with nothing to run: empty, only
    /// whitespace, or a comment (first non-blank character `#` or `!`, as in saved
    /// configurations).
    ///
    /// # Errors
    ///
    /// The [`CliError`] to print: an unknown, ambiguous or missing word, a bad parameter value,
    /// an unmatched quote, or a bad or misplaced output filter.
    pub fn parse(&self, mode: Mode, line: &str) -> Result<Option<Parsed>, CliError> {
        if line.trim_start().starts_with(['#', '!']) {
            return Ok(None);
        }
        let lexed = lex(line, false)?;
        let (words, segments) = split_pipes(lexed.lexemes);
        if words.is_empty() {
            return match segments.first() {
                None => Ok(None),
                Some(segment) => Err(CliError::Unknown {
                    column: segment.pipe_column,
                    word: "|".to_string(),
                }),
            };
        }
        let alive = self.walk(mode, &words)?;
        let end_of_command = segments.first().map_or(lexed.columns, |s| s.pipe_column);
        let path = self.complete_path(&alive, words.len(), end_of_command)?;
        let spec = &self.specs[path.spec];
        let filters = if let Some(segment) = segments.first() {
            if !spec.pipe {
                return Err(CliError::PipeNotAllowed {
                    column: segment.pipe_column,
                });
            }
            parse_segments(&segments, lexed.columns)?
        } else {
            Vec::new()
        };
        let mut args = BTreeMap::new();
        let mut keywords = Vec::new();
        for (atom, word) in path.atoms.iter().zip(&words) {
            match atom {
                Atom::Keyword { word, .. } => keywords.push(*word),
                Atom::Param(param) => match param.accept(word) {
                    Ok(value) => {
                        args.insert(param.name, value);
                    }
                    Err(refusal) => return Err(refusal_error(param, word, refusal)),
                },
            }
        }
        Ok(Some(Parsed {
            id: spec.id,
            args,
            keywords,
            filters,
        }))
    }

    /// Interprets one line as typed at the prompt, where a `?` at the end (outside quotes, blanks
    /// after it ignored) asks for help on the text before it instead of running the line. This
    /// is what `smartlic cli -c LINE` needs; an interactive shell usually binds `?` to
    /// [`Grammar::help`] directly (see [`inside_quotes`]).
    ///
    /// # Errors
    ///
    /// As [`Grammar::parse`] or [`Grammar::help`].
    pub fn interpret(&self, mode: Mode, line: &str) -> Result<Line, CliError> {
        let trimmed = line.trim_end();
        let comment = trimmed.trim_start().starts_with(['#', '!']);
        match trimmed.strip_suffix('?') {
            Some(before) if !comment && !inside_quotes(before) => {
                return self.help(mode, before).map(Line::Help);
            }
            _ => {}
        }
        Ok(self.parse(mode, line)?.map_or(Line::Empty, Line::Command))
    }

    /// `?` help for the text before the `?`. With a trailing space (or nothing) it lists what
    /// may come next (`show license ?`); right after a word it lists the words that start with
    /// it (`show lic?`). `<cr>` is listed when the command is complete there, and `|` when its
    /// output may be filtered.
    ///
    /// # Errors
    ///
    /// The text before the word being typed is already invalid, or nothing starts with that word;
    /// the error is what `parse` would print for it.
    pub fn help(&self, mode: Mode, line: &str) -> Result<Vec<HelpItem>, CliError> {
        let (_, candidates) = self.candidates(mode, line)?;
        Ok(candidates
            .into_iter()
            .map(|c| HelpItem {
                word: c.word,
                help: c.help,
            })
            .collect())
    }

    /// Tab completion for the text before the cursor: the words that may replace the word being
    /// typed (or be added after a trailing space). Empty when nothing fits.
    pub fn complete(&self, mode: Mode, line: &str) -> Completion {
        match self.candidates(mode, line) {
            Ok((start, candidates)) => Completion {
                start,
                candidates: candidates
                    .into_iter()
                    .filter(|c| c.kind == CandidateKind::Word)
                    .map(|c| c.word)
                    .collect(),
            },
            Err(_) => Completion {
                start: line.len(),
                candidates: Vec::new(),
            },
        }
    }
}

/// What a line typed at the prompt asks for ([`Grammar::interpret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Nothing to do: an empty line or a comment.
    Empty,
    /// Run a command.
    Command(Parsed),
    /// Show `?` help.
    Help(Vec<HelpItem>),
}

/// True if `line` ends inside an unclosed double quote, where `?` is text, not a help request.
pub fn inside_quotes(line: &str) -> bool {
    lex(line, true).is_ok_and(|lexed| lexed.open_quote)
}

fn refusal_error(param: &Param, word: &Word, refusal: Refusal) -> CliError {
    match refusal {
        Refusal::Bad(reason) => CliError::BadValue {
            column: word.column,
            word: word.text.clone(),
            param: param.text.to_string(),
            reason,
        },
        Refusal::Ambiguous(candidates) => CliError::Ambiguous {
            column: word.column,
            word: word.text.clone(),
            candidates,
        },
    }
}

/// The command's words, then one segment per `|`.
fn split_pipes(lexemes: Vec<Lexeme>) -> (Vec<Word>, Vec<Segment>) {
    let mut words = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    for lexeme in lexemes {
        match lexeme {
            Lexeme::Pipe { column } => segments.push(Segment {
                pipe_column: column,
                words: Vec::new(),
            }),
            Lexeme::Word(word) => match segments.last_mut() {
                Some(segment) => segment.words.push(word),
                None => words.push(word),
            },
        }
    }
    (words, segments)
}
