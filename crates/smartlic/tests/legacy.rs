//! Legacy licence keys and the 21.3 mixed mode (docs/interface.md §5), through the real binaries:
//! turning Smart Licensing off never lifts a limit; a key is the manager's, bound to one chassis,
//! and survives kill -9; in 21.3 on/off features follow the key and are never reported.

mod common;
use common::*;

const REC: &str = "ASR5K-00-GN01REC";
const EG: &str = "ASR5K-00-EG01RS";

fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .expect("time")
        .date()
        .to_string()
}

fn issue(w: &World, serial: &str, extra: &[&str]) -> String {
    let mut args = vec!["legacy", "issue", "--serial", serial, "--platform", "ASR5500"];
    args.extend_from_slice(extra);
    w.admin_ok(&args)
}

fn install(node: &Node, key: &str) -> (String, bool) {
    cli(node, &["configure", &format!("license key \"{key}\""), "end"])
}

/// A manager and node `pak1` (chassis FOX1001, Smart Licensing off) trusting it.
fn chassis(w: &mut World) -> Node {
    w.start_server();
    let node = w.start_node_with("pak1", &["--serial", "FOX1001"]);
    let ca = w.server.as_ref().expect("server").ca.to_string_lossy().to_string();
    cli_ok(&node, &format!("crypto pki trustpool import file {ca}"));
    node
}

/// The key for FOX1001 used below: sgw 20,000 and pgw 10,000 sessions and the feature REC,
/// expiring in 30 days (returned second, as a date).
fn good_key(w: &World) -> (String, String) {
    let expires = date(w.now + 30 * DAY);
    let key = issue(
        w,
        "FOX1001",
        &[
            "--sessions",
            "sgw=20000",
            "--sessions",
            "pgw=10000",
            "--feature",
            REC,
            "--expires",
            &expires,
        ],
    );
    (key, expires)
}

/// A [`chassis`] with the [`good_key`] installed.
fn keyed_chassis(w: &mut World) -> (Node, String, String) {
    let node = chassis(w);
    let (good, expires) = good_key(w);
    let (out, ok) = install(&node, &good);
    assert!(ok, "{out}");
    (node, good, expires)
}

#[test]
fn with_smart_licensing_off_and_no_key_nothing_is_licensed() {
    let mut w = World::new();
    let node = chassis(&mut w);
    assert_eq!(admitted(&cli_ok(&node, "calls connect sgw 5")), (0, 5));
    let info = cli_ok(&node, "show license information");
    assert!(info.contains("Chassis SN: FOX1001"), "{info}");
    assert!(info.contains("License Status: Not Installed"), "{info}");
    let (out, ok) = cli(&node, &["configure", &format!("feature {REC}"), "end"]);
    assert!(!ok && out.contains("Failure"), "{out}");
}

#[test]
fn altered_foreign_and_malformed_keys_are_refused() {
    let mut w = World::new();
    let node = chassis(&mut w);
    let (good, _) = good_key(&w);
    assert!(
        good.starts_with("LK1.") && !good.contains(char::is_whitespace),
        "{good}"
    );
    let other_chassis = issue(&w, "FOX9999", &["--sessions", "sgw=20000"]);
    let mut altered = good.clone().into_bytes();
    let i = 12;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    // Each with a Failure line and no change.
    for (bad, why) in [
        (altered.as_str(), "signature"),
        (other_chassis.as_str(), "FOX9999"),
        ("LK1.nonsense", "not a licence key"),
    ] {
        let (out, ok) = install(&node, bad);
        assert!(!ok, "{why}: {out}");
        assert!(out.contains("Failure") && out.contains(why), "{why}: {out}");
    }
    assert!(cli_ok(&node, "show license information").contains("License Status: Not Installed"));
}

#[test]
fn a_user_of_a_smart_account_cannot_issue_keys() {
    // Issuing is the vendor's act.
    let w = World::with_acme();
    let user = w.user("Acme", "a@acme.example", "sa-admin", &[]);
    let args: Vec<&str> = "legacy issue --serial FOX1001 --platform ASR5500 --sessions sgw=1"
        .split(' ')
        .collect();
    let refused = w.as_key(&user, &args);
    assert!(!refused.status.success());
}

