//! Output filters: `| grep [OPTIONS] PATTERN` and `| more`.
//!
//! `grep` takes what StarOS operators type, with GNU grep's meaning: `-i` (ignore case), `-v`
//! (keep the lines that do not match), `-w` (whole words), `-E` (accepted: patterns are always
//! extended regular expressions), `-c` (print only the number of selected lines), `-n` (prefix
//! each line with its number and `:`, context lines with `-`), and `-A N`, `-B N`, `-C N` (lines
//! of context after, before, or around each match; also written `-A8`). Short flags combine
//! (`-in`, `-vc`, `-iA3`); a flag that takes a number takes the rest of its word or the next word.
//! `--` ends the options. Non-adjacent groups of context output are separated by a `--` line.
//! The pattern may be quoted with `"` or `'` (it may then hold spaces or start with `-`).

use regex::{Regex, RegexBuilder};

use super::error::CliError;
use super::grammar::{Candidate, CandidateKind};
use super::lexer::Word;

/// An output filter that follows a `|` on a show command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `grep [OPTIONS] PATTERN`: keeps the lines that match PATTERN (a regular expression; a
    /// pattern that is not a valid one is matched as plain text). See [`GrepOptions`].
    Grep(GrepOptions),
    /// `more`: page the output. Output that does not go to an interactive terminal is not paged,
    /// so [`Filter::apply`] leaves it alone; a shell checks [`Filter::wants_paging`].
    More,
}

/// What a `| grep` was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrepOptions {
    /// The pattern, quotes removed.
    pub pattern: String,
    /// `-i`: ignore case.
    pub ignore_case: bool,
    /// `-v`: select the lines that do *not* match.
    pub invert: bool,
    /// `-w`: the match must be a whole word (not preceded or followed by a letter, digit or `_`).
    pub word: bool,
    /// `-E`: extended regular expression. Accepted for operators' habits; patterns are always
    /// regular expressions, so it changes nothing.
    pub extended: bool,
    /// `-c`: print only the number of selected lines.
    pub count: bool,
    /// `-n`: prefix each line with its line number and `:` (context lines with `-`).
    pub line_numbers: bool,
    /// `-A N` (or `-C N`): lines of context after each selected line.
    pub after: usize,
    /// `-B N` (or `-C N`): lines of context before each selected line.
    pub before: usize,
}

impl GrepOptions {
    /// Options for `grep PATTERN` with no flags.
    pub fn new(pattern: impl Into<String>) -> GrepOptions {
        GrepOptions {
            pattern: pattern.into(),
            ..GrepOptions::default()
        }
    }

    /// Runs this grep over `text`, line by line. Selected lines keep their line ends.
    pub fn apply(&self, text: &str) -> String {
        let matcher = Matcher::new(&self.pattern, self.ignore_case, self.word);
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let selected: Vec<bool> = lines
            .iter()
            .map(|line| matcher.is_match(line.trim_end_matches(['\n', '\r'])) != self.invert)
            .collect();
        if self.count {
            return format!("{}\n", selected.iter().filter(|s| **s).count());
        }
        let context = self.after > 0 || self.before > 0;
        let mut out = String::new();
        // The index of the first line not yet printed, once something was printed.
        let mut next: Option<usize> = None;
        for (i, _) in selected.iter().enumerate().filter(|(_, s)| **s) {
            let start = i.saturating_sub(self.before);
            let end = i.saturating_add(self.after).saturating_add(1).min(lines.len());
            let from = next.map_or(start, |n| n.max(start));
            if context && next.is_some_and(|n| from > n) {
                out.push_str("--\n");
            }
            for (j, line) in lines.iter().enumerate().take(end).skip(from) {
                if self.line_numbers {
                    out.push_str(&format!("{}{}", j + 1, if selected[j] { ':' } else { '-' }));
                }
                out.push_str(line);
            }
            next = Some(next.map_or(end, |n| n.max(end)));
        }
        out
    }
}

impl Filter {
    /// Runs every filter over `output`, line by line, in order. Kept lines keep their line ends.
    ///
    /// ```
    /// # use smartlic_node::cli::{Filter, GrepOptions};
    /// let grep = Filter::Grep(GrepOptions::new("^Status"));
    /// let out = Filter::apply(&[grep, Filter::More], "Status: REGISTERED\nSmart Account: x\n");
    /// assert_eq!(out, "Status: REGISTERED\n");
    ///
    /// let grep = Filter::Grep(GrepOptions { after: 1, line_numbers: true, ..GrepOptions::new("Status") });
    /// let out = Filter::apply(&[grep], "Status: REGISTERED\nSmart Account: x\nVA: y\n");
    /// assert_eq!(out, "1:Status: REGISTERED\n2-Smart Account: x\n");
    /// ```
    pub fn apply(filters: &[Filter], output: &str) -> String {
        let mut text = output.to_string();
        for filter in filters {
            if let Filter::Grep(grep) = filter {
                text = grep.apply(&text);
            }
        }
        text
    }

