//! The fuzz targets' checks without AFL, bounded so CI can run them: every file of
//! `fuzz/corpus/TARGET/`, then mutations of it from a fixed-seed RNG (bit flips, byte inserts and
//! deletes, splices of two entries, repeated chunks, tokens such as `|` `"` `%` `?` tab, long runs,
//! bytes that are not UTF-8), through the same functions the AFL++ targets call
//! (`smartlic_node::fuzzing`). There is no coverage feedback: this is mutation fuzzing around the
//! corpus, and `fuzz/README.md` has the coverage-guided runs.
//!
//! Each target runs [`DEFAULT_ITERATIONS`] mutated inputs or for [`TIME_LIMIT`], whichever ends
//! first. `SMARTLIC_FUZZ_ITERATIONS=N` runs N mutated inputs with no time limit, for a longer
//! local run. An input that breaks an invariant is written under the test's temporary directory
//! and its path printed, to replay with `target/release/TARGET < FILE` in `fuzz/` or to add to the
//! corpus.

use smartlic_node::cli::{COMMANDS, Grammar, Line, Mode};
use smartlic_node::fuzzing;
use smartlic_node::services::bulkstats::{VARIABLES, parse_format};
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mutated inputs per target by default.
const DEFAULT_ITERATIONS: u64 = 20_000;
/// Wall time per target by default, so a slow machine stops early rather than late.
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// Longest input made (the CLI socket takes lines up to 64 KiB; this is past every limit the
/// parsers have, the 1000-character format included, while keeping each input cheap).
const MAX_INPUT: usize = 8 * 1024;
/// Inputs kept to mutate again (the corpus, then mutants that replace random entries).
const POOL: usize = 256;
/// Longest mutant kept to mutate again: long inputs are each run once, but breeding from them
/// would make most inputs long, and a long line costs the CLI engine time in proportion.
const POOL_INPUT: usize = 1024;

#[test]
fn cli_line_corpus_and_mutations() {
    run("cli_line", 0x5eed_c11c_0000_0001, fuzzing::cli_line, |data| {
        let line = String::from_utf8_lossy(data);
        [Mode::Exec, Mode::Config, Mode::Bulkstats, Mode::BulkstatsFile(1)]
            .into_iter()
            .any(|mode| matches!(Grammar::standard().interpret(mode, &line), Ok(Line::Command(_))))
    });
}

#[test]
fn bulkstats_format_corpus_and_mutations() {
    run(
        "bulkstats_format",
        0x5eed_b0c5_0000_0002,
        fuzzing::bulkstats_format,
        |data| parse_format(&String::from_utf8_lossy(data)).is_ok(),
    );
}

/// Runs the corpus and the mutations of it through `check`; `accepted` tells whether an input
/// is one the parser takes, only to report how many mutants got past it (a mutator that makes
/// only garbage would test little but the first refusal).
fn run(target: &str, seed: u64, check: fn(&[u8]), accepted: fn(&[u8]) -> bool) {
    let corpus = read_corpus(target);
    assert!(!corpus.is_empty(), "no seed inputs in fuzz/corpus/{target}");
    for (name, input) in &corpus {
        call(target, &format!("corpus file {name}"), check, input);
    }

    let (iterations, limit) = match std::env::var("SMARTLIC_FUZZ_ITERATIONS") {
        Ok(v) => (
            v.trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("SMARTLIC_FUZZ_ITERATIONS={v:?} is not a count")),
            None,
        ),
        Err(_) => (DEFAULT_ITERATIONS, Some(TIME_LIMIT)),
    };
    let tokens = tokens();
    let mut rng = Rng(seed);
    let mut pool: Vec<Vec<u8>> = corpus.into_iter().map(|(_, input)| input).collect();
    let seeds = pool.len();
    let started = Instant::now();
    let mut ran = 0u64;
    let mut taken = 0u64;
    while ran < iterations && limit.is_none_or(|l| started.elapsed() < l) {
        let mut input = pool[rng.below(pool.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut input, &pool, &tokens);
        }
        input.truncate(MAX_INPUT);
        call(target, &format!("mutated input #{ran} (seed {seed:#x})"), check, &input);
        ran += 1;
        let good = accepted(&input);
        taken += u64::from(good);
        // Mutants stack on one another in the pool after the seeds, which stay; one the parser
        // takes always gets in (the only feedback there is), long ones are run once, not bred from.
        if input.len() <= POOL_INPUT {
            if pool.len() < POOL {
                pool.push(input);
            } else if good || rng.below(4) == 0 {
                let at = seeds + rng.below(POOL - seeds);
                pool[at] = input;
            }
        }
    }
    let elapsed = started.elapsed();
    let stop = match limit {
        Some(l) if ran < iterations => format!("stopped at the {} s limit", l.as_secs()),
        Some(l) => format!("limit {iterations} inputs or {} s", l.as_secs()),
        None => "SMARTLIC_FUZZ_ITERATIONS, no time limit".to_string(),
    };
    // Straight to stderr, past the test harness's capture, so CI logs show how much ran.
    let _ = writeln!(
        std::io::stderr(),
        "fuzz_corpus {target}: {seeds} corpus files + {ran} mutated inputs ({taken} accepted) in {:.1} s ({stop})",
        elapsed.as_secs_f64()
    );
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn read_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let path = e.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (
                path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                bytes,
            )
        })
        .collect();
    files.sort();
    files
}

