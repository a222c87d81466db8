//! Satellite managers end to end (docs/interface.md §7, docs/satellite.md): a parent manager and a
//! satellite manager, both real `smartlic server`s, exchanging files (`satellite export`, `answer`,
//! `import`), with a real node registered to the satellite. The network mode, PostgreSQL and
//! kill -9 in the middle of an exchange are in satellite_network.rs; the helpers are in
//! satellite_support/mod.rs.

mod common;
mod satellite_support;
use common::*;
use satellite_support::*;

/// The parent and its satellite `lab` exchanged once; a node on the satellite carried sessions and
/// the next exchange shows it on the parent.
#[test]
fn a_satellite_by_files_gets_the_parents_licences_and_reports_its_node() {
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 2);
    let sat = manager(&mut w, "sat", None);
    link(&parent, &sat, "lab", false);

    let line = exchange(&w, &parent, &sat, "1");
    assert_eq!(
        line,
        "imported: request 1 answered: Smart Account Acme, virtual account DEFAULT, 1 lot of licences from the parent"
    );
    let accounts = ok(&sat, &["account", "list"]);
    assert!(accounts.lines().any(|l| l.contains("Acme")), "{accounts}");
    assert_eq!(figures(&sat, PGW), (2, 0, "OK".into()));
    let err = refused(&sat, &deposit_args("Acme", "DEFAULT", PGW, "5"));
    assert!(
        err.ends_with("licences of virtual account DEFAULT come from the parent manager; deposit them there"),
        "{err}"
    );
    assert_eq!(figures(&sat, PGW).0, 2, "the refused deposit changed nothing");

    // A node registers with the satellite's own token and carries sessions: one licence in use.
    let node = node_on(&mut w, &sat, "sat-node", 10_000);
    assert!(cli_ok(&node, "show license status").contains("Status: AUTHORIZED"));
    assert_eq!(figures(&sat, PGW).1, 1);
    assert_eq!(figures(&parent, PGW).1, 0, "the parent learns it at the next exchange");

    exchange(&w, &parent, &sat, "2");
    let instances = ok(&parent, &["instance", "list", "--account", "Acme"]);
    let row = instances
        .lines()
        .find(|l| l.contains("sat-node"))
        .unwrap_or_else(|| panic!("{instances}"));
    assert!(row.contains("DEFAULT (satellite lab)"), "{row}");
    assert_eq!(figures(&parent, PGW), (2, 1, "OK".into()));
    let licences = ok(&parent, &["license", "list", "--account", "Acme", "--va", "DEFAULT"]);
    assert!(
        licences.contains(&format!("In use at satellite lab: 1 {PGW}")),
        "{licences}"
    );
    let s = satellite_row(&parent, "lab");
    assert_eq!(
        (s["instances"].as_u64(), s["linked"].as_bool()),
        (Some(1), Some(true)),
        "{s}"
    );
    assert_eq!(s["last_exchange"].as_i64(), Some(w.now), "{s}");
    assert_eq!(s["seq"].as_u64(), Some(2), "{s}");
    // The satellite's events joined the parent's log with its actor.
    let events = ok(&parent, &["event", "list", "--account", "Acme"]);
    assert!(events.contains("satellite lab"), "{events}");
    // The satellite's in-use count on the satellite did not double: the parent subtracts its own.
    assert_eq!(figures(&sat, PGW), (2, 1, "OK".into()));
}

