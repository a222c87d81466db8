//! Bulk statistics (docs/interface.md §3, docs/snmp-bulkstats.md): configured through the CLI, sampled and transferred
//! as the clock file crosses interval boundaries, written atomically into the receiver directory.

mod common;
use common::*;
use std::path::{Path, PathBuf};

const MIN: i64 = 60;

fn configure(node: &Node, lines: &[&str]) -> (String, bool) {
    let mut all = vec!["configure"];
    all.extend_from_slice(lines);
    all.push("end");
    cli(node, &all)
}

fn samples_taken(node: &Node) -> u64 {
    field(&cli_ok(node, "show bulkstats"), "Samples taken")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Moves the clock and waits until the node has taken sample number `n`.
fn move_and_sample(w: &mut World, node: &Node, t: i64, n: u64) {
    w.set_clock(t);
    wait_for(15, &format!("sample {n}"), || (samples_taken(node) >= n).then_some(()));
    assert_eq!(samples_taken(node), n, "one sample per crossing");
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn wait_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    wait_for(15, &format!("{n} file(s) in {}", dir.display()), || {
        let f = files_in(dir);
        (f.len() >= n).then_some(f)
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn count(text: &str, row: &str) -> usize {
    text.lines().filter(|l| *l == row).count()
}

const SCHEMA: &str = "smartlic schema s1 format \"%hostname% %mode% %service% %cur_call_count%\"";

/// Node `bulk1`, Smart Licensing on, sampling every 15 minutes into file 1 with [`SCHEMA`],
/// transferring every hour to the receiver directory it returns, carrying 100 pgw and 7 sgw calls.
fn sampling_node(w: &mut World) -> (Node, PathBuf) {
    let node = w.start_node("bulk1");
    let recv = w.path("recv");
    std::fs::create_dir(&recv).expect("receiver dir");
    let recv_s = recv.to_string_lossy().to_string();
    let (out, ok) = configure(
        &node,
        &[
            "license smart enable",
            "bulkstats mode",
            "sample-interval 15",
            "transfer-interval 60",
            "file 1",
            &format!("receiver local-directory {recv_s}"),
            SCHEMA,
        ],
    );
    assert!(ok, "{out}");
    let conf = cli_ok(&node, "show configuration");
    assert!(conf.contains(SCHEMA), "{conf}");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 100")), (100, 0));
    assert_eq!(admitted(&cli_ok(&node, "calls connect sgw 7")), (7, 0));
    wait_for(10, "the first boundary to be known", || {
        field(&cli_ok(&node, "show bulkstats"), "Next sample")
            .filter(|v| v == "Jan 01 00:15:00 2027 UTC")
            .map(|_| ())
    });
    (node, recv)
}

/// A [`sampling_node`] taken through the transfers at 01:00 and (with 50 more pgw calls, in one
/// jump) at 02:00: five samples, two files in the receiver directory.
fn after_two_transfers(w: &mut World) -> (Node, PathBuf) {
    let (node, recv) = sampling_node(w);
    for k in 1..=4 {
        move_and_sample(w, &node, T0 + 15 * MIN * k, k as u64);
    }
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 50")), (50, 0));
    move_and_sample(w, &node, T0 + 120 * MIN, 5);
    wait_files(&recv, 2);
    (node, recv)
}

/// No temporary file is ever left behind.
fn assert_only_bulkstats_files(dirs: &[&Path]) {
    for f in dirs.iter().flat_map(|d| files_in(d)) {
        assert!(f.extension().is_some_and(|e| e == "bulkstats"), "{}", f.display());
    }
}

#[test]
fn samples_and_transfers_follow_the_clock() {
    let mut w = World::new();
    let (node, recv) = sampling_node(&mut w);

    // Four sample boundaries, the fourth also a transfer boundary: one file with 4 × 14 rows.
    for k in 1..=4 {
        move_and_sample(&mut w, &node, T0 + 15 * MIN * k, k as u64);
    }
    let files = wait_files(&recv, 1);
    let name = files[0]
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    assert_eq!(name, "bulk1_file1_20270101_010000.bulkstats");
    let text = read(&files[0]);
    assert_eq!(text.lines().count(), 4 * 14, "{text}");
    assert_eq!(count(&text, "bulk1 Evaluation pgw 100"), 4, "{text}");
    assert_eq!(count(&text, "bulk1 Evaluation sgw 7"), 4, "{text}");
    assert_eq!(count(&text, "bulk1 Registered pgw 0"), 4, "{text}");
    assert_eq!(count(&text, "bulk1 Evaluation samog 0"), 4, "{text}");

    // A jump over four sample boundaries and a transfer boundary: one sample, one transfer.
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 50")), (50, 0));
    move_and_sample(&mut w, &node, T0 + 120 * MIN, 5);
    let files = wait_files(&recv, 2);
    let text = read(&files[1]);
    assert_eq!(text.lines().count(), 14, "{text}");
    assert_eq!(count(&text, "bulk1 Evaluation pgw 150"), 1, "{text}");
}

#[test]
fn a_bad_format_is_refused_and_the_old_schema_stays() {
    let mut w = World::new();
    let (node, _) = sampling_node(&mut w);
    for (bad, why) in [
        ("%hostname% %bogus%", "unknown variable"),
        ("%hostname% %mode", "unterminated"),
    ] {
        let (out, ok) = configure(
            &node,
            &[
                "bulkstats mode",
                "file 1",
                &format!("smartlic schema s1 format \"{bad}\""),
            ],
        );
        assert!(!ok, "{bad} accepted:\n{out}");
        assert!(out.contains("Failure:") && out.contains(why), "{out}");
    }
    let long = format!("smartlic schema s1 format \"{}\"", "x".repeat(1001));
    let (out, ok) = configure(&node, &["bulkstats mode", "file 1", &long]);
    assert!(!ok && out.contains("Failure:"), "{out}");
    let conf = cli_ok(&node, "show configuration");
    assert!(conf.contains(SCHEMA), "{conf}");
}

#[test]
fn an_unavailable_receiver_keeps_the_samples_for_a_later_transfer() {
    let mut w = World::new();
    let (node, recv) = after_two_transfers(&mut w);
    // The receiver directory goes missing: samples are kept and delivered at a later transfer.
    let later = w.path("later");
    let (out, ok) = configure(
        &node,
        &[
            "bulkstats mode",
            "file 1",
            &format!("receiver local-directory {}", later.to_string_lossy()),
        ],
    );
    assert!(ok, "{out}");
    for k in 1..=4 {
        move_and_sample(&mut w, &node, T0 + 120 * MIN + 15 * MIN * k, 5 + k as u64);
    }
    let show = wait_shows(&node, "show bulkstats", "unavailable", 15);
    assert_eq!(field(&show, "Pending samples").as_deref(), Some("4"), "{show}");
    assert_eq!(field(&show, "Dropped samples").as_deref(), Some("0"), "{show}");
    std::fs::create_dir(&later).expect("later dir");
    move_and_sample(&mut w, &node, T0 + 240 * MIN, 10);
    let files = wait_files(&later, 1);
    let text = read(&files[0]);
    assert_eq!(
        text.lines().count(),
        5 * 14,
        "the 4 kept samples and the new one:\n{text}"
    );
    assert_eq!(count(&text, "bulk1 Evaluation pgw 150"), 5, "{text}");
    let show = cli_ok(&node, "show bulkstats");
    assert_eq!(field(&show, "Pending samples").as_deref(), Some("0"), "{show}");
    assert_eq!(field(&show, "Last error").as_deref(), Some("none"), "{show}");
    assert_eq!(field(&show, "Files written").as_deref(), Some("3"), "{show}");
    assert_eq!(files_in(&recv).len(), 2, "the old receiver got nothing more");
    assert_only_bulkstats_files(&[&recv, &later]);
}

#[test]
fn force_transfer_writes_the_current_figures_now() {
    let mut w = World::new();
    let (node, recv) = after_two_transfers(&mut w);
    // The clock does not move; the transfer of 02:00 has written a file of this second.
    let out = cli_ok(&node, "bulkstats force transfer");
    assert!(out.contains("written to"), "{out}");
    let path = out
        .trim()
        .rsplit("written to ")
        .next()
        .map(PathBuf::from)
        .expect("a path");
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("bulk1_file1_20270101_020000-1.bulkstats")
    );
    assert_eq!(
        read(&path).lines().count(),
        14,
        "a new file; the one of the same second is kept"
    );
    assert_eq!(files_in(&recv).len(), 3);
    assert_only_bulkstats_files(&[&recv]);
}

#[test]
fn the_smartlic_schema_variables_are_listed() {
    let mut w = World::new();
    let node = w.start_node("vars1");
    let vars = cli_ok(&node, "show bulkstats variables smartlic");
    for v in [
        "current_sl_state",
        "current_sl_mode",
        "total_sl_enabled",
        "total_sl_disabled",
        "mode",
        "tagid",
        "cur_call_policy",
        "cur_call_count",
        "max_call_count",
        "last_lic_count",
        "max_lic_count",
        "policy_change_block_calls",
        "epochtime",
        "date",
        "time",
        "hostname",
        "service",
    ] {
        assert!(
            vars.lines().any(|l| l.split_whitespace().next() == Some(v)),
            "{v} missing:\n{vars}"
        );
    }
}
