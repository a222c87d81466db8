//! Two license managers on one PostgreSQL database serve one fleet: the second server finds the
//! PKI the first set up (same CA, same signing key), a token's max uses hold exactly across both,
//! usage reported to either lands in one compliance answer, and a node whose manager dies renews
//! through the other. Each test has a database and two managers of its own. Needs PostgreSQL (127.0.0.1:5432, trust auth; `SMARTLIC_TEST_DATABASE_URL`
//! overrides) and `psql`; each run creates and drops a database of its own.

mod common;
use common::*;

const PGW: &str = "ASR5K-00-PW10GTWY";

/// PGW licences in use and the row's status in `license list --json`.
fn in_use(list_json: &str, sku: &str) -> (u64, String) {
    let rows = licence_rows(list_json);
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

/// Starts the first manager of `db`, `manager-a`.
fn start_a(w: &mut World, db: &Database) -> Server {
    w.start_server_at(&free_listen(), "manager-a", Some(&db.url())).clone()
}

/// Starts the second manager of `db`, `manager-b`, with a copy of a's master.key; the current
/// server stays a (admin commands use a's CA and operator key, against either URL).
fn start_b(w: &mut World, db: &Database, a: &Server) -> Server {
    let b_dir = w.path("manager-b");
    std::fs::create_dir_all(&b_dir).expect("b's data directory");
    std::fs::copy(a.dir.join("master.key"), b_dir.join("master.key")).expect("copy master.key");
    let b = w.start_server_at(&free_listen(), "manager-b", Some(&db.url())).clone();
    w.server = Some(a.clone());
    b
}

/// Every node carries 5,000 PGW sessions (one licence each) and reports them, all at the same moment.
fn report_one_licence_each(nodes: &[(Node, String)]) {
    for (n, _) in nodes {
        assert_eq!(admitted(&cli_ok(n, "calls connect pgw 5000")), (5000, 0));
    }
    std::thread::scope(|s| {
        for (n, _) in nodes {
            s.spawn(move || cli(n, &["license smart renew auth"]));
        }
    });
}

/// Two managers on a database of their own, and the account Acme.
struct Fleet {
    w: World,
    a: Server,
    b: Server,
    _db: Database,
}

impl Fleet {
    fn start() -> Fleet {
        let db = Database::create("two");
        let mut w = World::new();
        let a = start_a(&mut w, &db);
        let b = start_b(&mut w, &db, &a);
        w.account("Acme", "acme.example");
        Fleet { w, a, b, _db: db }
    }

    /// A fleet whose DEFAULT VA holds `pgw_licences`, with `nodes` registered nodes that have
    /// reported one PGW licence each (see [`report_one_licence_each`]).
    fn reporting(pgw_licences: u32, nodes: usize) -> (Fleet, Vec<(Node, String)>) {
        let mut f = Fleet::start();
        f.w.deposit("Acme", "DEFAULT", PGW, pgw_licences);
        let registered = f.registered_nodes(nodes);
        report_one_licence_each(&registered);
        (f, registered)
    }

    /// The manager for the `i`th node: a for even, b for odd.
    fn url(&self, i: usize) -> &str {
        if i.is_multiple_of(2) { &self.a.url } else { &self.b.url }
    }

    /// `n` nodes `pgw0…`, set up for the manager [`Fleet::url`] gives them.
    fn nodes(&mut self, n: usize) -> Vec<(Node, String)> {
        let ca = self.a.ca.to_string_lossy().to_string();
        (0..n)
            .map(|i| {
                let url = self.url(i).to_string();
                let node = self.w.start_node(&format!("pgw{i}"));
                point_at(&node, &ca, &url);
                (node, url)
            })
            .collect()
    }

    /// `n` nodes registered with a token of Acme's DEFAULT VA, alternately through a and b.
    fn registered_nodes(&mut self, n: usize) -> Vec<(Node, String)> {
        let token = self.w.token("Acme", "DEFAULT", &[]);
        let nodes = self.nodes(n);
        for (node, _) in &nodes {
            cli_ok(node, &idtoken(&token));
        }
        nodes
    }

    /// `in_use` of PGW as the manager at `url` sees it.
    fn pgw_in_use(&self, url: &str) -> (u64, String) {
        let out = self.w.admin_via(
            url,
            &["license", "list", "--account", "Acme", "--va", "DEFAULT", "--json"],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        in_use(&String::from_utf8_lossy(&out.stdout), PGW)
    }
}

#[test]
fn a_second_manager_needs_the_master_key_and_then_shares_the_pki_and_the_store() {
    let db = Database::create("two");
    let mut w = World::new();
    let a = start_a(&mut w, &db);
    // A second manager without the store's master key cannot open its private keys: it refuses
    // to start, saying what to copy, and creates no key of its own.
    let b_dir = w.path("manager-b");
    let refused = std::process::Command::new(common::BIN)
        .args(["server", "--data-dir"])
        .arg(&b_dir)
        .args(["--listen", &free_listen(), "--database", &db.url()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run smartlic server");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("copy master.key"), "{err}");
    assert!(!b_dir.join("master.key").exists());
    let b = start_b(&mut w, &db, &a);
    // The second server found the PKI in the database: same CA, and it wrote no operator key.
    let ca_a = std::fs::read_to_string(&a.ca).expect("ca.pem of a");
    let ca_b = std::fs::read_to_string(&b.ca).expect("ca.pem of b");
    assert_eq!(ca_a, ca_b, "both managers must serve the one CA of the database");
    assert!(
        !b.dir.join("admin.key").exists(),
        "only the first server writes admin.key"
    );

    w.account("Acme", "acme.example");
    // Made through b, seen through a.
    let out = w.admin_via(&b.url, &deposit_args("Acme", "DEFAULT", PGW, "3"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (used, status) = in_use(&w.licences_json("Acme", "DEFAULT"), PGW);
    assert_eq!((used, status.as_str()), (0, "OK"));
}

#[test]
fn a_tokens_max_uses_hold_exactly_across_both_managers() {
    let mut f = Fleet::start();
    // Six nodes, three per manager, race to register on a token with four uses.
    let token = f.w.token("Acme", "DEFAULT", &["--max-uses", "4"]);
    let nodes = f.nodes(6);
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|(n, _)| {
                let t = token.clone();
                s.spawn(move || cli(n, &[&idtoken(&t)]).1)
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        4,
        "a four-use token must register exactly four instances across both managers: {results:?}"
    );
    let registered = nodes
        .iter()
        .filter(|(n, _)| cli_ok(n, "show license status").contains("Status: REGISTERED"))
        .count();
    assert_eq!(registered, 4);
    for mgr in [&f.a.url, &f.b.url] {
        let out = f.w.admin_via(mgr, &["instance", "list", "--account", "Acme", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("instance list --json");
        let count = v
            .as_array()
            .or_else(|| v.get("instances").and_then(|l| l.as_array()))
            .map(|a| a.len())
            .unwrap_or(0);
        assert_eq!(count, 4, "{mgr} sees {v}");
    }
}

#[test]
fn usage_reported_to_either_manager_lands_in_one_compliance_answer() {
    // Every registered node reports 5,000 PGW sessions (one licence each) at the same moment,
    // half to each manager: none of the reports is lost, and four in use exceeds the three bought.
    let (f, registered) = Fleet::reporting(3, 4);
    for mgr in [&f.a.url, &f.b.url] {
        let (used, status) = f.pgw_in_use(mgr);
        assert_eq!((used, status.as_str()), (4, "INSUFFICIENT"), "as seen by {mgr}");
    }
    // The compliance answer is the same whichever manager a node asked: all out of compliance.
    for (n, url) in &registered {
        cli(n, &["license smart renew auth"]);
        let st = cli_ok(n, "show license status");
        assert!(st.contains("OUT OF COMPLIANCE"), "node talking to {url}:\n{st}");
    }

    // One more licence deposited through a: every node, on either manager, is back in compliance.
    f.w.deposit("Acme", "DEFAULT", PGW, 1);
    for (n, url) in &registered {
        cli_ok(n, "license smart renew auth");
        let st = cli_ok(n, "show license status");
        assert!(st.contains("Status: AUTHORIZED"), "node talking to {url}:\n{st}");
    }
}

#[test]
fn a_node_whose_manager_dies_renews_through_the_other() {
    let (mut f, registered) = Fleet::reporting(2, 2);
    // Manager a dies; its nodes move to b and renew there: b signs with the shared key and knows
    // the instances a registered.
    f.w.kill("manager-a");
    let b_url = f.b.url.clone();
    for (n, url) in registered.iter().filter(|(_, url)| *url == f.a.url) {
        let (out, ok) = cli(n, &["license smart renew auth"]);
        assert!(
            !ok || out.contains("fail"),
            "a is gone; renewing through {url} cannot succeed:\n{out}"
        );
        let (out, ok) = cli(n, &["configure", &format!("license smart url {b_url}"), "end"]);
        assert!(ok, "{out}");
        cli_ok(n, "license smart renew auth");
        let st = cli_ok(n, "show license status");
        assert!(st.contains("Status: AUTHORIZED") && st.contains(&b_url), "{st}");
        cli_ok(n, "license smart renew id");
        assert!(
            field(&cli_ok(n, "show license status"), "Last Renewal Attempt")
                .is_some_and(|v| v.starts_with("SUCCEEDED")),
            "ID renewal through b"
        );
    }
    let (used, status) = f.pgw_in_use(&b_url);
    assert_eq!((used, status.as_str()), (2, "OK"));
}
