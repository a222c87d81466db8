//! Smart Account requests (the seed's "Request a Smart Account"): anyone may ask for a Smart
//! Account through the portal's public form (`/request-account`) or `POST
//! /api/v1/account-requests`; the request stays pending until the operator approves it (the
//! account, its `DEFAULT` virtual account and its SA administrator are created in one
//! transaction) or rejects it.
//!
//! Submissions are unauthenticated, so they are bounded before anything costly is done: at most
//! [`MAX_PENDING`] pending requests in all and [`MAX_PER_SOURCE_PER_DAY`] per client address
//! (IPv6: per /64) per day, else 429; the password is hashed (argon2) only after those bounds
//! passed, under the portal's [`crate::portal::LoginGate`] (503 when no check is free), and only
//! its hash is stored.

use crate::admin::{Caller, user_info};
use crate::api::ApiError;
use crate::auth::{Action, Scope, require};
use crate::state::AppState;
use crate::store::Audit;
use crate::store::account_requests::{AccountRequestRow, NewAccountRequest, RequestBounds};
use crate::tokens;
use smartlic_protocol::admin::{AccountRequestInfo, ApprovedAccountRequest, SubmitAccountRequest};

/// Pending requests in all; beyond, submissions get 429.
pub(crate) const MAX_PENDING: i64 = 1_000;
/// Requests per client address (IPv6: per /64) per day; beyond, submissions get 429.
pub(crate) const MAX_PER_SOURCE_PER_DAY: i64 = 3;
/// Most requests a list shows.
pub(crate) const LIST_LIMIT: i64 = 1_000;

/// One invalid field of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The form field (`requester_email`, `on_behalf_email`, `domain`, `name`, `password`).
    pub field: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

/// A checked submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    requester_email: String,
    on_behalf_email: Option<String>,
    authority: bool,
    domain: String,
    name: String,
    password: String,
}

fn printable(v: &str) -> bool {
    !v.chars().any(char::is_control)
}

fn check_email(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> String {
    let v = value.trim();
    let ok = (3..=254).contains(&v.len())
        && printable(v)
        && !v.contains(char::is_whitespace)
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.')
        });
    if !ok {
        errors.push(FieldError {
            field,
            message: "Enter an e-mail address such as name@example.com (at most 254 characters).".into(),
        });
    }
    v.to_string()
}

/// The domain of an e-mail address (lower case), if any.
pub(crate) fn email_domain(email: &str) -> Option<String> {
    email
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks every field of a submission; all the problems at once.
pub(crate) fn check(req: &SubmitAccountRequest) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let requester_email = check_email("requester_email", &req.requester_email, &mut errors);
    let on_behalf = req.on_behalf_email.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let on_behalf_email = match (req.authority, on_behalf) {
        (true, _) => None,
        (false, None) => {
            errors.push(FieldError {
                field: "on_behalf_email",
                message: "Enter the e-mail address of the person who will create the account.".into(),
            });
            None
        }
        (false, Some(v)) => Some(check_email("on_behalf_email", v, &mut errors)),
    };
    let domain = match req.domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => d.to_ascii_lowercase(),
        None => email_domain(&requester_email).unwrap_or_default(),
    };
    if !valid_domain(&domain) {
        errors.push(FieldError {
            field: "domain",
            message: "The account domain identifier must be a domain name such as example.com.".into(),
        });
    }
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || !printable(&name) {
        errors.push(FieldError {
            field: "name",
            message: "The account name must be 1 to 100 printable characters.".into(),
        });
    }
    let pw_chars = req.password.chars().count();
    if !(8..=1024).contains(&pw_chars) || req.password.len() > 4096 {
        errors.push(FieldError {
            field: "password",
            message: "The password must have 8 to 1024 characters.".into(),
        });
    }
    if errors.is_empty() {
        Ok(Checked {
            requester_email,
            on_behalf_email,
            authority: req.authority,
            domain,
            name,
            password: req.password.clone(),
        })
    } else {
        Err(errors)
    }
}

