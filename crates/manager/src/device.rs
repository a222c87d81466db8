//! The device protocol (see `docs/protocol.md`): registration with a token and proof of
//! possession of the device key, ID renewal, authorization with usage, deregistration. Every
//! request is checked in this order — signature, timestamp, nonce — before anything changes, and
//! every answer is signed with the manager's signing key.

use crate::api::ApiError;
use crate::compliance;
use crate::ids::ProductInstanceId;
use crate::state::AppState;
use crate::store::{Audit, Event, InstanceRow, NewInstance, Report, SkuFigures};
use crate::tokens;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use smartlic_protocol::envelope::{EnvelopeError, Message, decode_public_key};
use smartlic_protocol::time::{AUTH_RENEW_AFTER, AUTH_VALIDITY, MAX_CLOCK_SKEW, format_rfc3339};
use smartlic_protocol::wire::{
    AuthorizationRequest, AuthorizationResponse, Compliance, DeregisterRequest, DeregisterResponse, EntitlementStatus,
    RegisterRequest, RegisterResponse, RenewIdRequest, RenewIdResponse, Usage,
};
use smartlic_protocol::{RequestPayload, SignedRequest, SignedResponse};
use std::sync::Arc;

/// The event of a usage report refused as beyond the platform's capacity.
pub(crate) const OVER_CAPACITY_EVENT: &str = "device.over_capacity";
/// Longest accepted nonce.
const MAX_NONCE_LEN: usize = 128;

fn envelope_error(e: EnvelopeError) -> ApiError {
    match e {
        EnvelopeError::BadSignature => {
            ApiError::BadSignature("request signature does not verify with the device key".into())
        }
        EnvelopeError::Malformed(m) => ApiError::BadRequest(format!("malformed request: {m}")),
        EnvelopeError::NonceMismatch => ApiError::BadRequest("nonce mismatch".into()),
    }
}

/// How far a request's timestamp may be from the manager's clock, checked without overflow (a
/// timestamp of `i64::MIN` is as stale as any other far one).
pub(crate) fn timestamp_skew(timestamp: i64, now: i64) -> Result<i64, ApiError> {
    match timestamp.checked_sub(now) {
        Some(skew) if skew.unsigned_abs() <= MAX_CLOCK_SKEW.unsigned_abs() => Ok(skew),
        Some(skew) => Err(ApiError::Stale(format!(
            "request timestamp {} is {} minutes {} the license manager's clock ({}); check the device clock",
            format_rfc3339(timestamp),
            skew.unsigned_abs() / 60,
            if skew > 0 { "ahead of" } else { "behind" },
            format_rfc3339(now)
        ))),
        None => Err(ApiError::Stale(format!(
            "request timestamp {timestamp} is not a time near the license manager's clock ({}); check the device clock",
            format_rfc3339(now)
        ))),
    }
}

/// Checks a request's timestamp and nonce (after its signature); with `record`, also records
/// the nonce (refusing a replay). Without, the caller records it in its own write transaction.
async fn check_fresh<T>(state: &AppState, p: &RequestPayload<T>, now: i64, record: bool) -> Result<(), ApiError> {
    timestamp_skew(p.timestamp, now)?;
    if p.nonce.is_empty() || p.nonce.len() > MAX_NONCE_LEN {
        return Err(ApiError::BadRequest(format!(
            "nonce must have 1 to {MAX_NONCE_LEN} characters"
        )));
    }
    if record && !state.store().record_nonce(&p.nonce, p.timestamp).await? {
        return Err(ApiError::Replayed);
    }
    Ok(())
}

fn sign<T: Serialize + Message>(
    state: &AppState,
    nonce: String,
    now: i64,
    body: T,
) -> Result<SignedResponse, ApiError> {
    SignedResponse::sign(state.pki().signing_key(), state.pki().signer_pem(), nonce, now, body)
        .map_err(|e| ApiError::Internal(format!("signing response: {e}")))
}

fn device_audit(instance_id: &str, source: Option<String>) -> Audit {
    Audit::new(format!("device:{instance_id}"), source)
}

