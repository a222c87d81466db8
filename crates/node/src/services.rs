//! Background services of the node that follow the Smart Agent: SNMP traps and bulk statistics.
//!
//! - Traps: a task follows the agent's event stream ([`SmartAgent::subscribe`]) and sends each
//!   transition as one SNMPv2c notification to every `snmp target` configured at that moment
//!   ([`snmp`]). The agent emits an event once per transition and persists the conditions, so
//!   nothing is repeated while a condition holds or after a restart.
//! - Bulk statistics: a thread follows the agent clock, samples at each sample-interval boundary
//!   and writes files at each transfer-interval boundary ([`bulkstats`]).
//!
//! [`SmartAgent::subscribe`]: smartlic_agent::SmartAgent::subscribe

#[path = "bulkstats/mod.rs"]
pub mod bulkstats;
#[path = "snmp.rs"]
pub mod snmp;

use crate::node::Node;
use bulkstats::{BulkState, Sample, Transfer};
use smartlic_agent::events::LicenseEvent;
use snmp::{Product, TrapLog, TrapRecord};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{Receiver, error::RecvError};

/// How often the bulk statistics thread looks at the clock (the clock file is re-read every
/// 250 ms; a boundary crossed is acted on within a second).
const BULK_TICK: Duration = Duration::from_millis(500);