/// Field errors as one API error.
pub(crate) fn bad_request(errors: &[FieldError]) -> ApiError {
    ApiError::BadRequest(
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The key a client address is counted under (IPv6: its /64; `unknown` without an address).
pub(crate) fn source_key(source: Option<&str>) -> String {
    match source {
        Some(s) => crate::portal::address_key(s).trim_start_matches("addr:").to_string(),
        None => "unknown".into(),
    }
}

fn bounds(now: i64) -> RequestBounds {
    RequestBounds {
        max_pending: MAX_PENDING,
        max_per_source: MAX_PER_SOURCE_PER_DAY,
        since: now - 86_400,
    }
}

/// Stores a checked submission as PENDING: bounds first, then the password hash (bounded), then
/// the insert, which checks the bounds again in its transaction.
pub(crate) async fn submit(
    state: &AppState,
    source: Option<&str>,
    req: Checked,
) -> Result<AccountRequestInfo, ApiError> {
    let key = source_key(source);
    let now = state.now();
    if let Some(refusal) = state.store().account_request_refusal(&key, bounds(now)).await? {
        return Err(refusal.into());
    }
    let Some(hash) = state.logins().hash(req.password).await? else {
        return Err(ApiError::Busy(
            "the license manager is busy checking passwords: please try again in a moment".into(),
        ));
    };
    let row = state
        .store()
        .insert_account_request(
            NewAccountRequest {
                requester_email: &req.requester_email,
                on_behalf_email: req.on_behalf_email.as_deref(),
                authority: req.authority,
                domain: &req.domain,
                name: &req.name,
                password_hash: &hash,
                source: &key,
            },
            bounds(now),
            now,
            &Audit::new(req.requester_email.clone(), source.map(str::to_string)),
        )
        .await?;
    Ok(info(row))
}

/// The API form of a stored request (never its password hash).
pub(crate) fn info(r: AccountRequestRow) -> AccountRequestInfo {
    AccountRequestInfo {
        id: r.id,
        requester_email: r.requester_email,
        on_behalf_email: r.on_behalf_email,
        authority: r.authority,
        domain: r.domain,
        name: r.name,
        source: r.source,
        status: r.status,
        created_at: r.created_at,
        decided_at: r.decided_at,
        decided_by: r.decided_by,
        reason: r.reason,
        account_id: r.account_id.map(String::from),
    }
}

/// Requests, newest first (operator only); `status` is `pending`, `approved` or `rejected`.
pub(crate) async fn list(
    state: &AppState,
    caller: &Caller,
    status: Option<&str>,
) -> Result<Vec<AccountRequestInfo>, ApiError> {
    require(&caller.principal, Action::ReviewAccountRequests, Scope::Global, "")?;
    let status = match status.map(|s| s.trim().to_ascii_uppercase()) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) if ["PENDING", "APPROVED", "REJECTED"].contains(&s.as_str()) => Some(s),
        Some(s) => {
            return Err(ApiError::BadRequest(format!(
                "status must be pending, approved or rejected, not {s:?}"
            )));
        }
    };
    Ok(state
        .store()
        .list_account_requests(status.as_deref(), LIST_LIMIT)
        .await?
        .into_iter()
        .map(info)
        .collect())
}

fn check_id(id: &str) -> Result<&str, ApiError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(ApiError::NotFound(format!(
            "no Smart Account request {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    Ok(id)
}

/// Approves a pending request (operator only): the account, its DEFAULT VA and its SA
/// administrator with a new API key, shown only here.
pub(crate) async fn approve(state: &AppState, caller: &Caller, id: &str) -> Result<ApprovedAccountRequest, ApiError> {
    require(&caller.principal, Action::ReviewAccountRequests, Scope::Global, "")?;
    let id = check_id(id)?;
    let api_key = tokens::new_api_key();
    let (req, account, user) = state
        .store()
        .approve_account_request(id, &tokens::hash_secret(&api_key), state.now(), &caller.audit())
        .await?;
    Ok(ApprovedAccountRequest {
        request: info(req),
        account: crate::admin::account_info(account),
        admin: user_info(user),
        api_key,
    })
}

/// Rejects a pending request (operator only), with a reason.
pub(crate) async fn reject(
    state: &AppState,
    caller: &Caller,
    id: &str,
    reason: &str,
) -> Result<AccountRequestInfo, ApiError> {
    require(&caller.principal, Action::ReviewAccountRequests, Scope::Global, "")?;
    let id = check_id(id)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::BadRequest(
            "reason must be 1 to 500 printable characters".into(),
        ));
    }
    Ok(info(
        state
            .store()
            .reject_account_request(id, reason, state.now(), &caller.audit())
            .await?,
    ))
}

#[cfg(test)]
mod tests;
