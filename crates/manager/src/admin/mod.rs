//! The administrative actions of the Smart Software Manager — accounts, virtual accounts,
//! licences, tokens, product instances, users, the event log — with input checks and the rights
//! of [`crate::auth`]. The REST API (and later the portal) are thin layers over these.

use crate::api::ApiError;
use crate::auth::{Action, Principal, Scope, require};
use crate::compliance;
use crate::ids::{AccountId, TokenId, VirtualAccountId};
use crate::state::AppState;
use crate::store::{AccountRow, Audit, EventRow, InstanceRow, NewToken, NewUser, TokenRow, UserChange, UserRow, VaRow};

use smartlic_protocol::admin::*;
use smartlic_protocol::time::{AUTH_VALIDITY, DAY, format_date, parse_date};

/// Largest quantity in one deposit or transfer.
pub(crate) const MAX_QUANTITY: u64 = 1_000_000_000;

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
pub(crate) async fn resolve_account(
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
pub(crate) async fn resolve_va(
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

/// The names of an account's virtual accounts by id, for lists that name each row's VA.
async fn va_names(
    state: &AppState,
    account_id: &AccountId,
) -> Result<std::collections::BTreeMap<VirtualAccountId, String>, ApiError> {
    Ok(state
        .store()
        .list_vas(account_id)
        .await?
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect())
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

/// The virtual account filter of a list: the one asked for (checked), else the caller's own VA
/// for VA roles, else none.
async fn va_filter(
    state: &AppState,
    caller: &Caller,
    account: &AccountRow,
    va: Option<&str>,
) -> Result<Option<VirtualAccountId>, ApiError> {
    match va.map(str::trim).filter(|v| !v.is_empty()) {
        Some(va) => Ok(Some(resolve_va(state, caller, account, va, Action::ReadVa).await?.id)),
        None => Ok(caller.principal.va_restriction().cloned()),
    }
}

mod accounts;
mod alerts;
mod events;
mod instances;
mod licences;
mod reports;
mod reservations;
mod satellite_link;
mod satellites;
mod tokens;
mod users;

pub(crate) use accounts::*;
pub(crate) use alerts::*;
pub(crate) use events::*;
pub(crate) use instances::*;
pub(crate) use licences::*;
pub(crate) use reports::*;
pub(crate) use reservations::*;
pub(crate) use satellite_link::*;
pub(crate) use satellites::*;
pub(crate) use tokens::*;
pub(crate) use users::*;