    /// True if the filters ask for paging (`| more`). The hook for an interactive pager.
    pub fn wants_paging(filters: &[Filter]) -> bool {
        filters.iter().any(|f| matches!(f, Filter::More))
    }
}

/// How a grep pattern is matched: as a regular expression when it is one, else as text.
enum Matcher {
    Regex(Regex),
    Text {
        needle: String,
        ignore_case: bool,
        word: bool,
    },
}

/// Limits on compiled patterns, so that a pathological pattern cannot eat the node's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn build(pattern: &str, ignore_case: bool, unicode: bool) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .unicode(unicode)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .ok()
}

/// A letter, digit or `_`: what `-w` treats as part of a word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True if `needle` occurs in `hay` with no word character right before or after it.
fn contains_word(hay: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = hay.get(from..).and_then(|rest| rest.find(needle)) {
        let at = from + pos;
        let end = at + needle.len();
        let before_ok = hay[..at].chars().next_back().is_none_or(|c| !is_word_char(c));
        let after_ok = hay[end..].chars().next().is_none_or(|c| !is_word_char(c));
        if before_ok && after_ok {
            return true;
        }
        match hay[at..].chars().next() {
            Some(c) => from = at + c.len_utf8(),
            None => return false,
        }
    }
    false
}

impl Matcher {
    fn new(pattern: &str, ignore_case: bool, word: bool) -> Matcher {
        // The second try, without Unicode classes, accepts `\w`, `\d` and `\s` (ASCII meaning)
        // in builds whose regex crate has no Unicode Perl classes.
        for unicode in [true, false] {
            // The pattern must be a regular expression by itself; `-w` then wraps it in word
            // boundaries (half boundaries: no word character just before or just after, as
            // GNU grep -w has it; for a pattern that starts and ends with a word character this
            // is `\b(?:…)\b`). Unicode word boundaries where the regex crate has them, else
            // ASCII ones (this build leaves out Unicode's Perl classes).
            let Some(plain) = build(pattern, ignore_case, unicode) else {
                continue;
            };
            if !word {
                return Matcher::Regex(plain);
            }
            for (open, close) in [
                (r"\b{start-half}", r"\b{end-half}"),
                (r"(?-u:\b{start-half})", r"(?-u:\b{end-half})"),
            ] {
                if let Some(regex) = build(&format!("{open}(?:{pattern}){close}"), ignore_case, unicode) {
                    return Matcher::Regex(regex);
                }
            }
        }
        Matcher::Text {
            needle: if ignore_case {
                pattern.to_lowercase()
            } else {
                pattern.to_string()
            },
            ignore_case,
            word,
        }
    }

    fn is_match(&self, line: &str) -> bool {
        match self {
            Matcher::Regex(regex) => regex.is_match(line),
            Matcher::Text {
                needle,
                ignore_case,
                word,
            } => {
                let lowered;
                let hay = if *ignore_case {
                    lowered = line.to_lowercase();
                    lowered.as_str()
                } else {
                    line
                };
                if *word {
                    contains_word(hay, needle)
                } else {
                    hay.contains(needle.as_str())
                }
            }
        }
    }
}

/// The words between one `|` and the next (or the end of the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Column of the `|` that opens the segment.
    pub pipe_column: usize,
    /// The segment's words (filter name and arguments).
    pub words: Vec<Word>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterName {
    Grep,
    More,
}

const FILTER_NAMES: [(&str, FilterName, &str); 2] = [
    ("grep", FilterName::Grep, "Keep only the lines that match a pattern"),
    ("more", FilterName::More, "Page the output"),
];

/// grep's flags, in the order help lists them.
const GREP_FLAGS: [(&str, &str); 9] = [
    ("-A", "Also print N lines after each match (-A N)"),
    ("-B", "Also print N lines before each match (-B N)"),
    ("-C", "Also print N lines before and after each match (-C N)"),
    ("-E", "Extended regular expression (patterns always are)"),
    ("-c", "Print only the number of matching lines"),
    ("-i", "Ignore case"),
    ("-n", "Prefix each line with its line number"),
    ("-v", "Keep the lines that do not match"),
    ("-w", "Match whole words only"),
];

