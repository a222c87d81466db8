//! Alert webhooks: an SA administrator adds a URL; the manager POSTs each alert of the account
//! to it once per condition ([`AlertInfo::key`]), signed with HMAC-SHA256, and retries with
//! back-off until a 2xx answer. When a condition clears, its record goes, so that it is told
//! again if it comes back.
//!
//! Several managers on one database share the work: the first to insert a delivery owns it
//! (`queue_delivery`), and a try is claimed by moving its `next_at` (`claim_delivery`), so one
//! alert is sent by one manager at a time. A receiver checks `X-Smartlic-Signature: sha256=…`
//! over `"{X-Smartlic-Timestamp}.{body}"` with the secret it was given, and may refuse old
//! timestamps.

use crate::admin::{self, Caller};
use crate::auth::{Action, Principal};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Audit, DeliveryRow, Event, WebhookRow};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use smartlic_protocol::admin::{AlertInfo, CreateWebhook, CreatedWebhook, WebhookInfo};
use std::collections::HashSet;
use std::time::Duration;

/// Header with the Unix time of the delivery.
pub const TIMESTAMP_HEADER: &str = "x-smartlic-timestamp";
/// Header with `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-smartlic-signature";
/// First retry after this many seconds; doubling up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: i64 = 60;
/// Longest wait between tries.
pub const MAX_BACKOFF: i64 = 6 * 3600;
/// How long one try may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The signature of `body` sent at `timestamp`: hex HMAC-SHA256 over `"{timestamp}.{body}"`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The wait before try `attempts + 1`.
pub fn backoff(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 20) as u32;
    FIRST_BACKOFF.saturating_mul(1_i64 << exp).min(MAX_BACKOFF)
}

/// Checks a webhook URL: `https://`, or `http://` to a loopback address (a local relay).
pub fn check_url(url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    let bad = |why: &str| ApiError::BadRequest(format!("webhook URL {url:?} {why}"));
    if url.len() > 2000 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("must be at most 2000 characters without spaces"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    let host = parsed.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        "http" => Err(bad("must use https (plain http only to a loopback address)")),
        _ => Err(bad("must be https://")),
    }
}

fn info(w: &WebhookRow) -> WebhookInfo {
    WebhookInfo {
        id: w.id.clone(),
        url: w.url.clone(),
        created_at: w.created_at,
        created_by: w.created_by.clone(),
    }
}

/// Adds a webhook to an account (SA administrators); the secret is in the answer only.
pub async fn add(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: CreateWebhook,
) -> Result<CreatedWebhook, ApiError> {
    let a = admin::resolve_account(state, caller, account, Action::ManageWebhooks).await?;
    let url = check_url(&req.url)?;
    let now = state.now();
    let row = WebhookRow {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: a.id.clone(),
        url,
        secret: crate::tokens::random_secret(43),
        created_at: now,
        created_by: caller.audit().actor,
    };
    state.store().add_webhook(&row).await?;
    state
        .store()
        .log_event(
            now,
            &caller.audit(),
            Event {
                action: "webhook.add",
                account_id: Some(&a.id),
                va_id: None,
                object_id: Some(&row.id),
                detail: format!("alerts go to {}", row.url),
            },
        )
        .await?;
    Ok(CreatedWebhook {
        info: info(&row),
        secret: row.secret,
    })
}

/// The webhooks of an account (without secrets).
pub async fn list(state: &AppState, caller: &Caller, account: &str) -> Result<Vec<WebhookInfo>, ApiError> {
    let a = admin::resolve_account(state, caller, account, Action::ManageWebhooks).await?;
    Ok(state
        .store()
        .list_webhooks(Some(&a.id))
        .await?
        .iter()
        .map(info)
        .collect())
}

