//! Two license managers on one PostgreSQL database serve one fleet: the second server finds the
//! PKI the first set up (same CA, same signing key), a token's max uses hold exactly across both,
//! usage reported to either lands in one compliance answer, and a node whose manager dies renews
//! through the other. Needs PostgreSQL (127.0.0.1:5432, trust auth; `SMARTLIC_TEST_DATABASE_URL`
//! overrides) and `psql`; each run creates and drops a database of its own.

mod common;
use common::*;
use std::process::Command;

const PGW: &str = "ASR5K-00-PW10GTWY";

fn admin_url() -> String {
    std::env::var("SMARTLIC_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of this test's own, dropped at the end.
struct Database {
    name: String,
}

impl Database {
    fn create() -> Database {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("smartlic_two_{}_{nanos}", std::process::id());
        psql(&format!("CREATE DATABASE {name}"));
        Database { name }
    }

    fn url(&self) -> String {
        let base = admin_url();
        let (prefix, _) = base.rsplit_once('/').expect("database URL with a database name");
        format!("{prefix}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &admin_url(),
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([&admin_url(), "-qc", sql])
        .output()
        .expect("psql (Debian postgresql-client) must be installed for this test");
    assert!(
        out.status.success(),
        "psql {sql:?} against {}: {}",
        admin_url(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_use(list_json: &str, sku: &str) -> (u64, String) {
    let v: serde_json::Value = serde_json::from_str(list_json).expect("license list --json");
    let rows = v
        .as_array()
        .or_else(|| v.get("licenses").and_then(|l| l.as_array()))
        .expect("licenses")
        .clone();
    let row = rows
        .iter()
        .find(|r| r.get("sku").and_then(|s| s.as_str()) == Some(sku))
        .unwrap_or_else(|| panic!("{sku} in {list_json}"));
    (
        row.get("in_use").and_then(|n| n.as_u64()).expect("in_use"),
        row.get("status").and_then(|s| s.as_str()).unwrap_or("").to_string(),
    )
}

/// Points a node at `url` (its trust pool already holds the shared CA) and enables Smart Licensing.
fn point_at(node: &Node, ca: &str, url: &str) {
    let (out, ok) = cli(
        node,
        &[
            &format!("crypto pki trustpool import file {ca}"),
            "configure",
            "license smart enable",
            &format!("license smart url {url}"),
            "end",
        ],
    );
    assert!(ok, "{out}");
}

#[test]
fn two_managers_on_one_postgres_serve_one_fleet() {
    let db = Database::create();
    let mut w = World::new();
    let a = w
        .start_server_at(&format!("127.0.0.1:{}", free_port()), "manager-a", Some(&db.url()))
        .clone();
    // A second manager without the store's master key cannot open its private keys: it refuses
    // to start, saying what to copy, and creates no key of its own.
    let b_dir = w.path("manager-b");
    let refused = std::process::Command::new(common::BIN)
        .args(["server", "--data-dir"])
        .arg(&b_dir)
        .args([
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--database",
            &db.url(),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run smartlic server");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("copy master.key"), "{err}");
    assert!(!b_dir.join("master.key").exists());
    std::fs::copy(a.dir.join("master.key"), b_dir.join("master.key")).expect("copy master.key");
    let b = w
        .start_server_at(&format!("127.0.0.1:{}", free_port()), "manager-b", Some(&db.url()))
        .clone();
    // The second server found the PKI in the database: same CA, and it wrote no operator key.
    let ca_a = std::fs::read_to_string(&a.ca).expect("ca.pem of a");
    let ca_b = std::fs::read_to_string(&b.ca).expect("ca.pem of b");
    assert_eq!(ca_a, ca_b, "both managers must serve the one CA of the database");
    assert!(
        !b.dir.join("admin.key").exists(),
        "only the first server writes admin.key"
    );
    w.server = Some(a.clone()); // admin commands use a's CA and operator key, against either URL

    w.admin_ok(&["account", "create", "Acme", "--domain", "acme.example"]);
    // Made through b, seen through a.
    let out = w.admin_via(
        &b.url,
        &[
            "license",
            "deposit",
            "--account",
            "Acme",
            "--va",
            "DEFAULT",
            "--sku",
            PGW,
            "--quantity",
            "3",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (used, status) = in_use(
        &w.admin_ok(&["license", "list", "--account", "Acme", "--va", "DEFAULT", "--json"]),
        PGW,
    );
    assert_eq!((used, status.as_str()), (0, "OK"));

    // Six nodes, three per manager, race to register on a token with four uses.
    let token = w.token("Acme", "DEFAULT", &["--max-uses", "4"]);
    let ca = a.ca.to_string_lossy().to_string();
    let nodes: Vec<(Node, String)> = (0..6)
        .map(|i| {
            let url = if i % 2 == 0 { a.url.clone() } else { b.url.clone() };
            let n = w.start_node(&format!("pgw{i}"));
            point_at(&n, &ca, &url);
            (n, url)
        })
        .collect();
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|(n, _)| {
                let t = token.clone();
                s.spawn(move || cli(n, &[&format!("license smart register idtoken {t}")]).1)
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        4,
        "a four-use token must register exactly four instances across both managers: {results:?}"
    );
    let registered: Vec<&(Node, String)> = nodes
        .iter()
        .filter(|(n, _)| cli_ok(n, "show license status").contains("Status: REGISTERED"))
        .collect();
    assert_eq!(registered.len(), 4);
    for mgr in [&a.url, &b.url] {
        let out = w.admin_via(mgr, &["instance", "list", "--account", "Acme", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("instance list --json");
        let count = v
            .as_array()
            .or_else(|| v.get("instances").and_then(|l| l.as_array()))
            .map(|a| a.len())
            .unwrap_or(0);
        assert_eq!(count, 4, "{mgr} sees {v}");
    }

    // Every registered node reports 5,000 PGW sessions (one licence each) at the same moment,
    // half to each manager: none of the reports is lost, and four in use exceeds the three bought.
    for (n, _) in &registered {
        assert_eq!(admitted(&cli_ok(n, "calls connect pgw 5000")), (5000, 0));
    }
    std::thread::scope(|s| {
        for (n, _) in &registered {
            s.spawn(move || cli(n, &["license smart renew auth"]));
        }
    });
    for mgr in [&a.url, &b.url] {
        let out = w.admin_via(
            mgr,
            &["license", "list", "--account", "Acme", "--va", "DEFAULT", "--json"],
        );
        let (used, status) = in_use(&String::from_utf8_lossy(&out.stdout), PGW);
        assert_eq!((used, status.as_str()), (4, "INSUFFICIENT"), "as seen by {mgr}");
    }
    // The compliance answer is the same whichever manager a node asked: all out of compliance.
    for (n, url) in &registered {
        cli(n, &["license smart renew auth"]);
        let st = cli_ok(n, "show license status");
        assert!(st.contains("OUT OF COMPLIANCE"), "node talking to {url}:\n{st}");
    }

    // One more licence deposited through a: every node, on either manager, is back in compliance.
    w.admin_ok(&[
        "license",
        "deposit",
        "--account",
        "Acme",
        "--va",
        "DEFAULT",
        "--sku",
        PGW,
        "--quantity",
        "1",
    ]);
    for (n, url) in &registered {
        cli_ok(n, "license smart renew auth");
        let st = cli_ok(n, "show license status");
        assert!(st.contains("Status: AUTHORIZED"), "node talking to {url}:\n{st}");
    }

    // Manager a dies; its nodes move to b and renew there: b signs with the shared key and knows
    // the instances a registered.
    w.kill("manager-a");
    for (n, url) in registered.iter().filter(|(_, url)| *url == a.url) {
        let (out, ok) = cli(n, &["license smart renew auth"]);
        assert!(
            !ok || out.contains("fail"),
            "a is gone; renewing through {url} cannot succeed:\n{out}"
        );
        let (out, ok) = cli(n, &["configure", &format!("license smart url {}", b.url), "end"]);
        assert!(ok, "{out}");
        cli_ok(n, "license smart renew auth");
        let st = cli_ok(n, "show license status");
        assert!(st.contains("Status: AUTHORIZED") && st.contains(&b.url), "{st}");
        cli_ok(n, "license smart renew id");
        assert!(
            field(&cli_ok(n, "show license status"), "Last Renewal Attempt")
                .is_some_and(|v| v.starts_with("SUCCEEDED")),
            "ID renewal through b"
        );
    }
    let out = w.admin_via(
        &b.url,
        &["license", "list", "--account", "Acme", "--va", "DEFAULT", "--json"],
    );
    let (used, status) = in_use(&String::from_utf8_lossy(&out.stdout), PGW);
    assert_eq!((used, status.as_str()), (4, "OK"));
}
