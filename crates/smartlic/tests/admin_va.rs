//! The admin CLI's virtual-account commands against a real manager and node: `va rename`,
//! `va delete` (refused with one line while the VA holds something), `instance move` (the new VA
//! becomes INSUFFICIENT at once, the node hears it at its next renewal) and the `--csv` reports of
//! `license list` and `instance list`.

mod common;

use common::*;

const PGW: &str = "ASR5K-00-PW10GTWY";

/// PGW's `in_use` and status in `va`.
fn pgw(w: &World, va: &str) -> (i64, String) {
    let rows = licence_rows(&w.licences_json("Acme", va));
    rows.iter().find(|r| r["sku"] == PGW).map_or((0, "OK".into()), |r| {
        (
            r["in_use"].as_i64().expect("in_use"),
            r["status"].as_str().unwrap_or("").to_string(),
        )
    })
}

#[test]
fn virtual_accounts_are_renamed_deleted_and_take_moved_instances() {
    let mut w = World::with_acme();
    w.admin_ok(&["va", "create", "--account", "Acme", "Lab"]);
    // Rename: the new name is printed and listed; a taken name is one line.
    let out = w.admin_ok(&["va", "rename", "--account", "Acme", "--va", "Lab", "East"]);
    assert_eq!(out, "Renamed virtual account Lab to East");
    let list = w.admin_ok(&["va", "list", "--account", "Acme"]);
    assert!(list.contains("East") && !list.contains("Lab"), "{list}");
    let e = refusal(&w.admin(&["va", "rename", "--account", "Acme", "--va", "East", "default"]));
    assert!(e.contains("already exists"), "{e}");

    // A node in DEFAULT using 2 licences; East holds 1.
    w.deposit("Acme", "DEFAULT", PGW, 3);
    w.deposit("Acme", "East", PGW, 1);
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.registered_node("mover", &token);
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 15000")), (15000, 0));
    cli_ok(&node, "license smart renew auth");
    assert_eq!(pgw(&w, "DEFAULT"), (2, "OK".into()));
    let list: serde_json::Value =
        serde_json::from_str(&w.admin_ok(&["instance", "list", "--account", "Acme", "--json"])).expect("json");
    let id = list[0]["id"].as_str().expect("instance id").to_string();

    // Move it: East is short at once, DEFAULT is free; the node hears it at its next renewal.
    let out = w.admin_ok(&["instance", "move", "--account", "Acme", &id, "--to-va", "East"]);
    assert_eq!(
        out,
        format!("Moved product instance {id} from DEFAULT to East; moved 2 {PGW}")
    );
    assert_eq!(pgw(&w, "East"), (2, "INSUFFICIENT".into()));
    assert_eq!(pgw(&w, "DEFAULT"), (0, "OK".into()));
    cli_ok(&node, "license smart renew auth");
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("OUT OF COMPLIANCE"), "{st}");
    let e = refusal(&w.admin(&["instance", "move", "--account", "Acme", &id, "--to-va", "East"]));
    assert!(e.contains("is in virtual account East already"), "{e}");

    // CSV reports, as the API sends them.
    let out = w.admin(&["license", "list", "--account", "Acme", "--va", "East", "--csv"]);
    assert!(out.status.success());
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("virtual_account,sku,description,kind,purchased,in_use,balance,status,end_dates\r\n"));
    assert!(
        csv.contains(&format!("East,{PGW},")) && csv.contains(",counting,1,2,-1,INSUFFICIENT,"),
        "{csv}"
    );
    let out = w.admin(&["instance", "list", "--account", "Acme", "--va", "East", "--csv"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(csv.matches("\r\n").count(), 2, "header and one instance: {csv}");
    assert!(csv.contains(&format!("{id},")) && csv.contains(",mover,East,"), "{csv}");
    let out = w.admin(&["instance", "list", "--account", "Acme", "--csv", "--json"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));

    // Delete: refused while East holds licences or the instance, then done; DEFAULT never.
    let e = refusal(&w.admin(&["va", "delete", "--account", "Acme", "--va", "East"]));
    assert_eq!(
        e,
        "error: cannot delete virtual account East: it holds 1 licence; transfer them to another virtual account first"
    );
    // Back to DEFAULT, so East's licence can go too; then in East again.
    w.admin_ok(&["instance", "move", "--account", "Acme", &id, "--to-va", "DEFAULT"]);
    w.admin_ok(&[
        "license",
        "transfer",
        "--account",
        "Acme",
        "--from",
        "East",
        "--to",
        "DEFAULT",
        "--sku",
        PGW,
        "--quantity",
        "1",
    ]);
    w.admin_ok(&["instance", "move", "--account", "Acme", &id, "--to-va", "East"]);
    let e = refusal(&w.admin(&["va", "delete", "--account", "Acme", "--va", "East"]));
    assert!(
        e.ends_with("it has 1 product instance; move or remove them first"),
        "{e}"
    );
    w.admin_ok(&["instance", "move", "--account", "Acme", &id, "--to-va", "DEFAULT"]);
    assert_eq!(
        w.admin_ok(&["va", "delete", "--account", "Acme", "--va", "East"]),
        "Deleted virtual account East"
    );
    let e = refusal(&w.admin(&["va", "delete", "--account", "Acme", "--va", "DEFAULT"]));
    assert!(e.contains("DEFAULT virtual account cannot be deleted"), "{e}");
    assert_eq!(pgw(&w, "DEFAULT"), (2, "OK".into()));
    let rows = licence_rows(&w.licences_json("Acme", "DEFAULT"));
    let purchased = rows
        .iter()
        .find(|r| r["sku"] == PGW)
        .and_then(|r| r["purchased"].as_i64());
    assert_eq!(purchased, Some(4), "East's licence came back");
}
