//! The one error type of the admin client.

use reqwest::Url;
use std::path::PathBuf;

/// Why an admin API call (or setting up the client) failed. The `Display` of each is one line
/// for an operator; a refusal is the manager's own message.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not an `https://` URL with a path.
    #[error("the license manager URL must be an https:// URL (got {0})")]
    NotHttps(Url),
    /// The CA file could not be read.
    #[error("cannot read CA file {}", path.display())]
    CaRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA file is not PEM.
    #[error("CA file {} is not valid PEM", path.display())]
    CaPem {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate of the CA file cannot be a TLS root.
    #[error("CA file {} holds an unusable certificate", path.display())]
    CaUnusable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// The CA file holds no certificate.
    #[error("CA file {} holds no certificate", .0.display())]
    CaEmpty(PathBuf),
    /// TLS could not be set up.
    #[error("TLS set-up")]
    Tls(#[source] rustls::Error),
    /// The HTTP client could not be set up.
    #[error("HTTP client set-up")]
    Setup(#[source] reqwest::Error),
    /// No connection, or it broke before an answer.
    #[error("cannot reach the license manager at {base}: {reason}")]
    Unreachable {
        /// The manager.
        base: Url,
        /// The innermost cause.
        reason: String,
    },
    /// The answer could not be read to its end.
    #[error("reading the answer of {base}: {reason}")]
    Read {
        /// The manager.
        base: Url,
        /// The innermost cause.
        reason: String,
    },
    /// The manager refused the call with an error document.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Error code (see `smartlic_protocol::wire::codes`).
        code: String,
        /// The manager's message.
        message: String,
    },
    /// The manager answered an error status without an error document.
    #[error("license manager answered HTTP {}", status_text(*.0))]
    Status(u16),
    /// A success whose body is not the expected document.
    #[error("unexpected answer from the license manager ({}): {reason}", status_text(*status))]
    BadAnswer {
        /// HTTP status.
        status: u16,
        /// Why (not a `source`: the message already holds it).
        reason: serde_json::Error,
    },
    /// A text answer (a CSV export) that is not UTF-8.
    #[error("the license manager's answer is not UTF-8 text")]
    NotText,
    /// A `Link` header that cannot be parsed, or whose next page is not a URL.
    #[error("the license manager's next page link {link:?}: {reason}")]
    BadNextLink {
        /// The header value (its first 200 characters).
        link: String,
        /// Why.
        reason: String,
    },
}

/// A status as reqwest prints it (`404 Not Found`).
fn status_text(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code) {
        Ok(s) => s.to_string(),
        Err(_) => code.to_string(),
    }
}