const PATTERN_PARAM: &str = "<pattern:STRING>";
const PATTERN_HELP: &str = "A regular expression, or text; quote it if it has spaces";
const LINES_PARAM: &str = "<lines:NUMBER>";
const END_OF_OPTIONS_HELP: &str = "End of options: the next word is the pattern";

fn lines_help(flag: char) -> &'static str {
    match flag {
        'A' => "Number of lines to print after each match",
        'B' => "Number of lines to print before each match",
        _ => "Number of lines to print before and after each match",
    }
}

fn resolve_name(word: &Word) -> Result<FilterName, CliError> {
    let typed = word.text.to_ascii_lowercase();
    let found = (!typed.is_empty() && !word.quoted)
        .then(|| FILTER_NAMES.iter().find(|(name, ..)| name.starts_with(&typed)))
        .flatten();
    match found {
        Some((_, name, _)) => Ok(*name),
        None => Err(CliError::BadFilter {
            column: word.column,
            reason: format!("unknown output filter \"{}\"; expected grep or more", word.text),
        }),
    }
}

/// What a grep's words say so far.
#[derive(Default)]
struct GrepWords {
    options: GrepOptions,
    pattern: Option<String>,
    /// `-A`, `-B` and `-C` as given; `-A` and `-B` win over `-C`, as in GNU grep.
    after: Option<usize>,
    before: Option<usize>,
    context: Option<usize>,
    /// The flag letters given, for help to leave them out.
    given: Vec<char>,
    /// A flag whose number is still to come (the word ended with `-A`, `-B` or `-C`).
    pending: Option<char>,
    /// `--` was given: every word after it is the pattern.
    end_of_options: bool,
}

impl GrepWords {
    fn set_context(&mut self, flag: char, lines: usize) {
        match flag {
            'A' => self.after = Some(lines),
            'B' => self.before = Some(lines),
            _ => self.context = Some(lines),
        }
    }

    fn into_options(self, pattern: String) -> GrepOptions {
        GrepOptions {
            pattern,
            after: self.after.or(self.context).unwrap_or(0),
            before: self.before.or(self.context).unwrap_or(0),
            ..self.options
        }
    }
}

fn is_flag(word: &Word) -> bool {
    !word.quoted && word.text.len() > 1 && word.text.starts_with('-')
}

/// A number of lines: decimal digits only.
fn lines_number(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn needs_number(flag: char, column: usize, got: Option<&str>) -> CliError {
    CliError::BadFilter {
        column,
        reason: match got {
            None => format!("grep -{flag} needs a number of lines"),
            Some(text) => format!("grep -{flag} needs a number of lines, not \"{text}\""),
        },
    }
}

fn one_pattern(column: usize) -> CliError {
    CliError::BadFilter {
        column,
        reason: "grep takes one pattern; quote a pattern that has spaces".to_string(),
    }
}

fn grep_words(words: &[Word]) -> Result<GrepWords, CliError> {
    let mut grep = GrepWords::default();
    for word in words {
        if let Some(flag) = grep.pending.take() {
            let lines = lines_number(&word.text).ok_or_else(|| needs_number(flag, word.column, Some(&word.text)))?;
            grep.set_context(flag, lines);
        } else if !grep.end_of_options && !word.quoted && word.text == "--" {
            grep.end_of_options = true;
        } else if !grep.end_of_options && is_flag(word) {
            flag_cluster(&mut grep, word)?;
        } else if grep.pattern.is_some() {
            return Err(one_pattern(word.column));
        } else {
            grep.pattern = Some(word.text.clone());
        }
    }
    Ok(grep)
}

/// One word of flags, such as `-i`, `-vc` or `-iA8`. The word is unquoted, so its characters
/// are the typed ones and their columns follow from the word's.
fn flag_cluster(grep: &mut GrepWords, word: &Word) -> Result<(), CliError> {
    let body = &word.text[1..];
    for (n, (at, c)) in body.char_indices().enumerate() {
        let column = word.column + 1 + n;
        match c {
            'i' => grep.options.ignore_case = true,
            'v' => grep.options.invert = true,
            'w' => grep.options.word = true,
            'E' => grep.options.extended = true,
            'c' => grep.options.count = true,
            'n' => grep.options.line_numbers = true,
            'A' | 'B' | 'C' => {
                grep.given.push(c);
                let rest = &body[at + 1..];
                if rest.is_empty() {
                    grep.pending = Some(c);
                } else {
                    let lines = lines_number(rest).ok_or_else(|| needs_number(c, column + 1, Some(rest)))?;
                    grep.set_context(c, lines);
                }
                return Ok(());
            }
            _ => {
                return Err(CliError::BadFilter {
                    column,
                    reason: format!(
                        "unknown grep option \"-{c}\"; use -A, -B, -C, -E, -c, -i, -n, -v, -w, \
                         or quote a pattern that starts with -"
                    ),
                });
            }
        }
        grep.given.push(c);
    }
    Ok(())
}

/// Parses the segments after a command into filters.
pub(crate) fn parse_segments(segments: &[Segment], end_column: usize) -> Result<Vec<Filter>, CliError> {
    segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let next_column = segments.get(i + 1).map_or(end_column, |s| s.pipe_column);
            parse_segment(segment, next_column)
        })
        .collect()
}