#[test]
fn a_key_licenses_its_sessions_and_features_and_survives_kill_9() {
    let mut w = World::new();
    let (node, _, expires) = keyed_chassis(&mut w);
    // Its sessions and features, nothing more.
    let info = cli_ok(&node, "show license information");
    for line in [
        "Chassis SN: FOX1001",
        &format!("Expires: {expires}"),
        "sgw Sessions: 20000",
        "pgw Sessions: 10000",
        &format!("{REC}: Enabled"),
        "License Status: Good",
    ] {
        assert!(info.contains(line), "{line} missing:\n{info}");
    }
    assert_eq!(admitted(&cli_ok(&node, "calls connect sgw 20001")), (20_000, 1));
    assert_eq!(admitted(&cli_ok(&node, "calls connect mme 1")), (0, 1));
    let (out, ok) = cli(&node, &["configure", &format!("feature {REC}"), "end"]);
    assert!(ok, "{out}");
    let (out, ok) = cli(&node, &["configure", &format!("feature {EG}"), "end"]);
    assert!(
        !ok && out.contains("Failure") && out.contains("does not include it"),
        "{out}"
    );
    assert!(cli_ok(&node, "show configuration").contains("license key \"LK1."));

    // kill -9: the key and its limits are still there.
    w.kill("pak1");
    let node = w.start_node_with("pak1", &["--serial", "FOX1001"]);
    assert!(cli_ok(&node, "show license information").contains("License Status: Good"));
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 10001")), (10_000, 1));
}

#[test]
fn an_expired_key_licenses_nothing_and_its_removal_is_in_the_history() {
    let mut w = World::new();
    let (node, good, expires) = keyed_chassis(&mut w);
    // Past its end the key licenses nothing; an expired key cannot be installed.
    w.advance_days(31);
    let info = wait_shows(&node, "show license information", "License Status: Expired", 10);
    assert!(info.contains(&format!("Expires: {expires}")), "{info}");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 1")), (0, 1));
    let (out, ok) = install(&node, &good);
    assert!(!ok && out.contains("expired"), "{out}");

    // Removed: history says so.
    let (out, ok) = cli(&node, &["configure", "no license key", "end"]);
    assert!(ok, "{out}");
    assert!(cli_ok(&node, "show license information").contains("License Status: Not Installed"));
    let history = cli_ok(&node, "show license history");
    assert!(
        history.contains("installed") && history.contains("removed"),
        "{history}"
    );
}

#[test]
fn release_21_3_mixed_mode_keeps_features_on_the_legacy_key() {
    let mut w = World::with_acme();
    w.deposit("Acme", "DEFAULT", "ASR5K-00-PW10GTWY", 2);
    w.deposit("Acme", "DEFAULT", REC, 1);
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.start_node_with("mixed1", &["--serial", "FOX2001", "--release", "21.3"]);
    w.prepare_node(&node);

    // Smart Licensing on: the counting services follow it (evaluation: 10,000 per service)…
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 10001")), (10_000, 1));
    // …but a feature needs the legacy key even now.
    let (out, ok) = cli(&node, &["configure", &format!("feature {REC}"), "end"]);
    assert!(!ok && out.contains("21.3"), "{out}");
    let key = issue(&w, "FOX2001", &["--feature", REC]);
    let (out, ok) = install(&node, &key);
    assert!(ok, "{out}");
    let (out, ok) = cli(&node, &["configure", &format!("feature {REC}"), "end"]);
    assert!(ok, "{out}");

    // Registered: the manager sees the sessions, never the feature.
    cli_ok(&node, &idtoken(&token));
    cli_ok(&node, "license smart renew auth");
    let list = wait_for(10, "the usage report", || {
        let list = w.licences_json("Acme", "DEFAULT");
        let v: serde_json::Value = serde_json::from_str(&list).ok()?;
        let in_use = |sku: &str| {
            v["licenses"]
                .as_array()
                .and_then(|a| a.iter().find(|l| l["sku"] == sku))
                .map(|l| l["in_use"].as_i64().unwrap_or(0))
                .unwrap_or(0)
        };
        (in_use("ASR5K-00-PW10GTWY") == 1).then(|| (in_use(REC), list.clone()))
    });
    assert_eq!(list.0, 0, "the feature must never be reported in 21.3: {}", list.1);
    let status = cli_ok(&node, "show license status");
    assert!(status.contains("AUTHORIZED"), "{status}");
}
