//! Usage, compliance and enforcement (docs/interface.md §4), each rule driven through the real
//! binaries with a clock file.

mod common;
use common::*;

const PGW: &str = "ASR5K-00-PW10GTWY";

/// A manager with Acme's DEFAULT VA holding `pgw_licenses` PGW licences and one SGW licence.
fn manager_with_licences(pgw_licenses: u32) -> World {
    let w = World::with_acme();
    w.deposit("Acme", "DEFAULT", PGW, pgw_licenses);
    w.deposit("Acme", "DEFAULT", "ASR5K-00-SW10LIC", 1);
    w
}

fn enable(node: &Node) {
    let (out, ok) = cli(node, &["configure", "license smart enable", "end"]);
    assert!(ok, "{out}");
}

fn statistics_row(text: &str, mode: &str, service: &str) -> Vec<String> {
    text.lines()
        .find(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() > 3 && w[0] == mode && w[2] == service
        })
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn evaluation_admits_one_license_per_service_then_expires() {
    let mut w = World::new();
    let node = w.start_node("eval1");
    enable(&node);
    let out = cli_ok(&node, "calls connect pgw 15000");
    assert_eq!(admitted(&out), (10000, 5000), "{out}");
    assert_eq!(admitted(&cli_ok(&node, "calls connect sgw 3")), (3, 0));
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("Status: EVAL MODE"), "{st}");
    let stats = cli_ok(&node, "show license statistics");
    let row = statistics_row(&stats, "Evaluation", "pgw");
    assert_eq!(row.get(3).map(String::as_str), Some("ALLOW"), "{stats}");
    assert_eq!(row.get(4).map(String::as_str), Some("10000"), "{stats}");

    // Evaluation is consumed while in use; moving the clock back never gives time back.
    w.advance_days(30);
    wait_shows(&node, "show license eval-period", "Remaining: 60 days", 10);
    w.advance_days(-20);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let ev = cli_ok(&node, "show license eval-period");
    assert!(ev.contains("Evaluation Period Remaining: 60 days"), "{ev}");
    // Time lived again after the clock went back is consumed again: going back bought nothing.
    w.advance_days(20);
    wait_shows(&node, "show license eval-period", "Remaining: 40 days", 10);

    // Day 90 of use: expired; every service blocks new calls, existing calls stay.
    w.advance_days(41);
    wait_shows(&node, "show license status", "Status: EVAL EXPIRED", 10);
    assert_eq!(admitted(&cli_ok(&node, "calls connect mme 5")), (0, 5));
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 1")), (0, 1));
    let enf = cli_ok(&node, "show license enforcement status blocked service");
    assert!(enf.contains("pgw") && enf.contains("mme"), "{enf}");
    assert_eq!(cli_ok(&node, "calls disconnect pgw 10").trim(), "released 10");

    // Not refilled by disabling, restarting or deregistering.
    let (_, ok) = cli(
        &node,
        &["configure", "no license smart enable", "license smart enable", "end"],
    );
    assert!(ok);
    w.kill("eval1");
    let node = w.start_node("eval1");
    assert!(cli_ok(&node, "show license eval-period").contains("Remaining: 0 days"));
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 1")), (0, 1));
}

/// A [`manager_with_licences`] and node `name` registered with it.
fn registered_with(pgw_licenses: u32, name: &str) -> (World, Node) {
    let mut w = manager_with_licences(pgw_licenses);
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.registered_node(name, &token);
    (w, node)
}

#[test]
fn out_of_compliance_blocks_that_service_until_authorized() {
    let (w, node) = registered_with(1, "ooc1");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 15000")), (15000, 0));
    // The debounced report makes the VA out of compliance and pgw blocks.
    wait_shows(&node, "show license status", "Status: OUT OF COMPLIANCE", 20);
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 1")), (0, 1));
    assert_eq!(admitted(&cli_ok(&node, "calls connect sgw 5")), (5, 0));
    let list = w.admin_ok(&["license", "list", "--account", "Acme", "--va", "DEFAULT"]);
    assert!(list.contains("INSUFFICIENT"), "{list}");
    let stats = cli_ok(&node, "show license statistics");
    let row = statistics_row(&stats, "Registered", "pgw");
    assert_eq!(row.get(3).map(String::as_str), Some("BLOCK"), "{stats}");
    assert_eq!(row.get(6).map(String::as_str), Some("2"), "last_lic_count\n{stats}");
    assert_eq!(
        row.get(8).map(String::as_str),
        Some("1"),
        "policy_change_block_calls\n{stats}"
    );

    // One more licence and a renewal clear it.
    w.deposit("Acme", "DEFAULT", PGW, 1);
    cli_ok(&node, "license smart renew auth");
    let st = cli_ok(&node, "show license status");
    let list = w.admin_ok(&["license", "list", "--account", "Acme", "--va", "DEFAULT"]);
    assert!(
        st.contains("Status: AUTHORIZED"),
        "{st}\n{list}\n{}",
        cli_ok(&node, "show license usage")
    );
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 1")), (1, 0));
    let list = w.licences_json("Acme", "DEFAULT");
    assert!(!list.contains("INSUFFICIENT"), "{list}");

    // Deregistration releases the licences.
    cli_ok(&node, "license smart deregister");
    let list = w.licences_json("Acme", "DEFAULT");
    let in_use: u64 = licence_rows(&list)
        .iter()
        .filter_map(|l| l.get("in_use").and_then(|n| n.as_u64()))
        .sum();
    assert_eq!(in_use, 0, "{list}");
}