/// State of the node's background services.
#[derive(Debug, Default)]
pub struct Services {
    started: AtomicBool,
    boot: OnceLock<Instant>,
    traps: Mutex<TrapLog>,
    bulk: Mutex<BulkState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn services_of(node: &Node) -> Arc<Services> {
    node.services.clone()
}

/// Starts the background services of a node (once; later calls do nothing). Must be called
/// inside a Tokio runtime for traps to be sent.
pub fn start(node: &Arc<Node>) {
    let svc = services_of(node);
    if svc.started.swap(true, Ordering::SeqCst) {
        return;
    }
    let _ = svc.boot.set(Instant::now());
    // Subscribe first, then take the events already emitted (those of opening the agent, and any
    // since its timers started): they are sent first, and their overlap with the stream skipped.
    let rx = node.agent.subscribe();
    let backlog = node.agent.history();
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(trap_task(Arc::downgrade(node), svc.clone(), rx, backlog));
        }
        Err(_) => tracing::warn!("no async runtime: SNMP traps are not sent"),
    }
    let weak = Arc::downgrade(node);
    let spawned = std::thread::Builder::new().name("bulkstats".into()).spawn(move || {
        while let Some(node) = weak.upgrade() {
            bulk_tick(&node, &svc);
            drop(node);
            std::thread::sleep(BULK_TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the bulk statistics thread: {e}");
    }
}

async fn trap_task(node: Weak<Node>, svc: Arc<Services>, mut rx: Receiver<LicenseEvent>, backlog: Vec<LicenseEvent>) {
    for e in &backlog {
        let Some(n) = node.upgrade() else { return };
        send_event(&n, &svc, e).await;
    }
    // Events emitted between `subscribe` and `history` are in both: the stream starts with a
    // suffix of the backlog. Skip it, then follow the stream.
    let mut overlap = backlog;
    loop {
        match rx.recv().await {
            Ok(e) => {
                if !overlap.is_empty() {
                    if let Some(pos) = overlap.iter().position(|x| *x == e) {
                        overlap.drain(..=pos);
                        continue;
                    }
                    overlap.clear();
                }
                let Some(n) = node.upgrade() else { return };
                send_event(&n, &svc, &e).await;
            }
            Err(RecvError::Lagged(k)) => {
                tracing::warn!("SNMP traps: {k} licensing events were lost");
                lock(&svc.traps).lost_events += k;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn send_event(node: &Node, svc: &Services, e: &LicenseEvent) {
    let cfg = node.agent.config();
    let product = Product {
        platform: cfg.udi.pid.clone(),
        software_tag: cfg.software_tag.clone(),
    };
    let trap = snmp::trap_for(e, node.agent.catalog(), &product);
    let targets = node.config().snmp_targets.clone();
    let uptime = svc
        .boot
        .get()
        .map(|b| (b.elapsed().as_millis() / 10) as u32)
        .unwrap_or(0);
    let mut rec = TrapRecord {
        trap,
        sent: Vec::new(),
        failed: Vec::new(),
    };
    for t in &targets {
        match snmp::send_to(t, &rec.trap, uptime).await {
            Ok(()) => rec.sent.push(t.name.clone()),
            Err(why) => {
                tracing::warn!("SNMP trap {} to {why}", rec.trap.kind.name);
                rec.failed.push(why);
            }
        }
    }
    tracing::info!(
        "SNMP trap {} {} sent to {} target(s)",
        rec.trap.kind.number,
        rec.trap.kind.name,
        rec.sent.len()
    );
    lock(&svc.traps).push(rec);
}

fn sample_now(node: &Node) -> Sample {
    Sample::from_snapshot(&node.agent.snapshot(), node.agent.catalog(), &node.hostname)
}

fn bulk_tick(node: &Node, svc: &Services) {
    let cfg = node.config().bulkstats.clone();
    let now = node.agent.config().clock.now();
    let mut st = lock(&svc.bulk);
    st.tick(&cfg, now, &node.hostname, || sample_now(node));
}

/// `show snmp trap history`.
pub fn trap_history(node: &Node) -> String {
    lock(&services_of(node).traps).render()
}

/// `bulkstats force transfer`: writes the samples waiting for every file now (taking a sample
/// first when none waits, so that the current figures are delivered).
pub fn force_transfer(node: &Node) -> Result<String, String> {
    let svc = services_of(node);
    let cfg = node.config().bulkstats.clone();
    if !cfg.files.values().any(|f| !f.schemas.is_empty()) {
        return Err("no bulkstats file has a smartlic schema; nothing to transfer".into());
    }
    let now = node.agent.config().clock.now();
    let mut st = lock(&svc.bulk);
    if !st.has_pending() {
        st.record(&cfg, sample_now(node));
    }
    let results = st.transfer(&cfg, now, &node.hostname);
    drop(st);
    let mut out = String::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Transfer::Written { file, path, samples } => {
                let _ = writeln!(out, "file {file}: {samples} sample(s) written to {}", path.display());
            }
            Transfer::Nothing { file } => {
                let _ = writeln!(out, "file {file}: nothing to transfer");
            }
            Transfer::Failed { file, reason, kept } => {
                failed.push(format!(
                    "file {file}: {reason}; {kept} sample(s) kept for the next transfer"
                ));
            }
        }
    }
    if failed.is_empty() {
        Ok(out)
    } else {
        Err(failed.join("; "))
    }
}

/// `show bulkstats`.
pub fn show_bulkstats(node: &Node) -> String {
    let cfg = node.config().bulkstats.clone();
    let now = node.agent.config().clock.now();
    lock(&services_of(node).bulk).render(&cfg, now)
}

/// `show bulkstats variables smartlic`.
pub fn show_variables() -> String {
    bulkstats::show_variables()
}

/// Checks a `smartlic schema` format string.
pub fn validate_format(format: &str) -> Result<(), String> {
    bulkstats::parse_format(format)
        .map(|_| ())
        .map_err(|e| format!("invalid smartlic schema format: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Mode;
    use crate::node::NodeOptions;
    use async_snmp::notification::{Notification, NotificationReceiver};
    use smartlic_clock::FixedClock;

    const T0: i64 = 1_798_761_600; // 2027-01-01T00:00:00Z

    fn open(dir: &std::path::Path, clock: &Arc<FixedClock>) -> Arc<Node> {
        let opts = NodeOptions {
            dir: dir.to_path_buf(),
            hostname: "asr1".into(),
            platform: "ASR5500".into(),
            serial: Some("FLM12345678".into()),
            clock: clock.clone(),
            catalog: smartlic_protocol::Catalog::staros(),
            metrics_listen: None,
            release: smartlic_agent::Release::R21_6,
            sf_cards: 0,
        };
        Node::open(opts).unwrap_or_else(|e| panic!("{e}"))
    }

    async fn run(node: &Node, lines: &[&str]) -> (String, bool) {
        let mut mode = Mode::Exec;
        let mut all = String::new();
        for l in lines {
            let (out, ok, _) = crate::dispatch::execute(node, &mut mode, l).await;
            all.push_str(&out);
            if !ok {
                return (all, false);
            }
        }
        (all, true)
    }

    async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_traps_eval_mode_once_and_writes_bulkstats_on_the_clock() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(FixedClock::new(T0));
        let node = open(&tmp.path().join("node"), &clock);
        start(&node);
        start(&node); // a second start does nothing
        let rx = NotificationReceiver::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = rx.local_addr().port();
        let recv = tmp.path().join("recv");
        std::fs::create_dir(&recv).unwrap_or_else(|e| panic!("{e}"));
        let (out, ok) = run(
            &node,
            &[
                "configure",
                "license smart enable",
                &format!("snmp target nms 127.0.0.1 port {port}"),
                "bulkstats mode",
                "sample-interval 15",
                "transfer-interval 30",
                "file 1",
                &format!("receiver local-directory {}", recv.display()),
                "smartlic schema s1 format \"%service% %mode% %cur_call_count% %cur_call_policy%\"",
                "end",
            ],
        )
        .await;
        assert!(ok, "{out}");
        let (out, ok) = run(
            &node,
            &[
                "configure",
                "bulkstats mode",
                "file 1",
                "smartlic schema s1 format \"%nope%\"",
            ],
        )
        .await;
        assert!(
            !ok && out.starts_with("Failure: invalid smartlic schema format: unknown variable"),
            "{out}"
        );

        let (out, _) = run(&node, &["calls connect pgw 42"]).await;
        assert!(out.contains("admitted 42"), "{out}");
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        let Ok(Ok(got)) = got else { panic!("no EvalMode trap") };
        let Notification::TrapV2c { trap_oid, .. } = got.notification else {
            panic!("not v2c")
        };
        assert_eq!(trap_oid.arcs(), &[1, 3, 6, 1, 4, 1, 8164, 2, 1350]);
        let (_, _) = run(&node, &["calls connect pgw 1"]).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(700), rx.recv())
                .await
                .is_err(),
            "no storm"
        );
        let hist = trap_history(&node);
        assert!(hist.contains("1350") && hist.contains("starSmartLicenseEvalMode") && hist.contains("sent to nms"));

        bulkstats_follow_the_clock(&node, &clock, &recv).await;
        assert!(show_variables().contains("policy_change_block_calls"));
    }

    /// Two sample boundaries of the agent clock, the second a transfer boundary: one file with
    /// both samples, then a forced transfer of the next.
    async fn bulkstats_follow_the_clock(node: &Node, clock: &FixedClock, recv: &std::path::Path) {
        wait_until("the first look", || {
            show_bulkstats(node).contains("Next sample: Jan 01 00:15:00 2027")
        })
        .await;
        clock.set(T0 + 900);
        wait_until("sample 1", || show_bulkstats(node).contains("Samples taken: 1")).await;
        clock.set(T0 + 1800);
        // The file under its final name: a count of the directory could see the temporary file.
        let path = recv.join("asr1_file1_20270101_003000.bulkstats");
        wait_until("a file", || path.exists()).await;
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            text.lines().filter(|l| *l == "pgw Evaluation 43 ALLOW").count(),
            2,
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| *l == "pgw Registered 0 -").count(), 2, "{text}");
        assert_eq!(text.lines().count(), 28);
        let out = force_transfer(node).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("1 sample(s) written"), "{out}");
        let show = show_bulkstats(node);
        assert!(
            show.contains("Files written: 2") && show.contains("Pending samples: 0"),
            "{show}"
        );
    }
}
