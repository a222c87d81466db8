//! Splits a command line into words and pipe symbols.
//!
//! Words are separated by whitespace. A double-quoted part may hold spaces and `|`; the quotes are
//! removed, and inside them `\"` and `\\` stand for `"` and `\`. A single-quoted part is taken
//! as it stands, up to the next `'` (no escapes: `'a\'` is `a\`), as a shell has it, so
//! `| grep 'Smart Licensing'` works as operators type it. Quoted and unquoted parts that touch
//! form one word (`a"b c"` is `ab c`). A `|` outside quotes is a pipe symbol, with or without
//! spaces around it.

use super::error::CliError;

/// One word of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word with its quotes removed.
    pub text: String,
    /// Byte offset of the word's first character in the line.
    pub start: usize,
    /// Character column of the word's first character (for the caret line).
    pub column: usize,
    /// True if any part of the word was quoted.
    pub quoted: bool,
}

/// A word or a pipe symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lexeme {
    Word(Word),
    Pipe { column: usize },
}

/// The lexemes of a line, and whether it ends inside an unterminated quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lexed {
    /// The words and pipes, in order.
    pub lexemes: Vec<Lexeme>,
    /// True when the line ends inside a quote (only possible with `lenient`).
    pub open_quote: bool,
    /// Character length of the line.
    pub columns: usize,
}

/// Splits `line`. An unterminated quote is an error unless `lenient` (used by help and
/// completion, where the user is still typing), which closes it at the end of the line.
pub(crate) fn lex(line: &str, lenient: bool) -> Result<Lexed, CliError> {
    let mut lexemes = Vec::new();
    let mut current: Option<Word> = None;
    // The open quote, if any: its character and column.
    let mut quote: Option<(char, usize)> = None;
    let mut chars = line.char_indices().peekable();
    let mut column = 0usize;
    while let Some((at, c)) = chars.next() {
        let this_column = column;
        column += 1;
        if let Some((open, _)) = quote {
            let word = current.get_or_insert_with(|| new_word(at, this_column));
            if open == '\'' {
                match c {
                    '\'' => quote = None,
                    _ => word.text.push(c),
                }
                continue;
            }
            match c {
                '\\' => match chars.peek() {
                    Some(&(_, next)) if next == '"' || next == '\\' => {
                        word.text.push(next);
                        chars.next();
                        column += 1;
                    }
                    _ => word.text.push(c),
                },
                '"' => quote = None,
                _ => word.text.push(c),
            }
            continue;
        }
        if c.is_whitespace() {
            if let Some(word) = current.take() {
                lexemes.push(Lexeme::Word(word));
            }
        } else if c == '|' {
            if let Some(word) = current.take() {
                lexemes.push(Lexeme::Word(word));
            }
            lexemes.push(Lexeme::Pipe { column: this_column });
        } else if c == '"' || c == '\'' {
            let word = current.get_or_insert_with(|| new_word(at, this_column));
            word.quoted = true;
            quote = Some((c, this_column));
        } else {
            current.get_or_insert_with(|| new_word(at, this_column)).text.push(c);
        }
    }
    match quote {
        Some((_, column)) if !lenient => return Err(CliError::UnmatchedQuote { column }),
        _ => {}
    }
    if let Some(word) = current.take() {
        lexemes.push(Lexeme::Word(word));
    }
    Ok(Lexed {
        lexemes,
        open_quote: quote.is_some(),
        columns: column,
    })
}

fn new_word(start: usize, column: usize) -> Word {
    Word {
        text: String::new(),
        start,
        column,
        quoted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        match lex(line, false) {
            Ok(lexed) => lexed
                .lexemes
                .iter()
                .map(|l| match l {
                    Lexeme::Word(w) => w.text.clone(),
                    Lexeme::Pipe { .. } => "|".to_string(),
                })
                .collect(),
            Err(e) => vec![format!("error: {e}")],
        }
    }

    #[test]
    fn words_and_whitespace() {
        assert_eq!(texts("  show  license\tstatus "), ["show", "license", "status"]);
        assert!(texts("").is_empty());
        assert!(texts("   ").is_empty());
    }

    #[test]
    fn quotes() {
        assert_eq!(
            texts(r#"schema s format "%date% %time%""#),
            ["schema", "s", "format", "%date% %time%"]
        );
        assert_eq!(texts(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(texts(r#""a \"q\" \\ \n""#), [r#"a "q" \ \n"#]);
        assert_eq!(texts(r#""""#), [""]);
        assert_eq!(texts(r#""a|b""#), ["a|b"]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(texts("grep 'Smart Licensing'"), ["grep", "Smart Licensing"]);
        assert_eq!(texts(r#"'a "b" \ \'"#), [r#"a "b" \ \"#]);
        assert_eq!(texts(r#""it's" 'say "hi"'"#), ["it's", r#"say "hi""#]);
        assert_eq!(texts("a'b c'd"), ["ab cd"]);
        assert_eq!(texts("''"), [""]);
        assert_eq!(texts("'a|b'|c"), ["a|b", "|", "c"]);
        assert_eq!(lex("x 'abc", false), Err(CliError::UnmatchedQuote { column: 2 }));
        let lexed = lex("x 'a\"b", true).expect("lenient");
        assert!(lexed.open_quote);
        match &lexed.lexemes[1] {
            Lexeme::Word(w) => assert!(w.quoted && w.text == "a\"b"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn pipes() {
        assert_eq!(
            texts("show x|grep y | more"),
            ["show", "x", "|", "grep", "y", "|", "more"]
        );
    }

    #[test]
    fn unmatched_quote() {
        assert_eq!(
            lex(r#"format "abc"#, false),
            Err(CliError::UnmatchedQuote { column: 7 })
        );
        let lexed = lex(r#"format "abc"#, true).expect("lenient");
        assert!(lexed.open_quote);
        assert_eq!(lexed.lexemes.len(), 2);
    }

    #[test]
    fn positions_count_characters() {
        let lexed = lex("é ab", false).expect("lexes");
        match &lexed.lexemes[1] {
            Lexeme::Word(w) => {
                assert_eq!(w.start, 3);
                assert_eq!(w.column, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(lexed.columns, 4);
    }
}
