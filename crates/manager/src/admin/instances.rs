//! Product instances: pages with cursors, one instance, removal and expiry.

use super::*;
use crate::ids::ProductInstanceId;

/// The status word of a product instance at `now`.
pub(crate) fn instance_status(i: &InstanceRow, now: i64) -> String {
    if i.id_cert_expires_at <= now {
        "ID EXPIRED".into()
    } else if i.last_auth_at.is_some_and(|t| now - t > AUTH_VALIDITY) {
        "AUTHORIZATION EXPIRED".into()
    } else {
        i.last_auth_status.clone().unwrap_or_else(|| "REGISTERED".into())
    }
}

fn instance_info(i: InstanceRow, now: i64, usage: Vec<(String, i64)>) -> InstanceInfo {
    let ha_udis = serde_json::from_str::<Vec<smartlic_protocol::HaUdi>>(&i.ha_udis)
        .map(|list| list.iter().map(|m| format!("{}:{}", m.role, m.udi)).collect())
        .unwrap_or_default();
    InstanceInfo {
        ha_udis,
        satellite: None,
        status: instance_status(&i, now),
        udi: format!("PID:{},SN:{}", i.udi_pid, i.udi_sn),
        id: i.id.into(),
        pid: i.udi_pid,
        sn: i.udi_sn,
        hostname: i.hostname,
        virtual_account: i.va_name,
        software_tag: i.software_tag,
        registered_at: i.registered_at,
        last_contact: i.last_contact,
        id_expires_at: i.id_cert_expires_at,
        usage: license_usage(usage),
    }
}

/// Licences in use per SKU as the API shows them (counts clamped at zero).
fn license_usage(rows: Vec<(String, i64)>) -> Vec<LicenseUsage> {
    rows.into_iter()
        .map(|(sku, count)| LicenseUsage {
            sku,
            count: count.max(0) as u64,
        })
        .collect()
}

/// Instances in one page when the caller does not say.
pub(crate) const INSTANCE_PAGE: u32 = 1_000;
/// Most instances in one page.
pub(crate) const MAX_INSTANCE_PAGE: u32 = 10_000;

/// Which page of instances: at most `limit` (default [`INSTANCE_PAGE`]), after the `after`
/// cursor of the page before.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageRequest<'a> {
    /// Most instances.
    pub limit: Option<u32>,
    /// The previous page's `next` cursor.
    pub after: Option<&'a str>,
}

/// One page of instances, by hostname then id.
#[derive(Debug, Clone)]
pub(crate) struct InstancePage {
    /// The instances.
    pub instances: Vec<InstanceInfo>,
    /// The cursor of the next page (`None`: this is the last one).
    pub next: Option<String>,
}

/// The opaque cursor of the instances after `i`: base64url of its hostname and id.
fn instance_cursor(i: &InstanceRow) -> String {
    use base64::Engine;
    let key = serde_json::json!([i.hostname, i.id]).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn parse_instance_cursor(cursor: &str) -> Result<(String, String), ApiError> {
    use base64::Engine;
    let bad = || ApiError::BadRequest("after is not a cursor this license manager gave out".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// A page of the product instances of an account (or one virtual account).
pub(crate) async fn list_instances(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: Option<&str>,
    page: PageRequest<'_>,
) -> Result<InstancePage, ApiError> {
    let limit = page.limit.unwrap_or(INSTANCE_PAGE);
    if !(1..=MAX_INSTANCE_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {MAX_INSTANCE_PAGE}")));
    }
    // A satellite cursor: the manager's own instances are done, the satellites' follow.
    let satellite_after = page.after.and_then(satellite_cursor);
    let after = match satellite_after {
        Some(_) => None,
        None => page.after.map(parse_instance_cursor).transpose()?,
    };
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let filter = va_filter(state, caller, &a, va).await?;
    let now = state.now();
    let mut instances = Vec::new();
    if satellite_after.is_none() {
        // One more than asked tells whether a next page exists.
        let mut rows = state
            .store()
            .instance_page(
                &a.id,
                filter.as_ref(),
                after.as_ref().map(|(h, i)| (h.as_str(), i.as_str())),
                i64::from(limit) + 1,
            )
            .await?;
        if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            let next = rows.last().map(instance_cursor);
            return Ok(InstancePage {
                instances: rows.into_iter().map(|i| instance_info(i, now, Vec::new())).collect(),
                next,
            });
        }
        instances.extend(rows.into_iter().map(|i| instance_info(i, now, Vec::new())));
    }
    // Then the instances of the satellites of the account (or VA), by hostname.
    let room = limit as usize - instances.len();
    let sat_after = satellite_after.flatten();
    let mut sats = state
        .store()
        .satellite_instance_page(
            &a.id,
            filter.as_ref(),
            sat_after.as_ref().map(|(h, i)| (h.as_str(), i.as_str())),
            room as i64 + 1,
        )
        .await?;
    let next = if sats.len() > room {
        sats.truncate(room);
        Some(make_satellite_cursor(sats.last()))
    } else {
        None
    };
    instances.extend(sats.into_iter().map(|i| satellite_instance_info(i, false)));
    Ok(InstancePage { instances, next })
}

/// How many product instances an account (or one virtual account) has.
pub(crate) async fn count_instances(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: Option<&str>,
) -> Result<u64, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let filter = va_filter(state, caller, &a, va).await?;
    let own = state.store().count_instances(&a.id, filter.as_ref()).await?;
    let at_satellites = state.store().count_satellite_instances(&a.id, filter.as_ref()).await?;
    Ok((own + at_satellites).max(0) as u64)
}

async fn find_instance(
    state: &AppState,
    caller: &Caller,
    a: &AccountRow,
    id: &str,
    action: Action,
) -> Result<InstanceRow, ApiError> {
    let i = state
        .store()
        .instance(&ProductInstanceId::new(id.trim()))
        .await?
        .filter(|i| i.account_id == a.id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no product instance {:?} in Smart Account {}",
                id.trim(),
                a.name
            ))
        })?;
    require(
        &caller.principal,
        action,
        Scope::Va {
            account: &a.id,
            va: &i.va_id,
        },
        "product instance",
    )?;
    Ok(i)
}

