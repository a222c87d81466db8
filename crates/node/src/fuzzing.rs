//! The checks of the fuzz targets, one function per target, each taking any bytes and panicking
//! when an invariant breaks. The AFL++ targets in `fuzz/` call them under coverage guidance; the
//! `fuzz_corpus` test calls them on the seed corpus and on mutations of it, so CI runs the same
//! checks without AFL.

use crate::cli::{Grammar, Line, Mode};
use crate::services::bulkstats::{MAX_FORMAT_LEN, MAX_VARIABLES, Token, parse_format, write_format};

/// What a client can send over `DIR/cli.sock`: any bytes, decoded as the node decodes them
/// (lossy UTF-8), in every mode, through every entry point (run, `?` help, Tab completion).
///
/// # Panics
///
/// When the engine panics, an error does not start with `Invalid command` or its caret lies
/// past the line, or a completion does not start on a character boundary within the line.
pub fn cli_line(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    let columns = line.chars().count();
    let grammar = Grammar::standard();
    for mode in [Mode::Exec, Mode::Config, Mode::Bulkstats, Mode::BulkstatsFile(1)] {
        match grammar.interpret(mode, &line) {
            Ok(Line::Command(_) | Line::Empty | Line::Help(_)) => {}
            Err(e) => {
                assert!(e.to_string().starts_with("Invalid command"), "{e}");
                assert!(e.column() <= columns);
                let _ = e.render(&line);
            }
        }
        let _ = grammar.help(mode, &line);
        let c = grammar.complete(mode, &line);
        assert!(c.start <= line.len() && line.is_char_boundary(c.start));
    }
}

/// The text of `smartlic schema NAME format "FORMAT"`: any bytes, decoded as the CLI decodes
/// them.
///
/// # Panics
///
/// When the parser panics, or an accepted format is over [`MAX_FORMAT_LEN`] characters or
/// [`MAX_VARIABLES`] variables, or its written form does not parse again to the same tokens.
pub fn bulkstats_format(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(tokens) = parse_format(&text) {
        assert!(text.chars().count() <= MAX_FORMAT_LEN);
        assert!(tokens.iter().filter(|t| matches!(t, Token::Var(_))).count() <= MAX_VARIABLES);
        let written = write_format(&tokens);
        assert_eq!(parse_format(&written).ok(), Some(tokens));
    }
}
