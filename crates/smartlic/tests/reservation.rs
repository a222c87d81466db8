//! Licence reservation (docs/interface.md §6) through the real binaries: the operator's
//! per-account setting of which reservations an account may make, and the manager's
//! `smartlic reservation create|list|update|confirm|return`, with the node's codes made here with
//! the protocol crate (a test node key from fixed bytes).

mod common;

use base64::Engine;
use common::*;
use ed25519_dalek::SigningKey;
use smartlic_protocol::reservation::{CodeKind, NodeProof, ReservationAuthorization, ReservationRequest};

const PW: &str = "ASR5K-00-PW10GTWY";

/// A node's reservation side: its key from fixed bytes and its UDI.
struct TestNode {
    key: SigningKey,
    udi: String,
}

impl TestNode {
    fn new(n: u8) -> TestNode {
        TestNode {
            key: SigningKey::from_bytes(&[n; 32]),
            udi: format!("PID:ASR5500,SN:FOX{n:04}"),
        }
    }

    fn request(&self, nonce: &str) -> String {
        ReservationRequest {
            udi: self.udi.clone(),
            ha_udis: vec![],
            key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes()),
            nonce: nonce.into(),
            created_at: T0,
        }
        .encode(&self.key)
    }

    fn proof(&self, kind: CodeKind, id: &str, seq: u32) -> String {
        NodeProof {
            id: id.into(),
            seq,
            udi: self.udi.clone(),
            at: T0,
        }
        .encode(kind, &self.key)
    }
}

/// The authorization code, checked against the manager's CA as a node's trust pool would.
fn authorization(w: &World, code: &str) -> ReservationAuthorization {
    assert_eq!(code.lines().count(), 1, "one line: {code}");
    let ca = std::fs::read_to_string(&w.server.as_ref().expect("a server").ca).expect("ca.pem");
    let anchors = smartlic_protocol::trust::pem_certificates(&ca).expect("CA");
    ReservationAuthorization::decode(code, &anchors).expect("a valid authorization code")
}

/// PW in use in Acme's DEFAULT, from `license list --json`.
fn pw_in_use(w: &World) -> i64 {
    licence_rows(&w.licences_json("Acme", "DEFAULT"))
        .iter()
        .find(|r| r["sku"] == PW)
        .and_then(|r| r["in_use"].as_i64())
        .unwrap_or(0)
}

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