/// A transfer on the parent makes the satellite's VA short at the next exchange; the satellite's
/// node learns OUT OF COMPLIANCE at its next authorization.
#[test]
fn a_transfer_on_the_parent_makes_the_satellites_node_out_of_compliance() {
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 2);
    ok(&parent, &["va", "create", "--account", "Acme", "Other"]);
    let sat = manager(&mut w, "sat", None);
    link(&parent, &sat, "lab", false);
    exchange(&w, &parent, &sat, "1");
    let node = node_on(&mut w, &sat, "sat-node", 20_000);
    assert!(cli_ok(&node, "show license status").contains("Status: AUTHORIZED"));
    assert_eq!(figures(&sat, PGW), (2, 2, "OK".into()));

    // The parent has not heard of the node yet: it moves one licence out of the satellite's VA.
    transfer_one(&parent, "DEFAULT", "Other");
    exchange(&w, &parent, &sat, "2");
    assert_eq!(figures(&parent, PGW), (1, 2, "INSUFFICIENT".into()));
    assert_eq!(figures(&sat, PGW), (1, 2, "INSUFFICIENT".into()));
    cli_ok(&node, "license smart renew auth");
    wait_shows(&node, "show license status", "Status: OUT OF COMPLIANCE", 20);

    // The licence comes back: in compliance again after the next exchange and authorization.
    transfer_one(&parent, "Other", "DEFAULT");
    exchange(&w, &parent, &sat, "3");
    assert_eq!(figures(&sat, PGW), (2, 2, "OK".into()));
    cli_ok(&node, "license smart renew auth");
    wait_shows(&node, "show license status", "Status: AUTHORIZED", 20);
}

/// The file `TAG-answer.json` holding the answer `parent` makes to a stand-in request of a new
/// satellite `name` of Acme's DEFAULT VA (an answer meant for another satellite than the test's).
fn stand_in_answer(w: &World, parent: &Server, name: &str, tag: &str) -> std::path::PathBuf {
    let token = ok(
        parent,
        &["satellite", "create", "--account", "Acme", "--va", "DEFAULT", name],
    );
    let file = w.path(&format!("{tag}-answer.json"));
    let answer = answer_of(w, parent, &stand_in_request(&token, 1, &[("stand-in", 1)], 0), tag);
    std::fs::write(&file, answer).expect("a file of the test");
    file
}

/// Answers imported twice, altered, made for another satellite or by a foreign parent: one line
/// each, and the satellite's state is unchanged.
#[test]
fn replayed_altered_misdirected_and_foreign_answers_are_refused() {
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 2);
    let sat = manager(&mut w, "sat", None);
    link(&parent, &sat, "lab", false);
    exchange(&w, &parent, &sat, "1");

    // The same answer twice.
    let before = state(&sat);
    let err = refused(&sat, &["satellite", "import", "--in", p(&w.path("answer-1.json"))]);
    assert!(err.contains("this answer (to request 1) was already imported"), "{err}");
    assert_eq!(state(&sat), before);

    // The next request's answer, altered inside its signed body.
    let (_, ans) = export_answer(&w, &parent, &sat, "2");
    let altered = w.path("altered.json");
    std::fs::write(&altered, alter_body(&read(&ans), "\"quantity\":2", "\"quantity\":9")).expect("a file of the test");
    let err = refused(&sat, &["satellite", "import", "--in", p(&altered)]);
    assert!(err.contains("signature does not verify"), "{err}");
    assert_eq!(state(&sat), before);

    // An answer the same parent made for its second satellite (a request from a stand-in key).
    let other = stand_in_answer(&w, &parent, "edge", "other");
    let err = refused(&sat, &["satellite", "import", "--in", p(&other)]);
    assert!(err.contains("the answer is for satellite"), "{err}");
    assert!(err.contains("not this one"), "{err}");
    assert_eq!(state(&sat), before);

    // An answer from a foreign parent (a third manager with its own CA).
    let foreign = parent_with_pgw(&mut w, "foreign", 7);
    let alien = stand_in_answer(&w, &foreign, "lab", "foreign");
    let err = refused(&sat, &["satellite", "import", "--in", p(&alien)]);
    assert!(
        err.contains("signed under another CA than this satellite's parent"),
        "{err}"
    );
    assert_eq!(state(&sat), before);

    // The true answer still imports after all that.
    let line = ok(&sat, &["satellite", "import", "--in", p(&ans)]);
    assert!(line.starts_with("imported: request 2 answered"), "{line}");
}