/// Runs one input; if it panics, saves it and fails the test with where it is.
fn call(target: &str, what: &str, check: fn(&[u8]), input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| check(input))).is_ok() {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_corpus");
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|()| {
            let path = dir.join(format!("{target}-crash-{:016x}", fnv(input)));
            std::fs::write(&path, input).map(|()| path)
        })
        .map_or_else(|e| format!("(not saved: {e})"), |p| p.display().to_string());
    panic!(
        "{target}: {what} broke an invariant (panic above); input saved to {saved}: b\"{}\"",
        input.escape_ascii()
    );
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A position in `0..=len`.
    fn pos(&mut self, len: usize) -> usize {
        self.below(len + 1)
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Pieces the parsers give meaning to, and bytes that are not (valid) UTF-8.
fn tokens() -> Vec<Vec<u8>> {
    let mut t: Vec<Vec<u8>> = [
        "|",
        "| ",
        " | grep ",
        " | grep -i ",
        " | more",
        "\"",
        "\\\"",
        "\\",
        "%",
        "%%",
        "?",
        " ?",
        "\t",
        " ",
        "  ",
        "\n",
        "\r",
        "\0",
        "\x7f",
        "\x1b[A",
        "-i",
        "no ",
        "do ",
        "show ",
        "license ",
        "end",
        "exit",
        "configure",
        "bulkstats ",
        "schema ",
        "format ",
        "file 1",
        "smartlic ",
        "snmp target ",
        "1162",
        "0",
        "4294967296",
        "-1",
        "é",
        "€",
        "😀",
        "\u{301}",
        "\u{200b}",
        "\u{202e}",
        "\u{feff}",
        "\u{85}",
        "\u{2028}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    t.extend([
        vec![0xff],
        vec![0xfe],
        vec![0x80],
        vec![0xc3],
        vec![0xe2, 0x82],
        vec![0xf0, 0x9f, 0x98],
        vec![0xed, 0xa0, 0x80],
    ]);
    t.extend(VARIABLES.iter().map(|(_, name, _)| format!("%{name}%").into_bytes()));
    // The grammar's keywords, each with a space after it.
    let mut keywords: Vec<&str> = COMMANDS
        .iter()
        .flat_map(|c| c.pattern.split(|c: char| c.is_whitespace() || "[]{}|()".contains(c)))
        .filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .collect();
    keywords.sort_unstable();
    keywords.dedup();
    t.extend(keywords.iter().map(|k| format!("{k} ").into_bytes()));
    t
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>], tokens: &[Vec<u8>]) {
    let len = input.len();
    match rng.below(11) {
        // Flip one bit.
        0 if len > 0 => {
            let at = rng.below(len);
            input[at] ^= 1 << rng.below(8);
        }
        // Replace one byte.
        1 if len > 0 => {
            let at = rng.below(len);
            input[at] = rng.byte();
        }
        // Insert a byte, printable ASCII more often than not.
        2 => {
            let b = if rng.below(3) == 0 {
                rng.byte()
            } else {
                b' ' + rng.below(95) as u8
            };
            input.insert(rng.pos(len), b);
        }
        // Delete a range.
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(16));
            input.drain(at..at + n);
        }
        // Splice: this input's head with another entry's tail.
        4 => {
            let other = &pool[rng.below(pool.len())];
            let tail = other[rng.pos(other.len())..].to_vec();
            input.truncate(rng.pos(len));
            input.extend_from_slice(&tail);
        }
        // Repeat a chunk.
        5 if len > 0 => {
            let at = rng.below(len);
            let chunk = input[at..at + 1 + rng.below((len - at).min(32))].to_vec();
            let most = if rng.below(4) == 0 { 200 } else { 4 };
            let times = 1 + rng.below(most);
            let at = rng.pos(len);
            input.splice(at..at, chunk.iter().copied().cycle().take(chunk.len() * times));
        }
        // Insert a token, or write it over what is there.
        6 | 7 => {
            let token = &tokens[rng.below(tokens.len())];
            let at = rng.pos(len);
            let end = if rng.below(2) == 0 {
                at
            } else {
                (at + token.len()).min(len)
            };
            input.splice(at..end, token.iter().copied());
        }
        // A long run of one byte.
        8 => {
            let b = [b'a', b' ', b'%', b'"', b'|', b'?', b'\t', 0xff, rng.byte()][rng.below(9)];
            let n = 16 + rng.below(1100);
            let at = rng.pos(len);
            input.splice(at..at, std::iter::repeat_n(b, n));
        }
        // Truncate.
        9 => input.truncate(rng.pos(len)),
        // Swap the case of a range (abbreviations and keywords).
        10 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(16));
            for b in &mut input[at..at + n] {
                *b = if b.is_ascii_lowercase() {
                    b.to_ascii_uppercase()
                } else {
                    b.to_ascii_lowercase()
                };
            }
        }
        // Nothing to mutate in an empty input: start it with a token.
        _ => input.extend_from_slice(&tokens[rng.below(tokens.len())]),
    }
}
