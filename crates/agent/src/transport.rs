//! Call Home transport: HTTPS POSTs of signed envelopes to the license manager, trusting only the
//! trust pool (no system roots), with timeouts and an optional HTTP proxy. [`CallHome::exchange`]
//! is the one signed conversation (sign, post, verify the signer, open), used by the agent and by
//! the fleet benchmark. Retries and back-off are decided by the caller ([`crate::agent`]), which
//! knows whether a failure is final.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use smartlic_protocol::envelope::Message;
use smartlic_protocol::trust::SignerCache;
use smartlic_protocol::wire::{DEVICE_API, ErrorBody};
use smartlic_protocol::{SignedRequest, SignedResponse};
use std::sync::Arc;
use std::time::Duration;

/// A fresh random request nonce (16 bytes, base64).
pub fn nonce() -> String {
    B64.encode(rand::random::<[u8; 16]>())
}

/// Timeouts and connection reuse of a [`CallHome`] client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for a whole request.
    pub timeout: Duration,
    /// Most idle connections kept per host after a conversation (0: each conversation's
    /// connection is closed when it ends).
    pub max_idle_per_host: usize,
}

impl Default for Limits {
    /// A product's: 5 s to connect, 15 s per request, and no idle connection kept. A product
    /// talks to its manager days or weeks apart: a connection kept open after a conversation
    /// would hold a socket on both ends for nothing, and a fleet's idle connections would add up
    /// on the manager (the HTTP client would keep each for 90 s). The one conversation that
    /// follows another at once (the first authorization after a registration) pays one more TLS
    /// handshake.
    fn default() -> Limits {
        Limits {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_idle_per_host: 0,
        }
    }
}

/// Why a call to the manager failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    /// No URL is configured.
    #[error("no license manager URL is configured (config: license smart url URL)")]
    NoUrl,
    /// The trust pool is empty.
    #[error("the trust pool is empty (exec: crypto pki trustpool import file PATH)")]
    EmptyTrustPool,
    /// Could not connect, or timed out.
    #[error("cannot reach the license manager at {url}: {reason}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// TLS failed: the server certificate is not trusted.
    #[error("the license manager's certificate is not trusted by the trust pool ({0})")]
    Untrusted(String),
    /// The manager refused the request (4xx with a reason).
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Error code (see `smartlic_protocol::wire::codes`).
        code: String,
        /// The manager's message.
        message: String,
    },
    /// The manager is over capacity.
    #[error("the license manager is busy (HTTP 503)")]
    Busy {
        /// Seconds from Retry-After.
        retry_after: Option<u64>,
    },
    /// Another server-side failure.
    #[error("the license manager failed (HTTP {0})")]
    Server(u16),
    /// The answer was not a valid signed response.
    #[error("invalid answer from the license manager: {0}")]
    BadAnswer(String),
}

impl TransportError {
    /// A refusal that retrying will not change.
    pub fn is_refusal(&self) -> bool {
        matches!(self, TransportError::Refused { .. })
    }
}

/// An HTTPS client bound to one manager URL and one trust pool.
#[derive(Debug, Clone)]
pub struct CallHome {
    client: reqwest::Client,
    base: String,
    /// Answer signers already checked against the trust pool.
    signers: Arc<SignerCache>,
}

impl CallHome {
    /// A client for `url` that trusts only `anchors` (DER), optionally through `proxy`.
    pub fn new(url: &str, anchors: &[Vec<u8>], proxy: Option<&str>) -> Result<CallHome, TransportError> {
        CallHome::with_limits(url, anchors, proxy, Limits::default())
    }

