//! The administrative actions of the Smart Software Manager — accounts, virtual accounts,
//! licences, tokens, product instances, users, the event log — with input checks and the rights
//! of [`crate::auth`]. The REST API (and later the portal) are thin layers over these.

use crate::auth::{Action, Principal, Scope, require};
use crate::compliance;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AccountRow, Audit, EventRow, InstanceRow, NewToken, NewUser, TokenRow, UserChange, UserRow, VaRow};
use crate::tokens;
use smartlic_protocol::admin::*;
use smartlic_protocol::time::{AUTH_VALIDITY, DAY, format_date, parse_date};

/// Largest quantity in one deposit or transfer.
pub const MAX_QUANTITY: u64 = 1_000_000_000;

/// Who asks, and from where.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The authenticated principal.
    pub principal: Principal,
    /// Client address.
    pub source: Option<String>,
}

impl Caller {
    /// The event-log record of this caller.
    pub(crate) fn audit(&self) -> Audit {
        Audit::new(self.principal.actor(), self.source.clone())
    }
}

fn check_name(what: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{what} must be 1 to {max} printable characters"
        )));
    }
    Ok(v.to_string())
}

fn check_free_text(what: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::BadRequest(format!(
            "{what} must be at most {max} printable characters"
        )));
    }
    Ok(v.to_string())
}

fn check_quantity(q: u64) -> Result<i64, ApiError> {
    if q == 0 || q > MAX_QUANTITY {
        return Err(ApiError::BadRequest(format!("quantity must be 1 to {MAX_QUANTITY}")));
    }
    Ok(q as i64)
}

fn check_sku(state: &AppState, sku: &str) -> Result<String, ApiError> {
    state
        .catalog()
        .entitlement(sku.trim())
        .map(|e| e.sku().to_string())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown SKU {:?} (known SKUs are the catalog's service and feature tags, e.g. {})",
                sku.trim(),
                state
                    .catalog()
                    .service
                    .first()
                    .map(|s| s.sku.as_str())
                    .unwrap_or("none")
            ))
        })
}

/// The account named `account` (id or name) if the caller may do `action` in it.
pub async fn resolve_account(
    state: &AppState,
    caller: &Caller,
    account: &str,
    action: Action,
) -> Result<AccountRow, ApiError> {
    let hidden = || ApiError::NotFound(format!("no Smart Account {:?}", account.trim()));
    let row = state.store().find_account(account).await?.ok_or_else(hidden)?;
    require(
        &caller.principal,
        action,
        Scope::Account(&row.id),
        &format!("Smart Account {:?}", account.trim()),
    )?;
    Ok(row)
}

/// The virtual account `va` (id or name) of `account` if the caller may do `action` in it.
pub async fn resolve_va(
    state: &AppState,
    caller: &Caller,
    account: &AccountRow,
    va: &str,
    action: Action,
) -> Result<VaRow, ApiError> {
    let row = state.store().find_va(&account.id, va).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no virtual account {:?} in Smart Account {}",
            va.trim(),
            account.name
        ))
    })?;
    require(
        &caller.principal,
        action,
        Scope::Va {
            account: &account.id,
            va: &row.id,
        },
        &format!("virtual account {:?}", va.trim()),
    )?;
    Ok(row)
}

fn account_info(a: AccountRow) -> AccountInfo {
    AccountInfo {
        id: a.id,
        name: a.name,
        domain: a.domain,
        created_at: a.created_at,
    }
}

fn va_info(v: VaRow) -> VirtualAccountInfo {
    VirtualAccountInfo {
        id: v.id,
        account_id: v.account_id,
        name: v.name,
        description: v.description,
        created_at: v.created_at,
    }
}

/// An optional expiry date (`YYYY-MM-DD`, its first second, UTC), which must be in the future.
fn expiry_date(text: Option<&str>, now: i64) -> Result<Option<i64>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let d = parse_date(text)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid expiry date {text:?} (expected YYYY-MM-DD)")))?;
    if d <= now {
        return Err(ApiError::BadRequest(format!(
            "expiry date {text} is not in the future (today is {})",
            format_date(now)
        )));
    }
    Ok(Some(d))
}