/// A specific reservation from request to return through the CLI: the authorization code alone
/// on one line, the counts in use at once, the list (table and JSON), update, confirm, return.
#[test]
fn specific_reservation_through_the_cli() {
    let w = World::with_acme();
    w.admin_ok(&["account", "set", "Acme", "--reservation", "specific"]);
    w.deposit("Acme", "DEFAULT", PW, 5);
    let node = TestNode::new(1);
    let request = node.request("cli");
    let create = |n: &str, request: &str| {
        let licence = format!("{PW}={n}");
        w.admin(&reservation_create_args(
            "Acme",
            "DEFAULT",
            request,
            &["--license", &licence],
        ))
    };
    let out = create("2", &request);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(code.starts_with("AU1."), "{code}");
    let auth = authorization(&w, &code);
    assert_eq!(
        (auth.seq, auth.udi.as_str(), auth.licenses.get(PW)),
        (1, node.udi.as_str(), Some(&2))
    );
    assert_eq!(pw_in_use(&w), 2);

    let table = w.admin_ok(&["reservation", "list", "--account", "Acme"]);
    let mut lines = table.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(head, ["ID", "VA", "UDI", "KIND", "LICENSES", "STATUS"], "{table}");
    let row: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        row,
        [
            auth.id.as_str(),
            "DEFAULT",
            node.udi.as_str(),
            "SPECIFIC",
            &format!("{PW}=2"),
            "RESERVED"
        ]
    );

    // Refusals, one line each: short, answered already, mistyped.
    let err = refusal(&create("9", &TestNode::new(2).request("cli")));
    assert!(
        err.contains(PW) && err.contains("3 available") && err.contains("9 requested"),
        "{err}"
    );
    let err = refusal(&create("1", &request));
    assert!(err.contains("answered already"), "{err}");
    let mut typo = TestNode::new(3).request("cli");
    typo.insert(10, 'x');
    let err = refusal(&create("1", &typo));
    assert!(err.contains("damaged or mistyped"), "{err}");
    let err = refusal(&create("0", &TestNode::new(3).request("cli")));
    assert!(err.contains("1 to"), "{err}");
    assert_eq!(pw_in_use(&w), 2);

    // Update: a new code with seq 2; the count follows.
    let code2 = w.admin_ok(&[
        "reservation",
        "update",
        "--account",
        "Acme",
        "--id",
        &auth.id,
        "--license",
        &format!("{PW}=3"),
    ]);
    let auth2 = authorization(&w, &code2);
    assert_eq!(
        (auth2.id.as_str(), auth2.seq, auth2.licenses.get(PW)),
        (auth.id.as_str(), 2, Some(&3))
    );
    assert_eq!(pw_in_use(&w), 3);
    let confirmation = node.proof(CodeKind::Confirmation, &auth.id, 2);
    let out = w.admin_ok(&[
        "reservation",
        "confirm",
        "--account",
        "Acme",
        "--confirmation-code",
        &confirmation,
    ]);
    assert_eq!(out, format!("{}: confirmed (authorization 2)", auth.id));
    let json: serde_json::Value =
        serde_json::from_str(&w.admin_ok(&["reservation", "list", "--account", "Acme", "--va", "DEFAULT", "--json"]))
            .expect("reservation list --json");
    let r = &json[0];
    assert_eq!(
        (r["id"].as_str(), r["kind"].as_str(), r["status"].as_str()),
        (Some(auth.id.as_str()), Some("SPECIFIC"), Some("RESERVED"))
    );
    assert_eq!(
        (
            r["seq"].as_u64(),
            r["confirmed_seq"].as_u64(),
            r["licenses"][PW].as_u64()
        ),
        (Some(2), Some(2), Some(3))
    );
    assert!(
        r["created_at"].is_i64() && r["returned_at"].is_null() && r["expires_at"].is_null(),
        "{r}"
    );
    assert_eq!(r["va"], "DEFAULT");
    assert_eq!(r["udi"], node.udi.as_str());

    // Return: a stranger's signature is refused; the node's releases the licences, once.
    let forged = TestNode::new(9).proof(CodeKind::Return, &auth.id, 2);
    let err = refusal(&w.admin(&["reservation", "return", "--account", "Acme", "--return-code", &forged]));
    assert!(err.contains("not signed by the node key"), "{err}");
    w.account("Other", "other.example");
    let ret = node.proof(CodeKind::Return, &auth.id, 2);
    let err = refusal(&w.admin(&["reservation", "return", "--account", "Other", "--return-code", &ret]));
    assert!(err.contains("not of a reservation of Smart Account Other"), "{err}");
    let out = w.admin_ok(&["reservation", "return", "--account", "Acme", "--return-code", &ret]);
    assert_eq!(out, format!("{}: returned", auth.id));
    assert_eq!(pw_in_use(&w), 0);
    let err = refusal(&w.admin(&["reservation", "return", "--account", "Acme", "--return-code", &ret]));
    assert!(err.contains("returned already"), "{err}");
    let err = refusal(&w.admin(&[
        "reservation",
        "update",
        "--account",
        "Acme",
        "--id",
        &auth.id,
        "--universal",
    ]));
    assert!(err.contains("returned already"), "{err}");
    let table = w.admin_ok(&["reservation", "list", "--account", "Acme"]);
    assert!(
        table.lines().nth(1).is_some_and(|l| l.trim_end().ends_with("RETURNED")),
        "{table}"
    );
}

/// The universal licence: allowed by the `universal` setting only, `ALL` in the list, no
/// licences taken; the user roles' rights.
#[test]
fn universal_reservation_and_rights() {
    let w = World::with_acme();
    w.admin_ok(&["va", "create", "--account", "Acme", "East"]);
    let va_admin = w.user("Acme", "east@acme.example", "va-admin", &["--va", "East"]);
    let va_user = w.user("Acme", "eu@acme.example", "va-user", &["--va", "East"]);
    let sa_user = w.user("Acme", "su@acme.example", "sa-user", &[]);
    let plr = |n: u8| {
        let code = TestNode::new(n).request("plr");
        [
            "reservation",
            "create",
            "--account",
            "Acme",
            "--va",
            "East",
            "--request-code",
            &code,
            "--universal",
        ]
        .map(str::to_string)
    };
    let args = plr(1);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = refusal(&w.admin(&args));
    assert!(err.contains("does not allow universal"), "{err}");
    w.admin_ok(&["account", "set", "Acme", "--reservation", "specific"]);
    let err = refusal(&w.admin(&args));
    assert!(err.contains("does not allow universal"), "{err}");
    w.admin_ok(&["account", "set", "Acme", "--reservation", "universal"]);
    for (key, role) in [(&va_user, "va-user"), (&sa_user, "sa-user")] {
        let err = refusal(&w.as_key(key, &args));
        assert!(err.contains(role), "{err}");
    }
    let out = w.as_key(&va_admin, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let auth = authorization(&w, String::from_utf8_lossy(&out.stdout).trim());
    assert!(auth.licenses.is_empty());
    let table = w.admin_ok(&["reservation", "list", "--account", "Acme", "--va", "East"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(row[3..], ["UNIVERSAL", "ALL", "RESERVED"], "{table}");
    // A VA administrator of East may not reserve in DEFAULT.
    let code = TestNode::new(2).request("plr");
    let args = reservation_create_args("Acme", "DEFAULT", &code, &["--universal"]);
    let err = refusal(&w.as_key(&va_admin, &args));
    assert!(err.contains("va-admin"), "{err}");
}
