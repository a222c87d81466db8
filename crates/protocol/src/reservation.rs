//! Licence reservation codes (SLR: specific licences, PLR: the universal licence), for nodes that
//! never reach a license manager. Four codes travel by hand between a node and a manager:
//!
//! | code | prefix | made by | signed by |
//! |---|---|---|---|
//! | request | `RQ1` | node | the node's reservation key (proof it holds the key named inside) |
//! | authorization | `AU1` | manager | the manager's signing key under its CA (checked against the node's trust pool) |
//! | return | `RT1` | node | the node's reservation key |
//! | confirmation | `CF1` | node | the node's reservation key |
//!
//! Text of a code: one line, `PREFIX.<part>.<part>….<check>`, each part base64url without
//! padding (the JSON body, the Ed25519 signature, for an authorization also the DER of the
//! signing certificate), and `<check>` the first 4 bytes of SHA-256 over everything before it.
//! A mistyped code fails the check ("damaged or mistyped"), an altered one whose check was made
//! again fails the signature ("altered or forged"): the two are told apart. Each signature covers
//! `"smartlic/2 reservation-<kind>\n" || body`, so one kind of code never passes for another.
//!
//! An authorization names the request it answers by [`request_id`] (a digest of the request
//! code's text), carries a sequence number (an updated reservation gets a higher one) and the
//! UDIs it is for; return and confirmation codes name the reservation and sequence number they
//! prove something about, and the manager checks them with the key of the original request.

use crate::trust::{TrustError, pem_certificates, verify_signer};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Longest code text accepted.
pub const MAX_CODE_LEN: usize = 16 * 1024;

/// The four kinds of code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// A node's request (`RQ1`).
    Request,
    /// A manager's authorization (`AU1`).
    Authorization,
    /// A node's proof that it dropped an authorization (`RT1`).
    Return,
    /// A node's proof that it installed an (updated) authorization (`CF1`).
    Confirmation,
}

impl CodeKind {
    const ALL: [CodeKind; 4] = [
        CodeKind::Request,
        CodeKind::Authorization,
        CodeKind::Return,
        CodeKind::Confirmation,
    ];

    /// Prefix of the code's text.
    pub fn prefix(self) -> &'static str {
        match self {
            CodeKind::Request => "RQ1",
            CodeKind::Authorization => "AU1",
            CodeKind::Return => "RT1",
            CodeKind::Confirmation => "CF1",
        }
    }

    fn context(self) -> &'static [u8] {
        match self {
            CodeKind::Request => b"smartlic/2 reservation-request\n",
            CodeKind::Authorization => b"smartlic/2 reservation-authorization\n",
            CodeKind::Return => b"smartlic/2 reservation-return\n",
            CodeKind::Confirmation => b"smartlic/2 reservation-confirmation\n",
        }
    }

    /// How many parts stand between the prefix and the check.
    fn parts(self) -> usize {
        match self {
            CodeKind::Authorization => 3,
            _ => 2,
        }
    }
}

impl std::fmt::Display for CodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CodeKind::Request => "request code",
            CodeKind::Authorization => "authorization code",
            CodeKind::Return => "return code",
            CodeKind::Confirmation => "confirmation code",
        })
    }
}

/// Why a code is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    /// Not a code of this kind's shape.
    #[error("not a reservation {expected} ({why})")]
    Malformed {
        /// The kind that was expected.
        expected: CodeKind,
        /// What is wrong.
        why: String,
    },
    /// A code of another kind where this one was expected.
    #[error("this is a reservation {found}, not a reservation {expected}")]
    WrongKind {
        /// The kind that was expected.
        expected: CodeKind,
        /// The kind given.
        found: CodeKind,
    },
    /// The check does not match: a character was lost or mistyped.
    #[error("the {0} is damaged or mistyped (its check characters do not match); copy it again")]
    Mistyped(CodeKind),
    /// The check matches but the signature does not: altered or forged.
    #[error("the {0}'s signature does not verify (altered or forged)")]
    BadSignature(CodeKind),
    /// An authorization signed by a manager outside the trust pool.
    #[error("the authorization code is not signed by a license manager of the trust pool: {0}")]
    Untrusted(TrustError),
}

/// SLR or PLR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReservationKind {
    /// Specific licences, by SKU and count (SLR).
    Specific,
    /// Everything (PLR).
    Universal,
}

