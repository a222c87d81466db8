//! Licence reservation on the node, through its CLI only: the test plays the license manager with
//! a CA of its own (rcgen) that the node trusts, and makes the authorization codes
//! (`AU1…`) from the request codes the node prints.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use smartlic_protocol::reservation::{
    CodeKind, NodeProof, ReservationAuthorization, ReservationKind, ReservationRequest, request_id,
};
use smartlic_protocol::trust::RESPONSE_SIGNING_EKU;
use std::collections::BTreeMap;
use std::path::PathBuf;

const PGW: &str = "ASR5K-00-PW10GTWY";
const SLR_WORD: &str = "Status: REGISTERED - SPECIFIC LICENSES RESERVED";
const PLR_WORD: &str = "Status: REGISTERED - UNIVERSAL LICENSE RESERVED";
const RESERVED: &str = "Status: AUTHORIZED - RESERVED";

/// A manager of the test's making: its CA (as a PEM file) and its signing key and certificate.
struct Ca {
    pem: PathBuf,
    key: SigningKey,
    signer_pem: String,
}

fn ca(w: &World, name: &str) -> Ca {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = p.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(p, ca_key);
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("signing key");
    let mut s = CertificateParams::new(Vec::<String>::new()).expect("params");
    s.distinguished_name.push(rcgen::DnType::CommonName, "signer");
    s.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(RESPONSE_SIGNING_EKU.to_vec())];
    let signer_pem = s.signed_by(&key, &issuer).expect("signer").pem();
    let pem = w.path(&format!("{name}.pem"));
    std::fs::write(&pem, cert.pem()).expect("write CA");
    Ca {
        pem,
        key: SigningKey::from_pkcs8_der(&key.serialize_der()).expect("ed25519 key"),
        signer_pem,
    }
}

/// The authorization `ca` signs for `request_code`, as a license manager would make it.
struct Grant<'a> {
    request_code: &'a str,
    id: &'a str,
    seq: u32,
    licenses: &'a [(&'a str, u32)],
}

impl Grant<'_> {
    fn auth(&self) -> ReservationAuthorization {
        let req = ReservationRequest::decode(self.request_code).expect("the node's request code decodes");
        ReservationAuthorization {
            id: self.id.into(),
            seq: self.seq,
            request: request_id(self.request_code),
            udi: req.udi,
            kind: if self.licenses.is_empty() {
                ReservationKind::Universal
            } else {
                ReservationKind::Specific
            },
            licenses: self
                .licenses
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect::<BTreeMap<_, _>>(),
            expires_at: None,
            issued_at: T0,
            account: "Acme".into(),
            va: "DEFAULT".into(),
        }
    }

    fn code(&self, ca: &Ca) -> String {
        sign(&self.auth(), ca)
    }
}

fn sign(auth: &ReservationAuthorization, ca: &Ca) -> String {
    auth.encode(&ca.key, &ca.signer_pem).expect("encode AU1")
}

/// A node that trusts `ca`, with Smart Licensing and reservation enabled; returns it and the
/// request code it printed.
fn requesting_node(w: &mut World, name: &str, ca: &Ca) -> (Node, String) {
    let node = w.start_node(name);
    let (out, ok) = cli(
        &node,
        &[
            &format!("crypto pki trustpool import file {}", ca.pem.display()),
            "configure",
            "license smart enable",
            "license smart reservation",
            "end",
        ],
    );
    assert!(ok, "{out}");
    let code = cli_ok(&node, "license smart reservation request local");
    assert_eq!(code.lines().count(), 1, "{code}");
    assert!(code.starts_with("RQ1."), "{code}");
    (node, code.trim().to_string())
}

fn install(node: &Node, code: &str) -> (String, bool) {
    cli(node, &[&format!("license smart reservation install \"{code}\"")])
}

fn install_ok(node: &Node, code: &str) -> String {
    let (out, ok) = install(node, code);
    assert!(ok, "{out}");
    out
}

/// `Failure: …` and the node's reservation exactly as before.
fn refused(node: &Node, code: &str, why: &str) {
    let before = cli_ok(node, "show license reservation");
    let (out, ok) = install(node, code);
    assert!(!ok && out.starts_with("Failure: ") && out.contains(why), "{out}");
    assert_eq!(cli_ok(node, "show license reservation"), before);
}

fn connect(node: &Node, service: &str, n: u64) -> (u64, u64) {
    admitted(&cli_ok(node, &format!("calls connect {service} {n}")))
}

