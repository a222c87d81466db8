//! `?` help and Tab completion: what may be typed next, with its help text.

use std::fmt::Write as _;

use super::pattern::{Atom, Param, ParamKind};
use super::{CommandSpec, Grammar, HelpItem, Path, split_pipes};
use crate::cli::error::CliError;
use crate::cli::lexer::{Lexeme, lex};
use crate::cli::mode::Mode;
use crate::cli::pipe::{parse_segments, segment_candidates};

/// What a help or completion query may offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// What may be typed.
    pub word: String,
    /// What it means.
    pub help: String,
    /// Whether it is a word, a placeholder, `<cr>` or `|`.
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

impl Grammar {
    /// What may be typed at the end of `line`, and the byte offset where that word starts.
    pub(super) fn candidates(&self, mode: Mode, line: &str) -> Result<(usize, Vec<Candidate>), CliError> {
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
