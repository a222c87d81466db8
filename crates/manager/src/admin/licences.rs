//! Licences of a virtual account: the list per SKU, the daily usage history, deposits,
//! transfers, and legacy licence keys bound to a chassis.

use super::*;
use crate::store::UsageDay;

/// A virtual account's licence lots (SKU, lot) and its licences in use per SKU.
pub(super) async fn lots_and_use(
    state: &AppState,
    va_id: &VirtualAccountId,
) -> Result<(Vec<(String, compliance::Lot)>, Vec<(String, i64)>), ApiError> {
    let lots = state
        .store()
        .license_lots(va_id)
        .await?
        .into_iter()
        .map(|l| l.into_lot())
        .collect();
    Ok((lots, state.store().va_in_use(va_id).await?))
}

async fn license_list_of(state: &AppState, account: &AccountRow, va: &VaRow) -> Result<LicenseList, ApiError> {
    let (lots, in_use) = lots_and_use(state, &va.id).await?;
    Ok(LicenseList {
        account: account.name.clone(),
        virtual_account: va.name.clone(),
        virtual_account_id: va.id.to_string(),
        licenses: compliance::summarize(state.catalog(), &lots, &in_use, state.now()),
        satellites: super::satellites::satellite_use(state, &va.id).await?,
    })
}

/// Licences of a virtual account per SKU.
pub(crate) async fn license_list(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
) -> Result<LicenseList, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::ReadVa).await?;
    license_list_of(state, &a, &v).await
}

/// A virtual account's daily usage per SKU over the last `days` days (1-365, default 30),
/// today included; days without a change carry the last total forward.
pub(crate) async fn usage_history(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
    days: Option<u32>,
) -> Result<UsageHistory, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::ReadVa).await?;
    let days = i64::from(days.unwrap_or(30));
    if !(1..=365).contains(&days) {
        return Err(ApiError::BadRequest(format!("days must be 1 to 365 (got {days})")));
    }
    let now = state.now();
    let today = now - now.rem_euclid(DAY);
    let since = today - (days - 1) * DAY;
    let rows = state.store().usage_history(&v.id, since).await?;
    let licenses = license_list_of(state, &a, &v).await?;
    Ok(UsageHistory {
        virtual_account: v.name.clone(),
        skus: dense_history(state.catalog(), &licenses, &rows, since, days),
    })
}

/// Turns the history's rows into one point per day and SKU: the day's peak, or
/// the last total carried forward from the previous change (rows before `since` only seed it).
pub(crate) fn dense_history(
    catalog: &smartlic_protocol::Catalog,
    licenses: &LicenseList,
    rows: &[UsageDay],
    since: i64,
    days: i64,
) -> Vec<SkuUsage> {
    let mut skus: Vec<String> = licenses.licenses.iter().map(|l| l.sku.clone()).collect();
    for r in rows {
        if !skus.contains(&r.sku) {
            skus.push(r.sku.clone());
        }
    }
    skus.sort();
    skus.into_iter()
        .map(|sku| {
            let mine: Vec<&UsageDay> = rows.iter().filter(|r| r.sku == sku).collect();
            let mut carried = mine
                .iter()
                .filter(|r| r.day < since)
                .map(|r| r.last)
                .next_back()
                .unwrap_or(0);
            let mut points = Vec::with_capacity(days as usize);
            for d in 0..days {
                let day = since + d * DAY;
                let in_use = match mine.iter().find(|r| r.day == day) {
                    Some(r) => {
                        carried = r.last;
                        r.peak
                    }
                    None => carried,
                };
                points.push(UsagePoint {
                    day: format_date(day),
                    in_use,
                });
            }
            let summary = licenses.licenses.iter().find(|l| l.sku == sku);
            SkuUsage {
                description: summary
                    .map(|l| l.description.clone())
                    .or_else(|| catalog.entitlement(&sku).map(|e| e.description().to_string()))
                    .unwrap_or_default(),
                purchased: summary.map(|l| l.purchased).unwrap_or(0),
                sku,
                days: points,
            }
        })
        .filter(|s| s.purchased > 0 || s.days.iter().any(|p| p.in_use > 0))
        .collect()
}

/// Deposits purchased licences.
pub(crate) async fn deposit(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
    req: DepositLicenses,
) -> Result<LicenseList, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::DepositLicenses).await?;
    refuse_if_from_parent(state, &v).await?;
    let sku = check_sku(state, &req.sku)?;
    let quantity = check_quantity(req.quantity)?;
    let now = state.now();
    let end_date = expiry_date(req.expires.as_deref(), now)?;
    state
        .store()
        .deposit(&a.id, &v.id, &sku, quantity, end_date, now, &caller.audit())
        .await?;
    license_list_of(state, &a, &v).await
}