fn parse_segment(segment: &Segment, end_column: usize) -> Result<Filter, CliError> {
    let Some((first, rest)) = segment.words.split_first() else {
        return Err(CliError::BadFilter {
            column: segment.pipe_column,
            reason: "expected grep or more after |".to_string(),
        });
    };
    match resolve_name(first)? {
        FilterName::More => match rest.first() {
            Some(extra) => Err(CliError::BadFilter {
                column: extra.column,
                reason: "more takes no arguments".to_string(),
            }),
            None => Ok(Filter::More),
        },
        FilterName::Grep => {
            let mut grep = grep_words(rest)?;
            if let Some(flag) = grep.pending {
                return Err(needs_number(flag, end_column, None));
            }
            match grep.pattern.take() {
                Some(pattern) => Ok(Filter::Grep(grep.into_options(pattern))),
                None => Err(CliError::BadFilter {
                    column: end_column,
                    reason: "grep needs a pattern".to_string(),
                }),
            }
        }
    }
}

/// The help for a flag word being typed that names no single flag (`-in`, `-A8`): its flags'.
fn cluster_help(text: &str) -> String {
    let helps: Vec<&str> = text
        .chars()
        .skip(1)
        .filter_map(|c| {
            GREP_FLAGS
                .iter()
                .find(|(flag, _)| flag.ends_with(c))
                .map(|(_, help)| *help)
        })
        .collect();
    helps.join("; ")
}

