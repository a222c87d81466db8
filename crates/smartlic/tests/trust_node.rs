//! Findings of the security review ("Trust") on the node side, each against the real binary: the
//! evaluation period cannot be refilled by deleting, restoring or transplanting state files;
//! importing a trust pool file cannot block the node or import a leaf; an over-long line on the
//! CLI socket is dropped whole.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const REMAINING_0: &str = "Evaluation Period Remaining: 0 days, 0 hours, 0 minutes, 0 seconds";

/// A node that has used 10 days of evaluation with 10 calls up, then was killed (`kill -9`).
fn node_with_ten_days_used(w: &mut World, name: &str) -> Node {
    let node = w.start_node(name);
    let (out, ok) = cli(
        &node,
        &["configure", "license smart enable", "end", "calls connect pgw 10"],
    );
    assert!(ok, "{out}");
    w.advance_days(10);
    wait_shows(&node, "show license eval-period", "Remaining: 80 days", 20);
    w.kill(name);
    node
}

/// What the node shows once its evaluation is treated as used up after tampering: the warning in
/// `show license status`, no time left, and, with Smart Licensing enabled again, EVAL EXPIRED
/// with new calls refused (the same as for a state file that fails its MAC).
fn assert_evaluation_used_up(node: &Node) {
    let st = cli_ok(node, "show license status");
    assert!(
        st.contains("WARNING: licensing state failed its integrity check"),
        "{st}"
    );
    let eval = cli_ok(node, "show license eval-period");
    assert!(
        eval.contains(REMAINING_0) && eval.contains("State: EXPIRED on"),
        "{eval}"
    );
    let (out, ok) = cli(
        node,
        &["configure", "license smart enable", "end", "calls connect pgw 5"],
    );
    assert!(ok, "{out}");
    assert_eq!(admitted(&out), (0, 5), "{out}");
    let st = cli_ok(node, "show license status");
    assert!(st.contains("Status: EVAL EXPIRED"), "{st}");
    let tech = cli_ok(node, "show license tech-support");
    assert!(tech.contains("Integrity: licensing state failed"), "{tech}");
}

#[test]
fn deleting_the_state_file_does_not_refill_the_evaluation() {
    let mut w = World::new();
    let node = node_with_ten_days_used(&mut w, "e1");
    std::fs::remove_file(node.dir.join("licensing.json")).expect("remove licensing.json");
    assert!(
        node.dir.join("state.key").exists(),
        "the key stays beside the deleted state"
    );
    let node = w.start_node("e1");
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("licensing.json is missing"), "{st}");
    assert_evaluation_used_up(&node);
    // The used-up state is itself persisted: a restart does not bring the time back.
    w.kill("e1");
    let node = w.start_node("e1");
    assert!(cli_ok(&node, "show license eval-period").contains(REMAINING_0));
    assert!(cli_ok(&node, "show license status").contains("Status: EVAL EXPIRED"));

    // Deleting the state and the ledger beside the key: the same.
    let node = node_with_ten_days_used(&mut w, "e2");
    for f in ["licensing.json", "eval.ledger"] {
        std::fs::remove_file(node.dir.join(f)).expect("remove");
    }
    let node = w.start_node("e2");
    assert_evaluation_used_up(&node);
}

#[test]
fn an_older_copy_of_the_state_gives_no_time_back() {
    let mut w = World::new();
    let node = w.start_node("r1");
    let (out, ok) = cli(&node, &["configure", "license smart enable", "end"]);
    assert!(ok, "{out}");
    // A genuine state file (its MAC is right) from when the whole evaluation was left.
    let early = std::fs::read(node.dir.join("licensing.json")).expect("state file");
    w.kill("r1");
    let node = node_with_ten_days_used(&mut w, "r1");
    std::fs::write(node.dir.join("licensing.json"), early).expect("put back the old state");
    let node = w.start_node("r1");
    let eval = cli_ok(&node, "show license eval-period");
    assert!(
        eval.contains("Evaluation Period Remaining: 80 days"),
        "the ledger keeps the 10 days used:\n{eval}"
    );
}

#[test]
fn state_files_of_another_node_do_not_verify() {
    let mut w = World::new();
    // A fresh node, whose files hold a whole evaluation period.
    let fresh = w.start_node("donor");
    assert!(cli(&fresh, &["configure", "license smart enable", "end"]).1);
    w.kill("donor");
    let node = node_with_ten_days_used(&mut w, "n1");
    for f in ["state.key", "licensing.json", "eval.ledger"] {
        if fresh.dir.join(f).exists() {
            std::fs::copy(fresh.dir.join(f), node.dir.join(f)).expect("copy");
        }
    }
    let node = w.start_node("n1");
    assert_evaluation_used_up(&node);
}

