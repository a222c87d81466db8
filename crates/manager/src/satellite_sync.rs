//! A satellite's exchange with its parent over HTTPS (docs/satellite.md): one signed request
//! POSTed to `{parent}/api/v1/satellites/exchange` over TLS that trusts only the parent's CA
//! given at `satellite link`, and the answer imported as `satellite import` would. The server
//! runs [`run_schedule`] when started with `--sync-every HOURS`: one exchange at start, then one
//! per interval; a failed one is retried after 1 minute, then 2, 4, … up to the interval.

use crate::admin;
use crate::api::ApiError;
use crate::refusal::Refusal;
use crate::state::AppState;
use crate::store::Audit;
use smartlic_protocol::ErrorBody;
use smartlic_protocol::admin::SatelliteExchange;
use smartlic_protocol::error_text::root_cause;
use smartlic_protocol::satellite::MAX_FILE_LEN;
use std::sync::Arc;
use std::time::Duration;

/// The first retry after a failed scheduled sync.
pub(crate) const FIRST_RETRY: Duration = Duration::from_secs(60);

fn failed(why: String) -> ApiError {
    Refusal::ParentFailed(why).into()
}

/// An HTTPS client that trusts only the certificates of `ca_pem`.
fn client(ca_pem: &str) -> Result<reqwest::Client, ApiError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
        roots
            .add(der)
            .map_err(|e| failed(format!("the parent's CA certificate is unusable: {e}")))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// POSTs `request` to the parent's exchange endpoint; the answer file it returns.
pub(crate) async fn exchange(parent_url: &str, ca_pem: &str, request: &str) -> Result<String, ApiError> {
    let url = format!("{}/api/v1/satellites/exchange", parent_url.trim_end_matches('/'));
    let resp = client(ca_pem)?
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(request.to_string())
        .send()
        .await
        .map_err(|e| {
            failed(format!(
                "cannot reach the parent manager at {parent_url}: {}",
                root_cause(&e)
            ))
        })?;
    let status = resp.status();
    if resp.content_length().is_some_and(|n| n > MAX_FILE_LEN as u64) {
        return Err(failed("the parent's answer is too large".into()));
    }
    let body = resp
        .text()
        .await
        .map_err(|e| failed(format!("the parent's answer could not be read: {}", root_cause(&e))))?;
    if !status.is_success() {
        let why = serde_json::from_str::<ErrorBody>(&body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        return Err(failed(format!("the parent manager refused the exchange: {why}")));
    }
    Ok(body)
}

/// One exchange: the next request to the parent, its answer imported. One at a time: a second
/// (the schedule's and the operator's `satellite sync` together) waits for the first, so neither
/// is refused for racing the other's sequence number.
pub(crate) async fn sync_once(state: &AppState, audit: &Audit) -> Result<SatelliteExchange, ApiError> {
    let _one_at_a_time = state.satellite_sync().lock().await;
    let link = state.store().satellite_link().await?.ok_or_else(|| {
        ApiError::NotFound(
            "this manager is not linked to a parent (run smartlic satellite link --token TOKEN first)".into(),
        )
    })?;
    let (Some(url), Some(ca)) = (link.parent_url.as_deref(), link.parent_ca_pem.as_deref()) else {
        return Err(ApiError::Conflict(
            "this satellite was linked without --parent: exchange by files (satellite export, then import)".into(),
        ));
    };
    let (_, request) = admin::make_request(state, audit).await?;
    let answer = exchange(url, ca, &request).await.inspect_err(|e| {
        state.metrics().satellite_exchange("satellite", e.code());
    })?;
    admin::import_answer(state, audit, &answer).await
}

/// How long to wait after `failures` failed syncs in a row (0: the last one worked): the
/// interval, or 1 minute doubled per failure, never beyond the interval.
pub(crate) fn next_wait(failures: u32, every: Duration) -> Duration {
    if failures == 0 {
        return every;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    FIRST_RETRY.saturating_mul(factor).min(every)
}

/// Syncs with the parent every `every` (from the server's start), backing off on failure;
/// every outcome is logged, a failure also kept in the link (`GET /api/v1/satellite`).
pub(crate) async fn run_schedule(state: AppState, every: Duration) {
    let mut failures = 0u32;
    loop {
        let linked = matches!(state.store().satellite_link().await, Ok(Some(l)) if l.parent_url.is_some());
        if linked {
            match sync_once(&state, &Audit::system()).await {
                Ok(done) => {
                    failures = 0;
                    tracing::info!(
                        seq = done.seq,
                        lots = done.lots,
                        "satellite sync with the parent manager"
                    );
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let why = e.to_string();
                    tracing::warn!(error = %why, failures, "satellite sync failed");
                    if let Err(e) = state.store().set_satellite_error(Some(&why)).await {
                        tracing::warn!(error = %e, "cannot record the satellite sync failure");
                    }
                }
            }
        }
        tokio::time::sleep(next_wait(failures, every)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_from_a_minute_up_to_the_interval() {
        let hour = Duration::from_secs(3600);
        assert_eq!(next_wait(0, hour), hour);
        let waits: Vec<u64> = (1..=8).map(|f| next_wait(f, hour).as_secs()).collect();
        assert_eq!(waits, vec![60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(next_wait(100, hour), hour);
        // An interval shorter than a minute caps the first retry too.
        assert_eq!(next_wait(1, Duration::from_secs(30)), Duration::from_secs(30));
    }
}
