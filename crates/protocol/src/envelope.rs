//! Signed envelopes. A device request is signed with the device's Ed25519 key and carries a nonce
//! and a timestamp; a manager response is signed with the manager's signing key, names the nonce
//! of the request it answers, and carries the signing certificate so that the agent can check it
//! against its trust pool (see [`crate::trust`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Domain separation for request signatures.
const REQUEST_CONTEXT: &[u8] = b"smartlic/1 device-request\n";
/// Domain separation for response signatures.
const RESPONSE_CONTEXT: &[u8] = b"smartlic/1 manager-response\n";

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
pub struct SignedRequest {
    /// The product instance id; absent on registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Base64 of the JSON [`RequestPayload`].
    pub payload: String,
    /// Base64 Ed25519 signature over the context and the payload bytes.
    pub signature: String,
}

fn signed_bytes(context: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + payload.len());
    m.extend_from_slice(context);
    m.extend_from_slice(payload);
    m
}

fn decode_sig(text: &str) -> Result<Signature, EnvelopeError> {
    let bytes = B64
        .decode(text)
        .map_err(|e| EnvelopeError::Malformed(format!("signature: {e}")))?;
    Signature::from_slice(&bytes).map_err(|_| EnvelopeError::Malformed("signature length".into()))
}

impl SignedRequest {
    /// Signs `body` with the device key.
    pub fn sign<T: Serialize>(
        key: &SigningKey,
        instance_id: Option<String>,
        nonce: String,
        timestamp: i64,
        body: T,
    ) -> Result<SignedRequest, EnvelopeError> {
        let payload = serde_json::to_vec(&RequestPayload { nonce, timestamp, body })
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let sig = key.sign(&signed_bytes(REQUEST_CONTEXT, &payload));
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

    /// Checks the signature with `key` and decodes the payload.
    pub fn open<T: DeserializeOwned>(&self, key: &VerifyingKey) -> Result<RequestPayload<T>, EnvelopeError> {
        let bytes = B64
            .decode(&self.payload)
            .map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))?;
        let sig = decode_sig(&self.signature)?;
        key.verify(&signed_bytes(REQUEST_CONTEXT, &bytes), &sig)
            .map_err(|_| EnvelopeError::BadSignature)?;
        serde_json::from_slice(&bytes).map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))
    }
}

/// What the manager signs: the nonce it answers, its clock, and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn sign<T: Serialize>(
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
        let sig = key.sign(&signed_bytes(RESPONSE_CONTEXT, &payload));
        Ok(SignedResponse {
            payload: B64.encode(&payload),
            signature: B64.encode(sig.to_bytes()),
            signer_certificate: signer_certificate.to_string(),
        })
    }

    /// Checks the signature with the (already trusted) signer key and that it answers `nonce`.
    pub fn open<T: DeserializeOwned>(
        &self,
        key: &VerifyingKey,
        nonce: &str,
    ) -> Result<ResponsePayload<T>, EnvelopeError> {
        let bytes = B64
            .decode(&self.payload)
            .map_err(|e| EnvelopeError::Malformed(format!("payload: {e}")))?;
        let sig = decode_sig(&self.signature)?;
        key.verify(&signed_bytes(RESPONSE_CONTEXT, &bytes), &sig)
            .map_err(|_| EnvelopeError::BadSignature)?;
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
    VerifyingKey::from_bytes(&arr).map_err(|_| EnvelopeError::Malformed("public key is not a valid point".into()))
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

    #[test]
    fn request_round_trip_and_tamper() {
        let k = key(1);
        let r = SignedRequest::sign(&k, Some("i1".into()), "n1".into(), 42, vec![1u32, 2]).unwrap();
        let p: RequestPayload<Vec<u32>> = r.open(&k.verifying_key()).unwrap();
        assert_eq!(p.body, vec![1, 2]);
        assert_eq!(p.nonce, "n1");
        // Another key.
        assert_eq!(
            r.open::<Vec<u32>>(&key(2).verifying_key()),
            Err(EnvelopeError::BadSignature)
        );
        // A changed payload.
        let mut t = r.clone();
        t.payload = B64.encode(br#"{"nonce":"n1","timestamp":42,"body":[1,3]}"#);
        assert_eq!(t.open::<Vec<u32>>(&k.verifying_key()), Err(EnvelopeError::BadSignature));
        // Garbage.
        let mut g = r.clone();
        g.signature = "%%%".into();
        assert!(matches!(
            g.open::<Vec<u32>>(&k.verifying_key()),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn a_request_signature_is_not_a_response_signature() {
        let k = key(3);
        let r = SignedRequest::sign(&k, None, "n".into(), 1, 5u8).unwrap();
        let as_resp = SignedResponse {
            payload: r.payload,
            signature: r.signature,
            signer_certificate: String::new(),
        };
        assert_eq!(
            as_resp.open::<u8>(&k.verifying_key(), "n").err(),
            Some(EnvelopeError::BadSignature)
        );
    }

    #[test]
    fn response_must_answer_our_nonce() {
        let k = key(4);
        let r = SignedResponse::sign(&k, "pem", "mine".into(), 7, "ok").unwrap();
        assert_eq!(r.open::<String>(&k.verifying_key(), "mine").unwrap().body, "ok");
        assert_eq!(
            r.open::<String>(&k.verifying_key(), "other").err(),
            Some(EnvelopeError::NonceMismatch)
        );
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
            let r = SignedRequest::sign(&k, None, "n".into(), 1, "body").unwrap();
            let mut raw = B64.decode(&r.payload).unwrap();
            let i = byte % raw.len();
            raw[i] ^= 1 << bit;
            let t = SignedRequest { payload: B64.encode(&raw), ..r };
            prop_assert!(t.open::<String>(&k.verifying_key()).is_err());
        }

        #[test]
        fn peek_never_panics(s in ".{0,200}") {
            let r = SignedRequest { instance_id: None, payload: s.clone(), signature: s };
            let _ = r.peek::<serde_json::Value>();
        }
    }
}
