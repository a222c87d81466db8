//! Licence reservation (docs/interface.md §6) through the real binaries. So far: the operator's
//! per-account setting of which reservations an account may make.

mod common;

use common::*;

#[test]
fn only_the_operator_allows_an_account_to_reserve() {
    let w = World::with_acme();
    let admin = w.user("Acme", "boss@acme.example", "sa-admin", &[]);
    let accounts = |w: &World| -> serde_json::Value {
        serde_json::from_str(&w.admin_ok(&["account", "list", "--json"])).expect("account list --json")
    };
    assert_eq!(accounts(&w)[0]["reservation"], "none", "the default");

    // An SA administrator may not allow it: one clear line, nothing changed.
    let out = w.as_key(&admin, &["account", "set", "Acme", "--reservation", "universal"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("operator only"), "{err}");
    // Nor may anyone name a kind that does not exist.
    let out = w.admin(&["account", "set", "Acme", "--reservation", "everything"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("none, specific or universal"));
    assert_eq!(accounts(&w)[0]["reservation"], "none");

    let out = w.admin_ok(&["account", "set", "Acme", "--reservation", "specific"]);
    assert_eq!(out.trim(), "Acme: reservation specific");
    assert_eq!(accounts(&w)[0]["reservation"], "specific");
    let out = w.admin_ok(&["account", "set", "Acme", "--reservation", "UNIVERSAL"]);
    assert_eq!(out.trim(), "Acme: reservation universal");
    let table = w.admin_ok(&["account", "list"]);
    assert!(
        table.lines().next().is_some_and(|h| h.contains("RESERVATION")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("Acme") && l.trim_end().ends_with("universal")),
        "{table}"
    );
}
