//! The parent's Satellites page of the logged-in user's Smart Account (`/satellites`) and its two
//! forms: create a satellite (→ the page with its token, shown this once) and answer a pasted
//! request file (→ the answer file as a download). Rights are the admin actions'
//! ([`crate::auth::Action::ManageSatellites`]: the operator and SA administrators).

use super::extract::{CsrfForm, Session};
use super::{ApiError, PortalError, admin, html, security_headers};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use smartlic_protocol::admin::CreateSatellite;

/// The fields of the create form.
#[derive(Debug, Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    va: String,
    #[serde(default)]
    name: String,
}

/// The field of the answer form: the request file's text.
#[derive(Debug, Deserialize)]
pub(super) struct AnswerForm {
    #[serde(default)]
    request: String,
}

/// A refusal the page shows above its forms (the caller's own mistake); anything else is the
/// error page.
pub(super) fn shown(session: &Session, e: ApiError) -> Result<(StatusCode, (&'static str, String)), PortalError> {
    let status = match &e {
        ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        _ => return Err(session.error(e)),
    };
    Ok((status, ("error", e.to_string())))
}

/// A file to download: `name`, JSON, `Content-Disposition: attachment`, the portal's headers.
pub(super) fn download(name: &str, text: String) -> Response {
    let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], text).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    security_headers(resp)
}

/// `GET /satellites`.
pub(super) async fn page(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render(&state, &session, (StatusCode::OK, None), None, ("", "")).await
}

/// `POST /satellites`: the page with the new satellite's token (201), or the refusal above the
/// form (its fields kept).
pub(super) async fn create(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, PortalError> {
    let req = CreateSatellite {
        va: form.va.trim().to_string(),
        name: form.name.trim().to_string(),
    };
    match admin::create_satellite(&state, session.caller(), session.account_id(), req).await {
        Ok(c) => {
            let flash = format!(
                "Satellite {} of {} created: link it with its token.",
                c.satellite.name, c.satellite.virtual_account
            );
            let created = Some((c.satellite.name, c.token));
            render(
                &state,
                &session,
                (StatusCode::CREATED, Some(("info", flash))),
                created,
                ("", ""),
            )
            .await
        }
        Err(e) => {
            let (status, flash) = shown(&session, e)?;
            let kept = (form.va.trim(), form.name.trim());
            render(&state, &session, (status, Some(flash)), None, kept).await
        }
    }
}

/// `POST /satellites/answer`: the answer file as a download, or the page with the refusal.
pub(super) async fn answer(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, PortalError> {
    let caller = session.caller();
    let done = admin::answer_request(&state, Some(caller), caller.source.clone(), form.request.trim()).await;
    match done {
        Ok(text) => Ok(download("satellite-answer.json", text)),
        Err(e) => {
            let (status, flash) = shown(&session, e)?;
            render(&state, &session, (status, Some(flash)), None, ("", "")).await
        }
    }
}

/// The Satellites page with a status, a message, a token just made and the create form's fields.
async fn render(
    state: &AppState,
    session: &Session,
    (status, flash): (StatusCode, Option<(&str, String)>),
    created: Option<(String, String)>,
    kept: (&str, &str),
) -> Result<Response, PortalError> {
    let (caller, account_id) = (session.caller(), session.account_id());
    let err = |e| session.error(e);
    let satellites = admin::list_satellites(state, caller, account_id).await.map_err(err)?;
    let account = admin::get_account(state, caller, account_id).await.map_err(err)?;
    let vas = admin::list_vas(state, caller, account_id).await.map_err(err)?;
    let page = html::SatellitesPage {
        account: &account,
        satellites: &satellites,
        vas: &vas,
        flash,
        created,
        kept,
    };
    Ok(super::html(status, html::satellites(&session.header(), &page)))
}