fn status_has(node: &Node, words: &[&str]) {
    let st = cli_ok(node, "show license status");
    for w in words {
        assert!(st.contains(w), "{w}:\n{st}");
    }
}

#[test]
fn an_slr_admits_its_reserved_sessions_over_restarts_and_clock_jumps() {
    let mut w = World::new();
    let ca = ca(&w, "ca");
    let (node, rq) = requesting_node(&mut w, "slr", &ca);
    // A second request while one is pending prints the same code.
    assert_eq!(cli_ok(&node, "license smart reservation request local").trim(), rq);
    let grant = Grant {
        request_code: &rq,
        id: "r-1",
        seq: 1,
        licenses: &[(PGW, 2)],
    };
    assert_eq!(install_ok(&node, &grant.code(&ca)), "Reservation installed: SPECIFIC\n");
    status_has(&node, &[SLR_WORD, RESERVED]);
    assert_eq!(connect(&node, "pgw", 20_001), (20_000, 1));
    assert_eq!(connect(&node, "sgw", 1), (0, 1), "nothing reserved for sgw");
    wait_shows(&node, "show snmp trap history", "starSmartLicReservationInstalled", 10);
    let shown = cli_ok(&node, "show license reservation");
    assert!(shown.contains("Reservation status: SPECIFIC INSTALLED on"), "{shown}");
    assert!(
        shown.contains(&format!("  {PGW}:\n    Total reserved count: 2")),
        "{shown}"
    );
    assert!(cli_ok(&node, "show configuration").contains("  license smart reservation\n"));
    let all = cli_ok(&node, "show license all");
    assert!(
        all.contains("Smart Licensing is ENABLED\nLicense Reservation is ENABLED\n"),
        "{all}"
    );

    w.kill("slr");
    let node = w.start_node("slr");
    status_has(&node, &[SLR_WORD, RESERVED]);
    w.advance_days(400);
    status_has(&node, &[SLR_WORD, RESERVED, "Next Communication Attempt: None"]);
    assert_eq!(connect(&node, "pgw", 20_001), (20_000, 1));
    let (out, ok) = cli(&node, &[&idtoken("sometoken")]);
    assert!(
        !ok && out.contains("a licence reservation is installed; return it first"),
        "{out}"
    );
    let (out, ok) = cli(&node, &["configure", "no license smart reservation"]);
    assert!(!ok && out.contains("return it first"), "{out}");
}

#[test]
fn codes_for_another_node_altered_or_untrusted_change_nothing() {
    let mut w = World::new();
    let ca1 = ca(&w, "ca");
    let stranger = ca(&w, "stranger");
    let (node, rq) = requesting_node(&mut w, "n", &ca1);
    let grant = Grant {
        request_code: &rq,
        id: "r-1",
        seq: 1,
        licenses: &[(PGW, 1)],
    };
    let mut other = grant.auth();
    other.udi = "PID:ASR5500,SN:SOMEONEELSE".into();
    refused(&node, &sign(&other, &ca1), "not this product");
    let good = grant.code(&ca1);
    let i = good.len() / 2;
    let flipped = if &good[i..=i] == "A" { "B" } else { "A" };
    refused(&node, &format!("{}{flipped}{}", &good[..i], &good[i + 1..]), "mistyped");
    refused(&node, &grant.code(&stranger), "trust pool");
    let mut elsewhere = grant.auth();
    elsewhere.request = request_id("RQ1.some.other.request");
    refused(&node, &sign(&elsewhere, &ca1), "does not answer");
    assert!(cli_ok(&node, "show license reservation").contains("REQUEST PENDING since"));
    // The right code still installs afterwards.
    install_ok(&node, &good);
}