/// Issues a legacy licence key bound to a chassis (operator only): signed with the manager's
/// signing key under its CA, so a node verifies it with its trust pool alone. Logged.
pub async fn issue_legacy_key(
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
    let mut sessions = std::collections::BTreeMap::new();
    for (service, n) in &req.sessions {
        let s = state.catalog().service_by_name(service.trim()).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown service {:?} (one of {})",
                service.trim(),
                state
                    .catalog()
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
        let Some(smartlic_protocol::Entitlement::Feature(e)) = state.catalog().entitlement(f.trim()) else {
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
                object_id: Some(&key.id),
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

/// Creates a Smart Account (operator only) with its `DEFAULT` virtual account.
pub async fn create_account(state: &AppState, caller: &Caller, req: CreateAccount) -> Result<AccountInfo, ApiError> {
    require(&caller.principal, Action::CreateAccount, Scope::Global, "")?;
    let name = check_name("account name", &req.name, 100)?;
    let domain = check_name("domain", &req.domain, 253)?;
    if domain.contains(char::is_whitespace) {
        return Err(ApiError::BadRequest("domain must not contain spaces".into()));
    }
    let (a, _) = state
        .store()
        .create_account(&name, &domain, state.now(), &caller.audit())
        .await?;
    Ok(account_info(a))
}

/// Accounts the caller can see.
pub async fn list_accounts(state: &AppState, caller: &Caller) -> Result<Vec<AccountInfo>, ApiError> {
    let all = state.store().list_accounts().await?;
    let visible = all
        .into_iter()
        .filter(|a| crate::auth::check(&caller.principal, Action::ReadAccount, Scope::Account(&a.id)).is_ok())
        .map(account_info)
        .collect();
    Ok(visible)
}

/// One account.
pub async fn get_account(state: &AppState, caller: &Caller, account: &str) -> Result<AccountInfo, ApiError> {
    Ok(account_info(
        resolve_account(state, caller, account, Action::ReadAccount).await?,
    ))
}

/// Virtual accounts of an account the caller can see.
pub async fn list_vas(state: &AppState, caller: &Caller, account: &str) -> Result<Vec<VirtualAccountInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let vas = state.store().list_vas(&a.id).await?;
    Ok(vas
        .into_iter()
        .filter(|v| caller.principal.va_restriction().is_none_or(|own| own == v.id))
        .map(va_info)
        .collect())
}

/// Creates a virtual account.
pub async fn create_va(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: CreateVirtualAccount,
) -> Result<VirtualAccountInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::CreateVa).await?;
    let name = check_name("virtual account name", &req.name, 100)?;
    let description = check_free_text("description", &req.description, 500)?;
    let va = state
        .store()
        .create_va(&a.id, &name, &description, state.now(), &caller.audit())
        .await?;
    Ok(va_info(va))
}

async fn license_list_of(state: &AppState, account: &AccountRow, va: &VaRow) -> Result<LicenseList, ApiError> {
    let lots: Vec<_> = state
        .store()
        .license_lots(&va.id)
        .await?
        .into_iter()
        .map(|l| l.into_lot())
        .collect();
    let in_use = state.store().va_in_use(&va.id).await?;
    Ok(LicenseList {
        account: account.name.clone(),
        virtual_account: va.name.clone(),
        virtual_account_id: va.id.clone(),
        licenses: compliance::summarize(state.catalog(), &lots, &in_use, state.now()),
    })
}

/// Licences of a virtual account per SKU.
pub async fn license_list(state: &AppState, caller: &Caller, account: &str, va: &str) -> Result<LicenseList, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::ReadVa).await?;
    license_list_of(state, &a, &v).await
}

