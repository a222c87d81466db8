//! Satellite managers, the parent's side (docs/satellite.md): `satellite create` makes a
//! satellite of a virtual account and its one-time token; `satellite list`; a satellite's
//! request (carried by hand to `satellite answer`, or posted by the satellite itself to the
//! exchange endpoint) is checked — signature, bound key or token proof, sequence number, figures —
//! applied in one transaction and answered with a file signed by the response-signing key.
//! Rights: the operator, the SA administrator ([`Action::ManageSatellites`]).

use super::*;
use crate::store::{AnswerFigures, CheckedRequest, Exchanged, SatelliteInstanceRow, SatelliteRow};
use smartlic_protocol::satellite::{SatelliteAnswer, SatelliteRequest, SatelliteToken, ca_fingerprint};
use std::collections::BTreeSet;

/// Most product instances in one request.
pub(crate) const MAX_INSTANCES: usize = 200_000;
/// Most events in one request (the satellite sends the rest next time).
pub(crate) const MAX_EVENTS: usize = 1_000;
/// Most SKUs of one instance.
const MAX_SKUS: usize = 64;

/// The name under which a satellite's token secret is sealed.
fn secret_name(id: &str) -> String {
    format!("satellite-secret:{id}")
}

fn satellite_info(r: &SatelliteRow, va: &str, instances: i64) -> SatelliteInfo {
    SatelliteInfo {
        id: r.id.clone(),
        name: r.name.clone(),
        virtual_account: va.to_string(),
        last_exchange: r.last_exchange,
        instances: instances.max(0) as u64,
        linked: r.identity_key.is_some(),
        seq: r.last_seq.max(0) as u64,
        created_at: r.created_at,
    }
}

/// Makes a satellite of a virtual account; the answer holds its token (shown only here).
pub(crate) async fn create_satellite(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: CreateSatellite,
) -> Result<CreatedSatellite, ApiError> {
    let a = resolve_account(state, caller, account, Action::ManageSatellites).await?;
    let va = resolve_va(state, caller, &a, &req.va, Action::ManageSatellites).await?;
    let name = check_name("satellite name", &req.name, 64)?;
    let id = crate::store::new_id();
    let secret = {
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let ca_der = smartlic_protocol::trust::pem_certificates(state.pki().ca_pem())
        .ok()
        .and_then(|c| c.into_iter().next())
        .ok_or_else(|| ApiError::Internal("the manager's CA certificate does not parse".into()))?;
    let sealed = state
        .master_key()
        .seal(&secret_name(&id), secret.as_bytes())
        .map_err(|e| ApiError::Internal(format!("sealing a satellite secret: {e}")))?;
    let row = SatelliteRow {
        id: id.clone(),
        account_id: a.id.clone(),
        va_id: va.id.clone(),
        name,
        secret: sealed,
        identity_key: None,
        last_seq: 0,
        last_answer: None,
        last_exchange: None,
        events_acknowledged: 0,
        created_at: state.now(),
        created_by: caller.audit().actor,
    };
    state.store().create_satellite(&row, &va.name, &caller.audit()).await?;
    let token = SatelliteToken {
        satellite: id,
        secret,
        parent_ca: ca_fingerprint(&ca_der),
    };
    Ok(CreatedSatellite {
        token: token.encode(),
        satellite: satellite_info(&row, &va.name, 0),
    })
}

/// The satellites of an account, by name.
pub(crate) async fn list_satellites(
    state: &AppState,
    caller: &Caller,
    account: &str,
) -> Result<Vec<SatelliteInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ManageSatellites).await?;
    let names = va_names(state, &a.id).await?;
    Ok(state
        .store()
        .list_satellites(&a.id)
        .await?
        .iter()
        .map(|(r, n)| satellite_info(r, names.get(&r.va_id).map_or("", String::as_str), *n))
        .collect())
}

/// Answers a satellite's request file. `caller` is the API key's holder (`satellite answer`),
/// who must manage satellites in the satellite's account; `None` is the satellite itself over
/// the network (`satellite sync`), known by the request's signature alone. Either way a
/// satellite the caller may not see is "not found", like one that does not exist.
// Long: the checks of docs/satellite.md one after the other, before the one write.
pub(crate) async fn answer_request(
    state: &AppState,
    caller: Option<&Caller>,
    source: Option<String>,
    text: &str,
) -> Result<String, ApiError> {
    let answered = apply_request(state, caller, source, text).await;
    let result = answered.as_ref().map_or_else(ApiError::code, |_| "ok");
    state.metrics().satellite_exchange("parent", result);
    answered
}

