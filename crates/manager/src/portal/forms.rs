//! The forms of logged-in users (POST handlers), each a [`CsrfForm`]: a change, then a redirect
//! to the page it was made on, or that page again with the result or the refusal on top.

use super::extract::{CsrfForm, Session};
use super::pages::{render_own_key, render_users, render_va, render_webhooks};
use super::{ApiError, PortalError, admin, html, redirect};
use crate::auth::{Action, Scope, check};
use crate::state::AppState;
use crate::store::UserChange;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use serde::Deserialize;
use smartlic_protocol::admin::{CreateToken, CreateWebhook, TransferLicenses};

/// The fields of the new-token form.
#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    expires_days: String,
    #[serde(default)]
    max_uses: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    export_controlled: Option<String>,
}

/// The fields of the transfer form.
#[derive(Debug, Deserialize)]
pub(super) struct TransferForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    quantity: String,
}

/// The field of the new-webhook form.
#[derive(Debug, Deserialize)]
pub(super) struct WebhookForm {
    #[serde(default)]
    url: String,
}

/// A whole number typed in field `what`; `None` if left empty.
fn optional_number<T: std::str::FromStr>(what: &str, text: &str) -> Result<Option<T>, ApiError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| ApiError::BadRequest(format!("{what} must be a whole number (got {t:?})")))
}

/// `POST /va/{va}/tokens`: the page again with the new token's secret shown once (201), or with
/// the reason of a 400.
pub(super) async fn create_token(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> Result<Response, PortalError> {
    let req = optional_number("Expires after (days)", &form.expires_days).and_then(|expires_days| {
        Ok(CreateToken {
            expires_days,
            max_uses: optional_number("Max. uses", &form.max_uses)?,
            description: form.description.clone(),
            export_controlled: form.export_controlled.is_some(),
        })
    });
    let created = match req {
        Ok(req) => admin::create_token(&state, session.caller(), session.account_id(), &va, req).await,
        Err(e) => Err(e),
    };
    let (status, flash, secret) = match created {
        Ok(t) => (StatusCode::CREATED, ("info", "Token created.".into()), Some(t.token)),
        Err(e @ ApiError::BadRequest(_)) => (StatusCode::BAD_REQUEST, ("error", e.to_string()), None),
        Err(e) => return Err(session.error(e)),
    };
    render_va(&state, &session, &va, status, Some(flash), secret, None).await
}

/// `POST /va/{va}/transfers`: the page again with what moved, or with the reason of a 400 or
/// 409 and the form to correct it.
pub(super) async fn transfer_licenses(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    CsrfForm(form): CsrfForm<TransferForm>,
) -> Result<Response, PortalError> {
    let req = match optional_number::<u64>("Quantity", &form.quantity) {
        Ok(Some(quantity)) => Ok(TransferLicenses {
            from: va.clone(),
            to: form.to.trim().to_string(),
            sku: form.sku.trim().to_string(),
            quantity,
        }),
        Ok(None) => Err(ApiError::BadRequest("Quantity is required".into())),
        Err(e) => Err(e),
    };
    let done = match req {
        Ok(req) => admin::transfer(&state, session.caller(), session.account_id(), req)
            .await
            .map(|r| r.to.virtual_account),
        Err(e) => Err(e),
    };
    let (status, flash) = match done {
        Ok(to) => {
            let quantity = form.quantity.trim();
            let msg = format!("Transferred {quantity} {} to {to}.", form.sku.trim());
            (StatusCode::OK, ("info", msg))
        }
        Err(e @ ApiError::BadRequest(_)) => (StatusCode::BAD_REQUEST, ("error", e.to_string())),
        Err(e @ (ApiError::Conflict(_) | ApiError::Insufficient(_))) => {
            (StatusCode::CONFLICT, ("error", e.to_string()))
        }
        Err(e) => return Err(session.error(e)),
    };
    render_va(&state, &session, &va, status, Some(flash), None, None).await
}

/// 303 back to the page of the virtual account `va`.
fn back_to(va: &str) -> Response {
    redirect(&format!("/va/{}", html::query_value(va)))
}

/// The one-button forms of a virtual account's page that act on one of its objects.
#[derive(Debug, Clone, Copy)]
pub(super) enum VaButton {
    /// `POST /va/{va}/tokens/{token}/revoke`.
    RevokeToken,
    /// `POST /va/{va}/instances/{instance}/remove`.
    RemoveInstance,
}

/// The handler of a [`VaButton`] on `/va/{va}/…/{object}/…`: the action, then back to the VA's
/// page.
pub(super) fn va_button(button: VaButton) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              session: Session,
              Path((va, object)): Path<(String, String)>,
              CsrfForm(()): CsrfForm<()>| async move {
            let (caller, account) = (session.caller(), session.account_id());
            let done = match button {
                VaButton::RevokeToken => admin::revoke_token(&state, caller, account, &object).await.map(drop),
                VaButton::RemoveInstance => admin::remove_instance(&state, caller, account, &object).await.map(drop),
            };
            done.map_err(|e| session.error(e))?;
            Ok::<_, PortalError>(back_to(&va))
        },
    )
}

