use super::*;
use crate::testutil::manager;
use proptest::prelude::*;

fn node_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn request(key: &SigningKey) -> ReservationRequest {
    ReservationRequest {
        udi: "PID:ASR5500,SN:FOX1001".into(),
        ha_udis: vec![],
        key: B64.encode(key.verifying_key().as_bytes()),
        nonce: "n1".into(),
        created_at: 1_800_000_000,
    }
}

fn authorization(request_code: &str) -> ReservationAuthorization {
    ReservationAuthorization {
        id: "r-1".into(),
        seq: 1,
        request: request_id(request_code),
        udi: "PID:ASR5500,SN:FOX1001".into(),
        kind: ReservationKind::Specific,
        licenses: BTreeMap::from([("ASR5K-00-PW10GTWY".to_string(), 2)]),
        expires_at: Some(1_900_000_000),
        issued_at: 1_800_000_100,
        account: "Acme".into(),
        va: "DEFAULT".into(),
    }
}

/// Replaces the character at `i` by another base64url character.
fn mistype(code: &str, i: usize) -> String {
    let mut bytes = code.as_bytes().to_vec();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Replaces the JSON body of a code by `body` and makes its check characters again: what a
/// forger who knows the format does.
fn forge_body(code: &str, body: &[u8]) -> String {
    let (signed_text, _) = code.rsplit_once('.').unwrap();
    let mut parts: Vec<String> = signed_text.split('.').map(str::to_string).collect();
    parts[1] = B64.encode(body);
    let text = parts.join(".");
    let check = check_of(&text);
    format!("{text}.{check}")
}

#[test]
fn a_request_round_trips_and_names_its_key() {
    let key = node_key(7);
    let code = request(&key).encode(&key);
    assert!(code.starts_with("RQ1."));
    assert!(!code.contains(char::is_whitespace), "one line, no spaces");
    let back = ReservationRequest::decode(&format!("  {code}\n")).unwrap();
    assert_eq!(back, request(&key));
    assert_eq!(back.verifying_key(), Some(key.verifying_key()));
    assert_eq!(kind_of(&code), Some(CodeKind::Request));
}

#[test]
fn a_request_signed_by_another_key_than_it_names_is_refused() {
    let code = request(&node_key(7)).encode(&node_key(8));
    assert_eq!(
        ReservationRequest::decode(&code),
        Err(CodeError::BadSignature(CodeKind::Request))
    );
}

#[test]
fn an_authorization_round_trips_against_the_trust_pool() {
    let m = manager("root");
    let req = request(&node_key(7)).encode(&node_key(7));
    let code = authorization(&req).encode(&m.key, &m.signer_pem).unwrap();
    let back = ReservationAuthorization::decode(&code, &m.anchors).unwrap();
    assert_eq!(back, authorization(&req));
    assert_eq!(back.request, request_id(&req));
    assert!(!back.expired(1_899_999_999));
    assert!(back.expired(1_900_000_000));
}

#[test]
fn an_authorization_of_another_manager_is_untrusted() {
    let m = manager("root");
    let other = manager("other");
    let code = authorization("RQ1.x").encode(&other.key, &other.signer_pem).unwrap();
    assert!(matches!(
        ReservationAuthorization::decode(&code, &m.anchors),
        Err(CodeError::Untrusted(_))
    ));
}

#[test]
fn a_typo_is_told_apart_from_a_forgery() {
    let m = manager("root");
    let code = authorization("RQ1.x").encode(&m.key, &m.signer_pem).unwrap();
    // Any single mistyped character in the body is caught by the check.
    for i in [5, code.len() / 2, code.len() - 9] {
        assert_eq!(
            ReservationAuthorization::decode(&mistype(&code, i), &m.anchors),
            Err(CodeError::Mistyped(CodeKind::Authorization)),
            "typo at {i}"
        );
    }
    // A lost character too.
    let short = format!("{}{}", &code[..20], &code[21..]);
    assert_eq!(
        ReservationAuthorization::decode(&short, &m.anchors),
        Err(CodeError::Mistyped(CodeKind::Authorization))
    );
    // More licences written in, check made again: the signature fails.
    let mut more = authorization("RQ1.x");
    more.licenses.insert("ASR5K-00-PW10GTWY".into(), 200);
    let forged = forge_body(&code, &serde_json::to_vec(&more).unwrap());
    assert_eq!(
        ReservationAuthorization::decode(&forged, &m.anchors),
        Err(CodeError::BadSignature(CodeKind::Authorization))
    );
}

#[test]
fn one_kind_of_code_never_passes_for_another() {
    let key = node_key(7);
    let proof = NodeProof {
        id: "r-1".into(),
        seq: 1,
        udi: "PID:ASR5500,SN:FOX1001".into(),
        at: 1_800_000_200,
    };
    let ret = proof.encode(CodeKind::Return, &key);
    assert!(ret.starts_with("RT1."));
    assert_eq!(
        NodeProof::decode(CodeKind::Return, &ret, &key.verifying_key()),
        Ok(proof.clone())
    );
    assert_eq!(
        NodeProof::decode(CodeKind::Confirmation, &ret, &key.verifying_key()),
        Err(CodeError::WrongKind {
            expected: CodeKind::Confirmation,
            found: CodeKind::Return
        })
    );
    // Relabelled as a confirmation (prefix changed, check made again): the signature's context
    // differs, so it fails.
    let (signed_text, _) = ret.rsplit_once('.').unwrap();
    let relabelled = signed_text.replacen("RT1", "CF1", 1);
    let relabelled = format!("{relabelled}.{}", check_of(&relabelled));
    assert_eq!(
        NodeProof::decode(CodeKind::Confirmation, &relabelled, &key.verifying_key()),
        Err(CodeError::BadSignature(CodeKind::Confirmation))
    );
}

#[test]
fn a_return_code_of_another_node_is_refused() {
    let proof = NodeProof {
        id: "r-1".into(),
        seq: 1,
        udi: "PID:ASR5500,SN:FOX1001".into(),
        at: 1,
    };
    let ret = proof.encode(CodeKind::Return, &node_key(9));
    assert_eq!(
        NodeProof::decode(CodeKind::Return, &ret, &node_key(7).verifying_key()),
        Err(CodeError::BadSignature(CodeKind::Return))
    );
}

#[test]
fn errors_read_as_one_clear_line() {
    let e = ReservationRequest::decode("hello").unwrap_err();
    assert_eq!(
        e.to_string(),
        "not a reservation request code (it does not start with RQ1.)"
    );
    let e = CodeError::Mistyped(CodeKind::Authorization);
    assert_eq!(
        e.to_string(),
        "the authorization code is damaged or mistyped (its check characters do not match); copy it again"
    );
}

proptest! {
    /// Any text is refused with a reason, never a panic, whatever kind is expected.
    #[test]
    fn any_text_is_refused_without_panic(text in "\\PC{0,300}", parts in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 0..5)) {
        let vk = node_key(1).verifying_key();
        for kind in CodeKind::ALL {
            for candidate in [text.clone(), format!("{}.{}", kind.prefix(), parts.join("."))] {
                let refused = match kind {
                    CodeKind::Request => ReservationRequest::decode(&candidate).is_err(),
                    CodeKind::Authorization => ReservationAuthorization::decode(&candidate, &[]).is_err(),
                    _ => NodeProof::decode(kind, &candidate, &vk).is_err(),
                };
                prop_assert!(refused);
            }
        }
    }
}
