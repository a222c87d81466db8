//! [`ApiError`]: every refusal or failure an API caller can see, with one status code and one
//! JSON shape each. Domain refusals ([`Refusal`]) and store failures ([`StoreError`]) become
//! API errors here, at the edge, and nowhere below it.

use crate::error::StoreError;
use crate::refusal::Refusal;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use smartlic_protocol::wire::codes;
use smartlic_protocol::{ErrorBody, ErrorDetail};

/// A refusal or failure of an API request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    /// The request does not parse or is invalid (400 `malformed`).
    #[error("{0}")]
    BadRequest(String),
    /// The body is over the limit (413).
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// No such account, virtual account, SKU, token, … (404 `not_found`).
    #[error("{0}")]
    NotFound(String),
    /// No such route (404).
    #[error("no such endpoint: {0}")]
    NoRoute(String),
    /// The method is not allowed on the route (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The product instance of a device request is not (or no longer) known (404).
    #[error("{0}")]
    UnknownInstance(String),
    /// Missing or wrong credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed for these credentials (403).
    #[error("{0}")]
    Forbidden(String),
    /// Conflicts with the current state (409 `conflict`).
    #[error("{0}")]
    Conflict(String),
    /// Not enough licences (409 `insufficient_licenses`).
    #[error("{0}")]
    Insufficient(String),
    /// A usage report beyond what the instance's platform can carry (422 `over_capacity`).
    #[error("{0}")]
    OverCapacity(String),
    /// A registration token refusal (403, with one of the `token_*` codes).
    #[error("{message}")]
    Token {
        /// `token_invalid`, `token_expired`, `token_revoked` or `token_used_up`.
        code: &'static str,
        /// Why, for a person.
        message: String,
    },
    /// A device request signature did not verify (401).
    #[error("{0}")]
    BadSignature(String),
    /// A device request nonce was seen before (409).
    #[error("request was already received (replayed nonce)")]
    Replayed,
    /// A device request timestamp is too far from the manager's clock (400).
    #[error("{0}")]
    Stale(String),
    /// Too many requests of a kind nobody authenticated (429 `too_many_requests`).
    #[error("{0}")]
    TooMany(String),
    /// The manager is busy (503 `overloaded`, Retry-After: 1).
    #[error("{0}")]
    Busy(String),
    /// A satellite's parent manager could not be reached or refused the exchange (502
    /// `parent_failed`).
    #[error("{0}")]
    BadGateway(String),
    /// A failure of the manager itself (500); the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

use crate::refusal::{PARENT_FAILED, TOO_MANY_REQUESTS};

impl ApiError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Stale(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) | ApiError::NoRoute(_) | ApiError::UnknownInstance(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized(_) | ApiError::BadSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Token { .. } => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) | ApiError::Insufficient(_) | ApiError::Replayed => StatusCode::CONFLICT,
            ApiError::OverCapacity(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Machine-readable code (one of [`codes`]).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::MethodNotAllowed => codes::MALFORMED,
            ApiError::TooLarge(_) => codes::TOO_LARGE,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => codes::NOT_FOUND,
            ApiError::UnknownInstance(_) => codes::UNKNOWN_INSTANCE,
            ApiError::Unauthorized(_) => codes::UNAUTHORIZED,
            ApiError::Forbidden(_) => codes::FORBIDDEN,
            ApiError::Conflict(_) => codes::CONFLICT,
            ApiError::Insufficient(_) => codes::INSUFFICIENT,
            ApiError::Token { code, .. } => code,
            ApiError::BadSignature(_) => codes::BAD_SIGNATURE,
            ApiError::Replayed => codes::REPLAYED,
            ApiError::Stale(_) => codes::STALE,
            ApiError::OverCapacity(_) => codes::OVER_CAPACITY,
            ApiError::TooMany(_) => TOO_MANY_REQUESTS,
            ApiError::Busy(_) => codes::OVERLOADED,
            ApiError::Internal(_) => codes::INTERNAL,
            ApiError::BadGateway(_) => PARENT_FAILED,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            // The detail may name tables or files: keep it in the log.
            ApiError::Internal(_) => "internal error of the license manager (see its log)".into(),
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!("internal error: {detail}");
        }
        let mut resp = (self.status(), Json(self.body())).into_response();
        if let ApiError::Busy(_) = &self {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

fn limit_of(status: StatusCode) -> Option<ApiError> {
    (status == StatusCode::PAYLOAD_TOO_LARGE).then_some(ApiError::TooLarge(super::BODY_LIMIT))
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        limit_of(r.status()).unwrap_or_else(|| ApiError::BadRequest(format!("invalid JSON body: {}", r.body_text())))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError::BadRequest(format!("invalid path: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::BadRequest(format!("invalid query string: {}", r.body_text()))
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::NotFound(m) => ApiError::NotFound(m),
            Refusal::Conflict(m) => ApiError::Conflict(m),
            Refusal::Insufficient(m) => ApiError::Insufficient(m),
            Refusal::Token { kind, message } => ApiError::Token {
                code: kind.code(),
                message,
            },
            Refusal::UnknownInstance(m) => ApiError::UnknownInstance(m),
            Refusal::Replayed => ApiError::Replayed,
            Refusal::TooMany(m) => ApiError::TooMany(m),
            Refusal::NotAllowed(m) => ApiError::Forbidden(m),
            Refusal::ParentFailed(m) => ApiError::BadGateway(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Refused(r) => r.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::TokenRefusal;

    #[test]
    fn every_error_has_a_4xx_or_500_and_a_code() {
        let all = [
            ApiError::BadRequest("x".into()),
            ApiError::TooLarge(1),
            ApiError::NotFound("x".into()),
            ApiError::NoRoute("/x".into()),
            ApiError::MethodNotAllowed,
            ApiError::UnknownInstance("x".into()),
            ApiError::Unauthorized("x".into()),
            ApiError::Forbidden("x".into()),
            ApiError::Conflict("x".into()),
            ApiError::Insufficient("x".into()),
            ApiError::Token {
                code: codes::TOKEN_EXPIRED,
                message: "token expired on 2026-12-01".into(),
            },
            ApiError::BadSignature("x".into()),
            ApiError::Replayed,
            ApiError::Stale("x".into()),
        ];
        for e in all {
            assert!(e.status().is_client_error(), "{e:?}");
            assert!(!e.body().error.code.is_empty());
        }
        let i = ApiError::Internal("table accounts is locked".into());
        assert_eq!(i.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !i.body().error.message.contains("accounts"),
            "internal detail stays in the log"
        );
    }

    #[test]
    fn every_refusal_keeps_its_code_and_words_at_the_edge() {
        let all = [
            Refusal::NotFound("no Smart Account x".into()),
            Refusal::Conflict("x".into()),
            Refusal::Insufficient("x".into()),
            Refusal::Token {
                kind: TokenRefusal::Expired,
                message: "token expired on 2026-12-01".into(),
            },
            Refusal::UnknownInstance("x".into()),
            Refusal::Replayed,
            Refusal::TooMany("x".into()),
            Refusal::NotAllowed("x".into()),
        ];
        for r in all {
            let e = ApiError::from(r.clone());
            assert_eq!(e.code(), r.code(), "{r:?}");
            assert_eq!(e.to_string(), r.to_string(), "{r:?}");
        }
        let e = ApiError::from(StoreError::Refused(Refusal::Replayed));
        assert_eq!(e.status(), StatusCode::CONFLICT);
    }
}
