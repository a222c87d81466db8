//! This manager as a satellite: the "Satellite link" page (`/satellite`) and its forms — link
//! (token, parent URL and CA), export the next request (a download), import an answer (pasted),
//! sync now. Every action is the admin layer's ([`admin::satellite_link`] and its siblings),
//! with its rights: the manager's operator only, so a portal user is refused with one line.

use super::admin::Caller;
use super::extract::{CsrfForm, Session};
use super::satellites::{download, shown};
use super::{ApiError, PortalError, admin, html};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smartlic_protocol::admin::{ImportSatelliteAnswer, LinkSatellite};

/// The fields of the Link form.
#[derive(Debug, Deserialize)]
pub(super) struct LinkForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    parent_url: String,
    #[serde(default)]
    parent_ca_pem: String,
}

/// The field of the import form.
#[derive(Debug, Deserialize)]
pub(super) struct ImportForm {
    #[serde(default)]
    answer: String,
}

/// `GET /satellite`.
pub(super) async fn page(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render(&state, &session, StatusCode::OK, None).await
}

/// `POST /satellite/link`.
pub(super) async fn link(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<LinkForm>,
) -> Result<Response, PortalError> {
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let req = LinkSatellite {
        token: form.token.trim().to_string(),
        parent_url: opt(&form.parent_url),
        parent_ca_pem: opt(&form.parent_ca_pem),
    };
    let done = admin::link_satellite(&state, session.caller(), req)
        .await
        .map(|l| format!("Linked as satellite {}.", l.satellite));
    outcome(&state, &session, done).await
}

/// `POST /satellite/export`: the next request file as a download.
pub(super) async fn export(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(()): CsrfForm<()>,
) -> Result<Response, PortalError> {
    match admin::satellite_request(&state, session.caller()).await {
        Ok(r) => Ok(download(&format!("satellite-request-{}.json", r.seq), r.request)),
        Err(e) => outcome(&state, &session, Err(e)).await,
    }
}

/// `POST /satellite/import`.
pub(super) async fn import(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<ImportForm>,
) -> Result<Response, PortalError> {
    let req = ImportSatelliteAnswer {
        answer: form.answer.trim().to_string(),
    };
    let done = admin::import_satellite_answer(&state, session.caller(), req)
        .await
        .map(|x| imported("Imported", &x));
    outcome(&state, &session, done).await
}

/// `POST /satellite/sync`.
pub(super) async fn sync(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(()): CsrfForm<()>,
) -> Result<Response, PortalError> {
    let done = admin::sync_satellite(&state, session.caller())
        .await
        .map(|x| imported("Synchronized", &x));
    outcome(&state, &session, done).await
}

fn imported(what: &str, x: &smartlic_protocol::admin::SatelliteExchange) -> String {
    format!(
        "{what}: answer to request {}, virtual account {} of {} holds {} lots.",
        x.seq, x.va, x.account, x.lots
    )
}

/// The page after a form: its message, or the refusal above the forms (a refusal of rights is
/// the error page).
async fn outcome(state: &AppState, session: &Session, done: Result<String, ApiError>) -> Result<Response, PortalError> {
    let (status, flash) = match done {
        Ok(message) => (StatusCode::OK, ("info", message)),
        Err(ApiError::BadGateway(m)) => (StatusCode::BAD_GATEWAY, ("error", m)),
        Err(e) => shown(session, e)?,
    };
    render(state, session, status, Some(flash)).await
}

/// The Satellite link page of the session's user.
async fn render(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<(&str, String)>,
) -> Result<Response, PortalError> {
    page_for(state, session.caller(), &session.header(), status, flash)
        .await
        .map_err(|e| session.error(e))
}

/// The Satellite link page as `caller` sees it: the link, or only the Link form when this
/// manager is not linked yet.
pub(super) async fn page_for(
    state: &AppState,
    caller: &Caller,
    header: &html::Header<'_>,
    status: StatusCode,
    flash: Option<(&str, String)>,
) -> Result<Response, ApiError> {
    let link = match admin::satellite_link(state, caller).await {
        Ok(l) => Some(l),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(super::html(status, html::satellite_link(header, link.as_ref(), &flash)))
}