/// Records a refused device request in the event log (best effort: the refusal stands even if
/// the log write fails), at most once per instance (or token, or source), kind and window: see
/// [`crate::refusals`].
async fn log_refusal(state: &AppState, instance: Option<&InstanceRow>, action: &str, err: &ApiError, audit: &Audit) {
    let key = format!(
        "{action}|{}|{}",
        instance
            .map(|i| i.id.as_str())
            .or(audit.source.as_deref())
            .unwrap_or("-"),
        err.code()
    );
    let e = Event {
        action: "device.refused",
        account_id: instance.map(|i| &i.account_id),
        va_id: instance.map(|i| &i.va_id),
        object_id: instance.map(|i| i.id.as_str()),
        detail: format!("{action} refused ({}): {err}", err.code()),
    };
    log_limited(state, &key, audit, e).await;
}

/// Appends `event` unless refusals of `key` were logged within the window; the logged one says
/// how many were folded into it.
async fn log_limited(state: &AppState, key: &str, audit: &Audit, mut event: Event<'_>) {
    let now = state.now();
    match state.refusals().admit(key, now) {
        crate::refusal_log::Verdict::Fold => return,
        crate::refusal_log::Verdict::Log { folded: 0 } => {}
        crate::refusal_log::Verdict::Log { folded } => {
            event.detail = format!(
                "{} (and {folded} more such refusal{} in the last {} minutes, not logged one by one)",
                event.detail,
                if folded == 1 { "" } else { "s" },
                crate::refusal_log::WINDOW / 60
            );
        }
    }
    if let Err(e) = state.store().log_event(now, audit, event).await {
        tracing::warn!("could not log a refused device request: {e}");
    }
}

/// Opens a request of a registered instance: known instance, its key, then freshness. When the
/// handler records the nonce in its own transaction, that transaction also finds the instance
/// again (and refuses it if it is gone), so the row may come from the manager's cache.
async fn open_for_instance<T: DeserializeOwned + Message>(
    state: &AppState,
    req: &SignedRequest,
    now: i64,
    nonce_record: NonceRecord,
) -> Result<(Arc<InstanceRow>, RequestPayload<T>), ApiError> {
    let id = req
        .instance_id
        .as_deref()
        .filter(|i| !i.is_empty() && i.len() <= 64)
        .map(ProductInstanceId::new)
        .ok_or_else(|| ApiError::BadRequest("instance_id is missing".into()))?;
    let (found, decoded) = match nonce_record {
        NonceRecord::ByHandler => match state.instances().get_or_read(&id).await? {
            Some(cached) => (Some(cached.row), cached.key),
            None => (None, None),
        },
        NonceRecord::Before => (state.store().instance(&id).await?.map(Arc::new), None),
    };
    let instance = found.ok_or_else(|| {
        ApiError::UnknownInstance(format!(
            "product instance {id} is not registered with this license manager"
        ))
    })?;
    let key = match decoded {
        Some(key) => key,
        None => decode_public_key(&instance.public_key)
            .map_err(|e| ApiError::Internal(format!("stored key of {id}: {e}")))?,
    };
    let payload = req.open::<T>(&key).map_err(envelope_error)?;
    check_fresh(state, &payload, now, nonce_record == NonceRecord::Before).await?;
    Ok((instance, payload))
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to {max} printable characters"
        )));
    }
    Ok(())
}

/// `POST /api/v1/device/register`.
pub(crate) async fn register(
    state: &AppState,
    req: SignedRequest,
    source: Option<String>,
) -> Result<SignedResponse, ApiError> {
    let result = register_inner(state, &req, source.clone()).await;
    state.metrics().registration(match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    });
    result
}

