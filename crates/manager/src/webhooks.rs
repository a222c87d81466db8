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
//!
//! A webhook is not a way into the manager's network ([`guard`]): no user name or password in
//! the URL; link-local, metadata, multicast and similar addresses never; loopback and private
//! ranges only where the operator allows them (`smartlic server --webhook-allow CIDR`). The URL
//! is checked when it is added and again at every delivery, whose client connects only to the
//! addresses it checked and never follows a redirect (a 3xx is a failed try).
//!
//! One tenant's slow receiver does not hold up another's: sends run concurrently, at most
//! [`IN_FLIGHT_PER_ACCOUNT`] per account and [`IN_FLIGHT`] in all; a delivery is claimed only
//! when a slot is free to send it at once. An account has at most [`MAX_PER_ACCOUNT`] webhooks.

pub mod guard;

pub use guard::{AllowList, Cidr, CidrError};

use crate::admin::{self, Caller};
use crate::api::ApiError;
use crate::auth::{Action, Principal};
use crate::state::AppState;
use crate::store::{Audit, DeliveryRow, Event, WebhookRow};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use smartlic_protocol::admin::{AlertInfo, CreateWebhook, CreatedWebhook, WebhookInfo};
use smartlic_protocol::error_text::chain;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
/// Webhooks an account may have.
pub const MAX_PER_ACCOUNT: i64 = 10;
/// Sends in flight for one account, at most.
pub const IN_FLIGHT_PER_ACCOUNT: usize = 2;
/// Sends in flight on one manager, at most.
pub const IN_FLIGHT: usize = 32;
/// How long adding a webhook waits for its name to resolve (for the address check).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

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

/// The checks of a webhook URL that need no name resolution: `https://` (plain `http://` only to
/// a loopback address: a local relay), no user name or password, and an address given as such
/// must pass [`guard::check_addr`]. The URL, and its host name if it has one rather than an
/// address.
fn parse_target(url: &str, allow: &[Cidr]) -> Result<(reqwest::Url, Option<String>), String> {
    if url.len() > 2000 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must be at most 2000 characters without spaces".into());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    let host = parsed.host_str().unwrap_or("").to_string();
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .ok();
    let loopback = host.eq_ignore_ascii_case("localhost") || literal.is_some_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => {}
        "http" if loopback => {}
        "http" => return Err("must use https (plain http only to a loopback address)".into()),
        _ => return Err("must be https://".into()),
    }
    match literal {
        Some(ip) => {
            guard::check_addr(ip, allow)?;
            Ok((parsed, None))
        }
        None => Ok((parsed, Some(host))),
    }
}

/// Checks a webhook URL when it is added: [`parse_target`], and every address its name resolves
/// to now must pass [`guard::check_addr`]. A name that does not resolve (yet) is accepted: every
/// delivery resolves and checks it again.
pub async fn check_url(url: &str, allow: &[Cidr]) -> Result<String, ApiError> {
    let url = url.trim();
    let bad = |why: &str| ApiError::BadRequest(format!("webhook URL {url:?} {why}"));
    let (_, host) = parse_target(url, allow).map_err(|why| bad(&why))?;
    if let Some(host) = host {
        let resolved = tokio::time::timeout(RESOLVE_TIMEOUT, guard::resolve_checked(&host, allow)).await;
        if let Ok(Err(e @ guard::AddressError::Refused { .. })) = resolved {
            return Err(bad(&format!("is refused: {e}")));
        }
    }
    Ok(url.to_string())
}

/// What the deliveries of one manager share: the operator's allow list, the HTTP client and the
/// bounds on sends in flight. In [`AppState::webhooks`].
#[derive(Debug)]
pub struct Deliveries {
    allow: AllowList,
    http: OnceLock<Result<reqwest::Client, String>>,
    in_flight: Arc<Semaphore>,
    per_account: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Default for Deliveries {
    fn default() -> Deliveries {
        Deliveries {
            allow: AllowList::default(),
            http: OnceLock::new(),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            per_account: Mutex::new(HashMap::new()),
        }
    }
}

/// The right to send one delivery now.
struct Slot {
    _account: OwnedSemaphorePermit,
    _all: OwnedSemaphorePermit,
}

impl Deliveries {
    /// Sets the loopback and private ranges webhooks may point at (`--webhook-allow`).
    pub fn set_allow(&self, ranges: Vec<Cidr>) {
        self.allow.set(ranges);
    }

