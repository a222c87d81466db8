//! The satellite side of the satellite exchange (docs/satellite.md), the satellite's operator
//! only: `link` (the token, a new identity key, the parent's address), `export` (the next signed
//! request), `import` (the parent's answer, checked against the token's CA pin, for this satellite
//! and its latest request) and `sync` (one exchange over HTTPS, [`crate::satellite_sync`]).

use super::*;
use crate::auth::Principal;
use crate::refusal::Refusal;
use crate::store::{LinkRow, NewLink};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use smartlic_protocol::satellite::{SatelliteAnswer, SatelliteRequest, SatelliteToken};

/// What the token is sealed as (the sealing's associated data).
const SEALED_TOKEN: &str = "satellite token";
/// What the identity key is sealed as.
const SEALED_KEY: &str = "satellite identity key";
/// Largest parent CA file.
const MAX_CA_PEM: usize = 64 * 1024;
/// Most lots one answer may carry.
const MAX_LOTS: usize = 10_000;
/// Longest SKU in an answer.
const MAX_SKU: usize = 64;

/// Only the manager's own operator acts for the satellite.
fn operator_only(caller: &Caller) -> Result<(), ApiError> {
    match caller.principal {
        Principal::Operator => Ok(()),
        Principal::User(_) => Err(ApiError::Forbidden(
            "only the operator of this manager may link it to a parent or exchange with it".into(),
        )),
    }
}

/// Viewing the link and exchanging (export, import, sync) are for the operator and, once an
/// import made the account here, the SA administrators of that account; linking stays with the
/// operator.
async fn may_exchange(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let Principal::User(u) = &caller.principal else {
        return Ok(());
    };
    let link = state.store().satellite_link().await?;
    let served = link.as_ref().and_then(|l| l.account_id.as_deref()) == Some(u.account_id.as_str());
    if served && u.role == smartlic_protocol::admin::Role::SaAdmin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the operator of this manager, or an SA administrator of the account it serves, may exchange with the parent".into(),
        ))
    }
}

/// The API's view of the link.
async fn link_info(state: &AppState, link: LinkRow) -> Result<SatelliteLinkInfo, ApiError> {
    let account = match &link.account_id {
        Some(id) => state.store().find_account(id).await?.map(|a| a.name),
        None => None,
    };
    let va = match &link.va_id {
        Some(id) => state.store().va_by_id(id).await?.map(|v| v.name),
        None => None,
    };
    Ok(SatelliteLinkInfo {
        satellite: link.satellite,
        parent_url: link.parent_url,
        parent_ca: link.parent_ca_sha,
        seq: link.seq.max(0) as u64,
        answered_seq: link.answered_seq.max(0) as u64,
        last_exchange: link.last_exchange,
        account,
        va,
        last_error: link.last_error,
        linked_at: link.linked_at,
    })
}

/// The link, refused as not found when this manager is not a satellite.
async fn the_link(state: &AppState) -> Result<LinkRow, ApiError> {
    state.store().satellite_link().await?.ok_or_else(|| {
        ApiError::NotFound(
            "this manager is not linked to a parent (run smartlic satellite link --token TOKEN first)".into(),
        )
    })
}

/// This manager's link to its parent.
pub(crate) async fn satellite_link(state: &AppState, caller: &Caller) -> Result<SatelliteLinkInfo, ApiError> {
    may_exchange(state, caller).await?;
    let link = the_link(state).await?;
    link_info(state, link).await
}

/// Checks the parent's address: an `https://` URL and the PEM of its TLS CA, both or neither.
fn check_parent(url: Option<&str>, pem: Option<&str>) -> Result<(Option<String>, Option<String>), ApiError> {
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    let pem = pem.map(str::trim).filter(|p| !p.is_empty());
    match (url, pem) {
        (None, None) => Ok((None, None)),
        (Some(_), None) | (None, Some(_)) => Err(ApiError::BadRequest(
            "give the parent's URL and the CA certificate of its TLS together (--parent URL --parent-ca FILE)".into(),
        )),
        (Some(url), Some(pem)) => {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| ApiError::BadRequest(format!("the parent's URL {url:?} is not a URL ({e})")))?;
            if parsed.scheme() != "https" || parsed.host_str().is_none() || url.len() > 2048 {
                return Err(ApiError::BadRequest(format!(
                    "the parent's URL must be an https:// URL with a host (got {url:?})"
                )));
            }
            if pem.len() > MAX_CA_PEM {
                return Err(ApiError::BadRequest(format!(
                    "the parent's CA file is larger than {MAX_CA_PEM} bytes"
                )));
            }
            let certs = smartlic_protocol::trust::pem_certificates(pem).unwrap_or_default();
            if certs.is_empty() {
                return Err(ApiError::BadRequest(
                    "the parent's CA file holds no PEM certificate".into(),
                ));
            }
            Ok((Some(url.trim_end_matches('/').to_string()), Some(format!("{pem}\n"))))
        }
    }
}

