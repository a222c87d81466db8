use super::*;
use crate::testutil::{TestManager, manager};

/// A parent manager and the pin of its CA.
struct Parent {
    ca_pem: String,
    pin: String,
    key: SigningKey,
    signer_pem: String,
}

fn parent(name: &str) -> Parent {
    let TestManager {
        ca_pem,
        anchors,
        key,
        signer_pem,
    } = manager(name);
    Parent {
        pin: ca_fingerprint(&anchors[0]),
        ca_pem,
        key,
        signer_pem,
    }
}

fn token(parent: &Parent) -> SatelliteToken {
    SatelliteToken {
        satellite: "sat-1".into(),
        secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQ".into(),
        parent_ca: parent.pin.clone(),
    }
}

fn request(key: &SigningKey, token: &SatelliteToken, seq: u64) -> SatelliteRequest {
    let k = B64.encode(key.verifying_key().as_bytes());
    SatelliteRequest {
        satellite: token.satellite.clone(),
        seq,
        proof: Some(SatelliteRequest::proof_for(&token.secret, &token.satellite, &k, seq)),
        key: k,
        created_at: 1_800_000_000,
        instances: vec![SatelliteInstance {
            udi: "PID:ASR5500,SN:FOX1".into(),
            hostname: "pgw1".into(),
            status: "AUTHORIZED".into(),
            last_contact: 1_799_999_000,
            usage: BTreeMap::from([("ASR5K-00-PW10GTWY".to_string(), 2)]),
        }],
        events: vec![SatelliteEvent {
            id: 7,
            at: 1_799_999_000,
            action: "device.register".into(),
            detail: "pgw1".into(),
        }],
    }
}

fn answer(seq: u64) -> SatelliteAnswer {
    SatelliteAnswer {
        satellite: "sat-1".into(),
        seq,
        account: "Acme".into(),
        va: "Isolated".into(),
        lots: vec![AnswerLot {
            sku: "ASR5K-00-PW10GTWY".into(),
            quantity: 5,
            end_date: None,
        }],
        in_use_elsewhere: BTreeMap::from([("ASR5K-00-PW10GTWY".to_string(), 1)]),
        events_acknowledged: 7,
        issued_at: 1_800_000_100,
    }
}

#[test]
fn tokens_round_trip_and_tell_a_typo() {
    let p = parent("parent");
    let t = token(&p);
    let text = t.encode();
    assert!(text.starts_with("ST1.") && !text.contains(char::is_whitespace));
    assert_eq!(SatelliteToken::decode(&format!("  {text}\n")).unwrap(), t);
    let mut typo = text.clone().into_bytes();
    typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
    let e = SatelliteToken::decode(&String::from_utf8(typo).unwrap()).unwrap_err();
    assert!(e.to_string().contains("mistyped"), "{e}");
    assert!(SatelliteToken::decode("RQ1.abc.def").is_err());
}

#[test]
fn requests_are_signed_by_the_key_they_name_and_prove_the_token() {
    let p = parent("parent");
    let t = token(&p);
    let key = SigningKey::from_bytes(&[9; 32]);
    let r = request(&key, &t, 1);
    let file = r.encode(&key);
    let got = SatelliteRequest::decode(&file).unwrap();
    assert_eq!(got, r);
    assert_eq!(got.proves(&t.secret), Ok(()));
    assert_eq!(got.proves("another secret"), Err(SatelliteError::BadProof));

    // Someone who saw the request cannot bind their own key with its proof.
    let thief = SigningKey::from_bytes(&[3; 32]);
    let mut stolen = r.clone();
    stolen.key = B64.encode(thief.verifying_key().as_bytes());
    let stolen = SatelliteRequest::decode(&stolen.encode(&thief)).unwrap();
    assert_eq!(stolen.proves(&t.secret), Err(SatelliteError::BadProof));

    // Altered in transit: refused.
    let altered = file.replace(&B64.encode(serde_json::to_vec(&r).unwrap()), &{
        let mut more = r.clone();
        more.instances.clear();
        B64.encode(serde_json::to_vec(&more).unwrap())
    });
    assert_ne!(altered, file);
    assert_eq!(
        SatelliteRequest::decode(&altered),
        Err(SatelliteError::BadSignature("request"))
    );
}

#[test]
fn answers_are_checked_against_the_pinned_parent() {
    let p = parent("parent");
    let file = answer(4).encode(&p.key, &p.signer_pem, &p.ca_pem);
    assert_eq!(SatelliteAnswer::decode(&file, &p.pin).unwrap(), answer(4));
    assert_eq!(SatelliteAnswer::decode(&file, &p.pin.to_uppercase()).unwrap().seq, 4);

    // Another manager's answer, however well signed, is not this parent's.
    let other = parent("other");
    let foreign = answer(4).encode(&other.key, &other.signer_pem, &other.ca_pem);
    assert_eq!(
        SatelliteAnswer::decode(&foreign, &p.pin),
        Err(SatelliteError::ForeignParent)
    );
    // Another manager's signer presented with this parent's CA: not trusted.
    let mixed = answer(4).encode(&other.key, &other.signer_pem, &p.ca_pem);
    assert!(matches!(
        SatelliteAnswer::decode(&mixed, &p.pin),
        Err(SatelliteError::Untrusted(_))
    ));
    // The right signer's certificate but another key: the signature fails.
    let forged = answer(4).encode(&other.key, &p.signer_pem, &p.ca_pem);
    assert_eq!(
        SatelliteAnswer::decode(&forged, &p.pin),
        Err(SatelliteError::BadSignature("answer"))
    );
    // A request is no answer.
    let key = SigningKey::from_bytes(&[9; 32]);
    let req = request(&key, &token(&p), 1).encode(&key);
    assert!(matches!(
        SatelliteAnswer::decode(&req, &p.pin),
        Err(SatelliteError::Malformed { .. })
    ));
    assert!(matches!(
        SatelliteAnswer::decode("{not json", &p.pin),
        Err(SatelliteError::Malformed { .. })
    ));
}

proptest::proptest! {
    /// Any text is refused with a reason, never a panic: as a token, a request or an answer.
    #[test]
    fn any_text_is_refused_without_panic(text in "\\PC{0,300}", body in "[A-Za-z0-9_-]{0,80}") {
        let shaped = format!(
            "{{\"format\":\"{FORMAT}\",\"kind\":\"answer\",\"body\":\"{body}\",\"signature\":\"{body}\",\"signer\":\"{text}\",\"ca\":\"{text}\"}}"
        );
        for candidate in [text.clone(), format!("ST1.{body}.{body}"), shaped] {
            proptest::prop_assert!(SatelliteToken::decode(&candidate).is_err());
            proptest::prop_assert!(SatelliteRequest::decode(&candidate).is_err());
            proptest::prop_assert!(SatelliteAnswer::decode(&candidate, "00").is_err());
        }
    }
}
