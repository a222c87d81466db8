//! Domain refusals: what the manager's rules (the store's transactions, the token rules) answer
//! when they say no, in the seed's words and apart from any transport. The HTTP edge
//! ([`crate::api::ApiError`]) maps each one to a status and a wire code; nothing below the edge
//! knows about HTTP.

use smartlic_protocol::wire::codes;

/// Why a registration token cannot register a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No such token.
    Invalid,
    /// Past its expiry date.
    Expired,
    /// Revoked by an administrator.
    Revoked,
    /// All its uses are taken.
    UsedUp,
}

impl TokenRefusal {
    /// The wire code (`token_invalid`, `token_expired`, `token_revoked`, `token_used_up`).
    pub fn code(self) -> &'static str {
        match self {
            TokenRefusal::Invalid => codes::TOKEN_INVALID,
            TokenRefusal::Expired => codes::TOKEN_EXPIRED,
            TokenRefusal::Revoked => codes::TOKEN_REVOKED,
            TokenRefusal::UsedUp => codes::TOKEN_USED_UP,
        }
    }
}

/// A domain rule refused an operation; the message says why, for a person.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// No such account, request, token, … .
    #[error("{0}")]
    NotFound(String),
    /// The operation conflicts with the current state (a name taken, a concurrent change).
    #[error("{0}")]
    Conflict(String),
    /// Not enough licences available.
    #[error("{0}")]
    Insufficient(String),
    /// A registration token may not be used.
    #[error("{message}")]
    Token {
        /// Why.
        kind: TokenRefusal,
        /// Why, for a person (e.g. "token expired on 2026-12-01").
        message: String,
    },
    /// The product instance is not (or no longer) registered.
    #[error("{0}")]
    UnknownInstance(String),
    /// The request's nonce was seen before.
    #[error("request was already received (replayed nonce)")]
    Replayed,
    /// Too many of a kind of request nobody authenticated.
    #[error("{0}")]
    TooMany(String),
    /// The account's settings do not allow it (e.g. a reservation kind the operator did not
    /// allow the account).
    #[error("{0}")]
    NotAllowed(String),
    /// The satellite's exchange with its parent manager failed (unreachable, or the parent
    /// refused the request); the message says which.
    #[error("{0}")]
    ParentFailed(String),
}

impl Refusal {
    /// The machine-readable wire code of the refusal (one of [`codes`], or
    /// `too_many_requests`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotFound(_) => codes::NOT_FOUND,
            Refusal::Conflict(_) => codes::CONFLICT,
            Refusal::Insufficient(_) => codes::INSUFFICIENT,
            Refusal::Token { kind, .. } => kind.code(),
            Refusal::UnknownInstance(_) => codes::UNKNOWN_INSTANCE,
            Refusal::Replayed => codes::REPLAYED,
            Refusal::TooMany(_) => TOO_MANY_REQUESTS,
            Refusal::NotAllowed(_) => codes::FORBIDDEN,
            Refusal::ParentFailed(_) => PARENT_FAILED,
        }
    }
}

/// Code of [`Refusal::TooMany`] (not a device protocol code: only people submitting forms and
/// unauthenticated API callers see it).
pub(crate) const TOO_MANY_REQUESTS: &str = "too_many_requests";

/// Code of [`Refusal::ParentFailed`] (only a satellite's operator sees it, from `satellite sync`).
pub(crate) const PARENT_FAILED: &str = "parent_failed";