/// A virtual account's daily usage per SKU over the last `days` days (1-365, default 30),
/// today included; days without a change carry the last total forward.
pub async fn usage_history(
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

/// Turns change rows (SKU, day, peak, last) into one point per day and SKU: the day's peak, or
/// the last total carried forward from the previous change (rows before `since` only seed it).
pub fn dense_history(
    catalog: &smartlic_protocol::Catalog,
    licenses: &LicenseList,
    rows: &[(String, i64, i64, i64)],
    since: i64,
    days: i64,
) -> Vec<SkuUsage> {
    let mut skus: Vec<String> = licenses.licenses.iter().map(|l| l.sku.clone()).collect();
    for (sku, ..) in rows {
        if !skus.contains(sku) {
            skus.push(sku.clone());
        }
    }
    skus.sort();
    skus.into_iter()
        .map(|sku| {
            let mine: Vec<&(String, i64, i64, i64)> = rows.iter().filter(|r| r.0 == sku).collect();
            let mut carried = mine
                .iter()
                .filter(|r| r.1 < since)
                .map(|r| r.3)
                .next_back()
                .unwrap_or(0);
            let mut points = Vec::with_capacity(days as usize);
            for d in 0..days {
                let day = since + d * DAY;
                let in_use = match mine.iter().find(|r| r.1 == day) {
                    Some(r) => {
                        carried = r.3;
                        r.2
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

/// The alerts of every virtual account of an account the caller may read ([`crate::alerts`]).
pub async fn list_alerts(state: &AppState, caller: &Caller, account: &str) -> Result<Vec<AlertInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let now = state.now();
    let silent = state
        .store()
        .silent_instances(&a.id, now - crate::alerts::FAILED_TO_CONNECT_DAYS * DAY)
        .await?;
    let expired = state
        .store()
        .find_events(
            Some(&a.id),
            &crate::store::EventQuery {
                action_prefix: Some("instance.expire".into()),
                since: Some(now - crate::alerts::REMOVED_SHOWN_DAYS * DAY),
                ..Default::default()
            },
            1000,
        )
        .await?;
    let over_capacity = state
        .store()
        .find_events(
            Some(&a.id),
            &crate::store::EventQuery {
                action_prefix: Some(crate::device::OVER_CAPACITY_EVENT.into()),
                since: Some(now - crate::alerts::OVER_CAPACITY_SHOWN_DAYS * DAY),
                ..Default::default()
            },
            1000,
        )
        .await?;
    let mut out = Vec::new();
    for va in state.store().list_vas(&a.id).await? {
        if require(
            &caller.principal,
            Action::ReadVa,
            Scope::Va {
                account: &a.id,
                va: &va.id,
            },
            "virtual account",
        )
        .is_err()
        {
            continue;
        }
        let lots: Vec<_> = state
            .store()
            .license_lots(&va.id)
            .await?
            .into_iter()
            .map(|l| l.into_lot())
            .collect();
        let in_use = state.store().va_in_use(&va.id).await?;
        let hosts: Vec<(String, i64)> = silent
            .iter()
            .filter(|(va_id, _, _)| *va_id == va.id)
            .map(|(_, host, last)| (host.clone(), *last))
            .collect();
        let removed: Vec<(String, i64, String)> = expired
            .iter()
            .filter(|e| e.va_id.as_deref() == Some(va.id.as_str()))
            .map(|e| (e.object_id.clone().unwrap_or_default(), e.at, e.detail.clone()))
            .collect();
        let mut refused: Vec<(String, i64, String)> = Vec::new();
        // Newest first: one alert per instance, with its latest refusal.
        for e in over_capacity
            .iter()
            .filter(|e| e.va_id.as_deref() == Some(va.id.as_str()))
        {
            let id = e.object_id.clone().unwrap_or_default();
            if !refused.iter().any(|(i, _, _)| *i == id) {
                refused.push((id, e.at, e.detail.clone()));
            }
        }
        out.extend(crate::alerts::va_alerts(
            &crate::alerts::VaFacts {
                va: &va.name,
                lots: &lots,
                in_use: &in_use,
                instances: &hosts,
                removed: &removed,
                over_capacity: &refused,
            },
            now,
        ));
    }
    out.sort_by_key(|x| (x.severity != "critical", x.at));
    Ok(out)
}

/// Removes the product instances that failed to renew: their ID certificate expired (the
/// device has not reached the manager for a year). Their licences are released and the
/// "Product Instance Failed to Renew and was Removed" alert follows. Returns how many.
pub async fn expire_instances(state: &AppState) -> Result<usize, ApiError> {
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

/// Deposits purchased licences.
pub async fn deposit(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
    req: DepositLicenses,
) -> Result<LicenseList, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::DepositLicenses).await?;
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
pub async fn transfer(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: TransferLicenses,
) -> Result<TransferResult, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let from = resolve_va(state, caller, &a, &req.from, Action::TransferLicenses).await?;
    let to = resolve_va(state, caller, &a, &req.to, Action::TransferLicenses).await?;
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

fn token_info(t: TokenRow, now: i64) -> TokenInfo {
    TokenInfo {
        status: tokens::status(&t, now),
        id: t.id,
        virtual_account: t.va_name,
        description: t.description,
        created_by: t.created_by,
        created_at: t.created_at,
        expires_at: t.expires_at,
        max_uses: t.max_uses.map(|m| m.max(0) as u64),
        uses: t.uses.max(0) as u64,
        revoked_at: t.revoked_at,
        export_controlled: t.export_controlled != 0,
    }
}

/// Creates a registration token; the answer is the only place its secret appears.
pub async fn create_token(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
    req: CreateToken,
) -> Result<CreatedToken, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::CreateToken).await?;
    if req.export_controlled {
        require(
            &caller.principal,
            Action::CreateExportToken,
            Scope::Va {
                account: &a.id,
                va: &v.id,
            },
            &format!("virtual account {:?}", va.trim()),
        )?;
    }
    let days = req.expires_days.unwrap_or(tokens::DEFAULT_EXPIRES_DAYS);
    if days == 0 || days > tokens::MAX_EXPIRES_DAYS {
        return Err(ApiError::BadRequest(format!(
            "expires-days must be 1 to {}",
            tokens::MAX_EXPIRES_DAYS
        )));
    }
    let max_uses = match req.max_uses {
        None => None,
        Some(n) if n == 0 || n > MAX_QUANTITY => {
            return Err(ApiError::BadRequest(format!("max-uses must be 1 to {MAX_QUANTITY}")));
        }
        Some(n) => Some(n as i64),
    };
    let description = check_free_text("description", &req.description, 500)?;
    let secret = tokens::new_token_secret();
    let now = state.now();
    let hash = tokens::hash_secret(&secret);
    let row = state
        .store()
        .create_token(
            NewToken {
                va_id: &v.id,
                secret_hash: &hash,
                description: &description,
                expires_at: now + i64::from(days) * DAY,
                max_uses,
                export_controlled: req.export_controlled,
            },
            now,
            &caller.audit(),
        )
        .await?;
    Ok(CreatedToken {
        token: secret,
        info: token_info(row, now),
    })
}

/// The virtual account filter of a list: the one asked for (checked), else the caller's own VA
/// for VA roles, else none.
async fn va_filter(
    state: &AppState,
    caller: &Caller,
    account: &AccountRow,
    va: Option<&str>,
) -> Result<Option<String>, ApiError> {
    match va.map(str::trim).filter(|v| !v.is_empty()) {
        Some(va) => Ok(Some(resolve_va(state, caller, account, va, Action::ReadVa).await?.id)),
        None => Ok(caller.principal.va_restriction().map(str::to_string)),
    }
}

/// Tokens of an account (or one virtual account).
pub async fn list_tokens(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: Option<&str>,
) -> Result<Vec<TokenInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let filter = va_filter(state, caller, &a, va).await?;
    let now = state.now();
    Ok(state
        .store()
        .list_tokens(&a.id, filter.as_deref())
        .await?
        .into_iter()
        .map(|t| token_info(t, now))
        .collect())
}

/// Revokes a token.
pub async fn revoke_token(
    state: &AppState,
    caller: &Caller,
    account: &str,
    token_id: &str,
) -> Result<TokenInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let t = state.store().find_token(&a.id, token_id.trim()).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no registration token {:?} in Smart Account {}",
            token_id.trim(),
            a.name
        ))
    })?;
    require(
        &caller.principal,
        Action::RevokeToken,
        Scope::Va {
            account: &a.id,
            va: &t.va_id,
        },
        "registration token",
    )?;
    let now = state.now();
    let row = state.store().revoke_token(&t, now, &caller.audit()).await?;
    Ok(token_info(row, now))
}