// Long: the registration checks in the order the seed gives their refusals, then one store call.
async fn register_inner(
    state: &AppState,
    req: &SignedRequest,
    source: Option<String>,
) -> Result<SignedResponse, ApiError> {
    let now = state.now();
    let peeked: RequestPayload<RegisterRequest> = req.peek().map_err(envelope_error)?;
    let key: VerifyingKey = decode_public_key(&peeked.body.public_key).map_err(envelope_error)?;
    // Proof of possession: the request is signed by the key it registers.
    let payload: RequestPayload<RegisterRequest> = req.open(&key).map_err(envelope_error)?;
    check_fresh(state, &payload, now, true).await?;
    let body = &payload.body;
    check_text("udi.pid", &body.udi.pid, 64)?;
    check_text("udi.sn", &body.udi.sn, 128)?;
    check_text("hostname", &body.hostname, 255)?;
    check_text("token", &body.token, 256)?;
    if body.agent_version.len() > 128 {
        return Err(ApiError::BadRequest("agent_version is too long".into()));
    }
    if !state.catalog().software.iter().any(|s| s.tag == body.software_tag) {
        return Err(ApiError::BadRequest(format!(
            "unknown software tag {:?}: this license manager knows {}",
            body.software_tag,
            state.catalog().platform_names()
        )));
    }
    let instance_id = ProductInstanceId::fresh();
    let audit = device_audit(&instance_id, source);
    let Some(token) = state
        .store()
        .token_by_secret_hash(&tokens::hash_secret(&body.token))
        .await?
    else {
        let err = ApiError::from(tokens::unknown_token());
        log_refusal(state, None, "registration", &err, &audit).await;
        return Err(err);
    };
    if let Err(refusal) = tokens::check_usable(&token, now) {
        let err = ApiError::from(refusal);
        log_token_refusal(state, &token, &err, &audit).await;
        return Err(err);
    }
    let (id_certificate, id_expires_at) = state
        .pki()
        .issue_device_certificate(&instance_id, &key, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if body.ha_udis.len() > 64 {
        return Err(ApiError::BadRequest("ha_udis lists at most 64 members".into()));
    }
    for m in &body.ha_udis {
        if !matches!(m.role.as_str(), "Active" | "Standby" | "Member") {
            return Err(ApiError::BadRequest(format!(
                "ha_udis role must be Active, Standby or Member, not {:?}",
                m.role
            )));
        }
        check_text("ha_udis.udi.pid", &m.udi.pid, 64)?;
        check_text("ha_udis.udi.sn", &m.udi.sn, 128)?;
    }
    let ha_udis = if body.ha_udis.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&body.ha_udis).map_err(|e| ApiError::Internal(format!("ha_udis: {e}")))?
    };
    let new = NewInstance {
        id: instance_id.clone(),
        udi_pid: body.udi.pid.trim().to_string(),
        udi_sn: body.udi.sn.trim().to_string(),
        hostname: body.hostname.trim().to_string(),
        software_tag: body.software_tag.clone(),
        agent_version: body.agent_version.clone(),
        public_key: body.public_key.clone(),
        id_cert_expires_at: id_expires_at,
        ha_udis,
    };
    let (instance, token) = match state.store().register_instance(&token.id, &new, now, &audit).await {
        Ok(r) => r,
        Err(e) => {
            let err = ApiError::from(e);
            log_token_refusal(state, &token, &err, &audit).await;
            return Err(err);
        }
    };
    let response = RegisterResponse {
        instance_id: instance.id.to_string(),
        id_certificate,
        id_expires_at,
        smart_account: token.account_name.clone(),
        virtual_account: token.va_name.clone(),
        export_controlled: token.export_controlled,
    };
    sign(state, payload.nonce, now, response)
}

async fn log_token_refusal(state: &AppState, token: &crate::store::TokenRow, err: &ApiError, audit: &Audit) {
    let key = format!("registration|{}|{}", token.id, err.code());
    let e = Event {
        action: "device.refused",
        account_id: Some(&token.account_id),
        va_id: Some(&token.va_id),
        object_id: Some(token.id.as_str()),
        detail: format!("registration refused ({}): {err}", err.code()),
    };
    log_limited(state, &key, audit, e).await;
}