#[test]
fn an_update_confirms_and_a_return_gives_back_the_evaluation_state() {
    let mut w = World::new();
    let ca = ca(&w, "ca");
    let (node, rq) = requesting_node(&mut w, "n", &ca);
    assert_eq!(connect(&node, "pgw", 10), (10, 0));
    w.advance_days(3);
    let eval = cli_ok(&node, "show license eval-period");
    let first = Grant {
        request_code: &rq,
        id: "r-9",
        seq: 1,
        licenses: &[(PGW, 1)],
    };
    install_ok(&node, &first.code(&ca));
    w.advance_days(30);
    let second = Grant {
        seq: 2,
        licenses: &[(PGW, 3)],
        ..first
    };
    let out = install_ok(&node, &second.code(&ca));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Reservation installed: SPECIFIC"));
    let cf = lines
        .next()
        .and_then(|l| l.strip_prefix("Confirmation code: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(cf.starts_with("CF1."), "{out}");
    let key = ReservationRequest::decode(&rq)
        .ok()
        .and_then(|r| r.verifying_key())
        .expect("node key");
    let proof = NodeProof::decode(CodeKind::Confirmation, cf, &key).expect("signed by the node");
    assert_eq!((proof.id.as_str(), proof.seq), ("r-9", 2));
    assert!(cli_ok(&node, "show license reservation").contains(&format!("Last Confirmation code: {cf}")));
    refused(&node, &first.code(&ca), "installed already");

    let rt = cli_ok(&node, "license smart reservation return local");
    assert!(rt.starts_with("RT1.") && rt.lines().count() == 1, "{rt}");
    status_has(&node, &["Status: UNREGISTERED"]);
    assert_eq!(
        cli_ok(&node, "show license eval-period"),
        eval,
        "the evaluation clock stood still"
    );
    wait_shows(&node, "show snmp trap history", "starSmartLicReservationReturned", 10);
    let (out, ok) = cli(&node, &["license smart reservation return local"]);
    assert!(!ok && out.contains("no reservation is installed"), "{out}");
    let again = cli_ok(&node, "license smart reservation request local");
    let third = Grant {
        request_code: again.trim(),
        seq: 3,
        ..second
    };
    refused(&node, &third.code(&ca), "returned");
}

#[test]
fn a_plr_admits_every_service() {
    let mut w = World::new();
    let ca = ca(&w, "ca");
    let (node, rq) = requesting_node(&mut w, "plr", &ca);
    let grant = Grant {
        request_code: &rq,
        id: "u-1",
        seq: 1,
        licenses: &[],
    };
    let file = w.path("au.txt");
    std::fs::write(&file, format!("\n  {}\n", grant.code(&ca))).expect("code file");
    let out = cli_ok(
        &node,
        &format!("license smart reservation install file {}", file.display()),
    );
    assert_eq!(out, "Reservation installed: UNIVERSAL\n");
    status_has(&node, &[PLR_WORD, RESERVED]);
    for service in ["pgw", "saegw", "ggsn", "sgw", "mme", "epdg", "samog"] {
        assert_eq!(connect(&node, service, 25_000), (25_000, 0), "{service}");
    }
}

#[test]
fn requests_need_reservation_enabled_and_can_be_cancelled() {
    let mut w = World::new();
    let node = w.start_node("n");
    let (out, ok) = cli(&node, &["configure", "license smart reservation"]);
    assert!(!ok && out.contains("Failure: Smart Licensing is disabled"), "{out}");
    let (out, ok) = cli(
        &node,
        &[
            "configure",
            "license smart enable",
            "end",
            "license smart reservation request local",
        ],
    );
    assert!(
        !ok && out.contains("Failure: licence reservation is not enabled"),
        "{out}"
    );
    let (out, ok) = cli(&node, &["license smart reservation cancel"]);
    assert!(
        !ok && out.contains("Failure: no reservation request is pending"),
        "{out}"
    );
    let (out, ok) = cli(
        &node,
        &[
            "configure",
            "license smart reservation",
            "end",
            "license smart reservation request local",
        ],
    );
    assert!(ok && out.contains("RQ1."), "{out}");
    assert_eq!(
        cli_ok(&node, "license smart reservation cancel"),
        "Reservation request cancelled\n"
    );
    assert!(cli_ok(&node, "show license reservation").contains("Reservation status: NOT INSTALLED"));
}

#[test]
fn an_slr_past_its_end_date_blocks_new_calls() {
    let mut w = World::new();
    let ca = ca(&w, "ca");
    let (node, rq) = requesting_node(&mut w, "n", &ca);
    let mut auth = Grant {
        request_code: &rq,
        id: "r-5",
        seq: 1,
        licenses: &[(PGW, 1)],
    }
    .auth();
    auth.expires_at = Some(T0 + 10 * DAY);
    install_ok(&node, &sign(&auth, &ca));
    assert_eq!(connect(&node, "pgw", 1), (1, 0));
    w.advance_days(11);
    status_has(&node, &[SLR_WORD, "Status: AUTHORIZATION EXPIRED"]);
    assert_eq!(connect(&node, "pgw", 1), (0, 1));
    wait_shows(&node, "show snmp trap history", "starSmartLicAuthorizationExpired", 10);
}
