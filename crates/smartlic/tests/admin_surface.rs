//! The admin CLI's watch commands against a real manager (and a real node for usage):
//! `alert list`, `event list` (filters, pages by `--after`, `--json`, `--csv` as the API sends
//! it), `usage` and `webhook add|list|remove`, each with a refusal of one line.

mod common;

use common::*;
use std::time::Duration;

const PGW: &str = "ASR5K-00-PW10GTWY";

/// The event ids of an `event list` table, and the cursor of its `Next page:` line.
fn event_page(table: &str) -> (Vec<i64>, Option<i64>) {
    let mut lines = table.lines();
    assert!(lines.next().is_some_and(|h| h.starts_with("ID  ")), "{table}");
    let mut ids = Vec::new();
    let mut next = None;
    for l in lines {
        if let Some(c) = l.strip_prefix("Next page: --after ") {
            next = Some(c.parse().expect("a cursor"));
        } else {
            ids.push(
                l.split_whitespace()
                    .next()
                    .and_then(|id| id.parse().ok())
                    .expect("an id"),
            );
        }
    }
    (ids, next)
}

#[test]
fn alerts_events_and_webhooks_from_the_cli() {
    let mut w = World::new();
    w.start_server_flags(&["--webhook-allow", "127.0.0.0/8"]);
    w.account("Acme", "acme.example");
    w.admin_ok(&["va", "create", "--account", "Acme", "East"]);
    // Licences ending in 19 days: a Licenses Expiring alert on DEFAULT (the 30-day mark).
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
        "3",
        "--expires",
        "2027-01-20",
    ]);
    for _ in 0..3 {
        w.token("Acme", "DEFAULT", &[]);
    }

    // Alerts: a table, narrowed by --va, and one JSON document.
    let alerts = w.admin_ok(&["alert", "list", "--account", "Acme"]);
    let mut lines = alerts.lines();
    assert!(
        lines.next().is_some_and(|h| h.starts_with("SEVERITY  ALERT")),
        "{alerts}"
    );
    let row = lines.next().unwrap_or_default();
    assert!(
        row.contains("Licenses Expiring") && row.contains("DEFAULT") && row.contains(PGW),
        "{alerts}"
    );
    let east = w.admin_ok(&["alert", "list", "--account", "Acme", "--va", "East"]);
    assert_eq!(east.lines().count(), 1, "only the header for East: {east}");
    let json: serde_json::Value =
        serde_json::from_str(&w.admin_ok(&["alert", "list", "--account", "Acme", "--json"])).expect("JSON");
    assert_eq!(json[0]["kind"], "Licenses Expiring", "{json}");
    assert_eq!(json[0]["virtual_account"], "DEFAULT", "{json}");

    // Events: every one at once, then the same in pages of 2 following the cursor.
    let all = w.admin_ok(&["event", "list", "--account", "Acme"]);
    let (all_ids, next) = event_page(&all);
    assert_eq!(next, None, "{all}");
    assert!(all_ids.len() >= 6, "account, VA, deposit and 3 tokens: {all}");
    assert!(all_ids.windows(2).all(|p| p[0] > p[1]), "newest first: {all}");
    let mut paged = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let mut args = vec!["event", "list", "--account", "Acme", "--limit", "2"];
        let cursor = after.map(|a| a.to_string());
        if let Some(c) = &cursor {
            args.extend(["--after", c.as_str()]);
        }
        let (ids, next) = event_page(&w.admin_ok(&args));
        assert!(ids.len() <= 2);
        paged.extend(ids);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(paged, all_ids, "the pages add up to the whole log");
    // Filtered by action; the table's rows are that action's only.
    let tokens = w.admin_ok(&["event", "list", "--account", "Acme", "--action", "token."]);
    let (ids, _) = event_page(&tokens);
    assert_eq!(ids.len(), 3, "{tokens}");
    assert!(tokens.lines().skip(1).all(|l| l.contains("token.create")), "{tokens}");
    let json: serde_json::Value = serde_json::from_str(&w.admin_ok(&[
        "event",
        "list",
        "--account",
        "Acme",
        "--action",
        "token.",
        "--limit",
        "1",
        "--json",
    ]))
    .expect("JSON");
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(json[0]["action"], "token.create");
    assert_eq!(json[0]["id"], ids[0]);

    // --csv is the API's export byte for byte (its formula guard included).
    let out = w.admin(&["event", "list", "--account", "Acme", "--action", "token.", "--csv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = w.server.clone().expect("server");
    let api = block_on(false, async move {
        let http = https_client(&s.ca, None, Duration::from_secs(30));
        let resp = http
            .get(format!(
                "{}/api/v1/accounts/Acme/events.csv?action=token.&limit=100",
                s.url
            ))
            .bearer_auth(&s.api_key)
            .send()
            .await
            .expect("an answer");
        assert_eq!(resp.status().as_u16(), 200);
        resp.bytes().await.expect("the CSV").to_vec()
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&api));
    assert!(api.starts_with(b"id,time,actor,action,"));
    assert_eq!(api.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), 4);

    // A va-user may not read the event log: one line, non-zero exit.
    let key = w.user("Acme", "viewer@acme.example", "va-user", &["--va", "DEFAULT"]);
    let err = refusal(&w.as_key(&key, &["event", "list", "--account", "Acme"]));
    assert!(err.contains("va-user"), "{err}");
    // A malformed day is the manager's message.
    let err = refusal(&w.admin(&["event", "list", "--account", "Acme", "--since", "2027-02-30"]));
    assert!(err.contains("since"), "{err}");

    // Webhooks: added (id and secret shown once), listed without the secret, removed.
    let added = w.admin_ok(&["webhook", "add", "--account", "Acme", "http://127.0.0.1:9/hook"]);
    let id = added
        .lines()
        .find_map(|l| l.strip_prefix("webhook "))
        .expect("webhook ID")
        .to_string();
    let secret = added
        .lines()
        .find_map(|l| l.strip_prefix("secret "))
        .expect("secret S")
        .to_string();
    assert!(secret.len() >= 40, "{added}");
    let list = w.admin_ok(&["webhook", "list", "--account", "Acme"]);
    assert!(list.starts_with("ID  "), "{list}");
    let row = list.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with(&id) && row.contains("http://127.0.0.1:9/hook") && row.contains("operator"),
        "{list}"
    );
    assert!(!list.contains(&secret), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&w.admin_ok(&["webhook", "list", "--account", "Acme", "--json"])).expect("JSON");
    assert_eq!(json[0]["id"], id.as_str(), "{json}");
    assert_eq!(
        w.admin_ok(&["webhook", "remove", "--account", "Acme", &id]),
        format!("Removed webhook {id}")
    );
    assert_eq!(w.admin_ok(&["webhook", "list", "--account", "Acme"]).lines().count(), 1);
    let err = refusal(&w.admin(&["webhook", "remove", "--account", "Acme", &id]));
    assert!(err.contains("webhook"), "{err}");
    // Not a URL webhooks may use.
    refusal(&w.admin(&["webhook", "add", "--account", "Acme", "ftp://alerts.acme.example/"]));
}

