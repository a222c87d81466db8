//! Matching typed words against the paths of a grammar: which commands are still possible after
//! each word (full keywords, unique prefixes, priority abbreviations, parameters).

use super::pattern::Atom;
use super::{Grammar, Path, refusal_error};
use crate::cli::error::CliError;
use crate::cli::lexer::Word;
use crate::cli::mode::Mode;

impl Grammar {
    /// The paths valid in `mode` that accept every word, in table order.
    pub(super) fn walk(&self, mode: Mode, words: &[Word]) -> Result<Vec<usize>, CliError> {
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
    pub(super) fn complete_path(&self, alive: &[usize], n: usize, column: usize) -> Result<&Path, CliError> {
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
}