/// A request's nonce and timestamp, for a handler that records the nonce in its own write
/// transaction (one commit per request instead of two on the hot path).
#[derive(Debug, Clone)]
pub(crate) struct Nonce {
    /// The nonce.
    pub value: String,
    /// The request's timestamp.
    pub timestamp: i64,
}

/// Where the nonce of an instance request is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonceRecord {
    /// Before the handler runs, on its own.
    Before,
    /// By the handler, in its write transaction (it gets the [`Nonce`]).
    ByHandler,
}

/// Runs `f` on an opened instance request, logging a refusal that happens after the instance is
/// known.
async fn with_instance<T, R, F, Fut>(
    state: &AppState,
    req: &SignedRequest,
    what: &str,
    source: Option<String>,
    nonce_record: NonceRecord,
    f: F,
) -> Result<SignedResponse, ApiError>
where
    T: DeserializeOwned + Message,
    R: Serialize + Message,
    F: FnOnce(Arc<InstanceRow>, T, Audit, i64, Nonce) -> Fut,
    Fut: std::future::Future<Output = Result<R, ApiError>>,
{
    let now = state.now();
    let (instance, payload) = match open_for_instance::<T>(state, req, now, nonce_record).await {
        Ok(x) => x,
        Err(err) => {
            if let Some(id) = req.instance_id.as_deref()
                && matches!(err, ApiError::BadSignature(_) | ApiError::Replayed | ApiError::Stale(_))
                && let Ok(Some(i)) = state.store().instance(&ProductInstanceId::new(id)).await
            {
                log_refusal(state, Some(&i), what, &err, &device_audit(id, source.clone())).await;
            }
            return Err(err);
        }
    };
    let audit = device_audit(&instance.id, source.clone());
    let nonce = Nonce {
        value: payload.nonce.clone(),
        timestamp: payload.timestamp,
    };
    let refusal_audit = device_audit(&instance.id, source);
    let known = instance.clone();
    let body = match f(instance, payload.body, audit, now, nonce).await {
        Ok(b) => b,
        Err(err) => {
            if matches!(err, ApiError::Replayed) {
                log_refusal(state, Some(known.as_ref()), what, &err, &refusal_audit).await;
            }
            return Err(err);
        }
    };
    sign(state, payload.nonce, now, body)
}

/// `POST /api/v1/device/renew-id`.
pub(crate) async fn renew_id(
    state: &AppState,
    req: SignedRequest,
    source: Option<String>,
) -> Result<SignedResponse, ApiError> {
    with_instance(
        state,
        &req,
        "ID renewal",
        source,
        NonceRecord::Before,
        |instance, _: RenewIdRequest, audit, now, _| async move {
            let key = decode_public_key(&instance.public_key)
                .map_err(|e| ApiError::Internal(format!("stored key of {}: {e}", instance.id)))?;
            let (id_certificate, id_expires_at) = state
                .pki()
                .issue_device_certificate(&instance.id, &key, now)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            state
                .store()
                .renew_instance_id(&instance.id, id_expires_at, now, &audit)
                .await?;
            Ok(RenewIdResponse {
                id_certificate,
                id_expires_at,
            })
        },
    )
    .await
}

/// Validates reported usage against the catalog: known SKUs (normalized to the catalog's
/// spelling), each once, and no more than one instance of the reporting product's platform can
/// use (its session capacity for a counting licence, 1 for an on/off feature).
pub(crate) fn validate_usage(
    catalog: &smartlic_protocol::Catalog,
    software_tag: &str,
    usage: &[Usage],
) -> Result<Vec<(String, i64)>, ApiError> {
    let software = catalog
        .software_by_tag(software_tag)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown software tag {software_tag:?}")))?;
    let mut out: Vec<(String, i64)> = Vec::with_capacity(usage.len());
    for u in usage {
        let e = catalog
            .entitlement(u.sku.trim())
            .ok_or_else(|| ApiError::BadRequest(format!("unknown SKU {:?}", u.sku)))?;
        let max = catalog.max_licenses(software, e);
        if u.count > max {
            return Err(ApiError::OverCapacity(format!(
                "{} {} reported, but one {} carries at most {max} (usage report refused)",
                u.count,
                e.sku(),
                software.platform
            )));
        }
        if out.iter().any(|(s, _)| s == e.sku()) {
            return Err(ApiError::BadRequest(format!("SKU {} is reported twice", e.sku())));
        }
        out.push((e.sku().to_string(), u.count as i64));
    }
    Ok(out)
}

