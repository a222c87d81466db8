//! Signed envelopes. A device request is signed with the device's Ed25519 key and carries a nonce
//! and a timestamp; a manager response is signed with the manager's signing key, names the nonce
//! of the request it answers, and carries the signing certificate so that the agent can check it
//! against its trust pool (see [`crate::trust`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Domain separation for request signatures; the message kind follows (see [`Message`]).
const REQUEST_CONTEXT: &[u8] = b"smartlic/2 device-request ";
/// Domain separation for response signatures; the message kind follows.
const RESPONSE_CONTEXT: &[u8] = b"smartlic/2 manager-response ";

/// A message of the device protocol. Its kind (the endpoint's name) is bound into every
/// signature over it, so a body signed for one endpoint is refused at every other, whatever its
/// JSON happens to parse as there.
pub trait Message {
    /// `register`, `renew-id`, `authorize` or `deregister`.
    const KIND: &'static str;
}

impl<T: Message + ?Sized> Message for &T {
    const KIND: &'static str = T::KIND;
}

/// Largest envelope the manager or agent accepts, in bytes.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// Why an envelope was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Base64 or JSON inside the envelope is malformed.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// The signature does not verify with the expected key.
    #[error("signature does not verify")]
    BadSignature,
    /// The response answers another request.
    #[error("response answers another request (nonce mismatch)")]
    NonceMismatch,
}

/// What a device signs: a nonce, its clock, and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPayload<T> {
    /// Random, unique per request (base64 of 16 random bytes).
    pub nonce: String,
    /// The device's clock, epoch seconds.
    pub timestamp: i64,
    /// The message.
    pub body: T,
}

/// A signed device request as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    /// The product instance id; absent on registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Base64 of the JSON [`RequestPayload`].
    pub payload: String,
    /// Base64 Ed25519 signature over the context and the payload bytes.
    pub signature: String,
}

fn signed_bytes(context: &[u8], kind: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + kind.len() + 1 + payload.len());
    m.extend_from_slice(context);
    m.extend_from_slice(kind.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(payload);
    m
}

/// Checks `sig` over `message` with `key` by the strict rules (RFC 8032 with the cofactorless
/// equation, no small-order key or R, canonical s): a forgery that a lenient check would pass,
/// such as R = B, s = 1 under the identity key, is refused.
fn verify(key: &VerifyingKey, message: &[u8], sig: &Signature) -> Result<(), EnvelopeError> {
    if key.is_weak() {
        return Err(EnvelopeError::BadSignature);
    }
    key.verify_strict(message, sig).map_err(|_| EnvelopeError::BadSignature)
}

fn decode_sig(text: &str) -> Result<Signature, EnvelopeError> {
    let bytes = B64
        .decode(text)
        .map_err(|e| EnvelopeError::Malformed(format!("signature: {e}")))?;
    Signature::from_slice(&bytes).map_err(|_| EnvelopeError::Malformed("signature length".into()))
}

impl SignedRequest {
    /// Signs `body` with the device key.
    pub fn sign<T: Serialize + Message>(
        key: &SigningKey,
        instance_id: Option<String>,
        nonce: String,
        timestamp: i64,
        body: T,
    ) -> Result<SignedRequest, EnvelopeError> {
        let payload = serde_json::to_vec(&RequestPayload { nonce, timestamp, body })
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let sig = key.sign(&signed_bytes(REQUEST_CONTEXT, T::KIND, &payload));
        Ok(SignedRequest {
            instance_id,
            payload: B64.encode(&payload),
            signature: B64.encode(sig.to_bytes()),
        })
    }

    /// Decodes the payload without checking the signature (to find the key that must check it).
    pub fn peek<T: DeserializeOwned>(&self) -> Result<RequestPayload<T>, EnvelopeError> {
        let bytes = B64
            .decode(&self.payload)
            .map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))
    }

    /// Checks the signature with `key` (as a request of `T`'s kind) and decodes the payload.
    pub fn open<T: DeserializeOwned + Message>(&self, key: &VerifyingKey) -> Result<RequestPayload<T>, EnvelopeError> {
        let bytes = B64
            .decode(&self.payload)
            .map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))?;
        let sig = decode_sig(&self.signature)?;
        verify(key, &signed_bytes(REQUEST_CONTEXT, T::KIND, &bytes), &sig)?;
        serde_json::from_slice(&bytes).map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))
    }
}