/// Moves licences between two virtual accounts of one account.
pub(crate) async fn transfer(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: TransferLicenses,
) -> Result<TransferResult, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let from = resolve_va(state, caller, &a, &req.from, Action::TransferLicenses).await?;
    let to = resolve_va(state, caller, &a, &req.to, Action::TransferLicenses).await?;
    refuse_if_from_parent(state, &from).await?;
    refuse_if_from_parent(state, &to).await?;
    if from.id == to.id {
        return Err(ApiError::BadRequest(
            "source and destination are the same virtual account".into(),
        ));
    }
    let sku = check_sku(state, &req.sku)?;
    let quantity = check_quantity(req.quantity)?;
    let transfer_id = state
        .store()
        .transfer(&a.id, &from.id, &to.id, &sku, quantity, state.now(), &caller.audit())
        .await?;
    Ok(TransferResult {
        transfer_id,
        from: license_list_of(state, &a, &from).await?,
        to: license_list_of(state, &a, &to).await?,
    })
}

/// Issues a legacy licence key bound to a chassis (operator only): signed with the manager's
/// signing key under its CA, so a node verifies it with its trust pool alone. Logged.
pub(crate) async fn issue_legacy_key(
    state: &AppState,
    caller: &Caller,
    req: IssueLegacyKey,
) -> Result<IssuedLegacyKey, ApiError> {
    require(&caller.principal, Action::IssueLegacyKey, Scope::Global, "")?;
    let serial = check_name("serial number", &req.serial, 64)?;
    if !serial.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ApiError::BadRequest(format!(
            "serial number {serial:?} must be letters, digits or '-'"
        )));
    }
    let platform = state
        .catalog()
        .software_for(req.platform.trim())
        .map(|s| s.platform.clone())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown platform {:?} (one of {})",
                req.platform.trim(),
                state.catalog().platform_names()
            ))
        })?;
    let (sessions, features) = legacy_grants(state.catalog(), &req)?;
    let now = state.now();
    let expires_at = expiry_date(req.expires.as_deref(), now)?;
    let key = smartlic_protocol::legacy::LegacyKey {
        id: crate::store::new_id(),
        serial,
        platform,
        sessions,
        features,
        expires_at,
        issued_at: now,
    };
    let text = key
        .sign(state.pki().signing_key(), state.pki().signer_pem())
        .map_err(|e| ApiError::Internal(format!("signing a legacy key: {e}")))?;
    state
        .store()
        .log_event(
            now,
            &caller.audit(),
            crate::store::Event {
                action: "legacy.issue",
                object_id: Some(key.id.as_str()),
                detail: format!(
                    "issued legacy licence key {} for PID:{},SN:{}: sessions {:?}, features {:?}, expires {}",
                    key.id,
                    key.platform,
                    key.serial,
                    key.sessions,
                    key.features,
                    key.expires_at.map_or_else(|| "never".to_string(), format_date)
                ),
                ..Default::default()
            },
        )
        .await?;
    Ok(IssuedLegacyKey {
        key: text,
        id: key.id,
        serial: key.serial,
        platform: key.platform,
        sessions: key.sessions,
        features: key.features,
        expires_at: key.expires_at,
    })
}

/// The sessions per service and the on/off features a legacy key grants, checked against the
/// catalog: known names, each once, and at least one of either.
fn legacy_grants(
    catalog: &smartlic_protocol::Catalog,
    req: &IssueLegacyKey,
) -> Result<(std::collections::BTreeMap<String, u64>, Vec<String>), ApiError> {
    let mut sessions = std::collections::BTreeMap::new();
    for (service, n) in &req.sessions {
        let s = catalog.service_by_name(service.trim()).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown service {:?} (one of {})",
                service.trim(),
                catalog
                    .service
                    .iter()
                    .map(|s| s.service.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if *n == 0 || *n > 1_000_000_000 {
            return Err(ApiError::BadRequest(format!(
                "sessions of {} must be 1 to 1000000000",
                s.service
            )));
        }
        if sessions.insert(s.service.clone(), *n).is_some() {
            return Err(ApiError::BadRequest(format!("service {} is given twice", s.service)));
        }
    }
    let mut features = Vec::new();
    for f in &req.features {
        let Some(smartlic_protocol::Entitlement::Feature(e)) = catalog.entitlement(f.trim()) else {
            return Err(ApiError::BadRequest(format!(
                "{:?} is not an on/off feature SKU of the catalog",
                f.trim()
            )));
        };
        if features.contains(&e.sku) {
            return Err(ApiError::BadRequest(format!("feature {} is given twice", e.sku)));
        }
        features.push(e.sku.clone());
    }
    if sessions.is_empty() && features.is_empty() {
        return Err(ApiError::BadRequest(
            "a licence key must license some sessions (--sessions SERVICE=N) or a feature (--feature SKU)".into(),
        ));
    }
    Ok((sessions, features))
}