impl std::fmt::Display for ReservationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReservationKind::Specific => "SPECIFIC",
            ReservationKind::Universal => "UNIVERSAL",
        })
    }
}

/// A node's request for a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    /// The node's UDI (`PID:…,SN:…`).
    pub udi: String,
    /// A VPC-DI's whole HA UDI list (empty otherwise).
    #[serde(default)]
    pub ha_udis: Vec<String>,
    /// The node's reservation public key (base64url): it signs this request and, later, the
    /// return and confirmation codes.
    pub key: String,
    /// Random, so that two requests of one node differ.
    pub nonce: String,
    /// When it was made (epoch seconds, the node's clock).
    pub created_at: i64,
}

/// A manager's authorization: the licences reserved on the node that made the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationAuthorization {
    /// The reservation's id on the manager.
    pub id: String,
    /// 1 for the first authorization, one more for each update.
    pub seq: u32,
    /// [`request_id`] of the request it answers.
    pub request: String,
    /// The UDI of that request.
    pub udi: String,
    /// SLR or PLR.
    pub kind: ReservationKind,
    /// Licences reserved per SKU (empty for PLR).
    pub licenses: BTreeMap<String, u32>,
    /// End of the reservation (epoch seconds), if any.
    pub expires_at: Option<i64>,
    /// When it was made (epoch seconds, the manager's clock).
    pub issued_at: i64,
    /// Smart Account name.
    pub account: String,
    /// Virtual account name.
    pub va: String,
}

/// A node's proof that it dropped an authorization (return) or installed it (confirmation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeProof {
    /// The reservation's id.
    pub id: String,
    /// The authorization's sequence number.
    pub seq: u32,
    /// The node's UDI.
    pub udi: String,
    /// When (epoch seconds, the node's clock).
    pub at: i64,
}

/// The digest an authorization names its request by: hex SHA-256 (first 16 bytes) of the
/// request code's text, surrounding white space aside.
pub fn request_id(request_code: &str) -> String {
    hex16(&Sha256::digest(request_code.trim().as_bytes()))
}

/// The kind of a code, from its prefix (`None` if it is no reservation code).
pub fn kind_of(text: &str) -> Option<CodeKind> {
    let prefix = text.trim().split('.').next()?;
    CodeKind::ALL.into_iter().find(|k| k.prefix() == prefix)
}

impl ReservationRequest {
    /// The request code, signed with the node's reservation key (whose public half must be
    /// `self.key`).
    pub fn encode(&self, key: &SigningKey) -> String {
        signed(CodeKind::Request, self, key, &[])
    }

    /// Parses a request code and checks that it is signed by the key it names.
    pub fn decode(text: &str) -> Result<ReservationRequest, CodeError> {
        let kind = CodeKind::Request;
        let parts = unarmor(kind, text)?;
        let request: ReservationRequest = body(kind, &parts[0])?;
        let vk = node_key(&request.key).ok_or(CodeError::BadSignature(kind))?;
        check_signature(kind, &vk, &parts[0], &parts[1])?;
        Ok(request)
    }

    /// The node's reservation public key.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        node_key(&self.key)
    }
}

impl ReservationAuthorization {
    /// The authorization code, signed with the manager's signing key; `signer_pem` is its
    /// certificate, which the node checks against its trust pool.
    pub fn encode(&self, key: &SigningKey, signer_pem: &str) -> Result<String, CodeError> {
        let signer = pem_certificates(signer_pem)
            .map_err(CodeError::Untrusted)?
            .into_iter()
            .next()
            .ok_or_else(|| CodeError::Malformed {
                expected: CodeKind::Authorization,
                why: "no signing certificate".into(),
            })?;
        Ok(signed(CodeKind::Authorization, self, key, &[&signer]))
    }

    /// Parses an authorization code and checks its signature against `anchors` (the trust
    /// pool's DER certificates); the signing certificate must have been valid when the code was
    /// issued. Whether it answers this node's request is the caller's to check.
    pub fn decode(text: &str, anchors: &[Vec<u8>]) -> Result<ReservationAuthorization, CodeError> {
        let kind = CodeKind::Authorization;
        let parts = unarmor(kind, text)?;
        let auth: ReservationAuthorization = body(kind, &parts[0])?;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(&parts[2])
        );
        let vk = verify_signer(&pem, anchors, auth.issued_at).map_err(CodeError::Untrusted)?;
        check_signature(kind, &vk, &parts[0], &parts[1])?;
        Ok(auth)
    }

    /// Whether the reservation has ended at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }
}