/// The status word of a product instance at `now`.
pub fn instance_status(i: &InstanceRow, now: i64) -> String {
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
        status: instance_status(&i, now),
        udi: format!("PID:{},SN:{}", i.udi_pid, i.udi_sn),
        id: i.id,
        pid: i.udi_pid,
        sn: i.udi_sn,
        hostname: i.hostname,
        virtual_account: i.va_name,
        software_tag: i.software_tag,
        registered_at: i.registered_at,
        last_contact: i.last_contact,
        id_expires_at: i.id_cert_expires_at,
        usage: usage
            .into_iter()
            .map(|(sku, count)| LicenseUsage {
                sku,
                count: count.max(0) as u64,
            })
            .collect(),
    }
}

/// Instances in one page when the caller does not say.
pub const INSTANCE_PAGE: u32 = 1_000;
/// Most instances in one page.
pub const MAX_INSTANCE_PAGE: u32 = 10_000;

/// Which page of instances: at most `limit` (default [`INSTANCE_PAGE`]), after the `after`
/// cursor of the page before.
#[derive(Debug, Clone, Default)]
pub struct PageRequest<'a> {
    /// Most instances.
    pub limit: Option<u32>,
    /// The previous page's `next` cursor.
    pub after: Option<&'a str>,
}

/// One page of instances, by hostname then id.
#[derive(Debug, Clone)]
pub struct InstancePage {
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
pub async fn list_instances(
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
    let after = page.after.map(parse_instance_cursor).transpose()?;
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let filter = va_filter(state, caller, &a, va).await?;
    let now = state.now();
    // One more than asked tells whether a next page exists.
    let mut rows = state
        .store()
        .instance_page(
            &a.id,
            filter.as_deref(),
            after.as_ref().map(|(h, i)| (h.as_str(), i.as_str())),
            i64::from(limit) + 1,
        )
        .await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(instance_cursor)
    } else {
        None
    };
    Ok(InstancePage {
        instances: rows.into_iter().map(|i| instance_info(i, now, Vec::new())).collect(),
        next,
    })
}

