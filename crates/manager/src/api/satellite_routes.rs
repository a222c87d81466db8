//! Handlers of the satellite API, the parent's side: `/accounts/{account}/satellites` (create,
//! list), `/satellites/answer` (a request file carried by hand, API key) and
//! `/satellites/exchange` (the satellite's own HTTPS exchange: no API key, the request's
//! signature is its credential). Each calls [`crate::admin`].

use super::{ApiJson, ApiPath, ClientAddr};
use crate::admin::{self, Caller};
use crate::api::ApiError;
use crate::auth::Principal;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use smartlic_protocol::admin::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest exchange file the parent reads (a satellite of 100,000 instances sends about 30 MB).
pub(crate) const EXCHANGE_LIMIT: usize = 48 << 20;

/// Whether `path` is one that takes an exchange file (and so [`EXCHANGE_LIMIT`]): the API's two
/// and the portal's form that answers a pasted request.
pub(crate) fn takes_exchange_file(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/satellites/answer" | "/api/v1/satellites/exchange" | "/satellites/answer"
    )
}

/// Routes of the satellite API (relative to `/api/v1`).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_satellites, create_satellite))
        .routes(routes!(answer_request))
        .routes(routes!(exchange))
}

fn caller(principal: Principal, addr: ClientAddr) -> Caller {
    Caller {
        principal,
        source: addr.0,
    }
}

/// A request file's text.
fn text(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("not a satellite request file (not UTF-8 text)".into()))
}

/// An answer file as the response body.
fn answer_file(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

#[utoipa::path(get, path = "/accounts/{account}/satellites", tag = "satellites",
    params(("account" = String, Path, description = "Smart Account name or id")),
    responses((status = 200, description = "the satellites, by name", body = Vec<SatelliteInfo>),
              (status = 403, description = "the role may not manage satellites"),
              (status = 404, description = "no such account")),
    security(("api_key" = [])))]
async fn list_satellites(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
) -> Result<Json<Vec<SatelliteInfo>>, ApiError> {
    Ok(Json(admin::list_satellites(&s, &caller(p, a), &account).await?))
}

#[utoipa::path(post, path = "/accounts/{account}/satellites", tag = "satellites",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = CreateSatellite,
    responses((status = 201, description = "created; its token, shown only here", body = CreatedSatellite),
              (status = 400, description = "an empty or over-long name"),
              (status = 403, description = "the role may not manage satellites"),
              (status = 404, description = "no such account or virtual account"),
              (status = 409, description = "the account has a satellite of that name")),
    security(("api_key" = [])))]
async fn create_satellite(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<CreateSatellite>,
) -> Result<(StatusCode, Json<CreatedSatellite>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_satellite(&s, &caller(p, a), &account, body).await?),
    ))
}

#[utoipa::path(post, path = "/satellites/answer", tag = "satellites",
    request_body(content = String, content_type = "application/json",
                 description = "a satellite's request file (`satellite export`), as written"),
    responses((status = 200, description = "the answer file for `satellite import`", content_type = "application/json", body = String),
              (status = 400, description = "not a request file, altered, or figures out of bounds"),
              (status = 403, description = "the role may not manage satellites; a wrong key or token proof"),
              (status = 404, description = "no such satellite (or of another account)"),
              (status = 409, description = "a replayed request (lower sequence number)")),
    security(("api_key" = [])))]
async fn answer_request(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = caller(p, a);
    Ok(answer_file(
        admin::answer_request(&s, Some(&c), c.source.clone(), text(&body)?).await?,
    ))
}

#[utoipa::path(post, path = "/satellites/exchange", tag = "satellites",
    request_body(content = String, content_type = "application/json",
                 description = "a satellite's request file, sent by the satellite itself (`satellite sync`)"),
    responses((status = 200, description = "the answer file", content_type = "application/json", body = String),
              (status = 400, description = "not a request file, altered, or figures out of bounds"),
              (status = 403, description = "a wrong key or token proof"),
              (status = 404, description = "no such satellite"),
              (status = 409, description = "a replayed request (lower sequence number)")))]
async fn exchange(State(s): State<AppState>, a: ClientAddr, body: Bytes) -> Result<Response, ApiError> {
    Ok(answer_file(admin::answer_request(&s, None, a.0, text(&body)?).await?))
}