/// What may follow in the last segment: `full` words are complete, `partial` is being typed.
pub(crate) fn segment_candidates(full: &[Word], partial: Option<&Word>) -> Result<Vec<Candidate>, CliError> {
    let Some((first, rest)) = full.split_first() else {
        let typed = partial.map(|w| w.text.to_ascii_lowercase()).unwrap_or_default();
        return Ok(FILTER_NAMES
            .iter()
            .filter(|(name, ..)| name.starts_with(&typed))
            .map(|(name, _, help)| Candidate::word(name, help))
            .collect());
    };
    let mut out = Vec::new();
    match resolve_name(first)? {
        FilterName::More => {
            if let Some(partial) = partial {
                return Err(CliError::BadFilter {
                    column: partial.column,
                    reason: "more takes no arguments".to_string(),
                });
            }
        }
        FilterName::Grep => {
            let grep = grep_words(rest)?;
            if let Some(flag) = grep.pending {
                if let Some(p) = partial.filter(|p| !p.text.is_empty() && lines_number(&p.text).is_none()) {
                    return Err(needs_number(flag, p.column, Some(&p.text)));
                }
                return Ok(vec![Candidate::new(
                    LINES_PARAM,
                    lines_help(flag),
                    CandidateKind::Param,
                )]);
            }
            let flags_allowed = !grep.end_of_options;
            let unused = GREP_FLAGS
                .iter()
                .filter(|(flag, _)| flags_allowed && !flag.chars().nth(1).is_some_and(|c| grep.given.contains(&c)));
            match partial {
                Some(p) if flags_allowed && !p.quoted && p.text == "--" => {
                    out.push(Candidate::word("--", END_OF_OPTIONS_HELP));
                }
                Some(p) if flags_allowed && (is_flag(p) || p.text == "-") => {
                    out.extend(
                        unused
                            .filter(|(flag, _)| flag.starts_with(p.text.as_str()))
                            .map(|(flag, help)| Candidate::word(flag, help)),
                    );
                    if out.is_empty() && is_flag(p) {
                        // A whole cluster such as `-in` or `-A8`: valid, or an error that
                        // points at what is wrong in it.
                        flag_cluster(&mut GrepWords::default(), p)?;
                        out.push(Candidate::word(&p.text, &cluster_help(&p.text)));
                    }
                }
                Some(p) => {
                    if grep.pattern.is_some() {
                        return Err(one_pattern(p.column));
                    }
                    out.push(Candidate::new(PATTERN_PARAM, PATTERN_HELP, CandidateKind::Param));
                }
                None => {
                    out.extend(unused.map(|(flag, help)| Candidate::word(flag, help)));
                    if grep.pattern.is_none() {
                        out.push(Candidate::new(PATTERN_PARAM, PATTERN_HELP, CandidateKind::Param));
                        return Ok(out);
                    }
                }
            }
        }
    }
    if partial.is_none() {
        out.push(Candidate::pipe());
        out.push(Candidate::end());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::lexer::{Lexeme, lex};
    use super::*;

    fn grep(pattern: &str, ignore_case: bool, invert: bool) -> Filter {
        Filter::Grep(GrepOptions {
            ignore_case,
            invert,
            ..GrepOptions::new(pattern)
        })
    }

    /// The filters of `| FILTER…` typed after a show command, or the error.
    fn parsed(line: &str) -> Result<Vec<Filter>, CliError> {
        let lexed = lex(line, false)?;
        let mut segments: Vec<Segment> = Vec::new();
        for lexeme in lexed.lexemes {
            match lexeme {
                Lexeme::Pipe { column } => segments.push(Segment {
                    pipe_column: column,
                    words: Vec::new(),
                }),
                Lexeme::Word(word) => segments.last_mut().expect("starts with |").words.push(word),
            }
        }
        parse_segments(&segments, lexed.columns)
    }

    /// The options of the single grep in `line` (`| grep …`).
    fn options(line: &str) -> GrepOptions {
        match parsed(line).as_deref() {
            Ok([Filter::Grep(options)]) => options.clone(),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn run(line: &str, text: &str) -> String {
        Filter::apply(&parsed(line).expect(line), text)
    }

    /// The help words after `| …` (the last word is being typed unless the line ends in a space).
    fn help(line: &str) -> Result<Vec<String>, CliError> {
        let lexed = lex(line, true)?;
        let mut words: Vec<Word> = lexed
            .lexemes
            .into_iter()
            .filter_map(|l| match l {
                Lexeme::Word(w) => Some(w),
                Lexeme::Pipe { .. } => None,
            })
            .collect();
        let partial = if line.ends_with(' ') { None } else { words.pop() };
        Ok(segment_candidates(&words, partial.as_ref())?
            .into_iter()
            .map(|c| c.word)
            .collect())
    }

    const TEXT: &str = "Smart Licensing is ENABLED\n  Status: REGISTERED\nTransport:\n  Type: Callhome\n";

    /// Ten numbered lines: `l1` … `l10`.
    fn ten() -> String {
        (1..=10).map(|i| format!("l{i}\n")).collect()
    }

    #[test]
    fn grep_is_a_regex() {
        assert_eq!(
            Filter::apply(&[grep("^  [ST]", false, false)], TEXT),
            "  Status: REGISTERED\n  Type: Callhome\n"
        );
        assert_eq!(Filter::apply(&[grep(r"\w+:$", false, false)], TEXT), "Transport:\n");
    }

    #[test]
    fn grep_flags() {
        assert_eq!(
            Filter::apply(&[grep("status", true, false)], TEXT),
            "  Status: REGISTERED\n"
        );
        assert_eq!(Filter::apply(&[grep("status", false, false)], TEXT), "");
        assert_eq!(
            Filter::apply(&[grep("port|us", false, true)], TEXT),
            "Smart Licensing is ENABLED\n  Type: Callhome\n"
        );
        assert_eq!(
            Filter::apply(&[grep("STATUS", true, true)], TEXT),
            "Smart Licensing is ENABLED\nTransport:\n  Type: Callhome\n"
        );
    }

    #[test]
    fn invalid_regex_is_matched_as_text() {
        let text = "a (b\nc [d\ne\n";
        assert_eq!(Filter::apply(&[grep("(b", false, false)], text), "a (b\n");
        assert_eq!(Filter::apply(&[grep("[D", true, false)], text), "c [d\n");
        assert_eq!(Filter::apply(&[grep("[d", false, true)], text), "a (b\ne\n");
    }

    #[test]
    fn filters_chain_and_more_is_a_no_op() {
        let filters = [grep("s", true, false), grep("reg", true, true), Filter::More];
        assert_eq!(
            Filter::apply(&filters, TEXT),
            "Smart Licensing is ENABLED\nTransport:\n"
        );
        assert_eq!(Filter::apply(&[Filter::More], TEXT), TEXT);
        assert!(Filter::wants_paging(&filters));
        assert!(!Filter::wants_paging(&filters[..2]));
    }

    #[test]
    fn last_line_without_newline_and_crlf() {
        assert_eq!(Filter::apply(&[grep("b$", false, false)], "a\r\nb"), "b");
        assert_eq!(Filter::apply(&[grep("a$", false, false)], "a\r\nb"), "a\r\n");
        assert_eq!(Filter::apply(&[grep("x", false, false)], ""), "");
    }

    // ----- options: parsing -----

    #[test]
    fn context_flags_in_every_spelling() {
        for line in ["| grep -A8 x", "| grep -A 8 x", "| grep x -A 8", "| grep -A \"8\" x"] {
            assert_eq!(
                options(line),
                GrepOptions {
                    after: 8,
                    ..GrepOptions::new("x")
                },
                "{line}"
            );
        }
        assert_eq!(
            options("| grep -B2 x"),
            GrepOptions {
                before: 2,
                ..GrepOptions::new("x")
            }
        );
        for line in ["| grep -C 2 x", "| grep -C2 x", "| grep -iC2 x"] {
            let o = options(line);
            assert_eq!((o.before, o.after), (2, 2), "{line}");
        }
        // -A and -B win over -C, in either order, as in GNU grep.
        let o = options("| grep -A 1 -C 3 x");
        assert_eq!((o.before, o.after), (3, 1));
        let o = options("| grep -C 3 -B 0 x");
        assert_eq!((o.before, o.after), (0, 3));
        // A number after -A is the number, even if a pattern could look like one.
        let o = options("| grep -A 3 4");
        assert_eq!((o.after, o.pattern.as_str()), (3, "4"));
    }

    #[test]
    fn boolean_flags_combine() {
        let o = options("| grep -in x");
        assert!(o.ignore_case && o.line_numbers && !o.invert && !o.count);
        let o = options("| grep -vc x");
        assert!(o.invert && o.count);
        let o = options("| grep -E -w x");
        assert!(o.extended && o.word);
        let o = options("| grep -inA3 x");
        assert!(o.ignore_case && o.line_numbers);
        assert_eq!(o.after, 3);
        assert_eq!(
            options("| grep -Ecinvw x"),
            GrepOptions {
                extended: true,
                count: true,
                ignore_case: true,
                line_numbers: true,
                invert: true,
                word: true,
                ..GrepOptions::new("x")
            }
        );
    }

    #[test]
    fn quoted_patterns() {
        assert_eq!(options(r#"| grep "Smart Licensing""#).pattern, "Smart Licensing");
        assert_eq!(options("| grep 'Smart Licensing'").pattern, "Smart Licensing");
        assert_eq!(options("| grep -i 'a \"b\" c'").pattern, "a \"b\" c");
        // Quoted or after --, a pattern may start with -.
        assert_eq!(options("| grep '-v'"), GrepOptions::new("-v"));
        assert_eq!(options("| grep -- -v"), GrepOptions::new("-v"));
        assert_eq!(
            options("| grep -i -- --"),
            GrepOptions {
                ignore_case: true,
                ..GrepOptions::new("--")
            }
        );
        assert_eq!(run("| grep -i 'smart licensing'", TEXT), "Smart Licensing is ENABLED\n");
    }

    #[test]
    fn bad_options_are_clean_errors() {
        let line = "show license status | grep -A";
        let e = parsed("| grep -A").expect_err("no number");
        assert_eq!(e.to_string(), "Invalid command: grep -A needs a number of lines");
        assert_eq!(e.column(), 9);
        let e = parsed("| grep -A | more").expect_err("no number");
        assert_eq!(e.column(), 10);
        let e = parsed("| grep -A Registration").expect_err("not a number");
        assert_eq!(
            e.to_string(),
            "Invalid command: grep -A needs a number of lines, not \"Registration\""
        );
        assert_eq!(e.column(), 10);
        let e = parsed("| grep -A8x y").expect_err("not a number");
        assert_eq!(
            e.to_string(),
            "Invalid command: grep -A needs a number of lines, not \"8x\""
        );
        assert_eq!(e.column(), 9);
        assert!(parsed("| grep -C -1 x").is_err());
        assert!(parsed("| grep -B +1 x").is_err());
        assert!(parsed("| grep -A 99999999999999999999999 x").is_err());
        let e = parsed("| grep -ix y").expect_err("unknown");
        assert!(e.to_string().contains("\"-x\""), "{e}");
        assert_eq!(e.column(), 9);
        assert!(parsed("| grep --x y").is_err());
        assert_eq!(
            parsed("| grep -c").expect_err("pattern").to_string(),
            "Invalid command: grep needs a pattern"
        );
        assert!(parsed("| grep a b").is_err());
        // The report, as `smartlic cli -c` prints it: the caret sits after the -A.
        let e = CliError::BadFilter {
            column: line.chars().count(),
            reason: "grep -A needs a number of lines".into(),
        };
        assert_eq!(
            e.render(line),
            "show license status | grep -A\n                             ^\n\
             Invalid command: grep -A needs a number of lines"
        );
    }

    // ----- options: output -----

    #[test]
    fn after_context() {
        let text = "Status: REGISTERED\nSmart Account: A\nVirtual Account: B\nExport-Controlled: Allowed\n\
                    Registration:\n  Status: REGISTERED\n  Smart Account: A\n";
        assert_eq!(
            run("| grep -A2 ^Registration", text),
            "Registration:\n  Status: REGISTERED\n  Smart Account: A\n"
        );
        assert_eq!(run("| grep -A 1 l[19]$", &ten()), "l1\nl2\n--\nl9\nl10\n");
        // Context runs past the end without harm.
        assert_eq!(run("| grep -A 5 l10", &ten()), "l10\n");
    }

    #[test]
    fn before_and_both_context() {
        assert_eq!(run("| grep -B 2 l[5]$", &ten()), "l3\nl4\nl5\n");
        assert_eq!(run("| grep -B 3 l2$", &ten()), "l1\nl2\n");
        assert_eq!(run("| grep -C 1 'l(3|8)$'", &ten()), "l2\nl3\nl4\n--\nl7\nl8\nl9\n");
    }

    #[test]
    fn overlapping_and_adjacent_context_merge() {
        // Overlapping groups print each line once.
        assert_eq!(run("| grep -C 2 'l(4|6)$'", &ten()), "l2\nl3\nl4\nl5\nl6\nl7\nl8\n");
        // Adjacent groups (no line between them) have no separator.
        assert_eq!(run("| grep -A 1 'l(2|4)$'", &ten()), "l2\nl3\nl4\nl5\n");
        // One line apart: a separator.
        assert_eq!(run("| grep -A 1 'l(2|5)$'", &ten()), "l2\nl3\n--\nl5\nl6\n");
        // A match inside another's context counts as a match.
        assert_eq!(run("| grep -n -A 2 'l(2|3)$'", &ten()), "2:l2\n3:l3\n4-l4\n5-l5\n");
        // Without context there are never separators.
        assert_eq!(run("| grep 'l(2|5)$'", &ten()), "l2\nl5\n");
        // -A 0 is no context.
        assert_eq!(run("| grep -A 0 'l(2|5)$'", &ten()), "l2\nl5\n");
    }

    #[test]
    fn count() {
        assert_eq!(run("| grep -c Status", TEXT), "1\n");
        assert_eq!(run("| grep -ci s", TEXT), "3\n");
        assert_eq!(run("| grep -vc Status", TEXT), "3\n");
        assert_eq!(run("| grep -c -v -i s", TEXT), "1\n");
        assert_eq!(run("| grep -c nothing", TEXT), "0\n");
        assert_eq!(run("| grep -c -n -A 3 Status", TEXT), "1\n");
        assert_eq!(run("| grep -c x", ""), "0\n");
        // A count is output like any other, for the next filter.
        assert_eq!(run("| grep -c s | grep 4", TEXT), "");
    }

    #[test]
    fn line_numbers() {
        assert_eq!(run("| grep -n Type", TEXT), "4:  Type: Callhome\n");
        assert_eq!(
            run("| grep -vn Status", TEXT),
            "1:Smart Licensing is ENABLED\n3:Transport:\n4:  Type: Callhome\n"
        );
        assert_eq!(
            run("| grep -n -C 1 'l(3|7)$'", &ten()),
            "2-l2\n3:l3\n4-l4\n--\n6-l6\n7:l7\n8-l8\n"
        );
        assert_eq!(run("| grep -nB1 l10", &ten()), "9-l9\n10:l10\n");
    }

    #[test]
    fn whole_words() {
        let text = "Status: OK\nStatuses: 2\nsub_status x\nre-status y\n";
        assert_eq!(run("| grep -w Status", text), "Status: OK\n");
        assert_eq!(run("| grep -wi status", text), "Status: OK\nre-status y\n");
        assert_eq!(run("| grep -w 'Status|Statuses'", text), "Status: OK\nStatuses: 2\n");
        assert_eq!(run("| grep -w 'Stat.s'", text), "Status: OK\n");
        assert_eq!(run("| grep -vw -i status", text), "Statuses: 2\nsub_status x\n");
        // A pattern that is not a regular expression: whole words as text.
        let text = "f(x = 1\nf(xy = 2\n_f(x = 3\ng(f(x)\n";
        assert_eq!(run("| grep -w 'f(x'", text), "f(x = 1\ng(f(x)\n");
        assert_eq!(run("| grep 'f(x'", text), text);
        let text = "a (b c\nxa (b\na (bc\n";
        assert_eq!(run("| grep -w 'a (b'", text), "a (b c\n");
        assert_eq!(run("| grep -wi 'A (B'", text), "a (b c\n");
        // The second occurrence is a whole word though the first is not.
        assert_eq!(run("| grep -w '(b'", "x(by (b\n(bb\n"), "x(by (b\n");
        // -w wraps the whole pattern, not just its first alternative.
        assert_eq!(run("| grep -w 'ab|cd'", "xab\ncdx\ncd\n"), "cd\n");
    }

    #[test]
    fn extended_changes_nothing() {
        assert_eq!(run("| grep -E 'port|us'", TEXT), run("| grep 'port|us'", TEXT));
        assert_eq!(run("| grep -E '(b'", "a (b\nc\n"), "a (b\n");
    }

    #[test]
    fn registration_block() {
        let status = "Smart Licensing is ENABLED\n\nRegistration:\n  Status: REGISTERED\n  Smart Account: Acme\n\
                      \nLicense Authorization:\n  Status: AUTHORIZED\n";
        assert_eq!(
            run("| grep -A 2 Registration", status),
            "Registration:\n  Status: REGISTERED\n  Smart Account: Acme\n"
        );
        assert_eq!(
            run("| grep -A1 ^[A-Z] | grep -v '^$'", status),
            "Smart Licensing is ENABLED\nRegistration:\n  Status: REGISTERED\n--\nLicense Authorization:\n  Status: AUTHORIZED\n"
        );
    }

    // ----- help and completion -----

    #[test]
    fn help_lists_the_flags_and_what_follows_them() {
        let all = ["-A", "-B", "-C", "-E", "-c", "-i", "-n", "-v", "-w"];
        let mut expected: Vec<&str> = all.to_vec();
        expected.push(PATTERN_PARAM);
        assert_eq!(help("| grep ").expect("help"), expected);
        assert_eq!(help("| grep -").expect("help"), all);
        assert_eq!(help("| grep -A").expect("help"), ["-A"]);
        assert_eq!(help("| grep -A ").expect("help"), [LINES_PARAM]);
        assert_eq!(help("| grep -iC ").expect("help"), [LINES_PARAM]);
        assert_eq!(help("| grep -A 1").expect("help"), [LINES_PARAM]);
        assert!(help("| grep -A x").is_err());
        assert_eq!(help("| grep -A 8 ").expect("help").len(), 9);
        assert_eq!(help("| grep -in").expect("help"), ["-in"]);
        assert!(help("| grep -iq").is_err());
        assert_eq!(help("| grep --").expect("help"), ["--"]);
        assert_eq!(help("| grep -- ").expect("help"), [PATTERN_PARAM]);
        assert_eq!(
            help("| grep -ivc x ").expect("help"),
            ["-A", "-B", "-C", "-E", "-n", "-w", "|", "<cr>"]
        );
        assert_eq!(help("| grep 'a b").expect("help"), [PATTERN_PARAM]);
        let candidates = segment_candidates(&[], None).expect("names");
        assert_eq!(candidates.len(), 2);
        let grep_word = Word {
            text: "grep".into(),
            start: 0,
            column: 0,
            quoted: false,
        };
        let a = Word {
            text: "-A".into(),
            start: 5,
            column: 5,
            quoted: false,
        };
        let items = segment_candidates(&[grep_word, a], None).expect("help");
        assert_eq!(items[0].help, "Number of lines to print after each match");
    }
}
