//! The licence reservation page of a virtual account (`/va/{va}/reservations`) and its two
//! forms: reserve (→ the page with the authorization code) and return.

use super::extract::{CsrfForm, Session};
use super::{ApiError, PortalError, admin, html};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smartlic_protocol::admin::{CreateReservation, ReturnReservation};
use std::collections::BTreeMap;

/// Prefix of the count fields of the reserve form (`qty.SKU`).
const COUNT_PREFIX: &str = "qty.";

/// The fields of the reserve form: the request code, a count per SKU (`qty.SKU`, empty or 0:
/// none), the universal choice, an end date.
#[derive(Debug, Deserialize)]
pub(super) struct ReserveForm {
    #[serde(default)]
    request_code: String,
    #[serde(default)]
    universal: Option<String>,
    #[serde(default)]
    expires: String,
    #[serde(flatten)]
    counts: BTreeMap<String, String>,
}

/// The field of the return form.
#[derive(Debug, Deserialize)]
pub(super) struct ReturnForm {
    #[serde(default)]
    return_code: String,
}

/// What a reservation form leaves on the page: status, message, authorization code.
type Outcome = (StatusCode, (&'static str, String), Option<String>);

/// A refusal the page shows above the form (the caller's own mistake or the balance); anything
/// else is the error page.
fn shown(session: &Session, e: ApiError) -> Result<Outcome, PortalError> {
    let status = match &e {
        ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Conflict(_) | ApiError::Insufficient(_) => StatusCode::CONFLICT,
        _ => return Err(session.error(e)),
    };
    Ok((status, ("error", e.to_string()), None))
}

/// `GET /va/{va}/reservations`.
pub(super) async fn page(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
) -> Result<Response, PortalError> {
    render(&state, &session, &va, (StatusCode::OK, None, None), "").await
}

/// `POST /va/{va}/reservations`: the page with the authorization code (201), or with the
/// refusal above the form.
pub(super) async fn reserve(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    CsrfForm(form): CsrfForm<ReserveForm>,
) -> Result<Response, PortalError> {
    let mut licenses = BTreeMap::new();
    let mut bad = None;
    for (name, value) in &form.counts {
        let (Some(sku), v) = (name.strip_prefix(COUNT_PREFIX), value.trim()) else {
            continue;
        };
        match v.parse::<u64>() {
            _ if v.is_empty() => {}
            Ok(0) => {}
            Ok(n) => {
                licenses.insert(sku.to_string(), n);
            }
            Err(_) => {
                bad = Some(ApiError::BadRequest(format!(
                    "the count of {sku} must be a whole number"
                )))
            }
        }
    }
    let universal = form.universal.is_some();
    if universal {
        licenses.clear();
    }
    let req = CreateReservation {
        va: va.clone(),
        request_code: form.request_code.trim().to_string(),
        licenses,
        universal,
        expires: Some(form.expires.trim().to_string()).filter(|e| !e.is_empty()),
    };
    let done = match bad {
        Some(e) => Err(e),
        None => admin::create_reservation(&state, session.caller(), session.account_id(), req).await,
    };
    let (status, flash, code) = match done {
        Ok(r) => (
            StatusCode::CREATED,
            (
                "info",
                format!(
                    "Reserved for {}: install the authorization code on the node.",
                    r.reservation.udi
                ),
            ),
            Some(r.authorization_code),
        ),
        Err(e) => shown(&session, e)?,
    };
    let kept = if code.is_none() { form.request_code.trim() } else { "" };
    render(&state, &session, &va, (status, Some(flash), code), kept).await
}

/// `POST /va/{va}/reservations/return`: the page with `ID: returned`, or the refusal.
pub(super) async fn return_code(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    CsrfForm(form): CsrfForm<ReturnForm>,
) -> Result<Response, PortalError> {
    let req = ReturnReservation {
        return_code: form.return_code.trim().to_string(),
    };
    let (status, flash, _) = match admin::return_reservation(&state, session.caller(), session.account_id(), req).await
    {
        Ok(r) => (StatusCode::OK, ("info", format!("{}: returned", r.id)), None),
        Err(e) => shown(&session, e)?,
    };
    render(&state, &session, &va, (status, Some(flash), None), "").await
}

/// The reservation page of `va` with a status, a message and an authorization code.
async fn render(
    state: &AppState,
    session: &Session,
    va: &str,
    (status, flash, authorization_code): (StatusCode, Option<(&str, String)>, Option<String>),
    request_code: &str,
) -> Result<Response, PortalError> {
    let (caller, account_id) = (session.caller(), session.account_id());
    let err = |e| session.error(e);
    let account = admin::get_account(state, caller, account_id).await.map_err(err)?;
    let licenses = admin::license_list(state, caller, account_id, va).await.map_err(err)?;
    let reservations = admin::list_reservations(state, caller, account_id, Some(&licenses.virtual_account_id))
        .await
        .map_err(err)?;
    let page = html::ReservationsPage {
        account: &account,
        licenses: &licenses,
        reservations: &reservations,
        flash,
        authorization_code,
        request_code,
    };
    Ok(super::html(status, html::reservations(&session.header(), &page)))
}