/// How many product instances an account (or one virtual account) has.
pub async fn count_instances(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: Option<&str>,
) -> Result<u64, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let filter = va_filter(state, caller, &a, va).await?;
    Ok(state.store().count_instances(&a.id, filter.as_deref()).await?.max(0) as u64)
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
        .instance(id.trim())
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
pub async fn get_instance(
    state: &AppState,
    caller: &Caller,
    account: &str,
    id: &str,
) -> Result<InstanceInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let i = find_instance(state, caller, &a, id, Action::ReadVa).await?;
    let usage = state.store().instance_usage(&i.id).await?;
    Ok(instance_info(i, state.now(), usage))
}

/// Removes a product instance; its licences are released.
pub async fn remove_instance(
    state: &AppState,
    caller: &Caller,
    account: &str,
    id: &str,
) -> Result<RemovedInstance, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let i = find_instance(state, caller, &a, id, Action::RemoveInstance).await?;
    let (_, released) = state
        .store()
        .remove_instance(&i.id, Some(&a.id), state.now(), &caller.audit())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product instance {:?}", id.trim())))?;
    Ok(RemovedInstance {
        id: i.id,
        released: released
            .into_iter()
            .map(|(sku, count)| LicenseUsage {
                sku,
                count: count.max(0) as u64,
            })
            .collect(),
    })
}

