//! The satellite side (docs/interface.md §7) through the real binaries: a `smartlic server`
//! linked to a parent with `satellite link`, exchanging files with `satellite export` and
//! `satellite import`; the parent is a stand-in made here (an rcgen CA and response-signing
//! certificate, as a parent manager holds), which reads the request and signs answers with the
//! protocol crate. A node registers to the satellite with the satellite's own token, and becomes
//! OUT OF COMPLIANCE when an imported answer makes its VA short.

mod common;
use common::*;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ED25519,
};
use smartlic_protocol::satellite::{AnswerLot, SatelliteAnswer, SatelliteRequest, SatelliteToken, ca_fingerprint};
use smartlic_protocol::trust::{RESPONSE_SIGNING_EKU, pem_certificates};

const PGW: &str = "ASR5K-00-PW10GTWY";

/// The parent as the satellite sees it: a CA, a response-signing key and certificate, and the
/// secret of the token it handed out.
struct Parent {
    ca_pem: String,
    key: SigningKey,
    signer_pem: String,
    secret: String,
}

impl Parent {
    fn new() -> Parent {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("the parent stand-in");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("the parent stand-in");
        p.distinguished_name.push(rcgen::DnType::CommonName, "parent CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key).expect("the parent stand-in");
        let issuer = Issuer::new(p, ca_key);
        let key = KeyPair::generate_for(&PKCS_ED25519).expect("the parent stand-in");
        let mut s = CertificateParams::new(Vec::<String>::new()).expect("the parent stand-in");
        s.distinguished_name.push(rcgen::DnType::CommonName, "parent signer");
        s.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(RESPONSE_SIGNING_EKU.to_vec())];
        Parent {
            signer_pem: s.signed_by(&key, &issuer).expect("the parent stand-in").pem(),
            key: SigningKey::from_pkcs8_der(&key.serialize_der()).expect("the parent stand-in"),
            ca_pem: ca.pem(),
            secret: "c2F0ZWxsaXRlLXNlY3JldC1mb3ItdGVzdHMtb25seQ".into(),
        }
    }

    fn token(&self) -> String {
        SatelliteToken {
            satellite: "sat-edge".into(),
            secret: self.secret.clone(),
            parent_ca: ca_fingerprint(&pem_certificates(&self.ca_pem).expect("the parent stand-in")[0]),
        }
        .encode()
    }

    /// Reads a request file (checking the signature and, while it is there, the token's proof)
    /// and answers it: `pgw` PGW licences in Acme/Edge, `elsewhere` of them in use elsewhere.
    fn answer(&self, request: &str, pgw: i64, elsewhere: i64) -> (SatelliteRequest, String) {
        let r = SatelliteRequest::decode(request).expect("a request signed by the key it names");
        if r.proof.is_some() {
            r.proves(&self.secret).expect("the token's proof");
        }
        let answer = SatelliteAnswer {
            satellite: r.satellite.clone(),
            seq: r.seq,
            account: "Acme".into(),
            va: "Edge".into(),
            lots: vec![AnswerLot {
                sku: PGW.into(),
                quantity: pgw,
                end_date: None,
            }],
            in_use_elsewhere: [(PGW.to_string(), elsewhere)].into(),
            events_acknowledged: r.events.iter().map(|e| e.id).max().unwrap_or(0),
            issued_at: T0,
        };
        let text = answer.encode(&self.key, &self.signer_pem, &self.ca_pem);
        (r, text)
    }
}

/// The satellite's `export`, the parent's answer to it, the satellite's `import`: the request
/// as the parent read it, and the import's line.
fn exchange(w: &World, parent: &Parent, n: u32, pgw: i64, elsewhere: i64) -> (SatelliteRequest, String) {
    let req = w.path(&format!("request-{n}.json"));
    let ans = w.path(&format!("answer-{n}.json"));
    let out = w.admin_ok(&["satellite", "export", "--out", req.to_str().expect("a UTF-8 path")]);
    assert_eq!(out, format!("request {n} written to {}", req.display()));
    let (r, text) = parent.answer(
        &std::fs::read_to_string(&req).expect("a file of the test"),
        pgw,
        elsewhere,
    );
    std::fs::write(&ans, text).expect("a file of the test");
    let line = w.admin_ok(&["satellite", "import", "--in", ans.to_str().expect("a UTF-8 path")]);
    (r, line)
}