/// `POST /webhooks`: the page again with the new webhook's secret shown once (201), or with the
/// reason of a 400 or 409.
pub(super) async fn add_webhook(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<WebhookForm>,
) -> Result<Response, PortalError> {
    let req = CreateWebhook {
        url: form.url.trim().to_string(),
    };
    match crate::webhooks::add(&state, session.caller(), session.account_id(), req).await {
        Ok(created) => {
            let msg = format!("Webhook added: alerts go to {}.", created.info.url);
            let flash = Some(("info", msg));
            render_webhooks(&state, &session, StatusCode::CREATED, flash, Some(&created.secret)).await
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            render_webhooks(&state, &session, e.status(), Some(("error", e.to_string())), None).await
        }
        Err(e) => Err(session.error(e)),
    }
}

/// `POST /webhooks/{webhook}/remove`, then back to the webhooks page.
pub(super) async fn remove_webhook(
    State(state): State<AppState>,
    session: Session,
    Path(webhook): Path<String>,
    CsrfForm(()): CsrfForm<()>,
) -> Result<Response, PortalError> {
    crate::webhooks::remove(&state, session.caller(), session.account_id(), &webhook)
        .await
        .map_err(|e| session.error(e))?;
    Ok(redirect("/webhooks"))
}

/// A refused user change: the users page again with the reason on top and the refusal's status
/// (400, 403 or 409) for those who may read users; an error page otherwise.
async fn user_refused(state: &AppState, session: &Session, e: ApiError) -> Result<Response, PortalError> {
    let readable = check(
        &session.caller().principal,
        Action::ReadUsers,
        Scope::Account(session.account_id()),
    )
    .is_ok();
    match e {
        ApiError::BadRequest(_) | ApiError::Forbidden(_) | ApiError::Conflict(_) if readable => {
            render_users(state, session, e.status(), Some(("error", e.to_string())), None).await
        }
        e => Err(session.error(e)),
    }
}

/// `POST /users/{user}/disable|enable|remove` making `change` (SA administrators; never to
/// themselves), then back to the list.
pub(super) fn change_user(change: UserChange<'static>) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>, session: Session, Path(user): Path<String>, CsrfForm(()): CsrfForm<()>| async move {
            match admin::change_user(&state, session.caller(), session.account_id(), &user, change).await {
                Ok(_) => Ok(redirect("/users")),
                Err(e) => user_refused(&state, &session, e).await,
            }
        },
    )
}

/// `POST /users/{user}/rotate-key` (SA administrators, or the user themselves): the users page
/// with the new key shown once.
pub(super) async fn rotate_key(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<String>,
    CsrfForm(()): CsrfForm<()>,
) -> Result<Response, PortalError> {
    match admin::rotate_user_key(&state, session.caller(), session.account_id(), &user).await {
        Ok(rotated) => {
            let msg = format!("{} has a new API key; the previous one stopped.", rotated.user.email);
            let key = html::NewKey {
                email: &rotated.user.email,
                key: &rotated.api_key,
            };
            render_users(&state, &session, StatusCode::OK, Some(("info", msg)), Some(key)).await
        }
        Err(e) => user_refused(&state, &session, e).await,
    }
}

/// `POST /account/key`: the user's own key rotated, the new one shown once.
pub(super) async fn rotate_own_key(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(()): CsrfForm<()>,
) -> Result<Response, PortalError> {
    let rotated = admin::rotate_user_key(&state, session.caller(), session.account_id(), &session.user.id)
        .await
        .map_err(|e| session.error(e))?;
    render_own_key(&state, &session, Some(&rotated.api_key)).await
}
