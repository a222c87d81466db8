//! The master key: private keys (and other secrets the manager must be able to use again, such as
//! webhook signing secrets) are kept in the store sealed under a key that is *not* in the store,
//! so that a database dump alone yields none of them.
//!
//! The master key is 32 random bytes, hex in `DIR/master.key` (mode 0600). Every manager of one
//! PostgreSQL database needs the same file: the first server creates it; a later server on a
//! store that is already set up refuses to start until it is given the file (copy it, or name it
//! with `--master-key FILE`).
//!
//! A sealed value is text: `sealed:v1:<base64 of nonce ‖ AES-256-GCM ciphertext and tag>`. The
//! associated data names what the value is (`pki.ca_key`, `webhook.secret:<id>`), so a sealed
//! value moved to another column or row does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::path::Path;

/// The prefix of a sealed value.
pub(crate) const SEALED_PREFIX: &str = "sealed:v1:";
/// File name of the master key in the data directory.
pub(crate) const MASTER_KEY_FILE: &str = "master.key";

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The master key file is not 64 hex digits.
    #[error("master key must be 64 hexadecimal digits (32 bytes)")]
    BadKey,
    /// The value is not sealed, or sealed under another master key, or altered.
    #[error("{0}: cannot be opened with this master key (another manager's master.key, or altered)")]
    Open(String),
    /// The value is not in the sealed format.
    #[error("{0}: not a sealed value")]
    NotSealed(String),
    /// The cipher failed (never expected).
    #[error("sealing failed")]
    Seal,
}

/// The master key.
pub struct MasterKey {
    key: LessSafeKey,
    fingerprint: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A new random master key and its file text (hex and a newline).
    pub fn generate() -> (MasterKey, String) {
        let bytes: [u8; 32] = rand::random();
        let text = format!("{}\n", hex::encode(bytes));
        // 32 bytes are always a valid AES-256 key.
        match MasterKey::from_bytes(&bytes) {
            Ok(k) => (k, text),
            Err(_) => unreachable!("32 bytes make an AES-256 key"),
        }
    }

    /// Parses the text of a master key file.
    pub fn parse(text: &str) -> Result<MasterKey, SecretError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SecretError::BadKey)?;
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SecretError::BadKey)?;
        MasterKey::from_bytes(&arr)
    }

    fn from_bytes(bytes: &[u8; 32]) -> Result<MasterKey, SecretError> {
        use sha2::Digest;
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SecretError::BadKey)?;
        let digest = sha2::Sha256::digest([b"smartlic master key fingerprint\n".as_slice(), bytes].concat());
        Ok(MasterKey {
            key: LessSafeKey::new(key),
            fingerprint: hex::encode(&digest[..8]),
        })
    }

    /// A short public fingerprint of the key (to tell two files apart in messages).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seals `plain` as the value named `what`.
    pub fn seal(&self, what: &str, plain: &[u8]) -> Result<String, SecretError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(what.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SecretError::Seal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{SEALED_PREFIX}{}", B64.encode(out)))
    }

    /// Opens a value sealed as `what`.
    pub fn open(&self, what: &str, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let body = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| SecretError::NotSealed(what.to_string()))?;
        let raw = B64.decode(body).map_err(|_| SecretError::Open(what.to_string()))?;
        if raw.len() < NONCE_LEN {
            return Err(SecretError::Open(what.to_string()));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Open(what.to_string()))?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(what.as_bytes()), &mut buf)
            .map_err(|_| SecretError::Open(what.to_string()))?;
        Ok(plain.to_vec())
    }

    /// Opens a value sealed as `what` that holds UTF-8 text.
    pub fn open_text(&self, what: &str, sealed: &str) -> Result<String, SecretError> {
        String::from_utf8(self.open(what, sealed)?).map_err(|_| SecretError::Open(what.to_string()))
    }
}

/// Whether a stored value is sealed (values written before sealing existed are plain).
pub(crate) fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

/// Reads a master key file; `Ok(None)` when it does not exist.
pub(crate) fn read_key_file(path: &Path) -> Result<Option<MasterKey>, std::io::Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::parse(&text)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_as_the_same_value_under_the_same_key() {
        let (k, text) = MasterKey::generate();
        let again = MasterKey::parse(&text).unwrap();
        assert_eq!(k.fingerprint(), again.fingerprint());
        let sealed = k.seal("pki.ca_key", b"-----BEGIN PRIVATE KEY-----").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(
            again.open("pki.ca_key", &sealed).unwrap(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        // Another name, another key, an altered byte, plain text: refused.
        assert!(matches!(k.open("pki.signing_key", &sealed), Err(SecretError::Open(_))));
        let (other, _) = MasterKey::generate();
        assert!(other.open("pki.ca_key", &sealed).is_err());
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(k.open("pki.ca_key", &String::from_utf8(altered).unwrap()).is_err());
        assert!(matches!(k.open("x", "plain"), Err(SecretError::NotSealed(_))));
        assert!(k.open("x", "sealed:v1:").is_err());
        // Two seals of one value differ (fresh nonce).
        assert_ne!(k.seal("a", b"x").unwrap(), k.seal("a", b"x").unwrap());
    }

    #[test]
    fn key_files_are_checked() {
        assert_eq!(MasterKey::parse("abc").unwrap_err(), SecretError::BadKey);
        assert_eq!(MasterKey::parse(&"z".repeat(64)).unwrap_err(), SecretError::BadKey);
        assert!(MasterKey::parse(&format!("{}\n", "ab".repeat(32))).is_ok());
    }
}