/// One line on stderr, the command failed.
fn refused(w: &World, args: &[&str]) -> String {
    refusal(&w.admin(args))
}

#[test]
fn a_satellite_by_files_serves_a_node_with_the_parents_licences() {
    let mut w = World::new();
    w.start_server();
    let parent = Parent::new();
    let token = parent.token();

    let err = refused(
        &w,
        &[
            "satellite",
            "export",
            "--out",
            w.path("r.json").to_str().expect("a UTF-8 path"),
        ],
    );
    assert!(err.contains("not linked to a parent"), "{err}");
    let err = refused(&w, &["satellite", "link", "--token", "ST1.broken.0000"]);
    assert!(err.contains("not a satellite token"), "{err}");
    let line = w.admin_ok(&["satellite", "link", "--token", &token]);
    assert_eq!(
        line,
        "linked as satellite sat-edge (exchange by files: satellite export, then import)"
    );
    let err = refused(&w, &["satellite", "sync"]);
    assert!(err.contains("linked without --parent"), "{err}");

    // First exchange: the account and VA appear with the parent's licences.
    let (r, line) = exchange(&w, &parent, 1, 2, 0);
    assert!(r.instances.is_empty());
    assert_eq!(
        line,
        "imported: request 1 answered: Smart Account Acme, virtual account Edge, 1 lot of licences from the parent"
    );
    let again = w.path("answer-1.json");
    let err = refused(
        &w,
        &["satellite", "import", "--in", again.to_str().expect("a UTF-8 path")],
    );
    assert!(err.contains("already imported"), "{err}");
    let garbage = w.path("garbage.json");
    std::fs::write(&garbage, "not an answer").expect("a file of the test");
    let err = refused(
        &w,
        &["satellite", "import", "--in", garbage.to_str().expect("a UTF-8 path")],
    );
    assert!(err.contains("not a satellite answer file"), "{err}");
    let err = refused(&w, &deposit_args("Acme", "Edge", PGW, "5"));
    assert!(
        err.ends_with("licences of virtual account Edge come from the parent manager; deposit them there"),
        "{err}"
    );

    // A node registers to the satellite with the satellite's token and uses one licence.
    let reg = w.token("Acme", "Edge", &[]);
    let node = w.registered_node("sat-node", &reg);
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 10000")), (10000, 0));
    cli_ok(&node, "license smart renew auth");
    assert!(cli_ok(&node, "show license status").contains("Status: AUTHORIZED"));

    // The next request carries the node and its usage up, and the satellite's events.
    let (r, _) = exchange(&w, &parent, 2, 2, 0);
    assert_eq!(r.seq, 2);
    assert!(r.proof.is_none(), "the parent knows the key after the first answer");
    let inst = r.instances.iter().find(|i| i.hostname == "sat-node").expect("the node");
    assert_eq!(inst.usage.get(PGW), Some(&1), "{inst:?}");
    assert!(
        r.events.iter().any(|e| e.action.starts_with("device.")),
        "{:?}",
        r.events
    );

    // The parent says 2 more are in use elsewhere: 3 in use, 2 purchased — the node learns it.
    exchange(&w, &parent, 3, 2, 2);
    let list = w.admin_ok(&["license", "list", "--account", "Acme", "--va", "Edge"]);
    assert!(list.contains("INSUFFICIENT"), "{list}");
    cli_ok(&node, "license smart renew auth");
    wait_shows(&node, "show license status", "Status: OUT OF COMPLIANCE", 20);

    // The parent adds licences: in compliance again at the next authorization.
    exchange(&w, &parent, 4, 5, 2);
    cli_ok(&node, "license smart renew auth");
    wait_shows(&node, "show license status", "Status: AUTHORIZED", 20);

    // A linked and exchanged satellite keeps its parent.
    let err = refused(&w, &["satellite", "link", "--token", &token]);
    assert!(err.contains("already linked to parent"), "{err}");
}