pub(crate) fn user_info(u: UserRow) -> UserInfo {
    UserInfo {
        role: u.role.parse().unwrap_or(Role::VaUser),
        id: u.id,
        email: u.email,
        virtual_account: u.va_name,
        has_password: u.password_hash.is_some(),
        created_at: u.created_at,
        disabled: u.disabled_at.is_some(),
    }
}

/// Finds a user of the account, checking that the caller may manage them: an SA administrator
/// (or the operator) may manage anyone of the account; every user may rotate their own key.
async fn user_to_manage(
    state: &AppState,
    caller: &Caller,
    account: &str,
    user: &str,
    own_allowed: bool,
) -> Result<(AccountRow, UserRow), ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let row = state
        .store()
        .find_user(&a.id, user)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {:?} in Smart Account {}", user.trim(), a.name)))?;
    let own = matches!(&caller.principal, Principal::User(u) if u.id == row.id);
    if !(own && own_allowed) {
        require(
            &caller.principal,
            Action::ManageUsers,
            Scope::Account(&a.id),
            "Smart Account",
        )?;
    }
    Ok((a, row))
}

/// Disables, enables or removes a user. A user cannot disable or remove themselves (so an
/// account never locks its last administrator out by mistake: another administrator or the
/// operator does it).
pub async fn change_user(
    state: &AppState,
    caller: &Caller,
    account: &str,
    user: &str,
    change: UserChange<'static>,
) -> Result<Option<UserInfo>, ApiError> {
    let (_, row) = user_to_manage(state, caller, account, user, false).await?;
    if matches!(&caller.principal, Principal::User(u) if u.id == row.id)
        && matches!(change, UserChange::Disable | UserChange::Remove)
    {
        return Err(ApiError::Conflict(
            "you cannot disable or remove yourself; another administrator of the account can".into(),
        ));
    }
    let after = state
        .store()
        .change_user(&row, change, state.now(), &caller.audit())
        .await?;
    Ok(after.map(user_info))
}

/// Gives a user a new API key (the old one stops at once); the answer is the only place the new
/// key appears.
pub async fn rotate_user_key(
    state: &AppState,
    caller: &Caller,
    account: &str,
    user: &str,
) -> Result<CreatedUser, ApiError> {
    let (_, row) = user_to_manage(state, caller, account, user, true).await?;
    let api_key = tokens::new_api_key();
    let hash = tokens::hash_secret(&api_key);
    let after = state
        .store()
        .change_user(&row, UserChange::RotateKey(&hash), state.now(), &caller.audit())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {} was removed meanwhile", row.email)))?;
    Ok(CreatedUser {
        api_key,
        user: user_info(after),
    })
}

/// Replaces the operator key used for this request by a new one (the old one stops at once).
pub async fn rotate_operator_key(state: &AppState, caller: &Caller, used_key: &str) -> Result<RotatedKey, ApiError> {
    require(&caller.principal, Action::CreateAccount, Scope::Global, "operator key")?;
    let api_key = tokens::new_api_key();
    if !state
        .store()
        .rotate_operator_key(
            &tokens::hash_secret(used_key),
            &tokens::hash_secret(&api_key),
            state.now(),
            &caller.audit(),
        )
        .await?
    {
        return Err(ApiError::Conflict("the operator key was rotated meanwhile".into()));
    }
    Ok(RotatedKey { api_key })
}

