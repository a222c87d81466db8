//! The satellite exchange (docs/satellite.md): what a satellite manager and its parent send each
//! other, by file or over HTTPS, as pure functions.
//!
//! - **Token** (`ST1.<body>.<check>`): made by the parent at `satellite create`; names the
//!   satellite, carries a one-time secret and pins the parent's CA (SHA-256 of its DER), so that
//!   even the first answer, carried by hand, is checked.
//! - **Request** (satellite → parent): a JSON file `{"format": "smartlic-satellite/1", "kind":
//!   "request", "body", "signature"}`; the body ([`SatelliteRequest`]) is signed by the
//!   satellite's identity key, which it names; until the parent knows that key, the body also
//!   carries `proof`, an HMAC of the key and sequence number under the token's secret.
//! - **Answer** (parent → satellite): the same shape with `kind: "answer"`, signed by the
//!   parent's response-signing key, whose certificate and CA travel with it; the body ([`SatelliteAnswer`]) names the satellite and the sequence
//!   number of the request it answers.
//!
//! Each signature covers `"smartlic/2 satellite-<kind>\n" || body`, so a request never passes for
//! an answer. Whether a sequence number is new, and what to do with the figures, is the
//! managers' to decide.

use crate::reservation::{check_of, node_key};
use crate::trust::{TrustError, verify_signer};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The `format` of every exchange file.
pub const FORMAT: &str = "smartlic-satellite/1";

/// Largest exchange file accepted (a satellite of 100,000 instances stays well below).
pub const MAX_FILE_LEN: usize = 64 * 1024 * 1024;

/// Why a token, request or answer is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SatelliteError {
    /// Not a satellite token, or damaged.
    #[error("not a satellite token ({0})")]
    Token(String),
    /// Not an exchange file of the expected kind.
    #[error("not a satellite {expected} file ({why})")]
    Malformed {
        /// `request` or `answer`.
        expected: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The signature does not verify: altered, or signed by someone else.
    #[error("the {0}'s signature does not verify (altered, or not made by whom it names)")]
    BadSignature(&'static str),
    /// The answer's CA is not the parent's the token pinned.
    #[error("the answer is signed under another CA than this satellite's parent")]
    ForeignParent,
    /// The answer's signing certificate does not chain to its CA.
    #[error("the answer's signing certificate is not trusted: {0}")]
    Untrusted(TrustError),
    /// The first request's proof of the token does not match.
    #[error("the request does not prove the satellite's token")]
    BadProof,
}

/// What `satellite create` hands to the satellite's operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteToken {
    /// The satellite's id on the parent.
    pub satellite: String,
    /// The one-time secret (base64url, 32 random bytes).
    pub secret: String,
    /// SHA-256 (hex) of the parent CA's DER.
    pub parent_ca: String,
}

impl SatelliteToken {
    /// The token's text: `ST1.<base64url JSON>.<check>`.
    pub fn encode(&self) -> String {
        // Serializing this plain struct cannot fail.
        let body = B64.encode(serde_json::to_vec(self).unwrap_or_default());
        let text = format!("ST1.{body}");
        let check = check_of(&text);
        format!("{text}.{check}")
    }

    /// Parses a token's text (white space around it ignored).
    pub fn decode(text: &str) -> Result<SatelliteToken, SatelliteError> {
        let bad = |why: &str| SatelliteError::Token(why.to_string());
        let text = text.trim();
        if text.len() > 4096 {
            return Err(bad("too long"));
        }
        let (signed, check) = text.rsplit_once('.').ok_or_else(|| bad("no check characters"))?;
        let body = signed
            .strip_prefix("ST1.")
            .ok_or_else(|| bad("it does not start with ST1."))?;
        if check_of(signed) != check {
            return Err(bad("damaged or mistyped: its check characters do not match"));
        }
        let json = B64.decode(body).map_err(|_| bad("not base64url"))?;
        serde_json::from_slice(&json).map_err(|e| bad(&e.to_string()))
    }
}

/// A product instance of the satellite, as the parent shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteInstance {
    /// `PID:…,SN:…`.
    pub udi: String,
    /// Hostname.
    pub hostname: String,
    /// Last authorization status on the satellite.
    pub status: String,
    /// Last contact with the satellite (epoch seconds).
    pub last_contact: i64,
    /// Licences in use per SKU.
    pub usage: BTreeMap<String, i64>,
}