/// One product instance with its usage.
pub(crate) async fn get_instance(
    state: &AppState,
    caller: &Caller,
    account: &str,
    id: &str,
) -> Result<InstanceInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    if let Some(i) = find_satellite_instance(state, caller, &a, id).await? {
        return Ok(satellite_instance_info(i, true));
    }
    let i = find_instance(state, caller, &a, id, Action::ReadVa).await?;
    let usage = state.store().instance_usage(&i.id).await?;
    Ok(instance_info(i, state.now(), usage))
}

/// Removes a product instance; its licences are released.
pub(crate) async fn remove_instance(
    state: &AppState,
    caller: &Caller,
    account: &str,
    id: &str,
) -> Result<RemovedInstance, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    if let Some(i) = find_satellite_instance(state, caller, &a, id).await? {
        return Err(served_by_satellite(&i));
    }
    let i = find_instance(state, caller, &a, id, Action::RemoveInstance).await?;
    let (_, released) = state
        .store()
        .remove_instance(&i.id, Some(&a.id), state.now(), &caller.audit())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product instance {:?}", id.trim())))?;
    Ok(RemovedInstance {
        id: i.id.into(),
        released: license_usage(released),
    })
}

/// Moves a product instance into another virtual account of its Smart Account: its licences in
/// use leave the old VA's totals and join the new one's at once; the node learns its compliance
/// there at its next renewal. The caller needs the right in both virtual accounts.
pub(crate) async fn move_instance(
    state: &AppState,
    caller: &Caller,
    account: &str,
    id: &str,
    req: MoveInstance,
) -> Result<MovedInstance, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    // A satellite's instance lives in the satellite's VA: it moves there, not here.
    if let Some(i) = find_satellite_instance(state, caller, &a, id).await? {
        return Err(served_by_satellite(&i));
    }
    let i = find_instance(state, caller, &a, id, Action::MoveInstance).await?;
    let to = req.to.trim();
    if to.is_empty() {
        return Err(ApiError::BadRequest("to must name a virtual account".into()));
    }
    let to = resolve_va(state, caller, &a, to, Action::MoveInstance).await?;
    let moved = state
        .store()
        .move_instance(&i.id, &to, state.now(), &caller.audit())
        .await?;
    Ok(MovedInstance {
        id: moved.before.id.into(),
        from: moved.before.va_name,
        to: to.name,
        usage: license_usage(moved.usage),
    })
}

/// Removes the product instances that failed to renew: their ID certificate expired (the
/// device has not reached the manager for a year). Their licences are released and the
/// "Product Instance Failed to Renew and was Removed" alert follows. Returns how many.
pub(crate) async fn expire_instances(state: &AppState) -> Result<usize, ApiError> {
    let now = state.now();
    let audit = Audit::new("system".to_string(), None);
    let mut removed = 0;
    for id in state.store().expired_instances(now).await? {
        if state.store().expire_instance(&id, now, &audit).await?.is_some() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A cursor gives back the hostname and id it was made of, whatever they hold.
        #[test]
        fn cursors_round_trip(hostname in "\\PC{0,80}", id in "[0-9a-f-]{0,40}") {
            let row = InstanceRow { hostname: hostname.clone(), id: id.clone().into(), ..InstanceRow::default() };
            let c = instance_cursor(&row);
            prop_assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{}", c);
            prop_assert_eq!(parse_instance_cursor(&c).ok(), Some((hostname, id)));
        }

        /// Anything else is a 400 (or, by chance, some cursor), never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,120}") {
            match parse_instance_cursor(&text) {
                Ok(_) => {}
                Err(e) => prop_assert!(matches!(e, ApiError::BadRequest(_)), "{e}"),
            }
        }
    }
}