/// Creates a user; the answer is the only place their API key appears.
pub async fn create_user(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: CreateUser,
) -> Result<CreatedUser, ApiError> {
    let a = resolve_account(state, caller, account, Action::ManageUsers).await?;
    let email = check_name("e-mail", &req.email, 254)?;
    if !email.contains('@') || email.contains(char::is_whitespace) {
        return Err(ApiError::BadRequest(format!("{email:?} is not an e-mail address")));
    }
    let va_id = match (
        req.role.is_va_role(),
        req.va.as_deref().map(str::trim).filter(|v| !v.is_empty()),
    ) {
        (true, Some(va)) => Some(resolve_va(state, caller, &a, va, Action::ReadVa).await?.id),
        (true, None) => {
            return Err(ApiError::BadRequest(format!(
                "role {} is bound to a virtual account: give --va",
                req.role
            )));
        }
        (false, Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "role {} covers the whole Smart Account: leave out --va",
                req.role
            )));
        }
        (false, None) => None,
    };
    let password_hash = match req.password.as_deref() {
        None => None,
        Some(pw) if pw.chars().count() < 8 || pw.len() > 1024 => {
            return Err(ApiError::BadRequest("password must have 8 to 1024 characters".into()));
        }
        Some(pw) => {
            let pw = pw.to_string();
            Some(
                tokio::task::spawn_blocking(move || crate::auth::hash_password(&pw))
                    .await
                    .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))??,
            )
        }
    };
    let api_key = tokens::new_api_key();
    let key_hash = tokens::hash_secret(&api_key);
    let row = state
        .store()
        .create_user(
            NewUser {
                account_id: &a.id,
                email: &email,
                role: req.role.as_str(),
                va_id: va_id.as_deref(),
                api_key_hash: &key_hash,
                password_hash: password_hash.as_deref(),
            },
            state.now(),
            &caller.audit(),
        )
        .await?;
    Ok(CreatedUser {
        api_key,
        user: user_info(row),
    })
}

/// Users of an account.
pub async fn list_users(state: &AppState, caller: &Caller, account: &str) -> Result<Vec<UserInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadUsers).await?;
    Ok(state
        .store()
        .list_users(&a.id)
        .await?
        .into_iter()
        .map(user_info)
        .collect())
}

fn event_info(e: EventRow) -> EventInfo {
    EventInfo {
        id: e.id,
        at: e.at,
        actor: e.actor,
        action: e.action,
        virtual_account_id: e.va_id,
        object_id: e.object_id,
        detail: e.detail,
        source: e.source,
    }
}

/// Which events of an account to list (the API's query and the portal's filter form).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Number of events, newest first (1-1000, default 100).
    pub limit: Option<u32>,
    /// Actions starting with this, e.g. `token.` or `device.register`.
    pub action: Option<String>,
    /// Exactly this actor: `operator`, a user's e-mail, `device:<instance id>`.
    pub actor: Option<String>,
    /// Events of this virtual account (name or id).
    pub va: Option<String>,
    /// From this day on (YYYY-MM-DD, UTC).
    pub since: Option<String>,
    /// Up to and including this day (YYYY-MM-DD, UTC).
    pub until: Option<String>,
}

fn filter_text(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.len() > 200 || v.chars().any(char::is_control) => Err(ApiError::BadRequest(format!(
            "{field} must be at most 200 printable characters"
        ))),
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn filter_day(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_date(v)
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("invalid {field} date {v:?} (expected YYYY-MM-DD)"))),
    }
}

/// The newest events of an account that pass `filter`.
pub async fn list_events(
    state: &AppState,
    caller: &Caller,
    account: &str,
    filter: &EventFilter,
) -> Result<Vec<EventInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadEvents).await?;
    let va_id = match filter_text("va", filter.va.as_deref())? {
        Some(va) => Some(resolve_va(state, caller, &a, &va, Action::ReadVa).await?.id),
        None => None,
    };
    let since = filter_day("since", filter.since.as_deref())?;
    let until = filter_day("until", filter.until.as_deref())?.map(|d| d + DAY);
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(ApiError::BadRequest("since must not be after until".into()));
    }
    let query = crate::store::EventQuery {
        action_prefix: filter_text("action", filter.action.as_deref())?,
        actor: filter_text("actor", filter.actor.as_deref())?,
        va_id,
        since,
        until,
    };
    let limit = i64::from(filter.limit.unwrap_or(100).clamp(1, 1000));
    Ok(state
        .store()
        .find_events(Some(&a.id), &query, limit)
        .await?
        .into_iter()
        .map(event_info)
        .collect())
}

