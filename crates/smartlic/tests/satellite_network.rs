//! Satellite managers end to end, continued (docs/interface.md §7): the network mode (`satellite
//! sync`, `server --sync-every`), exchanges interrupted by kill -9 of either manager, and a
//! satellite on PostgreSQL with its parent on SQLite. Needs PostgreSQL for the last one
//! (127.0.0.1:5432, trust auth; `SMARTLIC_TEST_DATABASE_URL` overrides) and `psql`.

mod common;
mod satellite_support;
use common::*;
use satellite_support::*;

/// Linked with `--parent`: `satellite sync` makes one exchange; a server with `--sync-every`
/// exchanges by itself.
#[test]
fn a_satellite_over_the_network_syncs_on_demand_and_on_schedule() {
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 2);
    let sat = manager(&mut w, "sat", None);
    link(&parent, &sat, "lab", true);
    let line = ok(&sat, &["satellite", "sync"]);
    assert_eq!(
        line,
        "synchronized with the parent: request 1 answered: Smart Account Acme, virtual account DEFAULT, 1 lot of licences from the parent"
    );
    assert_eq!(figures(&sat, PGW), (2, 0, "OK".into()));
    let node = node_on(&mut w, &sat, "sat-node", 10_000);
    let line = ok(&sat, &["satellite", "sync"]);
    assert!(
        line.starts_with("synchronized with the parent: request 2 answered"),
        "{line}"
    );
    assert_eq!(figures(&parent, PGW), (2, 1, "OK".into()));
    assert_eq!(satellite_row(&parent, "lab")["instances"].as_u64(), Some(1));

    // The same satellite restarted with --sync-every 0.001 (3.6 s): it exchanges by itself.
    w.kill("sat");
    w.advance_days(1);
    let dir = p(&sat.dir).to_string();
    let clock = p(&w.clock).to_string();
    let args = [
        "--data-dir",
        &dir,
        "--listen",
        &sat.listen,
        "--clock-file",
        &clock,
        "--sync-every",
        "0.001",
    ];
    w.start_server_with(&sat.listen, "sat", &args, &[], None);
    let after = wait_for(30, "an exchange on schedule", || {
        let s = satellite_row(&parent, "lab");
        (s["last_exchange"].as_i64() == Some(w.now)).then_some(s)
    });
    let seq = after["seq"].as_u64().expect("seq");
    assert!(seq >= 3, "{after}");
    wait_for(30, "a second exchange on schedule", || {
        (satellite_row(&parent, "lab")["seq"].as_u64() > Some(seq)).then_some(())
    });
    assert_eq!(figures(&parent, PGW), (2, 1, "OK".into()));
    assert!(cli_ok(&node, "show license status").contains("Status: AUTHORIZED"));

    // The operator's syncs while the schedule runs (and each other): each one whole, none refused.
    let syncs: Vec<_> = (0..2)
        .map(|_| {
            let sat = sat.clone();
            std::thread::spawn(move || (0..4).map(|_| run(&sat, &["satellite", "sync"])).collect::<Vec<_>>())
        })
        .collect();
    for out in syncs.into_iter().flat_map(|t| t.join().expect("a thread of the test")) {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        assert!(text.starts_with("synchronized with the parent: request "), "{text}");
    }

    // A parent out of reach: one line, and the scheduled exchanges go on once it is back.
    w.kill("parent");
    let err = refused(&sat, &["satellite", "sync"]);
    assert!(err.contains("cannot reach the parent manager at"), "{err}");
    let parent = restart(&mut w, &parent, "parent", None);
    w.advance_days(1);
    wait_for(60, "an exchange after the parent is back", || {
        (satellite_row(&parent, "lab")["last_exchange"].as_i64() == Some(w.now)).then_some(())
    });
}

/// kill -9 of the satellite between export and import, and of the parent right after it
/// answered: the exchange is repeated and the end state is that of one clean exchange.
#[test]
fn an_exchange_interrupted_by_kill_9_repeats_to_one_clean_state() {
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 2);
    let sat = manager(&mut w, "sat", None);
    link(&parent, &sat, "lab", false);
    exchange(&w, &parent, &sat, "1");
    let node = node_on(&mut w, &sat, "sat-node", 10_000);

    // The satellite dies after its export (and the parent's answer), before the import.
    let (_, old) = export_answer(&w, &parent, &sat, "2");
    w.kill("sat");
    let sat = restart(&mut w, &sat, "sat", None);
    let line = exchange(&w, &parent, &sat, "3");
    assert!(line.starts_with("imported: request 3 answered"), "{line}");
    let err = refused(&sat, &["satellite", "import", "--in", p(&old)]);
    assert!(
        err.contains("not the answer to the latest request: it answers request 2, the latest request is 3"),
        "{err}"
    );
    // One licence in use, counted once on each side, as after one clean exchange.
    assert_eq!(figures(&sat, PGW), (2, 1, "OK".into()));
    assert_eq!(figures(&parent, PGW), (2, 1, "OK".into()));
    assert_eq!(satellite_row(&parent, "lab")["instances"].as_u64(), Some(1));
    // The node's registration, sent up with requests 2 and 3, is in the parent's log once.
    let events = ok(
        &parent,
        &[
            "event",
            "list",
            "--account",
            "Acme",
            "--actor",
            "satellite lab",
            "--action",
            "device.register",
            "--json",
        ],
    );
    let events: serde_json::Value = serde_json::from_str(&events).expect("event list --json");
    let count = events.as_array().or_else(|| events["events"].as_array()).map(Vec::len);
    assert_eq!(count, Some(1), "{events}");

    // The parent dies right after writing its answer; restarted, the answer imports and the
    // next exchange works.
    let (_, ans) = export_answer(&w, &parent, &sat, "4");
    w.kill("parent");
    let parent = restart(&mut w, &parent, "parent", None);
    let line = ok(&sat, &["satellite", "import", "--in", p(&ans)]);
    assert!(line.starts_with("imported: request 4 answered"), "{line}");
    cli_ok(&node, "calls connect pgw 10000");
    cli_ok(&node, "license smart renew auth");
    let line = exchange(&w, &parent, &sat, "5");
    assert!(line.starts_with("imported: request 5 answered"), "{line}");
    assert_eq!(figures(&sat, PGW), (2, 2, "OK".into()));
    assert_eq!(figures(&parent, PGW), (2, 2, "OK".into()));
    assert_eq!(satellite_row(&parent, "lab")["seq"].as_u64(), Some(5));
}

/// A satellite on PostgreSQL, its parent on SQLite: one exchange down, a node's usage up.
#[test]
fn a_satellite_on_postgresql_works_with_a_parent_on_sqlite() {
    let db = Database::create("sat");
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 3);
    let sat = manager(&mut w, "sat", Some(&db.url()));
    link(&parent, &sat, "lab", false);
    exchange(&w, &parent, &sat, "1");
    assert_eq!(figures(&sat, PGW), (3, 0, "OK".into()));
    let err = refused(&sat, &deposit_args("Acme", "DEFAULT", PGW, "1"));
    assert!(err.contains("come from the parent manager"), "{err}");
    node_on(&mut w, &sat, "pg-node", 20_000);
    exchange(&w, &parent, &sat, "2");
    assert_eq!(figures(&parent, PGW), (3, 2, "OK".into()));
    assert_eq!(figures(&sat, PGW), (3, 2, "OK".into()));
    let err = refused(&sat, &["satellite", "import", "--in", p(&w.path("answer-2.json"))]);
    assert!(err.contains("already imported"), "{err}");
}
