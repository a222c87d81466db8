//! The portal's pages (GET handlers), and their renderers that the forms show again after a
//! change or a refusal.

use super::admin::Caller;
use super::extract::Session;
use super::{ApiError, PortalError, admin, html, security_headers};
use crate::auth::{Action, Scope, check};
use crate::ids::{AccountId, VirtualAccountId};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Product instances on one page of a virtual account.
const INSTANCES_SHOWN: u32 = 100;

/// `GET /`: the account, its virtual accounts with their licences, and its alerts.
pub(super) async fn overview(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    let caller = session.caller();
    let account_id = session.account_id();
    let account = admin::get_account(&state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let mut vas = Vec::new();
    for va in admin::list_vas(&state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?
    {
        let licenses = admin::license_list(&state, caller, account_id, &va.id)
            .await
            .map_err(|e| session.error(e))?;
        vas.push(html::VaSummary { va, licenses });
    }
    let alerts = admin::list_alerts(&state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    Ok(super::html(
        StatusCode::OK,
        html::overview(&session.header(), &account, &vas, &alerts),
    ))
}

/// `?instances_after=` of a virtual account's page.
#[derive(Debug, Deserialize)]
pub(super) struct VaQuery {
    instances_after: Option<String>,
}

/// `GET /va/{va}`: a virtual account's page, its instances from `?instances_after=` on.
pub(super) async fn va(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    query: Result<Query<VaQuery>, QueryRejection>,
) -> Result<Response, PortalError> {
    let query = query.map(|q| q.0).map_err(|e| {
        session.error(ApiError::BadRequest(format!(
            "the page address is malformed: {}",
            e.body_text()
        )))
    })?;
    let after = query.instances_after.as_deref().filter(|a| !a.is_empty());
    render_va(&state, &session, &va, StatusCode::OK, None, None, after).await
}

/// Whether `caller` may do `action` in the virtual account `va` of `account`.
fn may_in_va(caller: &Caller, action: Action, account: &AccountId, va: &str) -> bool {
    let va = &VirtualAccountId::new(va);
    check(&caller.principal, action, Scope::Va { account, va }).is_ok()
}

/// The virtual accounts licences of `va_id` may move to: those, other than itself, the caller
/// manages licences in (none if they may not move its licences).
async fn transfer_targets(
    state: &AppState,
    session: &Session,
    va_id: &str,
) -> Result<Vec<smartlic_protocol::admin::VirtualAccountInfo>, PortalError> {
    let (caller, account_id) = (session.caller(), session.account_id());
    if !may_in_va(caller, Action::TransferLicenses, account_id, va_id) {
        return Ok(Vec::new());
    }
    let vas = admin::list_vas(state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    Ok(vas
        .into_iter()
        .filter(|v| v.id != va_id && may_in_va(caller, Action::TransferLicenses, account_id, &v.id))
        .collect())
}

/// The page of a virtual account, its instances from the cursor `instances_after` on; after a
/// form, with its `status`, a message on top and a token secret shown this once.
pub(super) async fn render_va(
    state: &AppState,
    session: &Session,
    va: &str,
    status: StatusCode,
    flash: Option<(&str, String)>,
    new_secret: Option<String>,
    instances_after: Option<&str>,
) -> Result<Response, PortalError> {
    let (caller, account_id) = (session.caller(), session.account_id());
    let shown = |e| session.error(e);
    let account = admin::get_account(state, caller, account_id).await.map_err(shown)?;
    let licenses = admin::license_list(state, caller, account_id, va)
        .await
        .map_err(shown)?;
    let va_id = licenses.virtual_account_id.clone();
    let page = admin::PageRequest {
        limit: Some(INSTANCES_SHOWN),
        after: instances_after,
    };
    let instances = admin::list_instances(state, caller, account_id, Some(&va_id), page)
        .await
        .map_err(shown)?;
    let instances_total = admin::count_instances(state, caller, account_id, Some(&va_id))
        .await
        .map_err(shown)?;
    let tokens = admin::list_tokens(state, caller, account_id, Some(&va_id))
        .await
        .map_err(shown)?;
    let transfer_targets = transfer_targets(state, session, &va_id).await?;
    let usage = admin::usage_history(state, caller, account_id, &va_id, Some(30))
        .await
        .map_err(shown)?;
    let may = |action| may_in_va(caller, action, account_id, &va_id);
    let page = html::VaPage {
        account: &account,
        licenses: &licenses,
        instances: html::InstancesShown {
            page: &instances.instances,
            total: instances_total,
            next: instances.next.as_deref(),
            first: instances_after.is_none(),
        },
        tokens: &tokens,
        usage: &usage.skus,
        rights: html::VaRights {
            create_token: may(Action::CreateToken),
            revoke_token: may(Action::RevokeToken),
            remove_instance: may(Action::RemoveInstance),
            reservations: may(Action::ManageReservations)
                && account.reservation != smartlic_protocol::admin::ReservationPolicy::None,
        },
        transfer_targets: &transfer_targets,
        flash,
        new_secret,
    };
    Ok(super::html(status, html::va(&session.header(), &page)))
}

/// The filter of the event pages, from their query string; a malformed one is a 400 page.
#[derive(Debug)]
pub(super) struct EventQuery(admin::EventFilter);

impl FromRequestParts<AppState> for EventQuery {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state).await?;
        match Query::<admin::EventFilter>::from_request_parts(parts, state).await {
            Ok(Query(filter)) => Ok(EventQuery(filter)),
            Err(e) => {
                let message = format!("the event filter is malformed: {}", e.body_text());
                Err(session.error(ApiError::BadRequest(message)).into_response())
            }
        }
    }
}

/// `GET /events`: the account's event log, filtered.
pub(super) async fn events(
    State(state): State<AppState>,
    session: Session,
    EventQuery(filter): EventQuery,
) -> Result<Response, PortalError> {
    let (caller, account_id) = (session.caller(), session.account_id());
    let shown = |e| session.error(e);
    let account = admin::get_account(&state, caller, account_id).await.map_err(shown)?;
    let events = admin::list_events(&state, caller, account_id, &filter)
        .await
        .map_err(shown)?;
    let vas = admin::list_vas(&state, caller, account_id).await.map_err(shown)?;
    Ok(super::html(
        StatusCode::OK,
        html::events(&session.header(), &account, &vas, &filter, &events),
    ))
}

/// `GET /events.csv`: the same events as a download.
pub(super) async fn events_csv(
    State(state): State<AppState>,
    session: Session,
    EventQuery(filter): EventQuery,
) -> Result<Response, PortalError> {
    let events = admin::list_events(&state, session.caller(), session.account_id(), &filter)
        .await
        .map_err(|e| session.error(e))?;
    let csv = admin::events_csv(&events).map_err(|e| session.error(e))?;
    Ok(security_headers(crate::csv_export::response(
        "smartlic-events.csv",
        csv,
    )))
}

/// The account's alert webhooks (SA administrators), with a just-added one's secret on top.
pub(super) async fn render_webhooks(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<(&str, String)>,
    new_secret: Option<&str>,
) -> Result<Response, PortalError> {
    let (caller, account_id) = (session.caller(), session.account_id());
    let account = admin::get_account(state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let hooks = crate::webhooks::list(state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    Ok(super::html(
        status,
        html::webhooks(&session.header(), &account, &hooks, flash, new_secret),
    ))
}

/// `GET /webhooks`.
pub(super) async fn webhooks(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render_webhooks(&state, &session, StatusCode::OK, None, None).await
}

/// The account's users (for those who may read them), with the management buttons for those who
/// may manage them and a just-rotated key on top.
pub(super) async fn render_users(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<(&str, String)>,
    new_key: Option<html::NewKey<'_>>,
) -> Result<Response, PortalError> {
    let (caller, account_id) = (session.caller(), session.account_id());
    let account = admin::get_account(state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let users = admin::list_users(state, caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let page = html::UsersPage {
        account: &account,
        users: &users,
        me: &session.user.id,
        manage: check(&caller.principal, Action::ManageUsers, Scope::Account(account_id)).is_ok(),
        flash,
        new_key,
    };
    Ok(super::html(status, html::users(&session.header(), &page)))
}

/// `GET /users`.
pub(super) async fn users(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render_users(&state, &session, StatusCode::OK, None, None).await
}

/// The user's own API key page (any role), with a just-rotated key.
pub(super) async fn render_own_key(
    state: &AppState,
    session: &Session,
    new_key: Option<&str>,
) -> Result<Response, PortalError> {
    let account = admin::get_account(state, session.caller(), session.account_id())
        .await
        .map_err(|e| session.error(e))?;
    Ok(super::html(
        StatusCode::OK,
        html::api_key(&session.header(), &account, new_key),
    ))
}

/// `GET /account/key`.
pub(super) async fn own_key(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render_own_key(&state, &session, None).await
}