/// The event log as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a comma, a quote
/// or a line break, quotes doubled). A field a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, tab or CR) gets a leading `'`, so an exported log cannot carry one.
pub fn events_csv(events: &[EventInfo]) -> String {
    fn field(out: &mut String, value: &str) {
        let guarded;
        let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            guarded = format!("'{value}");
            guarded.as_str()
        } else {
            value
        };
        if value.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&value.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(value);
        }
    }
    let mut out = String::from("id,time,actor,action,virtual_account_id,object_id,detail,source\r\n");
    for e in events {
        let cells = [
            e.id.to_string(),
            smartlic_protocol::time::format_rfc3339(e.at),
            e.actor.clone(),
            e.action.clone(),
            e.virtual_account_id.clone().unwrap_or_default(),
            e.object_id.clone().unwrap_or_default(),
            e.detail.clone(),
            e.source.clone().unwrap_or_default(),
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}

/// The caller behind an API key (SHA-256 looked up in operator keys, then users).
pub async fn principal_for_key(state: &AppState, key: &str) -> Result<Option<Principal>, ApiError> {
    let hash = tokens::hash_secret(key);
    if state.store().is_operator_key(&hash).await? {
        return Ok(Some(Principal::Operator));
    }
    let Some(u) = state.store().user_by_key_hash(&hash).await? else {
        return Ok(None);
    };
    let role: Role = u
        .role
        .parse()
        .map_err(|e| ApiError::Internal(format!("stored role of user {}: {e}", u.id)))?;
    Ok(Some(Principal::User(crate::auth::User {
        id: u.id,
        email: u.email,
        account_id: u.account_id,
        role,
        va_id: u.va_id,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A cursor gives back the hostname and id it was made of, whatever they hold.
        #[test]
        fn cursors_round_trip(hostname in "\\PC{0,80}", id in "[0-9a-f-]{0,40}") {
            let row = InstanceRow { hostname: hostname.clone(), id: id.clone(), ..InstanceRow::default() };
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

    fn event(actor: &str, detail: &str) -> EventInfo {
        EventInfo {
            id: 7,
            at: 1_800_000_000,
            actor: actor.into(),
            action: "token.create".into(),
            virtual_account_id: Some("va-1".into()),
            object_id: None,
            detail: detail.into(),
            source: Some("127.0.0.1".into()),
        }
    }

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let csv = events_csv(&[
            event("a@x.example", "plain"),
            event("b@x.example", "with, comma and \"quotes\"\nand a line"),
            event("=cmd|' /C calc'!A0", "-2+3"),
        ]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "id,time,actor,action,virtual_account_id,object_id,detail,source"
        );
        assert_eq!(
            lines[1],
            "7,2027-01-15T08:00:00Z,a@x.example,token.create,va-1,,plain,127.0.0.1"
        );
        assert_eq!(
            lines[2],
            "7,2027-01-15T08:00:00Z,b@x.example,token.create,va-1,,\"with, comma and \"\"quotes\"\"\nand a line\",127.0.0.1"
        );
        assert_eq!(
            lines[3],
            "7,2027-01-15T08:00:00Z,'=cmd|' /C calc'!A0,token.create,va-1,,'-2+3,127.0.0.1"
        );
        assert_eq!(lines[4], "", "CRLF after the last record");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn filters_check_their_input() {
        assert_eq!(filter_text("actor", Some("  ")).unwrap(), None);
        assert_eq!(filter_text("actor", Some(" op ")).unwrap().as_deref(), Some("op"));
        assert!(filter_text("actor", Some("a\u{7}b")).is_err());
        assert!(filter_text("actor", Some(&"x".repeat(201))).is_err());
        assert_eq!(filter_day("since", None).unwrap(), None);
        assert!(filter_day("since", Some("2027-02-30")).is_err());
        assert_eq!(
            filter_day("since", Some("2027-01-15")).unwrap(),
            Some(1_800_000_000 - 8 * 3600)
        );
    }
}