    /// [`CallHome::new`] with other timeouts and connection reuse (a load generator's).
    pub fn with_limits(
        url: &str,
        anchors: &[Vec<u8>],
        proxy: Option<&str>,
        limits: Limits,
    ) -> Result<CallHome, TransportError> {
        if anchors.is_empty() {
            return Err(TransportError::EmptyTrustPool);
        }
        let mut roots = rustls::RootCertStore::empty();
        for der in anchors {
            // A certificate that is not a usable anchor is skipped; the others still count.
            let _ = roots.add(rustls_pki_types::CertificateDer::from(der.clone()));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::BadAnswer(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .pool_max_idle_per_host(limits.max_idle_per_host)
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.timeout)
            .user_agent(concat!("smartlic-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = proxy {
            let proxy = reqwest::Proxy::all(p).map_err(|e| TransportError::Unreachable {
                url: p.to_string(),
                reason: format!("bad proxy: {e}"),
            })?;
            builder = builder.proxy(proxy);
        } else {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| TransportError::BadAnswer(format!("HTTP client setup: {e}")))?;
        Ok(CallHome {
            client,
            base: url.trim_end_matches('/').to_string(),
            signers: Arc::new(SignerCache::new()),
        })
    }

    /// The manager URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// One signed conversation on the device protocol: signs `body` with `key` under a fresh
    /// nonce at `now()`, POSTs it to `DEVICE_API` + `path` (e.g. `/register`), checks that the
    /// answer's signer certificate chains to `anchors` at `now()` (read again: the answer may come
    /// later) and opens the answer for that nonce.
    pub async fn exchange<B: Serialize + Message, R: DeserializeOwned + Message>(
        &self,
        path: &str,
        key: &SigningKey,
        instance_id: Option<String>,
        body: B,
        anchors: &[Vec<u8>],
        now: impl Fn() -> i64,
    ) -> Result<R, TransportError> {
        let n = nonce();
        let req = SignedRequest::sign(key, instance_id, n.clone(), now(), body)
            .map_err(|e| TransportError::BadAnswer(e.to_string()))?;
        let resp = self.post(&format!("{DEVICE_API}{path}"), &req).await?;
        let signer = self
            .signers
            .verify(&resp.signer_certificate, anchors, now())
            .map_err(|e| TransportError::BadAnswer(format!("response signer: {e}")))?;
        let payload = resp
            .open::<R>(&signer, &n)
            .map_err(|e| TransportError::BadAnswer(format!("response: {e}")))?;
        Ok(payload.body)
    }

    /// POSTs a signed request to `path` (e.g. `/api/v1/device/register`).
    pub async fn post(&self, path: &str, req: &SignedRequest) -> Result<SignedResponse, TransportError> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .client
            .post(&url)
            .json(req)
            .send()
            .await
            .map_err(|e| classify(&self.base, &e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = resp.bytes().await.map_err(|e| classify(&self.base, &e))?;
        if bytes.len() > smartlic_protocol::envelope::MAX_ENVELOPE_BYTES * 4 {
            return Err(TransportError::BadAnswer("answer too large".into()));
        }
        match status {
            200..=299 => serde_json::from_slice(&bytes).map_err(|e| TransportError::BadAnswer(e.to_string())),
            503 => Err(TransportError::Busy { retry_after }),
            400..=499 => match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => Err(TransportError::Refused {
                    status,
                    code: b.error.code,
                    message: b.error.message,
                }),
                Err(_) => Err(TransportError::Refused {
                    status,
                    code: String::new(),
                    message: format!("the license manager refused the request (HTTP {status})"),
                }),
            },
            _ => Err(TransportError::Server(status)),
        }
    }
}

fn classify(base: &str, e: &reqwest::Error) -> TransportError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        let tls = s.downcast_ref::<rustls::Error>().or_else(|| {
            s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return match tls {
                rustls::Error::InvalidCertificate(c) => TransportError::Untrusted(format!("{c:?}")),
                other => TransportError::Unreachable {
                    url: base.to_string(),
                    reason: format!("TLS: {other}"),
                },
            };
        }
        source = s.source();
    }
    // Innermost cause in one line.
    let mut reason = e.to_string();
    let mut s = std::error::Error::source(e);
    while let Some(inner) = s {
        reason = inner.to_string();
        s = inner.source();
    }
    if reason.contains("invalid peer certificate") {
        return TransportError::Untrusted(reason);
    }
    if e.is_timeout() {
        reason = format!("timed out ({reason})");
    }
    TransportError::Unreachable {
        url: base.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one request on a plain TCP listener (the transport does not insist on TLS; the
    /// node's settings do): answers a refusal, then tells whether the client closed the
    /// connection (read returned 0) before `wait` ran out.
    async fn one_answer_then_closed(listener: tokio::net::TcpListener, wait: Duration) -> bool {
        let Ok((mut conn, _)) = listener.accept().await else {
            return false;
        };
        let mut buf = vec![0u8; 16 * 1024];
        let mut got = Vec::new();
        // Headers, then the body its Content-Length announces.
        while !request_complete(&got) {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let body = br#"{"error":{"code":"test","message":"refused by the test"}}"#;
        let head = format!(
            "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if conn.write_all(head.as_bytes()).await.is_err() || conn.write_all(body).await.is_err() {
            return false;
        }
        matches!(tokio::time::timeout(wait, conn.read(&mut buf)).await, Ok(Ok(0)))
    }

    fn request_complete(got: &[u8]) -> bool {
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        got.len() >= end + 4 + length
    }

    async fn closes_after_one_conversation(limits: Limits, wait: Duration) -> bool {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(one_answer_then_closed(listener, wait));
        // Any DER will do as an anchor: no TLS is spoken here.
        let home = CallHome::with_limits(&url, &[vec![0x30, 0x00]], None, limits).unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        let req = SignedRequest::sign(&key, None, nonce(), 0, smartlic_protocol::wire::DeregisterRequest {}).unwrap();
        let err = home.post("/api/v1/device/deregister", &req).await.unwrap_err();
        assert_eq!(err.to_string(), "refused by the test");
        let closed = server.await.unwrap();
        drop(home);
        closed
    }

    #[tokio::test]
    async fn a_products_connection_is_closed_when_its_conversation_ends() {
        // The deadline is only an upper bound: the test goes on as soon as the close arrives.
        assert!(closes_after_one_conversation(Limits::default(), Duration::from_secs(10)).await);
    }

    #[tokio::test]
    async fn a_load_generators_connection_is_kept_for_the_next_request() {
        let keep = Limits {
            max_idle_per_host: 64,
            ..Limits::default()
        };
        // Kept: still open a second after the answer (the client is dropped only after that).
        assert!(!closes_after_one_conversation(keep, Duration::from_secs(1)).await);
    }
}