impl NodeProof {
    /// The code of this proof (`kind` is [`CodeKind::Return`] or [`CodeKind::Confirmation`]),
    /// signed with the node's reservation key.
    pub fn encode(&self, kind: CodeKind, key: &SigningKey) -> String {
        signed(kind, self, key, &[])
    }

    /// Parses a return or confirmation code and checks it against the node's reservation key
    /// (from its original request).
    pub fn decode(kind: CodeKind, text: &str, key: &VerifyingKey) -> Result<NodeProof, CodeError> {
        let parts = unarmor(kind, text)?;
        let proof: NodeProof = body(kind, &parts[0])?;
        check_signature(kind, key, &parts[0], &parts[1])?;
        Ok(proof)
    }

    /// What a return or confirmation code says, its shape and check characters checked but NOT
    /// its signature: only to find the reservation (and so the key) it must then be
    /// [`decode`](NodeProof::decode)d with. Nothing it says may be trusted before that.
    pub fn unverified(kind: CodeKind, text: &str) -> Result<NodeProof, CodeError> {
        let parts = unarmor(kind, text)?;
        body(kind, &parts[0])
    }
}

fn hex16(digest: &[u8]) -> String {
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The check characters of a code's text: base64url of the first 4 bytes of its SHA-256.
pub(crate) fn check_of(text: &str) -> String {
    B64.encode(&Sha256::digest(text.as_bytes())[..4])
}

fn signed<T: Serialize>(kind: CodeKind, value: &T, key: &SigningKey, extra: &[&[u8]]) -> String {
    // Serializing these plain structs cannot fail (no maps with non-string keys, no floats).
    let payload = serde_json::to_vec(value).unwrap_or_default();
    let sig = key.sign(&[kind.context(), payload.as_slice()].concat());
    let mut text = format!(
        "{}.{}.{}",
        kind.prefix(),
        B64.encode(&payload),
        B64.encode(sig.to_bytes())
    );
    for part in extra {
        text.push('.');
        text.push_str(&B64.encode(part));
    }
    let check = check_of(&text);
    format!("{text}.{check}")
}

/// Splits a code of `kind` into its decoded parts, after checking prefix, shape and check.
fn unarmor(kind: CodeKind, text: &str) -> Result<Vec<Vec<u8>>, CodeError> {
    let malformed = |why: &str| CodeError::Malformed {
        expected: kind,
        why: why.to_string(),
    };
    let text = text.trim();
    if text.len() > MAX_CODE_LEN {
        return Err(malformed("too long"));
    }
    match kind_of(text) {
        Some(found) if found == kind => {}
        Some(found) => return Err(CodeError::WrongKind { expected: kind, found }),
        None => return Err(malformed(&format!("it does not start with {}.", kind.prefix()))),
    }
    let (signed_text, check) = text.rsplit_once('.').ok_or_else(|| malformed("no check characters"))?;
    if check_of(signed_text) != check {
        return Err(CodeError::Mistyped(kind));
    }
    let parts: Vec<&str> = signed_text.split('.').skip(1).collect();
    if parts.len() != kind.parts() {
        return Err(malformed(&format!("it must have {} parts", kind.parts() + 2)));
    }
    parts
        .into_iter()
        .map(|p| B64.decode(p).map_err(|_| malformed("a part is not base64url")))
        .collect()
}

fn body<T: DeserializeOwned>(kind: CodeKind, payload: &[u8]) -> Result<T, CodeError> {
    // The check matched, so a body that does not parse was made so on purpose.
    serde_json::from_slice(payload).map_err(|_| CodeError::BadSignature(kind))
}

/// An Ed25519 public key from its base64url text (a node's reservation key as a request carries
/// it and a manager stores it, a satellite's identity key); `None` if it is no usable key.
pub fn node_key(b64: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = B64.decode(b64).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok().filter(|k| !k.is_weak())
}

fn check_signature(kind: CodeKind, vk: &VerifyingKey, payload: &[u8], sig: &[u8]) -> Result<(), CodeError> {
    let sig = Signature::from_slice(sig).map_err(|_| CodeError::BadSignature(kind))?;
    if vk.is_weak() {
        return Err(CodeError::BadSignature(kind));
    }
    vk.verify_strict(&[kind.context(), payload].concat(), &sig)
        .map_err(|_| CodeError::BadSignature(kind))
}

#[cfg(test)]
mod tests;
