//! Output filters: `| grep [-i] [-v] PATTERN` and `| more`.

use regex::{Regex, RegexBuilder};

use super::error::CliError;
use super::grammar::{Candidate, CandidateKind};
use super::lexer::Word;

/// An output filter that follows a `|` on a show command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `grep [-i] [-v] PATTERN`: keeps the lines that match PATTERN (a regular expression; a
    /// pattern that is not a valid one is matched as plain text).
    Grep {
        /// The pattern, quotes removed.
        pattern: String,
        /// `-i`: ignore case.
        ignore_case: bool,
        /// `-v`: keep the lines that do *not* match.
        invert: bool,
    },
    /// `more`: page the output. Output that does not go to an interactive terminal is not paged,
    /// so [`Filter::apply`] leaves it alone; a shell checks [`Filter::wants_paging`].
    More,
}

impl Filter {
    /// Runs every filter over `output`, line by line, in order. Kept lines keep their line ends.
    ///
    /// ```
    /// # use smartlic_node::cli::Filter;
    /// let grep = Filter::Grep { pattern: "^Status".into(), ignore_case: false, invert: false };
    /// let out = Filter::apply(&[grep, Filter::More], "Status: REGISTERED\nSmart Account: x\n");
    /// assert_eq!(out, "Status: REGISTERED\n");
    /// ```
    pub fn apply(filters: &[Filter], output: &str) -> String {
        let mut text = output.to_string();
        for filter in filters {
            if let Filter::Grep {
                pattern,
                ignore_case,
                invert,
            } = filter
            {
                let matcher = Matcher::new(pattern, *ignore_case);
                text = text
                    .split_inclusive('\n')
                    .filter(|line| matcher.is_match(line.trim_end_matches(['\n', '\r'])) != *invert)
                    .collect();
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
    Text { needle: String, ignore_case: bool },
}

/// Limits on compiled patterns, so that a pathological pattern cannot eat the node's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Matcher {
    fn new(pattern: &str, ignore_case: bool) -> Matcher {
        // The second try, without Unicode classes, accepts `\w`, `\d` and `\s` (ASCII meaning)
        // in builds whose regex crate has no Unicode Perl classes.
        for unicode in [true, false] {
            let built = RegexBuilder::new(pattern)
                .case_insensitive(ignore_case)
                .unicode(unicode)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build();
            if let Ok(regex) = built {
                return Matcher::Regex(regex);
            }
        }
        Matcher::Text {
            needle: if ignore_case {
                pattern.to_lowercase()
            } else {
                pattern.to_string()
            },
            ignore_case,
        }
    }

    fn is_match(&self, line: &str) -> bool {
        match self {
            Matcher::Regex(regex) => regex.is_match(line),
            Matcher::Text {
                needle,
                ignore_case: true,
            } => line.to_lowercase().contains(needle.as_str()),
            Matcher::Text { needle, .. } => line.contains(needle.as_str()),
        }
    }
}

/// The words between one `|` and the next (or the end of the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Column of the `|` that opens the segment.
    pub pipe_column: usize,
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

const GREP_FLAGS: [(&str, &str); 2] = [("-i", "Ignore case"), ("-v", "Keep the lines that do not match")];

const PATTERN_PARAM: &str = "<pattern:STRING>";
const PATTERN_HELP: &str = "A regular expression, or text; quote it if it has spaces";

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
    ignore_case: bool,
    invert: bool,
    pattern: Option<String>,
}

fn is_flag(word: &Word) -> bool {
    !word.quoted && word.text.len() > 1 && word.text.starts_with('-')
}

fn grep_words(words: &[Word]) -> Result<GrepWords, CliError> {
    let mut grep = GrepWords::default();
    for word in words {
        if is_flag(word) {
            for c in word.text.chars().skip(1) {
                match c {
                    'i' => grep.ignore_case = true,
                    'v' => grep.invert = true,
                    _ => {
                        return Err(CliError::BadFilter {
                            column: word.column,
                            reason: format!(
                                "unknown grep option \"{}\"; use -i, -v, or quote a pattern that starts with -",
                                word.text
                            ),
                        });
                    }
                }
            }
        } else if grep.pattern.is_some() {
            return Err(CliError::BadFilter {
                column: word.column,
                reason: "grep takes one pattern; quote a pattern that has spaces".to_string(),
            });
        } else {
            grep.pattern = Some(word.text.clone());
        }
    }
    Ok(grep)
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
            let grep = grep_words(rest)?;
            match grep.pattern {
                Some(pattern) => Ok(Filter::Grep {
                    pattern,
                    ignore_case: grep.ignore_case,
                    invert: grep.invert,
                }),
                None => Err(CliError::BadFilter {
                    column: end_column,
                    reason: "grep needs a pattern".to_string(),
                }),
            }
        }
    }
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
            let unused = GREP_FLAGS
                .iter()
                .filter(|(flag, _)| !((*flag == "-i" && grep.ignore_case) || (*flag == "-v" && grep.invert)));
            match partial {
                Some(p) if is_flag(p) || p.text == "-" => {
                    out.extend(
                        unused
                            .filter(|(flag, _)| flag.starts_with(p.text.as_str()))
                            .map(|(flag, help)| Candidate::word(flag, help)),
                    );
                }
                Some(p) => {
                    if grep.pattern.is_some() {
                        return Err(CliError::BadFilter {
                            column: p.column,
                            reason: "grep takes one pattern; quote a pattern that has spaces".to_string(),
                        });
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
    use super::*;

    fn grep(pattern: &str, ignore_case: bool, invert: bool) -> Filter {
        Filter::Grep {
            pattern: pattern.into(),
            ignore_case,
            invert,
        }
    }

    const TEXT: &str = "Smart Licensing is ENABLED\n  Status: REGISTERED\nTransport:\n  Type: Callhome\n";

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
}