/// An entry of the satellite's event log sent up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteEvent {
    /// The satellite's event id (increasing).
    pub id: i64,
    /// When.
    pub at: i64,
    /// What (`device.register`, …).
    pub action: String,
    /// Detail.
    pub detail: String,
}

/// The satellite's side of one exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteRequest {
    /// The satellite's id (from its token).
    pub satellite: String,
    /// One more than the last request's; an answer must name it.
    pub seq: u64,
    /// The satellite's identity key (base64url of the 32 bytes).
    pub key: String,
    /// Until the parent knows the key: [`SatelliteRequest::proof_for`] under the token's secret.
    #[serde(default)]
    pub proof: Option<String>,
    /// When it was made (the satellite's clock).
    pub created_at: i64,
    /// Every product instance of the satellite's VA (the parent replaces what it held).
    pub instances: Vec<SatelliteInstance>,
    /// Events since those the parent acknowledged.
    pub events: Vec<SatelliteEvent>,
}

/// The parent's side of one exchange: the VA's licences as the parent holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteAnswer {
    /// The satellite it is for.
    pub satellite: String,
    /// The request it answers.
    pub seq: u64,
    /// The parent's Smart Account name (the satellite's account is named so).
    pub account: String,
    /// The parent's VA name (the satellite's VA is named so).
    pub va: String,
    /// The parent VA's purchased licences, lot by lot.
    pub lots: Vec<AnswerLot>,
    /// Licences in use in the parent VA outside this satellite, per SKU (so both sides decide
    /// compliance on the merged figures).
    pub in_use_elsewhere: BTreeMap<String, i64>,
    /// The last satellite event id the parent stored.
    pub events_acknowledged: i64,
    /// When it was made (the parent's clock).
    pub issued_at: i64,
}

/// One lot of purchased licences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerLot {
    /// SKU.
    pub sku: String,
    /// How many.
    pub quantity: i64,
    /// End date (epoch seconds), `None` for perpetual.
    pub end_date: Option<i64>,
}

/// An exchange file as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeFile {
    format: String,
    kind: String,
    body: String,
    signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca: Option<String>,
}

impl SatelliteRequest {
    /// The proof of the token's `secret` for `key` and `seq`: HMAC-SHA256, base64url.
    pub fn proof_for(secret: &str, satellite: &str, key: &str, seq: u64) -> String {
        B64.encode(proof_mac(secret, satellite, key, seq).finalize().into_bytes())
    }

    /// Whether `self.proof` proves `secret` (constant time).
    pub fn proves(&self, secret: &str) -> Result<(), SatelliteError> {
        let given = self
            .proof
            .as_deref()
            .and_then(|p| B64.decode(p).ok())
            .ok_or(SatelliteError::BadProof)?;
        proof_mac(secret, &self.satellite, &self.key, self.seq)
            .verify_slice(&given)
            .map_err(|_| SatelliteError::BadProof)
    }

    /// The request file, signed with the satellite's identity key (whose public half must be
    /// `self.key`).
    pub fn encode(&self, key: &SigningKey) -> String {
        encode_file("request", self, key, None, None)
    }

    /// Parses a request file and checks it is signed by the key it names.
    pub fn decode(text: &str) -> Result<SatelliteRequest, SatelliteError> {
        let kind = "request";
        let file = parse_file(kind, text)?;
        let body = B64
            .decode(&file.body)
            .map_err(|_| malformed(kind, "body is not base64url"))?;
        let request: SatelliteRequest =
            serde_json::from_slice(&body).map_err(|_| SatelliteError::BadSignature(kind))?;
        let vk = node_key(&request.key).ok_or(SatelliteError::BadSignature(kind))?;
        check_signature(kind, &vk, &body, &file.signature)?;
        Ok(request)
    }

    /// The satellite's identity key.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        node_key(&self.key)
    }
}

