//! Satellite managers, the parent's side (docs/interface.md §7), through the real binaries:
//! `smartlic satellite create|list|answer` against a running manager, with the satellite's
//! request files made here by a stand-in (an identity key from fixed bytes and the token's
//! proof, as docs/satellite.md says), and the answers checked as a satellite checks them.

mod common;
mod satellite_support;

use common::*;
use satellite_support::stand_in_request;
use smartlic_protocol::satellite::{SatelliteAnswer, SatelliteToken, ca_fingerprint};

const PW: &str = "ASR5K-00-PW10GTWY";

#[test]
fn a_satellite_is_created_listed_and_answered_through_the_cli() {
    let w = World::with_acme();
    w.deposit("Acme", "DEFAULT", PW, 5);
    let list = |w: &World| -> serde_json::Value {
        serde_json::from_str(&w.admin_ok(&["satellite", "list", "--account", "Acme", "--json"])).expect("JSON")
    };

    // The token: one line, pinning this manager's CA.
    let token_text = w.admin_ok(&["satellite", "create", "--account", "Acme", "--va", "DEFAULT", "lab"]);
    assert_eq!(token_text.lines().count(), 1, "{token_text}");
    let token = SatelliteToken::decode(&token_text).expect("an ST1 token");
    let ca_pem = std::fs::read_to_string(&w.server.as_ref().expect("a server").ca).expect("ca.pem");
    let ca_der = smartlic_protocol::trust::pem_certificates(&ca_pem).expect("CA");
    assert_eq!(token.parent_ca, ca_fingerprint(&ca_der[0]));
    let err = refusal(&w.admin(&["satellite", "create", "--account", "Acme", "--va", "DEFAULT", "Lab"]));
    assert!(err.contains("satellite named Lab already"), "{err}");
    let table = w.admin_ok(&["satellite", "list", "--account", "Acme"]);
    assert!(
        table.lines().next().is_some_and(|h| h.contains("LAST EXCHANGE")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("lab") && l.contains("never") && l.trim_end().ends_with("no")),
        "{table}"
    );

    // A request file in, an answer file out.
    let req = w.path("request.json");
    let ans = w.path("answer.json");
    std::fs::write(&req, stand_in_request(&token_text, 1, &[("lab-a", 2)], 1)).expect("request");
    let out = w.admin_ok(&[
        "satellite",
        "answer",
        "--in",
        req.to_str().expect("path"),
        "--out",
        ans.to_str().expect("path"),
    ]);
    assert!(out.contains("answered request 1 of satellite"), "{out}");
    let answer = SatelliteAnswer::decode(&std::fs::read_to_string(&ans).expect("answer"), &token.parent_ca)
        .expect("an answer the satellite accepts");
    assert_eq!(
        (answer.seq, answer.account.as_str(), answer.va.as_str()),
        (1, "Acme", "DEFAULT")
    );
    assert_eq!(answer.lots.len(), 1);
    assert_eq!((answer.lots[0].sku.as_str(), answer.lots[0].quantity), (PW, 5));
    assert_eq!(answer.events_acknowledged, 1);
    let l = list(&w);
    assert_eq!(
        (l[0]["linked"].as_bool(), l[0]["instances"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(l[0]["last_exchange"], T0);

    // The parent's listings show the satellite's instance and usage, marked with its name.
    let instances = w.admin_ok(&["instance", "list", "--account", "Acme"]);
    let row = instances
        .lines()
        .find(|l| l.contains("lab-a"))
        .unwrap_or_else(|| panic!("{instances}"));
    assert!(row.contains("DEFAULT (satellite lab)"), "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&w.admin_ok(&["instance", "list", "--account", "Acme", "--json"])).expect("JSON");
    assert_eq!(json[0]["satellite"], "lab");
    let id = json[0]["id"].as_str().expect("id").to_string();
    let err = refusal(&w.admin(&["instance", "remove", "--account", "Acme", &id]));
    assert!(err.contains("served by satellite lab"), "{err}");
    let licences = w.admin_ok(&["license", "list", "--account", "Acme", "--va", "DEFAULT"]);
    assert!(
        licences.contains(&format!("In use at satellite lab: 2 {PW}")),
        "{licences}"
    );
    let pw = licence_rows(&w.licences_json("Acme", "DEFAULT"))
        .into_iter()
        .find(|r| r["sku"] == PW)
        .expect("PW");
    assert_eq!(pw["in_use"], 2);

    // The same request again (its answer lost) gets the same answer; refusals are one line.
    let again = w.path("again.json");
    w.admin_ok(&[
        "satellite",
        "answer",
        "--in",
        req.to_str().expect("path"),
        "--out",
        again.to_str().expect("path"),
    ]);
    assert_eq!(
        std::fs::read(&again).expect("again"),
        std::fs::read(&ans).expect("answer")
    );
    let garbage = w.path("garbage.json");
    for text in ["not a request", "{\"format\": \"smartlic-satellite/1\"}"] {
        std::fs::write(&garbage, text).expect("garbage");
        let err = refusal(&w.admin(&[
            "satellite",
            "answer",
            "--in",
            garbage.to_str().expect("path"),
            "--out",
            w.path("x.json").to_str().expect("path"),
        ]));
        assert!(err.contains("not a satellite request file"), "{text}: {err}");
    }
    assert!(!w.path("x.json").exists(), "no answer file for a refused request");
    let user = w.user("Acme", "su@acme.example", "sa-user", &[]);
    let err = refusal(&w.as_key(&user, &["satellite", "list", "--account", "Acme"]));
    assert!(err.contains("may not manage satellite"), "{err}");
}
