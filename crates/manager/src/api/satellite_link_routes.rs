//! Handlers of the satellite side of the satellite exchange (`/satellite…`, the satellite's
//! operator only): each parses, authenticates, and calls [`crate::admin`].

use super::{ApiJson, ClientAddr};
use crate::admin::{self, Caller};
use crate::api::ApiError;
use crate::auth::Principal;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use smartlic_protocol::admin::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of the satellite side (relative to `/api/v1`).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_link))
        .routes(routes!(link))
        .routes(routes!(request))
        .routes(routes!(import))
        .routes(routes!(sync))
}

fn caller(principal: Principal, addr: ClientAddr) -> Caller {
    Caller {
        principal,
        source: addr.0,
    }
}

#[utoipa::path(get, path = "/satellite", tag = "satellite",
    responses((status = 200, description = "this manager's link to its parent", body = SatelliteLinkInfo),
              (status = 403, description = "not the operator"),
              (status = 404, description = "this manager is not linked to a parent")),
    security(("api_key" = [])))]
async fn get_link(State(s): State<AppState>, p: Principal, a: ClientAddr) -> Result<Json<SatelliteLinkInfo>, ApiError> {
    Ok(Json(admin::satellite_link(&s, &caller(p, a)).await?))
}

#[utoipa::path(post, path = "/satellite/link", tag = "satellite",
    request_body = LinkSatellite,
    responses((status = 200, description = "linked: a new identity key, the token and the parent's address kept", body = SatelliteLinkInfo),
              (status = 400, description = "a damaged token, a URL that is not https://, a CA file without a certificate"),
              (status = 403, description = "not the operator"),
              (status = 409, description = "already linked to a parent it exchanged with")),
    security(("api_key" = [])))]
async fn link(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiJson(body): ApiJson<LinkSatellite>,
) -> Result<Json<SatelliteLinkInfo>, ApiError> {
    Ok(Json(admin::link_satellite(&s, &caller(p, a), body).await?))
}

#[utoipa::path(post, path = "/satellite/request", tag = "satellite",
    responses((status = 200, description = "the next request file (its sequence number stored)", body = SatelliteRequestFile),
              (status = 403, description = "not the operator"),
              (status = 404, description = "this manager is not linked to a parent")),
    security(("api_key" = [])))]
async fn request(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
) -> Result<Json<SatelliteRequestFile>, ApiError> {
    Ok(Json(admin::satellite_request(&s, &caller(p, a)).await?))
}

#[utoipa::path(post, path = "/satellite/import", tag = "satellite",
    request_body = ImportSatelliteAnswer,
    responses((status = 200, description = "imported: the VA's lots are the parent's", body = SatelliteExchange),
              (status = 400, description = "not an answer file, altered, or signed under another CA than the token pinned"),
              (status = 403, description = "not the operator"),
              (status = 404, description = "this manager is not linked to a parent"),
              (status = 409, description = "for another satellite, already imported, or not the answer to the latest request")),
    security(("api_key" = [])))]
async fn import(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiJson(body): ApiJson<ImportSatelliteAnswer>,
) -> Result<Json<SatelliteExchange>, ApiError> {
    Ok(Json(admin::import_satellite_answer(&s, &caller(p, a), body).await?))
}

#[utoipa::path(post, path = "/satellite/sync", tag = "satellite",
    responses((status = 200, description = "one exchange with the parent over HTTPS, its answer imported", body = SatelliteExchange),
              (status = 400, description = "the parent's answer is not valid (altered, another CA)"),
              (status = 403, description = "not the operator"),
              (status = 404, description = "this manager is not linked to a parent"),
              (status = 409, description = "linked without a parent URL, or the answer is not for the latest request"),
              (status = 502, description = "the parent could not be reached or refused the request")),
    security(("api_key" = [])))]
async fn sync(State(s): State<AppState>, p: Principal, a: ClientAddr) -> Result<Json<SatelliteExchange>, ApiError> {
    Ok(Json(admin::sync_satellite(&s, &caller(p, a)).await?))
}