/// [`answer_request`] but for the count of exchanges in `/metrics`.
async fn apply_request(
    state: &AppState,
    caller: Option<&Caller>,
    source: Option<String>,
    text: &str,
) -> Result<String, ApiError> {
    let request = SatelliteRequest::decode(text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let hidden = || ApiError::NotFound(format!("no satellite {:?} on this license manager", request.satellite));
    let sat = state.store().satellite(&request.satellite).await?.ok_or_else(hidden)?;
    if let Some(c) = caller {
        // Hidden (another account) reads as a satellite that does not exist.
        crate::auth::check(&c.principal, Action::ManageSatellites, Scope::Account(&sat.account_id)).map_err(
            |d| match d {
                crate::auth::Denied::Hidden => hidden(),
                crate::auth::Denied::NotAllowed(why) => ApiError::Forbidden(why),
            },
        )?;
    }
    let account = state.store().find_account(&sat.account_id).await?.ok_or_else(hidden)?;
    let va = state
        .store()
        .find_va(&sat.account_id, &sat.va_id)
        .await?
        .ok_or_else(hidden)?;
    check_key(state, &sat, &request)?;
    let seq = i64::try_from(request.seq)
        .ok()
        .filter(|s| *s >= 1)
        .ok_or_else(|| ApiError::BadRequest(format!("request sequence number {} is out of range", request.seq)))?;
    if seq < sat.last_seq {
        return Err(ApiError::Conflict(format!(
            "request {seq} of satellite {} is replayed: request {} was applied already",
            sat.name, sat.last_seq
        )));
    }
    check_figures(&request)?;
    let audit = match caller {
        Some(c) => c.audit(),
        None => Audit::new(format!("satellite {}", sat.name), source),
    };
    let now = state.now();
    let checked = CheckedRequest {
        seq,
        key: &request.key,
        instances: &request.instances,
        events: &request.events,
    };
    let sign = |f: &AnswerFigures| {
        let answer = SatelliteAnswer {
            satellite: sat.id.clone(),
            seq: request.seq,
            account: account.name.clone(),
            va: va.name.clone(),
            lots: f.lots.clone(),
            in_use_elsewhere: f.in_use_elsewhere.clone(),
            events_acknowledged: f.events_acknowledged,
            issued_at: now,
        };
        Ok(answer.encode(
            state.pki().signing_key(),
            state.pki().signer_pem(),
            state.pki().ca_pem(),
        ))
    };
    match state
        .store()
        .apply_satellite_request(&sat, &checked, now, &audit, sign)
        .await?
    {
        Exchanged::Applied(answer) | Exchanged::Repeated(answer) => Ok(answer),
    }
}

/// The request is signed by the satellite's bound key, or (before one is bound) proves the
/// token's secret for the key it names.
fn check_key(state: &AppState, sat: &SatelliteRow, request: &SatelliteRequest) -> Result<(), ApiError> {
    match &sat.identity_key {
        Some(bound) if *bound == request.key => Ok(()),
        Some(_) => Err(ApiError::Forbidden(format!(
            "the request is not signed by the identity key satellite {} linked with (another satellite, or a copy of its token?)",
            sat.name
        ))),
        None => {
            let secret = state
                .master_key()
                .open_text(&secret_name(&sat.id), &sat.secret)
                .map_err(|e| ApiError::Internal(format!("opening satellite {}'s secret: {e}", sat.name)))?;
            request.proves(&secret).map_err(|_| {
                ApiError::Forbidden(format!(
                    "the request does not prove satellite {}'s token (another token, or an altered request)",
                    sat.name
                ))
            })
        }
    }
}

fn printable(what: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "the request's {what} {:?} is not 1 to {max} printable characters",
            value.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

/// The request's instances and events are within bounds: each UDI once, names printable,
/// counts 0 to [`MAX_QUANTITY`], at most [`MAX_INSTANCES`] instances and [`MAX_EVENTS`] events.
fn check_figures(request: &SatelliteRequest) -> Result<(), ApiError> {
    if request.instances.len() > MAX_INSTANCES {
        return Err(ApiError::BadRequest(format!(
            "the request lists {} product instances; at most {MAX_INSTANCES}",
            request.instances.len()
        )));
    }
    if request.events.len() > MAX_EVENTS {
        return Err(ApiError::BadRequest(format!(
            "the request carries {} events; at most {MAX_EVENTS} (the rest go with the next request)",
            request.events.len()
        )));
    }
    let mut udis = BTreeSet::new();
    for i in &request.instances {
        printable("UDI", &i.udi, 200)?;
        printable("hostname", &i.hostname, 255)?;
        printable("status", &i.status, 64)?;
        if !udis.insert(i.udi.as_str()) {
            return Err(ApiError::BadRequest(format!("the request lists {} twice", i.udi)));
        }
        if i.usage.len() > MAX_SKUS {
            return Err(ApiError::BadRequest(format!(
                "{} reports more than {MAX_SKUS} SKUs",
                i.udi
            )));
        }
        for (sku, n) in &i.usage {
            printable("SKU", sku, 64)?;
            if !(0..=MAX_QUANTITY as i64).contains(n) {
                return Err(ApiError::BadRequest(format!(
                    "{} reports {n} {sku}: counts are 0 to {MAX_QUANTITY}",
                    i.udi
                )));
            }
        }
    }
    for e in &request.events {
        printable("event action", &e.action, 64)?;
        if e.detail.chars().count() > 2_000 {
            return Err(ApiError::BadRequest(format!(
                "event {}'s detail is over 2000 characters",
                e.id
            )));
        }
    }
    Ok(())
}

/// A satellite's product instance as the API shows it (`registered_at` and `id_expires_at`
/// are 0: the satellite does not send them).
pub(crate) fn satellite_instance_info(i: SatelliteInstanceRow, usage: bool) -> InstanceInfo {
    let (pid, sn) = i
        .udi
        .strip_prefix("PID:")
        .and_then(|r| r.split_once(",SN:"))
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .unwrap_or_default();
    InstanceInfo {
        usage: if usage {
            i.usage()
                .into_iter()
                .map(|(sku, n)| LicenseUsage {
                    sku,
                    count: n.max(0) as u64,
                })
                .collect()
        } else {
            Vec::new()
        },
        id: i.id,
        udi: i.udi,
        pid,
        sn,
        hostname: i.hostname,
        virtual_account: i.va_name,
        software_tag: String::new(),
        registered_at: 0,
        last_contact: i.last_contact,
        id_expires_at: 0,
        status: i.status,
        ha_udis: Vec::new(),
        satellite: Some(i.satellite),
    }
}

/// The satellite instance `id` of account `a`, if the caller may read its VA.
pub(crate) async fn find_satellite_instance(
    state: &AppState,
    caller: &Caller,
    a: &AccountRow,
    id: &str,
) -> Result<Option<SatelliteInstanceRow>, ApiError> {
    let Some(i) = state.store().satellite_instance(&a.id, id).await? else {
        return Ok(None);
    };
    let scope = Scope::Va {
        account: &a.id,
        va: &i.va_id,
    };
    require(&caller.principal, Action::ReadVa, scope, "product instance")?;
    Ok(Some(i))
}

/// The refusal to remove or move a satellite's instance on the parent.
pub(crate) fn served_by_satellite(i: &SatelliteInstanceRow) -> ApiError {
    ApiError::Conflict(format!(
        "product instance {} ({}) is served by satellite {}: remove or move it on the satellite",
        i.id, i.hostname, i.satellite
    ))
}

/// Where a page of instances starts among the satellites' instances (after the manager's own):
/// `Some(None)` at their start, `Some(Some((hostname, id)))` after one; `None` if `cursor` is
/// not a satellite cursor.
pub(crate) fn satellite_cursor(cursor: &str) -> Option<Option<(String, String)>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SatCursor {
        satellite: Option<(String, String)>,
    }
    serde_json::from_slice::<SatCursor>(&bytes).ok().map(|c| c.satellite)
}

/// The cursor of the satellites' instances after `after` (`None`: from their start).
pub(crate) fn make_satellite_cursor(after: Option<&SatelliteInstanceRow>) -> String {
    use base64::Engine;
    let key = serde_json::json!({"satellite": after.map(|i| (&i.hostname, &i.id))}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// The licences in use at each satellite of a VA, for its licence list.
pub(crate) async fn satellite_use(state: &AppState, va_id: &VirtualAccountId) -> Result<Vec<SatelliteUse>, ApiError> {
    Ok(state
        .store()
        .satellite_usage_of_va(va_id)
        .await?
        .into_iter()
        .map(|(satellite, sku, in_use)| SatelliteUse { satellite, sku, in_use })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn satellite_cursors_round_trip_and_differ_from_the_managers_own() {
        assert_eq!(satellite_cursor(&make_satellite_cursor(None)), Some(None));
        let row = SatelliteInstanceRow {
            id: "sat-1".into(),
            satellite: "lab".into(),
            va_id: "v".into(),
            va_name: "DEFAULT".into(),
            udi: "PID:A,SN:B".into(),
            hostname: "h,\"1".into(),
            status: "AUTHORIZED".into(),
            last_contact: 0,
            usage: "{}".into(),
        };
        assert_eq!(
            satellite_cursor(&make_satellite_cursor(Some(&row))),
            Some(Some(("h,\"1".into(), "sat-1".into())))
        );
        // The manager's own cursor (a JSON array) is not a satellite cursor.
        use base64::Engine;
        let own = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"["h","id"]"#);
        assert_eq!(satellite_cursor(&own), None);
        assert_eq!(satellite_cursor("not base64 !"), None);
    }

    #[test]
    fn a_udi_splits_into_pid_and_sn() {
        let row = SatelliteInstanceRow {
            id: "sat-1".into(),
            satellite: "lab".into(),
            va_id: "v".into(),
            va_name: "DEFAULT".into(),
            udi: "PID:ASR5500,SN:FOX1".into(),
            hostname: "h".into(),
            status: "AUTHORIZED".into(),
            last_contact: 5,
            usage: r#"{"X":3}"#.into(),
        };
        let info = satellite_instance_info(row, true);
        assert_eq!((info.pid.as_str(), info.sn.as_str()), ("ASR5500", "FOX1"));
        assert_eq!(info.satellite.as_deref(), Some("lab"));
        assert_eq!(
            info.usage,
            vec![LicenseUsage {
                sku: "X".into(),
                count: 3
            }]
        );
    }
}
