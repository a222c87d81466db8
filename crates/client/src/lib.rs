//! The HTTPS client of the license manager's admin REST API (`/api/v1/…`, docs/interface.md §2): one
//! typed call per endpoint over the JSON types of [`smartlic_protocol::admin`], paged lists
//! followed through their `Link: <…>; rel="next"` headers, and one error type, [`ClientError`],
//! whose refusals carry the manager's own message. The `smartlic` CLI, the fleet benchmark and
//! (next) the satellite use it; flags, tables and printing are theirs.
//!
//! It trusts only the CA it is given (the manager's `ca.pem`, no system roots) and authenticates
//! with an API key (the operator's `admin.key` or a user's).
//!
//! ```no_run
//! # async fn demo() -> Result<(), smartlic_client::ClientError> {
//! use smartlic_client::AdminClient;
//! let base = "https://127.0.0.1:8443".parse().expect("a URL");
//! let client = AdminClient::new(base, std::path::Path::new("ca.pem"), "KEY".into())?;
//! for account in client.accounts().await? {
//!     println!("{} {}", account.id, account.name);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs, unreachable_pub)]

mod calls;
mod error;
mod events;
mod link;
mod satellite_link;
mod satellites;
mod va;

pub use error::ClientError;
pub use events::EventFilter;
pub use link::next_link;
pub use reqwest::Url;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use smartlic_protocol::ErrorBody;
use smartlic_protocol::error_text::root_cause;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// An HTTPS client of one license manager's admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: Url,
    key: String,
}

/// The certificates of the PEM file `ca` (read by the caller from `ca`), as TLS roots.
fn roots(ca: &Path, pem: &[u8]) -> Result<rustls::RootCertStore, ClientError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|source| ClientError::CaPem {
            path: ca.to_path_buf(),
            source,
        })?;
        roots.add(cert).map_err(|source| ClientError::CaUnusable {
            path: ca.to_path_buf(),
            source,
        })?;
    }
    if roots.is_empty() {
        return Err(ClientError::CaEmpty(ca.to_path_buf()));
    }
    Ok(roots)
}

impl AdminClient {
    /// A client of the manager at `base` (an `https://` URL) that trusts only the certificates of
    /// the PEM file `ca` and authenticates with `api_key`.
    pub fn new(base: Url, ca: &Path, api_key: String) -> Result<AdminClient, ClientError> {
        if base.scheme() != "https" || base.cannot_be_a_base() {
            return Err(ClientError::NotHttps(base));
        }
        let pem = std::fs::read(ca).map_err(|source| ClientError::CaRead {
            path: ca.to_path_buf(),
            source,
        })?;
        let roots = roots(ca, &pem)?;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(ClientError::Tls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(ClientError::Setup)?;
        Ok(AdminClient {
            http,
            base,
            key: api_key,
        })
    }

    /// The manager's URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `/api/v1/` + `segments` (each percent-encoded as one segment) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ClientError::NotHttps(self.base.clone()))?;
            path.pop_if_empty();
            path.extend(["api", "v1"]);
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// The manager's Prometheus metrics (`GET /metrics`, beside the API; no key needed), as text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::NotHttps(self.base.clone()))?
            .pop_if_empty()
            .push("metrics");
        let resp = self.http.get(url).send().await.map_err(|e| ClientError::Unreachable {
            base: self.base.clone(),
            reason: root_cause(&e),
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| ClientError::Read {
            base: self.base.clone(),
            reason: root_cause(&e),
        })?;
        if !status.is_success() {
            return Err(ClientError::Status(status.as_u16()));
        }
        Ok(text)
    }

    /// GET of one document.
    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<T, ClientError> {
        self.call::<(), T>(Method::GET, segments, query, None).await
    }

    /// Every page of a paged list: follows `Link: <…>; rel="next"` until the last page.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ClientError> {
        let mut url = self.url(segments, query)?;
        let mut all = Vec::new();
        loop {
            let (page, next): (Vec<T>, _) = self.call_url::<(), _>(Method::GET, url.clone(), None).await?;
            all.extend(page);
            match next {
                Some(next) => url = next,
                None => return Ok(all),
            }
        }
    }

    /// POST of a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, segments: &[&str], body: &B) -> Result<T, ClientError> {
        self.call(Method::POST, segments, &[], Some(body)).await
    }

    /// PUT of a JSON body (the resource named takes this value).
    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, segments: &[&str], body: &B) -> Result<T, ClientError> {
        self.call(Method::PUT, segments, &[], Some(body)).await
    }

    /// POST without a body (an action on the resource named).
    pub async fn post_empty<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        self.call::<(), T>(Method::POST, segments, &[], None).await
    }

    /// DELETE.
    pub async fn delete<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        self.call::<(), T>(Method::DELETE, segments, &[], None).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let url = self.url(segments, query)?;
        Ok(self.call_url(method, url, body).await?.0)
    }

    /// GET of a text document (e.g. a CSV export), as the manager sent it.
    pub async fn get_text(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<String, ClientError> {
        let url = self.url(segments, query)?;
        let (bytes, _, _) = self.send_status::<()>(Method::GET, url, None).await?;
        String::from_utf8(bytes).map_err(|_| ClientError::NotText)
    }

    /// One request; the answer and the target of its `rel="next"` link, if any.
    async fn call_url<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<(T, Option<Url>), ClientError> {
        let (bytes, next, status) = self.send_status(method, url, body).await?;
        // 204 No Content answers `()`.
        let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        let answer = serde_json::from_slice(body).map_err(|reason| ClientError::BadAnswer { status, reason })?;
        Ok((answer, next))
    }

    /// One request; the body of a successful answer, its `rel="next"` link and its status. A
    /// refusal is the manager's error message.
    async fn send_status<B: Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<(Vec<u8>, Option<Url>, u16), ClientError> {
        let mut req = self.http.request(method, url.clone()).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            base: self.base.clone(),
            reason: root_cause(&e),
        })?;
        let status = resp.status();
        let links = resp.headers().get_all(reqwest::header::LINK);
        let next = next_link(links.iter().map(|v| v.as_bytes()), &url)?;
        let bytes = resp.bytes().await.map_err(|e| ClientError::Read {
            base: self.base.clone(),
            reason: root_cause(&e),
        })?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => ClientError::Refused {
                    status: status.as_u16(),
                    code: e.error.code,
                    message: e.error.message,
                },
                Err(_) => ClientError::Status(status.as_u16()),
            });
        }
        Ok((bytes.to_vec(), next, status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_names() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let c = AdminClient {
            http: reqwest::Client::new(),
            base: Url::parse("https://m:8443/").unwrap(),
            key: "k".into(),
        };
        let u = c
            .url(
                &["accounts", "Acme Mobile", "virtual-accounts", "a/b"],
                &[("va", "East Coast")],
            )
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://m:8443/api/v1/accounts/Acme%20Mobile/virtual-accounts/a%2Fb?va=East+Coast"
        );
    }

    #[test]
    fn only_https_and_a_readable_ca() {
        let http = Url::parse("http://127.0.0.1:8443/").unwrap();
        let e = AdminClient::new(http, Path::new("ca.pem"), "k".into()).unwrap_err();
        assert!(matches!(e, ClientError::NotHttps(_)), "{e}");
        let https = Url::parse("https://127.0.0.1:8443/").unwrap();
        let e = AdminClient::new(https, Path::new("/nonexistent/ca.pem"), "k".into()).unwrap_err();
        assert_eq!(e.to_string(), "cannot read CA file /nonexistent/ca.pem");
    }
}