/// Removes a webhook.
pub async fn remove(state: &AppState, caller: &Caller, account: &str, id: &str) -> Result<(), ApiError> {
    let a = admin::resolve_account(state, caller, account, Action::ManageWebhooks).await?;
    if !state.store().remove_webhook(&a.id, id).await? {
        return Err(ApiError::NotFound(format!("no webhook {id} in this Smart Account")));
    }
    let audit: Audit = caller.audit();
    state
        .store()
        .log_event(
            state.now(),
            &audit,
            Event {
                action: "webhook.remove",
                account_id: Some(&a.id),
                va_id: None,
                object_id: Some(id),
                detail: "webhook removed".into(),
            },
        )
        .await?;
    Ok(())
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Alerts newly queued.
    pub queued: usize,
    /// Deliveries answered 2xx.
    pub delivered: usize,
    /// Tries that failed (to be retried).
    pub failed: usize,
}

/// One round: queue the alerts each webhook has not been told, forget cleared ones, and send
/// what is due. The server runs it every [`ROUND_EVERY`].
pub async fn round(state: &AppState, http: &reqwest::Client) -> Result<Round, ApiError> {
    let mut r = Round::default();
    let now = state.now();
    let operator = Caller {
        principal: Principal::Operator,
        source: None,
    };
    for w in state.store().list_webhooks(None).await? {
        let alerts: Vec<AlertInfo> = admin::list_alerts(state, &operator, &w.account_id).await?;
        let current: HashSet<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
        for a in &alerts {
            let payload = serde_json::json!({
                "webhook_id": w.id,
                "account_id": w.account_id,
                "alert": a,
            })
            .to_string();
            if state.store().queue_delivery(&w.id, &a.key, &payload, now).await? {
                r.queued += 1;
            }
        }
        state.store().forget_cleared(&w.id, &current).await?;
    }
    let webhooks = state.store().list_webhooks(None).await?;
    for d in state.store().due_deliveries(now, 200).await? {
        let Some(w) = webhooks.iter().find(|w| w.id == d.webhook_id) else {
            continue;
        };
        if !state
            .store()
            .claim_delivery(&d, now + 2 * SEND_TIMEOUT.as_secs() as i64 + 60)
            .await?
        {
            continue;
        }
        match send(http, w, &d, now).await {
            Ok(()) => {
                state.store().record_attempt(&d, now, Ok(())).await?;
                r.delivered += 1;
            }
            Err(e) => {
                tracing::info!("alert webhook {} ({}): {e}; retrying", w.id, w.url);
                let retry_at = now + backoff(d.attempts);
                state.store().record_attempt(&d, now, Err((&e, retry_at))).await?;
                r.failed += 1;
            }
        }
    }
    Ok(r)
}

/// How often the server runs a round.
pub const ROUND_EVERY: Duration = Duration::from_secs(30);

async fn send(http: &reqwest::Client, w: &WebhookRow, d: &DeliveryRow, now: i64) -> Result<(), String> {
    let resp = http
        .post(&w.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(
            SIGNATURE_HEADER,
            format!("sha256={}", signature(&w.secret, now, &d.payload)),
        )
        .body(d.payload.clone())
        .timeout(SEND_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("cannot reach {}: {e}", w.url))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{} answered {status}", w.url))
    }
}

/// The HTTP client of the deliveries: TLS with the system's CA bundle (`SSL_CERT_FILE`, else
/// Debian's `/etc/ssl/certs/ca-certificates.crt`); without one, only plain http to loopback works
/// and https deliveries fail with a clear error in the delivery record.
pub fn client() -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    let bundle = std::env::var("SSL_CERT_FILE").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    if let Ok(pem) = std::fs::read(&bundle) {
        use rustls_pki_types::pem::PemObject;
        for der in rustls_pki_types::CertificateDer::pem_slice_iter(&pem).flatten() {
            let _ = roots.add(der);
        }
    }
    let tls =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    let builder = reqwest::Client::builder().no_proxy().connect_timeout(SEND_TIMEOUT);
    let builder = match tls {
        Ok(tls) => builder.use_preconfigured_tls(tls),
        Err(e) => {
            tracing::warn!("webhook TLS set-up: {e}");
            builder
        }
    };
    builder.build().unwrap_or_else(|e| {
        tracing::warn!("webhook HTTP client: {e}");
        reqwest::Client::new()
    })
}

#[cfg(test)]
mod tests;