#[test]
fn usage_history_from_the_cli() {
    let mut w = World::with_acme();
    w.deposit("Acme", "DEFAULT", PGW, 5);
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.registered_node("usage-1", &token);
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 100")), (100, 0));
    cli_ok(&node, "license smart renew auth");

    // Three days, today last, one column per SKU; today's PGW use is the node's one licence.
    let args = ["usage", "--account", "Acme", "--va", "DEFAULT", "--days", "3"];
    let table = wait_for(20, "today's usage", || {
        let t = w.admin_ok(&args);
        let header: Vec<&str> = t.lines().find(|l| l.starts_with("DAY"))?.split_whitespace().collect();
        let col = header.iter().position(|h| *h == PGW)?;
        let today: Vec<&str> = t
            .lines()
            .find(|l| l.starts_with("2027-01-01"))?
            .split_whitespace()
            .collect();
        (today.get(col) == Some(&"1")).then_some(t)
    });
    assert!(table.starts_with("Virtual Account: DEFAULT\n"), "{table}");
    let days: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("20"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(days, ["2026-12-30", "2026-12-31", "2027-01-01"], "{table}");
    let purchased = table.lines().last().unwrap_or_default();
    assert!(purchased.starts_with("PURCHASED") && purchased.contains('5'), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&w.admin_ok(&["usage", "--account", "Acme", "--va", "DEFAULT", "--days", "3", "--json"]))
            .expect("JSON");
    let pgw = json["skus"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["sku"] == PGW))
        .expect("the PGW SKU");
    assert_eq!(pgw["purchased"], 5, "{json}");
    assert_eq!(pgw["days"][2]["in_use"], 1, "{json}");

    // Out of range: the manager's one line.
    let err = refusal(&w.admin(&["usage", "--account", "Acme", "--va", "DEFAULT", "--days", "0"]));
    assert!(err.contains("days must be 1 to 365"), "{err}");
    let err = refusal(&w.admin(&["usage", "--account", "Acme", "--va", "Nowhere"]));
    assert!(
        err.to_lowercase().contains("nowhere") || err.contains("virtual account"),
        "{err}"
    );
}