/// Two satellites of one VA: licences reserved at one (a RESERVED pseudo-instance) and in use at
/// the other count on the parent and, as in use elsewhere, on each satellite.
#[test]
fn reservations_and_usage_of_two_satellites_count_everywhere() {
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 4);
    let a = manager(&mut w, "sat-a", None);
    let b = manager(&mut w, "sat-b", None);
    link(&parent, &a, "a", false);
    link(&parent, &b, "b", false);
    exchange(&w, &parent, &a, "a1");
    exchange(&w, &parent, &b, "b1");

    // Satellite a reserves 2 PGW for a node in reservation mode; b's node uses 2.
    ok(&a, &["account", "set", "Acme", "--reservation", "specific"]);
    w.server = Some(a.clone());
    let reserving = w.start_node("res-node");
    w.prepare_node(&reserving);
    let (out, done) = cli(&reserving, &["configure", "license smart reservation", "end"]);
    assert!(done, "{out}");
    let code = cli_ok(&reserving, "license smart reservation request local")
        .trim()
        .to_string();
    let pgw2 = format!("{PGW}=2");
    ok(
        &a,
        &reservation_create_args("Acme", "DEFAULT", &code, &["--license", &pgw2]),
    );
    assert_eq!(figures(&a, PGW), (4, 2, "OK".into()));
    node_on(&mut w, &b, "b-node", 20_000);

    exchange(&w, &parent, &a, "a2");
    exchange(&w, &parent, &b, "b2");
    exchange(&w, &parent, &a, "a3");
    assert_eq!(figures(&parent, PGW), (4, 4, "OK".into()));
    assert_eq!(figures(&a, PGW), (4, 4, "OK".into()));
    assert_eq!(figures(&b, PGW), (4, 4, "OK".into()));
    let instances = ok(&parent, &["instance", "list", "--account", "Acme"]);
    let reserved = instances
        .lines()
        .find(|l| l.contains("RESERVED"))
        .unwrap_or_else(|| panic!("{instances}"));
    assert!(reserved.contains("DEFAULT (satellite a)"), "{reserved}");
    assert!(reserved.contains("reservation "), "{reserved}");
    let licences = ok(&parent, &["license", "list", "--account", "Acme", "--va", "DEFAULT"]);
    assert!(
        licences.contains(&format!("In use at satellite a: 2 {PGW}")),
        "{licences}"
    );
    assert!(
        licences.contains(&format!("In use at satellite b: 2 {PGW}")),
        "{licences}"
    );
}

/// 30 days without an exchange: the alert on both sides; the next exchange clears both.
#[test]
fn a_silent_satellite_raises_an_alert_on_both_sides() {
    let mut w = World::new();
    let parent = parent_with_pgw(&mut w, "parent", 2);
    let sat = manager(&mut w, "sat", None);
    link(&parent, &sat, "lab", false);
    exchange(&w, &parent, &sat, "1");
    let alert = |s: &Server| ok(s, &["alert", "list", "--account", "Acme"]).contains("Satellite Not Synchronized");
    assert!(!alert(&parent) && !alert(&sat));
    w.advance_days(29);
    assert!(!alert(&parent) && !alert(&sat), "not before 30 days");
    w.advance_days(2);
    assert!(alert(&parent), "on the parent");
    assert!(alert(&sat), "on the satellite");
    exchange(&w, &parent, &sat, "2");
    assert!(!alert(&parent) && !alert(&sat), "cleared by the exchange");
}

/// Moves one PGW licence of Acme on `parent` from VA `from` to VA `to`.
fn transfer_one(parent: &Server, from: &str, to: &str) {
    ok(
        parent,
        &[
            "license",
            "transfer",
            "--account",
            "Acme",
            "--from",
            from,
            "--to",
            to,
            "--sku",
            PGW,
            "--quantity",
            "1",
        ],
    );
}
