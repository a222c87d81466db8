//! Backing up a PostgreSQL manager the way docs/interface.md §8 says: `pg_dump -Fc` of its
//! database, `pg_restore` into a new one, and a second manager started on the restore with a copy
//! of the first one's `master.key` (the PKI's private keys are in the database, sealed under it).
//! The restored manager shows the same accounts, licences and instances and answers a node's
//! renewal. Needs PostgreSQL (127.0.0.1:5432, trust auth; `SMARTLIC_TEST_DATABASE_URL`
//! overrides), `psql`, `pg_dump` and `pg_restore`; skipped, saying why, when a tool is missing.

mod common;
use common::*;
use std::process::Command;

const PGW: &str = "ASR5K-00-PW10GTWY";

/// The first of `tools` that is not installed, if any.
fn missing_tool(tools: &[&'static str]) -> Option<&'static str> {
    tools.iter().copied().find(|t| {
        Command::new(t)
            .arg("--version")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
    })
}

/// What an operator sees of the manager `url`: accounts, Acme's VAs, licences of each VA and
/// instances, as JSON (the instances without their last contact, which the renewal moves on).
fn operator_view(w: &World, url: &str) -> Vec<serde_json::Value> {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = w.admin_via(url, args);
        assert!(
            out.status.success(),
            "{args:?} against {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("--json output")
    };
    let mut view = vec![
        json(&["account", "list", "--json"]),
        json(&["va", "list", "--account", "Acme", "--json"]),
    ];
    for va in ["DEFAULT", "East"] {
        view.push(json(&["license", "list", "--account", "Acme", "--va", va, "--json"]));
    }
    let mut instances = json(&["instance", "list", "--account", "Acme", "--json"]);
    for i in instances.as_array_mut().expect("instances") {
        i.as_object_mut().expect("instance").remove("last_contact");
    }
    view.push(instances);
    view
}

#[test]
fn a_pg_dump_restores_into_a_manager_that_serves_the_same_fleet() {
    if let Some(tool) = missing_tool(&["psql", "pg_dump", "pg_restore"]) {
        eprintln!("skipped: {tool} is not installed (Debian: apt-get install postgresql-client)");
        return;
    }
    let first = Database::create("backup_a");
    let mut w = World::new();
    let a = w
        .start_server_at(&free_listen(), "manager-a", Some(&first.url()))
        .clone();
    w.account("Acme", "acme.example");
    w.admin_ok(&["va", "create", "--account", "Acme", "East"]);
    w.deposit("Acme", "DEFAULT", PGW, 3);
    w.deposit("Acme", "East", PGW, 1);
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.registered_node("pgw-node", &token);
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 15000")), (15000, 0));
    cli_ok(&node, "license smart renew auth");
    assert!(cli_ok(&node, "show license status").contains("Status: AUTHORIZED"));
    let before = operator_view(&w, &a.url);
    assert!(before[4].to_string().contains("pgw-node"), "{:?}", before[4]);

    // The backup: a custom-format dump of the database, and master.key kept beside it.
    let dump = w.path("smartlic.dump");
    run_ok(
        Command::new("pg_dump").args(["-Fc", "-f"]).arg(&dump).arg(first.url()),
        "pg_dump -Fc",
    );
    let kept_key = w.path("master.key.backup");
    std::fs::copy(a.dir.join("master.key"), &kept_key).expect("copy master.key");
    // The first manager goes away (its database stays, untouched by what follows).
    w.kill("manager-a");

    // The restore: a new database, and a new data directory holding only the kept master.key.
    let second = Database::create("backup_b");
    run_ok(
        Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "-d", &second.url()])
            .arg(&dump),
        "pg_restore",
    );
    let b_dir = w.path("manager-b");
    std::fs::create_dir_all(&b_dir).expect("b's data directory");
    std::fs::copy(&kept_key, b_dir.join("master.key")).expect("restore master.key");
    let b = w
        .start_server_at(&free_listen(), "manager-b", Some(&second.url()))
        .clone();
    assert_eq!(
        std::fs::read_to_string(&a.ca).expect("a's ca.pem"),
        std::fs::read_to_string(&b.ca).expect("b's ca.pem"),
        "the restored manager serves the CA the nodes trust"
    );
    assert!(!b.dir.join("admin.key").exists(), "the operator key came with the data");
    // The operator keeps using the key of the first manager, against the restored one.
    w.server = Some(Server {
        api_key: a.api_key.clone(),
        ..b.clone()
    });
    assert_eq!(operator_view(&w, &b.url), before);

    // The node, pointed at the restored manager, renews there: same signing key, same instance.
    w.advance_days(1);
    let (out, ok) = cli(&node, &["configure", &format!("license smart url {}", b.url), "end"]);
    assert!(ok, "{out}");
    cli_ok(&node, "license smart renew auth");
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("Status: AUTHORIZED") && st.contains(&b.url), "{st}");
    let out = w.admin_via(&b.url, &["instance", "list", "--account", "Acme", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("instance list --json");
    assert_eq!(
        list[0]["last_contact"].as_i64(),
        Some(w.now),
        "the renewal reached the restored manager: {list}"
    );
    let out = w.admin_via(
        &b.url,
        &["license", "list", "--account", "Acme", "--va", "DEFAULT", "--json"],
    );
    let rows = licence_rows(&String::from_utf8_lossy(&out.stdout));
    let pgw = rows.iter().find(|r| r["sku"] == PGW).expect("PGW row");
    assert_eq!((pgw["in_use"].as_i64(), pgw["status"].as_str()), (Some(2), Some("OK")));
}
