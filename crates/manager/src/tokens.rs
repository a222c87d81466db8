//! Product Instance Registration tokens and API keys: secret generation, hashing (only a SHA-256
//! of a secret is ever stored), and the rules that decide whether a token may register a product.

use crate::refusal::{Refusal, TokenRefusal};
use crate::store::TokenRow;
use rand::Rng;
use sha2::{Digest, Sha256};
use smartlic_protocol::admin::TokenStatus;
use smartlic_protocol::time::format_date;

/// Default token validity in days (`--expires-days`).
pub(crate) const DEFAULT_EXPIRES_DAYS: u32 = 30;
/// Longest token validity in days.
pub(crate) const MAX_EXPIRES_DAYS: u32 = 365;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random secret of `len` alphanumeric characters (≈5.95 bits each); alphanumeric so that it
/// survives any CLI, URL or shell unquoted.
pub(crate) fn random_secret(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new registration token secret (64 characters, ≈380 bits).
pub(crate) fn new_token_secret() -> String {
    random_secret(64)
}

/// A new API key (`slk_` and 43 characters, ≈256 bits).
pub(crate) fn new_api_key() -> String {
    format!("slk_{}", random_secret(43))
}

/// SHA-256 (hex) of a secret. Secrets are long random strings, so a fast hash is enough.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// The state of a token at `now`. Revocation wins over expiry, expiry over use count.
pub(crate) fn status(t: &TokenRow, now: i64) -> TokenStatus {
    if t.revoked_at.is_some() {
        TokenStatus::Revoked
    } else if now >= t.expires_at {
        TokenStatus::Expired
    } else if t.max_uses.is_some_and(|m| t.uses >= m) {
        TokenStatus::UsedUp
    } else {
        TokenStatus::Active
    }
}

/// Whether the token may register one more product at `now`, and if not, why — in words the
/// node prints after `Failure:`.
pub(crate) fn check_usable(t: &TokenRow, now: i64) -> Result<(), Refusal> {
    match status(t, now) {
        TokenStatus::Active => Ok(()),
        TokenStatus::Revoked => Err(Refusal::Token {
            kind: TokenRefusal::Revoked,
            message: format!("token was revoked on {}", format_date(t.revoked_at.unwrap_or(now))),
        }),
        TokenStatus::Expired => Err(Refusal::Token {
            kind: TokenRefusal::Expired,
            message: format!("token expired on {}", format_date(t.expires_at)),
        }),
        TokenStatus::UsedUp => Err(Refusal::Token {
            kind: TokenRefusal::UsedUp,
            message: format!(
                "token has reached its maximum number of uses ({} of {})",
                t.uses,
                t.max_uses.unwrap_or(t.uses)
            ),
        }),
    }
}

/// The refusal for a token nobody knows.
pub(crate) fn unknown_token() -> Refusal {
    Refusal::Token {
        kind: TokenRefusal::Invalid,
        message: "token is not valid (no such registration token)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartlic_protocol::wire::codes;

    fn token(expires_at: i64, max_uses: Option<i64>, uses: i64, revoked_at: Option<i64>) -> TokenRow {
        TokenRow {
            id: "t".into(),
            va_id: "v".into(),
            va_name: "DEFAULT".into(),
            account_id: "a".into(),
            account_name: "Acme".into(),
            description: String::new(),
            created_at: 0,
            created_by: "operator".into(),
            expires_at,
            max_uses,
            uses,
            revoked_at,
            export_controlled: false,
        }
    }

    #[test]
    fn token_rules_say_why() {
        let day = 86_400;
        let exp = smartlic_protocol::time::parse_date("2026-12-01").unwrap();
        assert_eq!(check_usable(&token(exp, None, 100, None), exp - 1), Ok(()));
        let e = check_usable(&token(exp, None, 0, None), exp).unwrap_err();
        assert_eq!(e.code(), codes::TOKEN_EXPIRED);
        assert_eq!(e.to_string(), "token expired on 2026-12-01");
        let e = check_usable(&token(exp, Some(2), 2, None), 0).unwrap_err();
        assert_eq!(e.code(), codes::TOKEN_USED_UP);
        assert!(e.to_string().contains("2 of 2"), "{e}");
        assert_eq!(check_usable(&token(exp, Some(2), 1, None), 0), Ok(()));
        let e = check_usable(&token(exp, Some(2), 2, Some(exp - 3 * day)), exp + 1).unwrap_err();
        assert_eq!(e.code(), codes::TOKEN_REVOKED, "revocation wins");
        assert_eq!(e.to_string(), "token was revoked on 2026-11-28");
        assert_eq!(unknown_token().code(), codes::TOKEN_INVALID);
    }

    #[test]
    fn secrets_are_long_alphanumeric_and_hashed() {
        let s = new_token_secret();
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(s, new_token_secret());
        assert!(new_api_key().starts_with("slk_"));
        assert_eq!(hash_secret(&s), hash_secret(&format!(" {s}\n")));
        assert_eq!(hash_secret("abc").len(), 64);
    }
}
