//! Legacy (PAK-style) licence keys: what a product follows when Smart Licensing is off, and for
//! on/off features in the 21.3 mixed mode. A key is bound to one chassis (serial number and
//! platform), lists sessions per service and features, may expire, and is signed by the license
//! manager's signing key under its CA, so a node checks it against its trust pool alone.
//!
//! The text of a key is one line: `LK1.<payload>.<signature>.<signer>`, each part base64url
//! without padding: the JSON [`LegacyKey`], the Ed25519 signature over
//! `"smartlic/2 legacy-key\n" || payload bytes`, and the DER of the signing certificate. A typo
//! anywhere fails the signature; a key of another manager fails the trust pool.

use crate::trust::{TrustError, pem_certificates, verify_signer};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Prefix and format version of a key's text.
pub const KEY_PREFIX: &str = "LK1.";
const CONTEXT: &[u8] = b"smartlic/2 legacy-key\n";
/// Longest key text accepted.
pub const MAX_KEY_LEN: usize = 8 * 1024;

/// What a legacy key licenses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyKey {
    /// Key id (shown in history and on the manager).
    pub id: String,
    /// Chassis serial number it is bound to.
    pub serial: String,
    /// Platform it is bound to (`ASR5500`, `VPC-SI`, `VPC-DI`).
    pub platform: String,
    /// Sessions licensed per service name (`pgw` …).
    pub sessions: BTreeMap<String, u64>,
    /// On/off feature SKUs licensed.
    pub features: Vec<String>,
    /// End of validity (epoch seconds), if any.
    pub expires_at: Option<i64>,
    /// When it was issued (epoch seconds).
    pub issued_at: i64,
}

/// Why a key is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LegacyKeyError {
    /// Not a key at all, or damaged.
    #[error("not a licence key ({0})")]
    Malformed(String),
    /// The signature does not verify: altered or mistyped.
    #[error("the licence key's signature does not verify (altered or mistyped)")]
    BadSignature,
    /// Signed by a manager outside the trust pool.
    #[error("the licence key is not signed by a license manager of the trust pool: {0}")]
    Untrusted(TrustError),
}

impl LegacyKey {
    /// Signs the key: the text to give the operator.
    pub fn sign(&self, key: &SigningKey, signer_pem: &str) -> Result<String, LegacyKeyError> {
        let payload = serde_json::to_vec(self).map_err(|e| LegacyKeyError::Malformed(e.to_string()))?;
        let signer = pem_certificates(signer_pem)
            .map_err(LegacyKeyError::Untrusted)?
            .into_iter()
            .next()
            .ok_or_else(|| LegacyKeyError::Malformed("no signing certificate".into()))?;
        let sig = key.sign(&[CONTEXT, payload.as_slice()].concat());
        Ok(format!(
            "{KEY_PREFIX}{}.{}.{}",
            B64.encode(&payload),
            B64.encode(sig.to_bytes()),
            B64.encode(signer)
        ))
    }

    /// Parses `text` and checks its signature against `anchors` (the trust pool's DER
    /// certificates). The signer certificate must have been valid when the key was issued.
    /// Binding (serial, platform) and expiry are the caller's to check.
    pub fn verify(text: &str, anchors: &[Vec<u8>]) -> Result<LegacyKey, LegacyKeyError> {
        let text = text.trim();
        if text.len() > MAX_KEY_LEN {
            return Err(LegacyKeyError::Malformed("too long".into()));
        }
        let body = text
            .strip_prefix(KEY_PREFIX)
            .ok_or_else(|| LegacyKeyError::Malformed(format!("it does not start with {KEY_PREFIX}")))?;
        let parts: Vec<&str> = body.split('.').collect();
        let [payload, sig, signer] = parts.as_slice() else {
            return Err(LegacyKeyError::Malformed(
                "it must have four parts separated by '.'".into(),
            ));
        };
        let decode = |what: &str, s: &str| {
            B64.decode(s)
                .map_err(|_| LegacyKeyError::Malformed(format!("its {what} is not base64url")))
        };
        let payload = decode("payload", payload)?;
        let sig = Signature::from_slice(&decode("signature", sig)?).map_err(|_| LegacyKeyError::BadSignature)?;
        let signer = decode("signer", signer)?;
        let claimed: LegacyKey = serde_json::from_slice(&payload).map_err(|_| LegacyKeyError::BadSignature)?;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(&signer)
        );
        let vk = verify_signer(&pem, anchors, claimed.issued_at).map_err(LegacyKeyError::Untrusted)?;
        if vk.is_weak() {
            return Err(LegacyKeyError::BadSignature);
        }
        vk.verify_strict(&[CONTEXT, payload.as_slice()].concat(), &sig)
            .map_err(|_| LegacyKeyError::BadSignature)?;
        Ok(claimed)
    }

    /// Whether the key has expired at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }

    /// Sessions licensed for `service` (0 if none).
    pub fn sessions_for(&self, service: &str) -> u64 {
        self.sessions
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(service))
            .map_or(0, |(_, n)| *n)
    }

    /// Whether the on/off feature `sku` is licensed.
    pub fn has_feature(&self, sku: &str) -> bool {
        self.features.iter().any(|f| f.eq_ignore_ascii_case(sku))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text is refused with a reason (there is no valid key without a trust pool), never
        /// a panic.
        #[test]
        fn any_text_is_refused_without_panic(text in "\\PC{0,300}") {
            prop_assert!(LegacyKey::verify(&text, &[]).is_err());
            let prefixed = format!("{KEY_PREFIX}{text}");
            let refused = LegacyKey::verify(&prefixed, &[]).is_err();
            prop_assert!(refused);
        }

        #[test]
        fn any_four_parts_are_refused_without_panic(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,90}", c in "[A-Za-z0-9_-]{0,80}") {
            let text = format!("{KEY_PREFIX}{a}.{b}.{c}");
            let refused = LegacyKey::verify(&text, &[]).is_err();
            prop_assert!(refused);
        }
    }
}
