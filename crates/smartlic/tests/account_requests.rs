//! Smart Account requests on a real manager: a request submitted over HTTPS without a key (as
//! the portal's public form does), then listed, approved and rejected with the admin CLI; the
//! approved account's SA administrator works with the key the CLI printed.

mod common;

use common::*;
use std::process::Command;

fn submit(w: &World, body: &str) -> String {
    let s = w.server.as_ref().expect("server");
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&s.ca)
        .args(["-H", "content-type: application/json", "--data-binary", body])
        .arg(format!("{}/api/v1/account-requests", s.url))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn id_of(answer: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(answer).expect("JSON answer");
    v["id"].as_str().expect("request id").to_string()
}

#[test]
fn requests_are_listed_approved_and_rejected_with_the_cli() {
    let mut w = World::new();
    w.start_server();
    let a = submit(
        &w,
        r#"{"requester_email":"ann@widgets.example","authority":true,"name":"Widgets","password":"long enough pw"}"#,
    );
    assert!(a.contains("PENDING"), "{a}");
    let b = submit(
        &w,
        r#"{"requester_email":"eve@spam.example","authority":true,"name":"Spam","password":"long enough pw"}"#,
    );
    let (a, b) = (id_of(&a), id_of(&b));

    let list = w.admin_ok(&["account", "request", "list", "--pending"]);
    assert!(
        list.contains(&a) && list.contains(&b) && list.contains("widgets.example"),
        "{list}"
    );
    let approved = w.admin_ok(&["account", "request", "approve", &a]);
    let account = field(&approved, "account").expect("account id line");
    let key = approved
        .lines()
        .find_map(|l| l.split_once(" api key ").map(|(_, k)| k.trim().to_string()))
        .expect("api key line");
    let rejected = w.admin_ok(&["account", "request", "reject", &b, "--reason", "not a customer"]);
    assert!(rejected.contains("REJECTED"), "{rejected}");
    let again = w.admin(&["account", "request", "approve", &b]);
    assert!(!again.status.success(), "a decided request is not approved");

    let json = w.admin_ok(&["account", "request", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON list");
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    assert!(!json.contains("argon2"), "{json}");

    // The SA administrator's key reads its account.
    let out = w.as_key(&key, &["account", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&account) && text.contains("Widgets"),
        "{text}"
    );
}