fn status_word(c: Compliance) -> &'static str {
    c.as_str()
}

/// `POST /api/v1/device/authorize`.
// Long: the over-capacity event and the entitlements answer belong to this one request.
pub(crate) async fn authorize(
    state: &AppState,
    req: SignedRequest,
    source: Option<String>,
) -> Result<SignedResponse, ApiError> {
    let result = with_instance(
        state,
        &req,
        "authorization",
        source,
        NonceRecord::ByHandler,
        |instance, body: AuthorizationRequest, audit, now, nonce| async move {
            let usage = match validate_usage(state.catalog(), &instance.software_tag, &body.usage) {
                Ok(u) => u,
                Err(err) => {
                    if matches!(err, ApiError::OverCapacity(_)) {
                        // Raised as an alert of the VA (see alerts.rs) from this event.
                        let e = Event {
                            action: OVER_CAPACITY_EVENT,
                            account_id: Some(&instance.account_id),
                            va_id: Some(&instance.va_id),
                            object_id: Some(instance.id.as_str()),
                            detail: format!(
                                "{} (PID:{},SN:{}): {err}",
                                instance.hostname, instance.udi_pid, instance.udi_sn
                            ),
                        };
                        log_limited(state, &format!("over-capacity|{}", instance.id), &audit, e).await;
                    }
                    return Err(err);
                }
            };
            let hostname = if body.hostname.trim().is_empty() {
                instance.hostname.clone()
            } else {
                check_text("hostname", &body.hostname, 255)?;
                body.hostname.trim().to_string()
            };
            let decide =
                |skus: &[SkuFigures]| status_word(compliance::overall(skus.iter().map(SkuFigures::compliance)));
            let report = state
                .store()
                .report_usage(
                    Report {
                        id: &instance.id,
                        hostname: &hostname,
                        usage: &usage,
                        now,
                        nonce: Some((&nonce.value, nonce.timestamp)),
                    },
                    decide,
                    &audit,
                )
                .await?;
            let entitlements: Vec<EntitlementStatus> = report
                .skus
                .iter()
                .map(|f| EntitlementStatus {
                    sku: f.sku.clone(),
                    count: f.count as u64,
                    status: f.compliance(),
                })
                .collect();
            let status = compliance::overall(entitlements.iter().map(|e| e.status));
            state.metrics().authorization(match status {
                Compliance::Authorized => "AUTHORIZED",
                Compliance::OutOfCompliance => "OUT_OF_COMPLIANCE",
            });
            Ok(AuthorizationResponse {
                status,
                entitlements,
                authorized_at: now,
                expires_at: now + AUTH_VALIDITY,
                renew_at: now + AUTH_RENEW_AFTER,
            })
        },
    )
    .await;
    if let Err(e) = &result {
        state.metrics().authorization(e.code());
    }
    result
}

/// `POST /api/v1/device/deregister`.
pub(crate) async fn deregister(
    state: &AppState,
    req: SignedRequest,
    source: Option<String>,
) -> Result<SignedResponse, ApiError> {
    with_instance(
        state,
        &req,
        "deregistration",
        source,
        NonceRecord::Before,
        |instance, _: DeregisterRequest, audit, now, _| async move {
            state.instances().remove(&instance.id);
            let removed = state
                .store()
                .remove_instance(&instance.id, None, now, &audit)
                .await?
                .ok_or_else(|| {
                    ApiError::UnknownInstance(format!("product instance {} is not registered", instance.id))
                })?;
            Ok(DeregisterResponse {
                released: removed
                    .1
                    .into_iter()
                    .map(|(sku, count)| Usage {
                        sku,
                        count: count.max(0) as u64,
                    })
                    .collect(),
            })
        },
    )
    .await
}
