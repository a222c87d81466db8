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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::commands::CommandId;
use super::error::CliError;
use super::lexer::{Lexeme, Word, lex};
use super::mode::{Mode, ModeKind};
use super::pipe::{Filter, Segment, parse_segments, segment_candidates};

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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    /// A keyword. With `priority: Some(n)` (written `status(stat)`, `n` = 4) an abbreviation of
    /// at least `n` characters selects it even if it also starts other keywords.
    Keyword {
        word: &'static str,
        priority: Option<usize>,
    },
    Param(Param),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    name: &'static str,
    kind: ParamKind,
    /// As written in the pattern, e.g. `<count:NUMBER>`.
    text: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ParamKind {
    Word,
    String,
    Number { min: u64, max: u64 },
    Ipv4,
    Choice(Vec<&'static str>),
}

/// Why a parameter refused a word.
enum Refusal {
    /// The word is not a value of the parameter; the text says what is.
    Bad(String),
    /// The word starts several of a choice's words.
    Ambiguous(Vec<String>),
}

impl Param {
    /// The value the word stands for, normalised.
    fn accept(&self, word: &Word) -> Result<String, Refusal> {
        let text = word.text.as_str();
        match &self.kind {
            ParamKind::String => Ok(text.to_string()),
            ParamKind::Word => {
                if text.is_empty() || text.contains(char::is_whitespace) {
                    Err(Refusal::Bad("a single word".to_string()))
                } else {
                    Ok(text.to_string())
                }
            }
            ParamKind::Number { min, max } => {
                let value = (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| text.parse::<u64>().ok())
                    .flatten();
                match value {
                    Some(n) if (*min..=*max).contains(&n) => Ok(n.to_string()),
                    _ => Err(Refusal::Bad(self.kind.describe())),
                }
            }
            ParamKind::Ipv4 => text
                .parse::<Ipv4Addr>()
                .map(|ip| ip.to_string())
                .map_err(|_| Refusal::Bad(self.kind.describe())),
            ParamKind::Choice(options) => {
                let typed = text.to_ascii_lowercase();
                if let Some(exact) = options.iter().find(|o| **o == typed) {
                    return Ok(exact.to_string());
                }
                let found: Vec<&str> = options
                    .iter()
                    .copied()
                    .filter(|o| !typed.is_empty() && o.starts_with(&typed))
                    .collect();
                match found.as_slice() {
                    [one] => Ok(one.to_string()),
                    [] => Err(Refusal::Bad(self.kind.describe())),
                    many => Err(Refusal::Ambiguous(many.iter().map(ToString::to_string).collect())),
                }
            }
        }
    }
}

impl ParamKind {
    fn describe(&self) -> String {
        match self {
            ParamKind::Word => "a single word".to_string(),
            ParamKind::String => "a word or a double-quoted string".to_string(),
            ParamKind::Number { min: 0, max: u64::MAX } => "a number".to_string(),
            ParamKind::Number { min, max } => format!("a number from {min} to {max}"),
            ParamKind::Ipv4 => "an IPv4 address".to_string(),
            ParamKind::Choice(options) => format!("one of {}", options.join(", ")),
        }
    }

    fn default_help(&self) -> String {
        let mut text = self.describe();
        if let Some(first) = text.get(..1) {
            let upper = first.to_ascii_uppercase();
            text.replace_range(..1, &upper);
        }
        text
    }
}

/// What a help or completion query may offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub word: String,
    pub help: String,
    pub kind: CandidateKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CandidateKind {
    /// A word that can be typed as is (keyword, choice word, filter name, grep flag).
    Word,
    /// A placeholder such as `<count:NUMBER>`.
    Param,
    /// `<cr>`: the command is complete.
    End,
    /// `|`: output filters may follow.
    Pipe,
}

impl Candidate {
    pub(crate) fn new(word: &str, help: &str, kind: CandidateKind) -> Candidate {
        Candidate {
            word: word.to_string(),
            help: help.to_string(),
            kind,
        }
    }

    pub(crate) fn word(word: &str, help: &str) -> Candidate {
        Candidate::new(word, help, CandidateKind::Word)
    }

    pub(crate) fn end() -> Candidate {
        Candidate::new("<cr>", "", CandidateKind::End)
    }

    pub(crate) fn pipe() -> Candidate {
        Candidate::new(
            "|",
            "Filter the output: grep [-A|-B|-C N] [-Ecinvw] PATTERN, more",
            CandidateKind::Pipe,
        )
    }
}

/// The maximum number of ways through one pattern (optional groups multiply them).
const MAX_PATHS_PER_SPEC: usize = 256;

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
            let tokens = pattern_tokens(spec.pattern).map_err(fail)?;
            let mut pos = 0;
            let alternatives = parse_alternatives(&tokens, &mut pos, None).map_err(fail)?;
            let [sequence] = alternatives.as_slice() else {
                return Err(fail("a choice at the top level must be inside { }".to_string()));
            };
            let expanded = expand(sequence).map_err(fail)?;
            let modes = spec.modes.iter().fold(0, |bits, m| bits | m.bit());
            for atoms in expanded {
                check_path(&atoms).map_err(fail)?;
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

    /// The paths valid in `mode` that accept every word, in table order.
    fn walk(&self, mode: Mode, words: &[Word]) -> Result<Vec<usize>, CliError> {
        let bit = mode.kind().bit();
        let mut alive: Vec<usize> = (0..self.paths.len())
            .filter(|&p| self.paths[p].modes & bit != 0)
            .collect();
        for (index, word) in words.iter().enumerate() {
            alive = self.step(&alive, index, word)?;
        }
        Ok(alive)
    }

    fn step(&self, alive: &[usize], index: usize, word: &Word) -> Result<Vec<usize>, CliError> {
        let atom_at = |p: usize| self.paths[p].atoms.get(index);
        let exact: Vec<usize> = alive
            .iter()
            .copied()
            .filter(
                |&p| matches!(atom_at(p), Some(Atom::Keyword { word: k, .. }) if k.eq_ignore_ascii_case(&word.text)),
            )
            .collect();
        if !exact.is_empty() {
            return Ok(exact);
        }
        let typed = word.text.to_ascii_lowercase();
        let mut prefixed = Vec::new();
        let mut prefixed_keywords: Vec<&'static str> = Vec::new();
        for &p in alive {
            match atom_at(p) {
                Some(Atom::Keyword { word: k, .. })
                    if !typed.is_empty() && !self.paths[p].hidden && k.starts_with(&typed) =>
                {
                    prefixed.push(p);
                    if !prefixed_keywords.contains(k) {
                        prefixed_keywords.push(k);
                    }
                }
                _ => {}
            }
        }
        if prefixed_keywords.len() == 1 {
            return Ok(prefixed);
        }
        let preferred: Vec<usize> = prefixed
            .iter()
            .copied()
            .filter(|&p| matches!(atom_at(p), Some(Atom::Keyword { priority: Some(min), .. }) if typed.len() >= *min))
            .collect();
        let mut preferred_keywords = preferred.iter().filter_map(|&p| match atom_at(p) {
            Some(Atom::Keyword { word, .. }) => Some(*word),
            _ => None,
        });
        let first = preferred_keywords.next();
        if first.is_some() && preferred_keywords.all(|k| Some(k) == first) {
            return Ok(preferred);
        }
        let mut accepted = Vec::new();
        let mut refused = None;
        for &p in alive {
            if let Some(Atom::Param(param)) = atom_at(p) {
                match param.accept(word) {
                    Ok(_) => accepted.push(p),
                    Err(refusal) => {
                        if refused.is_none() {
                            refused = Some(refusal_error(param, word, refusal));
                        }
                    }
                }
            }
        }
        if !accepted.is_empty() {
            return Ok(accepted);
        }
        if prefixed_keywords.len() > 1 {
            return Err(CliError::Ambiguous {
                column: word.column,
                word: word.text.clone(),
                candidates: prefixed_keywords.iter().map(ToString::to_string).collect(),
            });
        }
        Err(refused.unwrap_or_else(|| CliError::Unknown {
            column: word.column,
            word: word.text.clone(),
        }))
    }

    /// The first path that ends after `n` words, or the error that says what is missing.
    fn complete_path(&self, alive: &[usize], n: usize, column: usize) -> Result<&Path, CliError> {
        if let Some(&p) = alive.iter().find(|&&p| self.paths[p].atoms.len() == n) {
            return Ok(&self.paths[p]);
        }
        let mut expected: Vec<String> = Vec::new();
        for &p in alive {
            let path = &self.paths[p];
            if path.hidden {
                continue;
            }
            let shown = match path.atoms.get(n) {
                Some(Atom::Keyword { word, .. }) => word.to_string(),
                Some(Atom::Param(param)) => param.text.to_string(),
                None => continue,
            };
            if !expected.contains(&shown) {
                expected.push(shown);
            }
        }
        Err(CliError::Incomplete { column, expected })
    }

    /// What may be typed at the end of `line`, and the byte offset where that word starts.
    fn candidates(&self, mode: Mode, line: &str) -> Result<(usize, Vec<Candidate>), CliError> {
        let lexed = lex(line, true)?;
        let mut lexemes = lexed.lexemes;
        let ends_in_word = lexed.open_quote || !line.ends_with(char::is_whitespace);
        let partial = match lexemes.last() {
            Some(Lexeme::Word(_)) if ends_in_word => match lexemes.pop() {
                Some(Lexeme::Word(word)) => Some(word),
                _ => None,
            },
            _ => None,
        };
        let start = partial.as_ref().map_or(line.len(), |w| w.start);
        let (words, segments) = split_pipes(lexemes);
        let alive = self.walk(mode, &words)?;
        let mut out: Vec<Candidate> = Vec::new();
        if let Some((last, before)) = segments.split_last() {
            let end_of_command = segments.first().map_or(lexed.columns, |s| s.pipe_column);
            let path = self.complete_path(&alive, words.len(), end_of_command)?;
            if !self.specs[path.spec].pipe {
                return Err(CliError::PipeNotAllowed { column: end_of_command });
            }
            parse_segments(before, last.pipe_column)?;
            out = segment_candidates(&last.words, partial.as_ref())?;
        } else {
            let n = words.len();
            let mut complete = None;
            for &p in &alive {
                let path = &self.paths[p];
                match path.atoms.get(n) {
                    None => {
                        complete.get_or_insert(path);
                    }
                    Some(_) if path.hidden => {}
                    Some(Atom::Keyword { word: k, .. }) => {
                        if partial
                            .as_ref()
                            .is_none_or(|w| k.starts_with(&w.text.to_ascii_lowercase()))
                        {
                            push_new(&mut out, Candidate::word(k, &self.keyword_help(path, n)));
                        }
                    }
                    Some(Atom::Param(param)) => {
                        let spec = &self.specs[path.spec];
                        if let ParamKind::Choice(options) = &param.kind {
                            let typed = partial
                                .as_ref()
                                .map(|w| w.text.to_ascii_lowercase())
                                .unwrap_or_default();
                            for option in options.iter().filter(|o| o.starts_with(&typed)) {
                                let help = self.lookup(spec, option).unwrap_or("");
                                push_new(&mut out, Candidate::word(option, help));
                            }
                        } else if partial.as_ref().is_none_or(|w| param.accept(w).is_ok()) {
                            push_new(
                                &mut out,
                                Candidate::new(param.text, &self.param_help(spec, param), CandidateKind::Param),
                            );
                        }
                    }
                }
            }
            if let (Some(path), None) = (complete, &partial) {
                if self.specs[path.spec].pipe {
                    out.push(Candidate::pipe());
                }
                out.push(Candidate::end());
            }
        }
        if let (true, Some(word)) = (out.is_empty(), &partial) {
            return Err(CliError::Unknown {
                column: word.column,
                word: word.text.clone(),
            });
        }
        Ok((start, out))
    }

    /// Help for the keyword at `index` of `path`: the longest keyword path that ends with it and
    /// has a text, in the command's own table first, then in the common one.
    fn keyword_help(&self, path: &Path, index: usize) -> String {
        let skip = usize::from(path.via_do && index > 0);
        let keywords: Vec<&str> = path.atoms[skip..=index.min(path.atoms.len().saturating_sub(1))]
            .iter()
            .filter_map(|a| match a {
                Atom::Keyword { word, .. } => Some(*word),
                Atom::Param(_) => None,
            })
            .collect();
        let spec = &self.specs[path.spec];
        (0..keywords.len())
            .find_map(|from| self.lookup(spec, &keywords[from..].join(" ")))
            .unwrap_or("")
            .to_string()
    }

    fn param_help(&self, spec: &CommandSpec, param: &Param) -> String {
        self.lookup(spec, &format!("<{}>", param.name))
            .map_or_else(|| param.kind.default_help(), str::to_string)
    }

    fn lookup(&self, spec: &CommandSpec, key: &str) -> Option<&'static str> {
        spec.help
            .iter()
            .chain(self.common_help)
            .find(|(k, _)| *k == key)
            .map(|(_, text)| *text)
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

/// Lays help out in two columns, StarOS style: `  word  - help`.
pub fn format_help(items: &[HelpItem]) -> String {
    let width = items.iter().map(|i| i.word.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for item in items {
        // Writing to a String cannot fail.
        let _ = if item.help.is_empty() {
            writeln!(out, "  {}", item.word)
        } else {
            writeln!(out, "  {:<width$} - {}", item.word, item.help)
        };
    }
    out
}

fn push_new(out: &mut Vec<Candidate>, candidate: Candidate) {
    if !out.iter().any(|c| c.word == candidate.word) {
        out.push(candidate);
    }
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

// ----- pattern compilation -----

#[derive(Debug, Clone)]
enum Node {
    Atom(Atom),
    Group {
        optional: bool,
        alternatives: Vec<Vec<Node>>,
    },
}

fn pattern_tokens(pattern: &'static str) -> Result<Vec<&'static str>, String> {
    if !pattern.is_ascii() {
        return Err("patterns are ASCII".to_string());
    }
    let bytes = pattern.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'<' {
            let Some(len) = pattern[i..].find('>') else {
                return Err("unclosed <".to_string());
            };
            tokens.push(&pattern[i..=i + len]);
            i += len + 1;
        } else if b"[]{}|".contains(&b) {
            tokens.push(&pattern[i..=i]);
            i += 1;
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"<>[]{}|".contains(&bytes[i]) {
                i += 1;
            }
            if start == i {
                return Err(format!("unexpected {:?}", &pattern[i..=i]));
            }
            tokens.push(&pattern[start..i]);
        }
    }
    Ok(tokens)
}

fn parse_alternatives(
    tokens: &[&'static str],
    pos: &mut usize,
    closer: Option<&str>,
) -> Result<Vec<Vec<Node>>, String> {
    let mut alternatives = Vec::new();
    let mut sequence = Vec::new();
    loop {
        let Some(&token) = tokens.get(*pos) else {
            if let Some(closer) = closer {
                return Err(format!("missing {closer}"));
            }
            alternatives.push(sequence);
            break;
        };
        *pos += 1;
        match token {
            "|" => alternatives.push(std::mem::take(&mut sequence)),
            "]" | "}" => {
                if Some(token) != closer {
                    return Err(format!("unexpected {token}"));
                }
                alternatives.push(sequence);
                break;
            }
            "[" | "{" => {
                let inner = parse_alternatives(tokens, pos, Some(if token == "[" { "]" } else { "}" }))?;
                sequence.push(Node::Group {
                    optional: token == "[",
                    alternatives: inner,
                });
            }
            _ if token.starts_with('<') => sequence.push(Node::Atom(Atom::Param(parse_param(token)?))),
            _ => {
                // `status(stat)`: the keyword `status`, selected by `stat` or longer.
                let (word, priority) = match token.split_once('(') {
                    Some((word, rest)) => match rest.strip_suffix(')') {
                        Some(short) if !short.is_empty() && word.starts_with(short) => (word, Some(short.len())),
                        _ => return Err(format!("bad priority abbreviation in {token:?}")),
                    },
                    None => (token, None),
                };
                check_keyword(word)?;
                sequence.push(Node::Atom(Atom::Keyword { word, priority }));
            }
        }
    }
    if alternatives.iter().any(Vec::is_empty) {
        return Err("empty alternative".to_string());
    }
    Ok(alternatives)
}

fn check_keyword(word: &str) -> Result<(), String> {
    let ok = word.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("bad keyword {word:?}"))
    }
}

fn parse_param(token: &'static str) -> Result<Param, String> {
    let inner = &token[1..token.len() - 1];
    let (name, kind) = inner.split_once(':').unwrap_or((inner, "WORD"));
    let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !name_ok {
        return Err(format!("bad parameter name in {token}"));
    }
    let kind = match kind {
        "WORD" => ParamKind::Word,
        "STRING" => ParamKind::String,
        "NUMBER" => ParamKind::Number { min: 0, max: u64::MAX },
        "IPV4" => ParamKind::Ipv4,
        _ if kind.contains('|') => {
            let options: Vec<&'static str> = kind.split('|').collect();
            for (i, option) in options.iter().enumerate() {
                check_keyword(option)?;
                if options[..i].contains(option) {
                    return Err(format!("{option} twice in {token}"));
                }
            }
            ParamKind::Choice(options)
        }
        _ => {
            let range = kind
                .split_once('-')
                .and_then(|(lo, hi)| Some((lo.parse::<u64>().ok()?, hi.parse::<u64>().ok()?)));
            match range {
                Some((min, max)) if min <= max => ParamKind::Number { min, max },
                _ => return Err(format!("unknown parameter type in {token}")),
            }
        }
    };
    Ok(Param {
        name,
        kind,
        text: token,
    })
}

fn expand(sequence: &[Node]) -> Result<Vec<Vec<Atom>>, String> {
    let mut paths: Vec<Vec<Atom>> = vec![Vec::new()];
    for node in sequence {
        match node {
            Node::Atom(atom) => paths.iter_mut().for_each(|p| p.push(atom.clone())),
            Node::Group { optional, alternatives } => {
                let mut tails: Vec<Vec<Atom>> = Vec::new();
                for alternative in alternatives {
                    tails.extend(expand(alternative)?);
                }
                // Skipping the group comes last, so that help lists in the pattern's order.
                if *optional {
                    tails.push(Vec::new());
                }
                let mut next = Vec::new();
                for path in &paths {
                    for tail in &tails {
                        let mut joined = path.clone();
                        joined.extend(tail.iter().cloned());
                        next.push(joined);
                    }
                    if next.len() > MAX_PATHS_PER_SPEC {
                        return Err(format!("more than {MAX_PATHS_PER_SPEC} ways through"));
                    }
                }
                paths = next;
            }
        }
    }
    Ok(paths)
}

fn check_path(atoms: &[Atom]) -> Result<(), String> {
    if atoms.is_empty() {
        return Err("a way through the pattern is empty".to_string());
    }
    if !matches!(atoms.first(), Some(Atom::Keyword { .. })) {
        return Err("a command starts with a keyword".to_string());
    }
    let mut names = Vec::new();
    for atom in atoms {
        if let Atom::Param(param) = atom {
            if names.contains(&param.name) {
                return Err(format!("parameter {} twice", param.name));
            }
            names.push(param.name);
        }
    }
    Ok(())
}
