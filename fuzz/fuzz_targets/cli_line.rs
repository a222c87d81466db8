//! Fuzzes the node's CLI engine with what a client can send over `DIR/cli.sock`: any bytes,
//! decoded as the node decodes them, in every mode, through every entry point (run, `?` help,
//! Tab completion), checking the invariants the property tests check. The checks live in
//! `smartlic_node::fuzzing::cli_line`, which the `fuzz_corpus` test also runs.

fn main() {
    afl::fuzz!(|data: &[u8]| smartlic_node::fuzzing::cli_line(data));
}
