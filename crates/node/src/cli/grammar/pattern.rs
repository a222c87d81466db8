//! The pattern language (see the [grammar module](super)): compiling a command's pattern into
//! the ways through it, and the parameters that accept a typed word.

use std::net::Ipv4Addr;

use crate::cli::lexer::Word;

/// One element of a way through a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Atom {
    /// A keyword. With `priority: Some(n)` (written `status(stat)`, `n` = 4) an abbreviation of
    /// at least `n` characters selects it even if it also starts other keywords.
    Keyword {
        /// The keyword, in full.
        word: &'static str,
        /// The priority abbreviation's length, if any.
        priority: Option<usize>,
    },
    /// A parameter.
    Param(Param),
}

/// A parameter of a pattern, such as `<count:NUMBER>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Param {
    /// Its name, the key of [`Parsed::args`](super::Parsed::args).
    pub(super) name: &'static str,
    /// What it accepts.
    pub(super) kind: ParamKind,
    /// As written in the pattern, e.g. `<count:NUMBER>`.
    pub(super) text: &'static str,
}

/// What a parameter accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ParamKind {
    Word,
    String,
    Number { min: u64, max: u64 },
    Ipv4,
    Choice(Vec<&'static str>),
}

/// Why a parameter refused a word.
pub(super) enum Refusal {
    /// The word is not a value of the parameter; the text says what is.
    Bad(String),
    /// The word starts several of a choice's words.
    Ambiguous(Vec<String>),
}

impl Param {
    /// The value the word stands for, normalised.
    pub(super) fn accept(&self, word: &Word) -> Result<String, Refusal> {
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
    /// What the parameter accepts, e.g. `a number from 1 to 4`.
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

    /// What the parameter accepts, as a help text.
    pub(super) fn default_help(&self) -> String {
        let mut text = self.describe();
        if let Some(first) = text.get(..1) {
            let upper = first.to_ascii_uppercase();
            text.replace_range(..1, &upper);
        }
        text
    }
}

/// The maximum number of ways through one pattern (optional groups multiply them).
const MAX_PATHS_PER_SPEC: usize = 256;

/// The ways through `pattern`, each a sequence of atoms (optional groups and choices expanded).
pub(super) fn compile(pattern: &'static str) -> Result<Vec<Vec<Atom>>, String> {
    let tokens = pattern_tokens(pattern)?;
    let mut pos = 0;
    let alternatives = parse_alternatives(&tokens, &mut pos, None)?;
    let [sequence] = alternatives.as_slice() else {
        return Err("a choice at the top level must be inside { }".to_string());
    };
    let expanded = expand(sequence)?;
    for atoms in &expanded {
        check_path(atoms)?;
    }
    Ok(expanded)
}

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