#[test]
fn two_nodes_share_the_virtual_account() {
    let mut w = manager_with_licences(2);
    let token = w.token("Acme", "DEFAULT", &[]);
    let a = w.registered_node("share-a", &token);
    let b = w.registered_node("share-b", &token);
    assert_eq!(admitted(&cli_ok(&a, "calls connect pgw 10000")), (10000, 0));
    cli_ok(&a, "license smart renew auth");
    assert_eq!(admitted(&cli_ok(&b, "calls connect pgw 10000")), (10000, 0));
    cli_ok(&b, "license smart renew auth");
    assert!(cli_ok(&b, "show license status").contains("Status: AUTHORIZED"));
    // A third licence's worth on b exceeds the two purchased: the VA is out of compliance.
    assert_eq!(admitted(&cli_ok(&b, "calls connect pgw 1")), (1, 0));
    wait_shows(&b, "show license status", "OUT OF COMPLIANCE", 20);
    // a learns it at its next report.
    cli_ok(&a, "license smart renew auth");
    assert!(cli_ok(&a, "show license status").contains("OUT OF COMPLIANCE"));
}

#[test]
fn manager_down_for_91_days_expires_the_authorization() {
    let (mut w, node) = registered_with(5, "lonely");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 100")), (100, 0));
    w.kill("manager");
    w.advance_days(91);
    wait_for(20, "authorization expiry after failed renewals", || {
        let st = cli_ok(&node, "show license status");
        (st.contains("Status: AUTHORIZATION EXPIRED") && st.contains("Last Communication Attempt: FAILED"))
            .then_some(())
    });
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 1")), (0, 1));
}

#[test]
fn feature_grace_then_block_by_policy() {
    let mut w = manager_with_licences(5);
    w.deposit("Acme", "DEFAULT", "ASR5K-00-EG10S-K9", 5);
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.registered_node("feat", &token);
    let (out, ok) = cli(
        &node,
        &[
            "configure",
            "feature ASR5K-00-EG01RS",
            "feature ASR5K-00-CS01MPLS",
            "end",
        ],
    );
    assert!(ok, "{out}");
    cli_ok(&node, "license smart renew auth");
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("OUT OF COMPLIANCE"), "{st}");
    // In grace: nothing blocked.
    assert_eq!(admitted(&cli_ok(&node, "calls connect epdg 5")), (5, 0));
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 5")), (5, 0));
    let pol = cli_ok(&node, "show license enforcement policy");
    assert!(
        pol.lines()
            .any(|l| l.contains("ASR5K-00-EG01RS") && l.contains("ENFORCED") && !l.contains("NOT ENFORCED")),
        "{pol}"
    );
    assert!(
        pol.lines()
            .any(|l| l.contains("ASR5K-00-CS01MPLS") && l.contains("NOT ENFORCED")),
        "{pol}"
    );
    // Renew every 30 days so the authorization itself stays valid, past the 90-day grace.
    for _ in 0..3 {
        w.advance_days(30);
        cli_ok(&node, "license smart renew auth");
    }
    w.advance_days(1);
    wait_for(10, "epdg blocked after the grace period", || {
        (admitted(&cli_ok(&node, "calls connect epdg 1")) == (0, 1)).then_some(())
    });
    // CS01MPLS is never enforced: pgw, saegw, ggsn still admit.
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 1")), (1, 0));
    let enf = cli_ok(&node, "show license enforcement status blocked");
    assert!(enf.contains("epdg") && enf.contains("ASR5K-00-EG01RS"), "{enf}");
    // Turning the feature off lifts the block.
    let (_, ok) = cli(&node, &["configure", "no feature ASR5K-00-EG01RS", "end"]);
    assert!(ok);
    assert_eq!(admitted(&cli_ok(&node, "calls connect epdg 1")), (1, 0));
}

#[test]
fn cli_abbreviations_pipes_and_errors() {
    let mut w = World::new();
    let node = w.start_node("cli1");
    let out = cli_ok(&node, "sh lic stat | grep -i smart.licensing.is");
    assert_eq!(out.trim(), "Smart Licensing is DISABLED");
    let out = cli_ok(&node, "show license status | grep -v Status | grep Registration");
    assert!(out.contains("Registration") && !out.contains("Status"), "{out}");
    // As operators type grep: context after a match, a count, a single-quoted pattern.
    let out = cli_ok(&node, "show license status | grep -A1 ^Registration:");
    let lines: Vec<&str> = out.trim_end().lines().collect();
    assert!(
        lines.len() == 2 && lines[0] == "Registration:" && lines[1].trim_start().starts_with("Status:"),
        "{out}"
    );
    assert_eq!(
        cli_ok(&node, "show license status | grep -c 'Smart Licensing is'").trim(),
        "1"
    );
    let (out, ok) = cli(&node, &["show licence status"]);
    assert!(!ok && out.lines().any(|l| l.starts_with("Invalid command")), "{out}");
    let (out, ok) = cli(&node, &["calls connect pgw many"]);
    assert!(
        !ok && (out.contains("Invalid command") || out.contains("Failure:")),
        "{out}"
    );
    let (out, ok) = cli(&node, &["configure", "feature NOT-A-FEATURE"]);
    assert!(!ok && out.contains("Failure:"), "{out}");
    assert_eq!(cli_ok(&node, "show license udi").trim().split(',').count(), 2);
    assert!(cli_ok(&node, "show license udi").starts_with("UDI: PID:ASR5500,SN:"));
    let out = cli_ok(&node, "show license smart-tags service");
    assert!(
        out.contains("ASR5K-00-SM10S-K9") && !out.contains("ASR5K-00-EG01RS"),
        "{out}"
    );
    let (out, ok) = cli(
        &node,
        &[
            "configure",
            "license smart enable",
            "end",
            "show configuration | grep license",
        ],
    );
    assert!(ok && out.contains("license smart enable"), "{out}");
}