impl SatelliteAnswer {
    /// The answer file, signed with the parent's response-signing key; `signer_pem` is its
    /// certificate and `ca_pem` the parent's CA.
    pub fn encode(&self, key: &SigningKey, signer_pem: &str, ca_pem: &str) -> String {
        encode_file("answer", self, key, Some(signer_pem), Some(ca_pem))
    }

    /// Parses an answer file and checks it: its CA is the one the token pinned
    /// (`parent_ca`, SHA-256 hex of the DER), its signing certificate chains to that CA and
    /// was valid when the answer was issued, and the signature verifies. Whether it is for this
    /// satellite and its latest request is the caller's to check.
    pub fn decode(text: &str, parent_ca: &str) -> Result<SatelliteAnswer, SatelliteError> {
        let kind = "answer";
        let file = parse_file(kind, text)?;
        let ca_pem = file.ca.as_deref().ok_or_else(|| malformed(kind, "no CA certificate"))?;
        let signer_pem = file
            .signer
            .as_deref()
            .ok_or_else(|| malformed(kind, "no signing certificate"))?;
        let anchors = crate::trust::pem_certificates(ca_pem).map_err(SatelliteError::Untrusted)?;
        let ca = anchors.first().ok_or_else(|| malformed(kind, "no CA certificate"))?;
        if ca_fingerprint(ca) != parent_ca.to_ascii_lowercase() {
            return Err(SatelliteError::ForeignParent);
        }
        let body = B64
            .decode(&file.body)
            .map_err(|_| malformed(kind, "body is not base64url"))?;
        let answer: SatelliteAnswer = serde_json::from_slice(&body).map_err(|_| SatelliteError::BadSignature(kind))?;
        let vk = verify_signer(signer_pem, &anchors, answer.issued_at).map_err(SatelliteError::Untrusted)?;
        check_signature(kind, &vk, &body, &file.signature)?;
        Ok(answer)
    }
}

/// SHA-256 (hex) of a CA certificate's DER: what a token pins.
pub fn ca_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

fn proof_mac(secret: &str, satellite: &str, key: &str, seq: u64) -> Hmac<Sha256> {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes a key of any length"),
    };
    mac.update(format!("smartlic/2 satellite-proof\n{satellite}\n{key}\n{seq}").as_bytes());
    mac
}

fn context(kind: &str) -> Vec<u8> {
    format!("smartlic/2 satellite-{kind}\n").into_bytes()
}

fn encode_file<T: Serialize>(
    kind: &str,
    value: &T,
    key: &SigningKey,
    signer: Option<&str>,
    ca: Option<&str>,
) -> String {
    // Serializing these plain structs cannot fail (string keys, no floats).
    let body = serde_json::to_vec(value).unwrap_or_default();
    let signature = key.sign(&[context(kind), body.clone()].concat());
    let file = ExchangeFile {
        format: FORMAT.to_string(),
        kind: kind.to_string(),
        body: B64.encode(&body),
        signature: B64.encode(signature.to_bytes()),
        signer: signer.map(str::to_string),
        ca: ca.map(str::to_string),
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

fn malformed(expected: &'static str, why: &str) -> SatelliteError {
    SatelliteError::Malformed {
        expected,
        why: why.to_string(),
    }
}

fn parse_file(kind: &'static str, text: &str) -> Result<ExchangeFile, SatelliteError> {
    if text.len() > MAX_FILE_LEN {
        return Err(malformed(kind, "too large"));
    }
    let file: ExchangeFile = serde_json::from_str(text).map_err(|e| malformed(kind, &e.to_string()))?;
    if file.format != FORMAT {
        return Err(malformed(
            kind,
            &format!("format {:?}, expected {FORMAT:?}", file.format),
        ));
    }
    if file.kind != kind {
        return Err(malformed(kind, &format!("it is a satellite {} file", file.kind)));
    }
    Ok(file)
}

fn check_signature(kind: &'static str, vk: &VerifyingKey, body: &[u8], sig_b64: &str) -> Result<(), SatelliteError> {
    let sig = B64
        .decode(sig_b64)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(SatelliteError::BadSignature(kind))?;
    vk.verify_strict(&[context(kind), body.to_vec()].concat(), &sig)
        .map_err(|_| SatelliteError::BadSignature(kind))
}

#[cfg(test)]
mod tests;
