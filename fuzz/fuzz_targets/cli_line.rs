//! Fuzzes the node's CLI engine with what a client can send over `DIR/cli.sock`: any bytes,
//! decoded as the node decodes them, in every mode, through every entry point (run, `?` help,
//! Tab completion), checking the invariants the property tests check.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        use smartlic_node::cli::{Grammar, Line, Mode};
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
    });
}