/// Links this manager to its parent: keeps the token and a new Ed25519 identity key (both
/// sealed under the master key) and the parent's address. A link that never exchanged is
/// replaced; one that did is kept and the new one refused.
pub(crate) async fn link_satellite(
    state: &AppState,
    caller: &Caller,
    req: LinkSatellite,
) -> Result<SatelliteLinkInfo, ApiError> {
    operator_only(caller)?;
    let token = SatelliteToken::decode(&req.token).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (parent_url, parent_ca_pem) = check_parent(req.parent_url.as_deref(), req.parent_ca_pem.as_deref())?;
    let seed: [u8; 32] = rand::random();
    let key = SigningKey::from_bytes(&seed);
    let seal = |what: &str, plain: &[u8]| {
        state
            .master_key()
            .seal(what, plain)
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    let new = NewLink {
        satellite: token.satellite.clone(),
        token: seal(SEALED_TOKEN, token.encode().as_bytes())?,
        identity_key: seal(SEALED_KEY, &seed)?,
        public_key: B64.encode(key.verifying_key().as_bytes()),
        parent_ca_sha: token.parent_ca.to_ascii_lowercase(),
        parent_url,
        parent_ca_pem,
    };
    state
        .store()
        .save_satellite_link(&new, state.now(), &caller.audit())
        .await?;
    satellite_link(state, caller).await
}

/// Numbers and signs the next request (its number stored first).
pub(crate) async fn make_request(state: &AppState, audit: &Audit) -> Result<(LinkRow, String), ApiError> {
    let now = state.now();
    let figures = state.store().next_satellite_request(now, audit).await?;
    let link = figures.link;
    let master = state.master_key();
    let seed = master
        .open(SEALED_KEY, &link.identity_key)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| ApiError::Internal("the satellite identity key is not 32 bytes".into()))?;
    let key = SigningKey::from_bytes(&seed);
    let seq = link.seq.max(0) as u64;
    // Until an answer came back, the parent may not know the key yet: prove the token.
    let proof = if link.answered_seq == 0 {
        let token = master
            .open_text(SEALED_TOKEN, &link.token)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let token = SatelliteToken::decode(&token).map_err(|e| ApiError::Internal(e.to_string()))?;
        Some(SatelliteRequest::proof_for(
            &token.secret,
            &link.satellite,
            &link.public_key,
            seq,
        ))
    } else {
        None
    };
    let request = SatelliteRequest {
        satellite: link.satellite.clone(),
        seq,
        key: link.public_key.clone(),
        proof,
        created_at: now,
        instances: figures.instances,
        events: figures.events,
    };
    let text = request.encode(&key);
    Ok((link, text))
}

/// `satellite export`: the next request file.
pub(crate) async fn satellite_request(state: &AppState, caller: &Caller) -> Result<SatelliteRequestFile, ApiError> {
    may_exchange(state, caller).await?;
    let (link, request) = make_request(state, &caller.audit()).await?;
    Ok(SatelliteRequestFile {
        seq: link.seq.max(0) as u64,
        request,
    })
}

/// Checks what an answer asks this manager to hold: names, SKUs and counts in range.
fn check_contents(answer: &SatelliteAnswer) -> Result<(), ApiError> {
    check_name("the answer's Smart Account name", &answer.account, 100)?;
    check_name("the answer's virtual account name", &answer.va, 100)?;
    if answer.lots.len() > MAX_LOTS {
        return Err(ApiError::BadRequest(format!(
            "the answer carries more than {MAX_LOTS} lots"
        )));
    }
    let max = MAX_QUANTITY as i64;
    let bad_sku = |s: &str| s.is_empty() || s.len() > MAX_SKU || s.chars().any(|c| c.is_control() || c.is_whitespace());
    for lot in &answer.lots {
        if bad_sku(&lot.sku) || !(-max..=max).contains(&lot.quantity) {
            return Err(ApiError::BadRequest(format!(
                "the answer holds an invalid lot ({:?}, {})",
                lot.sku, lot.quantity
            )));
        }
    }
    for (sku, n) in &answer.in_use_elsewhere {
        if bad_sku(sku) || !(0..=max).contains(n) {
            return Err(ApiError::BadRequest(format!(
                "the answer holds an invalid count in use elsewhere ({sku:?}, {n})"
            )));
        }
    }
    Ok(())
}

/// Checks and imports an answer file.
pub(crate) async fn import_answer(state: &AppState, audit: &Audit, text: &str) -> Result<SatelliteExchange, ApiError> {
    let imported = check_and_import(state, audit, text).await;
    let result = imported.as_ref().map_or_else(ApiError::code, |_| "ok");
    state.metrics().satellite_exchange("satellite", result);
    imported
}

/// [`import_answer`] but for the count of exchanges in `/metrics`.
async fn check_and_import(state: &AppState, audit: &Audit, text: &str) -> Result<SatelliteExchange, ApiError> {
    let link = the_link(state).await?;
    let answer = SatelliteAnswer::decode(text, &link.parent_ca_sha).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    check_contents(&answer)?;
    let done = state
        .store()
        .import_satellite_answer(&answer, state.now(), audit)
        .await?;
    Ok(SatelliteExchange {
        seq: done.seq.max(0) as u64,
        account: done.account,
        va: done.va,
        lots: done.lots as u64,
    })
}

/// `satellite import`.
pub(crate) async fn import_satellite_answer(
    state: &AppState,
    caller: &Caller,
    req: ImportSatelliteAnswer,
) -> Result<SatelliteExchange, ApiError> {
    may_exchange(state, caller).await?;
    import_answer(state, &caller.audit(), &req.answer).await
}

/// `satellite sync`: one exchange with the parent over HTTPS, then the import of its answer.
pub(crate) async fn sync_satellite(state: &AppState, caller: &Caller) -> Result<SatelliteExchange, ApiError> {
    may_exchange(state, caller).await?;
    crate::satellite_sync::sync_once(state, &caller.audit()).await
}

/// Licences of the satellite's VA come from the parent: deposits and transfers into or out of
/// it are refused, whoever asks.
pub(crate) async fn refuse_if_from_parent(state: &AppState, va: &VaRow) -> Result<(), ApiError> {
    if state.store().is_satellite_va(&va.id).await? {
        return Err(Refusal::NotAllowed(format!(
            "licences of virtual account {} come from the parent manager; deposit them there",
            va.name
        ))
        .into());
    }
    Ok(())
}
