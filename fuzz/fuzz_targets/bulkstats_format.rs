//! Fuzzes the bulk statistics format parser (`smartlic schema NAME format "FORMAT"`): any bytes,
//! decoded as the CLI decodes them; an accepted format must obey the limits and parse again to the
//! same tokens from its written form. The checks live in
//! `smartlic_node::fuzzing::bulkstats_format`, which the `fuzz_corpus` test also runs.

fn main() {
    afl::fuzz!(|data: &[u8]| smartlic_node::fuzzing::bulkstats_format(data));
}