    /// The ranges of [`Deliveries::set_allow`].
    pub fn allow(&self) -> Arc<[Cidr]> {
        self.allow.get()
    }

    /// The delivery client (built on first use): its resolver checks every address, it never
    /// follows a redirect and uses no proxy.
    pub fn client(&self) -> Result<&reqwest::Client, String> {
        self.http
            .get_or_init(|| client(self.allow.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A slot to send a delivery of `account` now, if one is free.
    fn slot(&self, account: &str) -> Option<Slot> {
        let all = self.in_flight.clone().try_acquire_owned().ok()?;
        let sem = {
            let mut map = self.per_account.lock().unwrap_or_else(|p| p.into_inner());
            // Forget accounts with nothing in flight.
            map.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < IN_FLIGHT_PER_ACCOUNT);
            map.entry(account.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(IN_FLIGHT_PER_ACCOUNT)))
                .clone()
        };
        let account = sem.try_acquire_owned().ok()?;
        Some(Slot {
            _account: account,
            _all: all,
        })
    }

    fn full(&self) -> bool {
        self.in_flight.available_permits() == 0
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
    let url = check_url(&req.url, &state.webhooks().allow()).await?;
    let now = state.now();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = crate::tokens::random_secret(43);
    // Kept sealed under the master key: the manager must sign with it again, so it is not a
    // hash, but a dump of the database alone does not give it away.
    let sealed = state
        .master_key()
        .seal(&secret_name(&id), secret.as_bytes())
        .map_err(|e| ApiError::Internal(format!("sealing a webhook secret: {e}")))?;
    let row = WebhookRow {
        id,
        account_id: a.id.clone(),
        url,
        secret: sealed,
        created_at: now,
        created_by: caller.audit().actor,
    };
    if !state.store().add_webhook(&row, MAX_PER_ACCOUNT).await? {
        return Err(ApiError::Conflict(format!(
            "this Smart Account already has {MAX_PER_ACCOUNT} webhooks, the most it may have: remove one first"
        )));
    }
    state
        .store()
        .log_event(
            now,
            &caller.audit(),
            Event {
                action: "webhook.add",
                account_id: Some(&a.id),
                va_id: None,
                object_id: Some(row.id.as_str()),
                detail: format!("alerts go to {}", row.url),
            },
        )
        .await?;
    Ok(CreatedWebhook {
        info: info(&row),
        secret,
    })
}

/// What a webhook's secret is called when sealed (bound to its webhook).
fn secret_name(webhook_id: &str) -> String {
    format!("webhook.secret:{webhook_id}")
}

/// The signing secret of a webhook: opened with the master key (rows written before secrets
/// were sealed hold it plain).
fn signing_secret(state: &AppState, w: &WebhookRow) -> Result<String, String> {
    if !crate::secrets::is_sealed(&w.secret) {
        return Ok(w.secret.clone());
    }
    state
        .master_key()
        .open_text(&secret_name(&w.id), &w.secret)
        .map_err(|e| format!("webhook secret: {e}"))
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

const OPERATOR: Caller = Caller {
    principal: Principal::Operator,
    source: None,
};

/// One round, waiting for its sends: queue the alerts each webhook has not been told, forget
/// cleared ones, and send what is due ([`start_round`]).
pub async fn round(state: &AppState) -> Result<Round, ApiError> {
    let (mut r, sends) = start_round(state).await?;
    for s in sends {
        match s.await {
            Ok(true) => r.delivered += 1,
            Ok(false) | Err(_) => r.failed += 1,
        }
    }
    Ok(r)
}

/// Queues the alerts each webhook has not been told, forgets cleared ones, and starts sending
/// what is due without waiting for the answers: each send is a task (true if delivered). A due
/// delivery is claimed only if a slot is free to send it now (per account and in all); the others
/// wait for a later round. The server runs this every [`ROUND_EVERY`]; `queued` counts only.
pub async fn start_round(state: &AppState) -> Result<(Round, Vec<tokio::task::JoinHandle<bool>>), ApiError> {
    let mut r = Round::default();
    let now = state.now();
    let webhooks = state.store().list_webhooks(None).await?;
    let mut alerts_of: HashMap<&str, Vec<AlertInfo>> = HashMap::new();
    for w in &webhooks {
        if !alerts_of.contains_key(w.account_id.as_str()) {
            match admin::list_alerts(state, &OPERATOR, &w.account_id).await {
                Ok(alerts) => alerts_of.insert(&w.account_id, alerts),
                Err(e) => {
                    tracing::warn!("alerts of account {}: {e}", w.account_id);
                    continue;
                }
            };
        }
        let Some(alerts) = alerts_of.get(w.account_id.as_str()) else {
            continue;
        };
        let current: HashSet<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
        for a in alerts {
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
    let mut sends = Vec::new();
    for d in state.store().due_deliveries(now, 200).await? {
        if state.webhooks().full() {
            break;
        }
        let Some(w) = webhooks.iter().find(|w| w.id == d.webhook_id) else {
            continue;
        };
        let Some(slot) = state.webhooks().slot(&w.account_id) else {
            continue;
        };
        if !state
            .store()
            .claim_delivery(&d, now + 2 * SEND_TIMEOUT.as_secs() as i64 + 60)
            .await?
        {
            continue;
        }
        let (state, w) = (state.clone(), w.clone());
        sends.push(tokio::spawn(async move {
            let _slot = slot;
            deliver(&state, &w, &d, now).await
        }));
    }
    Ok((r, sends))
}

/// One try of a claimed delivery, recorded; true if delivered.
async fn deliver(state: &AppState, w: &WebhookRow, d: &DeliveryRow, now: i64) -> bool {
    let sent = match (state.webhooks().client(), signing_secret(state, w)) {
        (Ok(http), Ok(secret)) => send(http, &state.webhooks().allow(), w, &secret, d, now).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let recorded = match &sent {
        Ok(()) => state.store().record_attempt(d, now, Ok(())).await,
        Err(e) => {
            tracing::info!("alert webhook {} ({}): {e}; retrying", w.id, w.url);
            let retry_at = now + backoff(d.attempts);
            state.store().record_attempt(d, now, Err((e, retry_at))).await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!("alert webhook {}: recording the try: {e}", w.id);
    }
    state.metrics().webhook_delivery(sent.is_ok());
    sent.is_ok()
}

/// How often the server runs a round.
pub const ROUND_EVERY: Duration = Duration::from_secs(30);

async fn send(
    http: &reqwest::Client,
    allow: &[Cidr],
    w: &WebhookRow,
    secret: &str,
    d: &DeliveryRow,
    now: i64,
) -> Result<(), String> {
    // Checked again at every try: the allow list may have changed, and the row may predate a
    // check. A name is checked by the client's resolver, at the addresses it then connects to.
    let (url, _) = parse_target(&w.url, allow).map_err(|why| format!("webhook URL {:?} {why}", w.url))?;
    let resp = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(
            SIGNATURE_HEADER,
            format!("sha256={}", signature(secret, now, &d.payload)),
        )
        .body(d.payload.clone())
        .timeout(SEND_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("cannot reach {}: {}", w.url, chain(&e)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(format!("{} answered {status} (redirects are not followed)", w.url))
    } else {
        Err(format!("{} answered {status}", w.url))
    }
}

/// The HTTP client of the deliveries: TLS with the system's CA bundle (`SSL_CERT_FILE`, else
/// Debian's `/etc/ssl/certs/ca-certificates.crt`; without one, https deliveries fail with a clear
/// error in the delivery record), names resolved by a [`guard::GuardedResolver`] over `allow`, no
/// redirects, no proxy.
fn client(allow: AllowList) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    let bundle = std::env::var("SSL_CERT_FILE").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    if let Ok(pem) = std::fs::read(&bundle) {
        use rustls_pki_types::pem::PemObject;
        for der in rustls_pki_types::CertificateDer::pem_slice_iter(&pem).flatten() {
            let _ = roots.add(der);
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| format!("webhook TLS set-up: {e}"))?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(guard::GuardedResolver::new(allow))
        .connect_timeout(SEND_TIMEOUT)
        .build()
        .map_err(|e| format!("webhook HTTP client: {e}"))
}

#[cfg(test)]
mod tests;