/// What the manager signs: the nonce it answers, its clock, and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsePayload<T> {
    /// Nonce of the request this answers.
    pub request_nonce: String,
    /// The manager's clock, epoch seconds.
    pub timestamp: i64,
    /// The answer.
    pub body: T,
}

/// A signed manager response as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedResponse {
    /// Base64 of the JSON [`ResponsePayload`].
    pub payload: String,
    /// Base64 Ed25519 signature over the context and the payload bytes.
    pub signature: String,
    /// PEM of the manager's signing certificate (issued by the manager's root CA).
    pub signer_certificate: String,
}

impl SignedResponse {
    /// Signs `body` as the answer to the request with `request_nonce`.
    pub fn sign<T: Serialize + Message>(
        key: &SigningKey,
        signer_certificate: &str,
        request_nonce: String,
        timestamp: i64,
        body: T,
    ) -> Result<SignedResponse, EnvelopeError> {
        let payload = serde_json::to_vec(&ResponsePayload {
            request_nonce,
            timestamp,
            body,
        })
        .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let sig = key.sign(&signed_bytes(RESPONSE_CONTEXT, T::KIND, &payload));
        Ok(SignedResponse {
            payload: B64.encode(&payload),
            signature: B64.encode(sig.to_bytes()),
            signer_certificate: signer_certificate.to_string(),
        })
    }

    /// Checks the signature with the (already trusted) signer key, as an answer of `T`'s kind,
    /// and that it answers `nonce`.
    pub fn open<T: DeserializeOwned + Message>(
        &self,
        key: &VerifyingKey,
        nonce: &str,
    ) -> Result<ResponsePayload<T>, EnvelopeError> {
        let bytes = B64
            .decode(&self.payload)
            .map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))?;
        let sig = decode_sig(&self.signature)?;
        verify(key, &signed_bytes(RESPONSE_CONTEXT, T::KIND, &bytes), &sig)?;
        let p: ResponsePayload<T> =
            serde_json::from_slice(&bytes).map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))?;
        if p.request_nonce != nonce {
            return Err(EnvelopeError::NonceMismatch);
        }
        Ok(p)
    }
}

/// Encodes a public key for the wire (base64 of the raw 32 bytes).
pub fn encode_public_key(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Decodes a public key from the wire.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, EnvelopeError> {
    let bytes = B64
        .decode(text)
        .map_err(|e| EnvelopeError::Malformed(format!("public key: {e}")))?;
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| EnvelopeError::Malformed("public key must be 32 bytes".into()))?;
    let key = VerifyingKey::from_bytes(&arr)
        .map_err(|_| EnvelopeError::Malformed("public key is not a valid point".into()))?;
    if key.is_weak() {
        return Err(EnvelopeError::Malformed("public key is of small order".into()));
    }
    Ok(key)
}

/// DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410), for certificates.
pub fn ed25519_spki_der(key: &VerifyingKey) -> Vec<u8> {
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend_from_slice(key.as_bytes());
    der
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// A test message of kind `a`, and one of kind `b` with the same JSON shape.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct A(Vec<u32>);
    impl Message for A {
        const KIND: &'static str = "a";
    }
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct B(Vec<u32>);
    impl Message for B {
        const KIND: &'static str = "b";
    }
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct Text(String);
    impl Message for Text {
        const KIND: &'static str = "text";
    }

    #[test]
    fn request_round_trip_and_tamper() {
        let k = key(1);
        let r = SignedRequest::sign(&k, Some("i1".into()), "n1".into(), 42, A(vec![1u32, 2])).unwrap();
        let p: RequestPayload<A> = r.open(&k.verifying_key()).unwrap();
        assert_eq!(p.body, A(vec![1, 2]));
        assert_eq!(p.nonce, "n1");
        // Another key.
        assert_eq!(r.open::<A>(&key(2).verifying_key()), Err(EnvelopeError::BadSignature));
        // A changed payload.
        let mut t = r.clone();
        t.payload = B64.encode(br#"{"nonce":"n1","timestamp":42,"body":[1,3]}"#);
        assert_eq!(t.open::<A>(&k.verifying_key()), Err(EnvelopeError::BadSignature));
        // Garbage.
        let mut g = r.clone();
        g.signature = "%%%".into();
        assert!(matches!(
            g.open::<A>(&k.verifying_key()),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn a_request_signature_is_not_a_response_signature() {
        let k = key(3);
        let r = SignedRequest::sign(&k, None, "n".into(), 1, A(vec![5])).unwrap();
        let as_resp = SignedResponse {
            payload: r.payload,
            signature: r.signature,
            signer_certificate: String::new(),
        };
        assert_eq!(
            as_resp.open::<A>(&k.verifying_key(), "n").err(),
            Some(EnvelopeError::BadSignature)
        );
    }

    #[test]
    fn response_must_answer_our_nonce() {
        let k = key(4);
        let r = SignedResponse::sign(&k, "pem", "mine".into(), 7, Text("ok".into())).unwrap();
        assert_eq!(
            r.open::<Text>(&k.verifying_key(), "mine").unwrap().body,
            Text("ok".into())
        );
        assert_eq!(
            r.open::<Text>(&k.verifying_key(), "other").err(),
            Some(EnvelopeError::NonceMismatch)
        );
    }

    #[test]
    fn a_signature_is_bound_to_its_message_kind() {
        let k = key(6);
        let r = SignedRequest::sign(&k, Some("i".into()), "n".into(), 1, A(vec![1])).unwrap();
        assert_eq!(r.open::<B>(&k.verifying_key()).err(), Some(EnvelopeError::BadSignature));
        let s = SignedResponse::sign(&k, "pem", "n".into(), 1, A(vec![1])).unwrap();
        assert_eq!(
            s.open::<B>(&k.verifying_key(), "n").err(),
            Some(EnvelopeError::BadSignature)
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let k = key(7);
        let payload = br#"{"nonce":"n","timestamp":1,"body":[1],"extra":true}"#;
        let sig = k.sign(&signed_bytes(REQUEST_CONTEXT, A::KIND, payload));
        let r = SignedRequest {
            instance_id: None,
            payload: B64.encode(payload),
            signature: B64.encode(sig.to_bytes()),
        };
        assert!(matches!(
            r.open::<A>(&k.verifying_key()),
            Err(EnvelopeError::Malformed(_))
        ));
        let wire = r#"{"payload":"","signature":"","admin":true}"#;
        assert!(serde_json::from_str::<SignedRequest>(wire).is_err());
    }

    /// The classic forgery a lenient verifier accepts: the identity point as public key and the
    /// signature (R = B, s = 1), valid for every message under the cofactored equation.
    #[test]
    fn small_order_keys_and_constant_signatures_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1; // compressed Edwards identity (0, 1)
        assert!(matches!(
            decode_public_key(&B64.encode(identity)),
            Err(EnvelopeError::Malformed(_))
        ));
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        let basepoint = curve25519_dalek_basepoint();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&basepoint);
        sig[32] = 1;
        let r = SignedRequest {
            instance_id: Some("i".into()),
            payload: B64.encode(br#"{"nonce":"n","timestamp":1,"body":[1]}"#),
            signature: B64.encode(sig),
        };
        assert_eq!(r.open::<A>(&weak).err(), Some(EnvelopeError::BadSignature));
    }

    /// The compressed Ed25519 base point B.
    fn curve25519_dalek_basepoint() -> [u8; 32] {
        let mut b = [0x66u8; 32];
        b[0] = 0x58;
        b
    }

    #[test]
    fn public_key_round_trip() {
        let vk = key(5).verifying_key();
        assert_eq!(decode_public_key(&encode_public_key(&vk)).unwrap(), vk);
        assert!(decode_public_key("AAAA").is_err());
        assert_eq!(ed25519_spki_der(&vk).len(), 44);
    }

    proptest! {
        #[test]
        fn any_flipped_bit_is_refused(byte in 0usize..64, bit in 0u8..8) {
            let k = key(9);
            let r = SignedRequest::sign(&k, None, "n".into(), 1, Text("body".into())).unwrap();
            let mut raw = B64.decode(&r.payload).unwrap();
            let i = byte % raw.len();
            raw[i] ^= 1 << bit;
            let t = SignedRequest { payload: B64.encode(&raw), ..r };
            prop_assert!(t.open::<Text>(&k.verifying_key()).is_err());
        }

        #[test]
        fn peek_never_panics(s in ".{0,200}") {
            let r = SignedRequest { instance_id: None, payload: s.clone(), signature: s };
            let _ = r.peek::<serde_json::Value>();
        }
    }
}