/// Runs `lines` in a CLI session on another thread; the receiver gets (output, ok, elapsed).
fn cli_in_background(node: &Node, lines: &[&str]) -> mpsc::Receiver<(String, bool, Duration)> {
    let (tx, rx) = mpsc::channel();
    let node = Node {
        name: node.name.clone(),
        dir: node.dir.clone(),
    };
    let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::thread::spawn(move || {
        let started = Instant::now();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (out, ok) = cli(&node, &refs);
        let _ = tx.send((out, ok, started.elapsed()));
    });
    rx
}

#[test]
fn trust_pool_import_refuses_fifos_devices_and_leaves_without_blocking() {
    let mut w = World::new();
    let node = w.start_node("tp");
    let fifo = w.path("pool.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // Before the fix the import opened the FIFO while holding the agent's lock and waited for a
    // writer forever, so every other session froze.
    let import = cli_in_background(
        &node,
        &[&format!("crypto pki trustpool import file {}", fifo.display())],
    );
    // Other sessions answer until the import has returned (each within a deadline).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (out, ok, took) = loop {
        let (other, answered, _) = cli_in_background(&node, &["show license udi"])
            .recv_timeout(Duration::from_secs(20))
            .expect("another CLI session answers while the FIFO is being imported");
        assert!(answered && other.contains("UDI:"), "{other}");
        if let Ok(done) = import.try_recv() {
            break done;
        }
        assert!(Instant::now() < deadline, "the FIFO import did not return within 30 s");
    };
    assert!(
        !ok && out.contains("Failure:") && out.contains("not a regular file"),
        "{out}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    // /dev/zero: refused at once instead of read until memory runs out.
    let started = Instant::now();
    let (out, ok) = cli(&node, &["crypto pki trustpool import file /dev/zero"]);
    assert!(
        !ok && out.contains("Failure:") && out.contains("character device"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Over 1 MiB: refused.
    let big = w.path("big.pem");
    std::fs::write(&big, vec![b'A'; 2 * 1024 * 1024]).expect("write");
    let (out, ok) = cli(&node, &[&format!("crypto pki trustpool import file {}", big.display())]);
    assert!(!ok && out.contains("Failure:") && out.contains("larger than"), "{out}");

    // A leaf certificate (the manager's TLS chain starts with its leaf): refused, nothing added.
    w.start_server();
    let server = w.server.clone().expect("server");
    let chain = server.dir.join("server.pem");
    let (out, ok) = cli(
        &node,
        &[&format!("crypto pki trustpool import file {}", chain.display())],
    );
    assert!(
        !ok && out.contains("Failure:") && out.contains("not a CA certificate"),
        "{out}"
    );
    let pool = cli_ok(&node, "show crypto pki trustpool");
    assert!(pool.contains("Trust pool is empty"), "{pool}");
    // The CA itself is imported.
    let out = cli_ok(
        &node,
        &format!("crypto pki trustpool import file {}", server.ca.display()),
    );
    assert!(out.contains("1 certificate(s) added"), "{out}");
    let pool = cli_ok(&node, "show crypto pki trustpool");
    assert!(
        pool.contains("CA Certificate 1") && !pool.contains("CA Certificate 2"),
        "{pool}"
    );
}

fn read_reply(reader: &mut impl BufRead) -> serde_json::Value {
    let mut line = String::new();
    let n = reader.read_line(&mut line).expect("a reply within the read timeout");
    assert!(n > 0, "the node closed the session");
    serde_json::from_str(&line).expect("a JSON reply")
}

fn connect(dir: &Path) -> (BufReader<UnixStream>, UnixStream) {
    let stream = UnixStream::connect(dir.join("cli.sock")).expect("connect to cli.sock");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let write = stream.try_clone().expect("clone");
    (BufReader::new(stream), write)
}

#[test]
fn an_over_long_line_on_the_cli_socket_is_dropped_whole() {
    let mut w = World::new();
    let node = w.start_node("sock");
    let (mut read, mut write) = connect(&node.dir);
    // 64 KiB + 100 bytes of padding, then a request: before the fix, everything after the first
    // 64 KiB + 1 bytes ran as the next request (here: entering Config mode).
    let mut bytes = vec![b' '; 64 * 1024 + 100];
    bytes.extend_from_slice(br#"{"op":"exec","line":"configure"}"#);
    bytes.push(b'\n');
    bytes.extend_from_slice(b"{\"op\":\"prompt\"}\n");
    write.write_all(&bytes).expect("write");
    let first = read_reply(&mut read);
    assert_eq!(first["ok"], false, "{first}");
    let text = first["output"].as_str().unwrap_or_default();
    assert!(text.starts_with("Failure: command line too long"), "{first}");
    let second = read_reply(&mut read);
    assert_eq!(second["ok"], true, "{second}");
    assert_eq!(second["prompt"], "[local]sock#", "still in Exec mode: {second}");
    // The session goes on.
    write
        .write_all(b"{\"op\":\"exec\",\"line\":\"show license udi\"}\n")
        .expect("write");
    let third = read_reply(&mut read);
    assert!(third["output"].as_str().unwrap_or_default().contains("UDI:"), "{third}");
}
