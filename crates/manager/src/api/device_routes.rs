//! Handlers of the device protocol (`/api/v1/device/...`): a JSON `SignedRequest` in, a JSON
//! `SignedResponse` out, or an error body. See [`crate::device`] for the checks.

use super::{ApiJson, ClientAddr};
use crate::api::ApiError;
use crate::device;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use smartlic_protocol::{SignedRequest, SignedResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of the device protocol (relative to `/api/v1`).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(renew_id))
        .routes(routes!(authorize))
        .routes(routes!(deregister))
}

type Signed = Result<Json<SignedResponse>, ApiError>;

#[utoipa::path(post, path = "/device/register", tag = "device",
    request_body(content = Object, description = "SignedRequest carrying a RegisterRequest, signed with the key it registers"),
    responses((status = 200, description = "SignedResponse carrying a RegisterResponse", body = Object),
              (status = 400, description = "malformed, unknown software tag or stale timestamp"),
              (status = 401, description = "bad signature"),
              (status = 403, description = "token invalid, expired, revoked or used up"),
              (status = 409, description = "replayed nonce, or the UDI is registered in another virtual account of the account")))]
async fn register(State(s): State<AppState>, a: ClientAddr, ApiJson(req): ApiJson<SignedRequest>) -> Signed {
    Ok(Json(device::register(&s, req, a.0).await?))
}

#[utoipa::path(post, path = "/device/renew-id", tag = "device",
    request_body(content = Object, description = "SignedRequest carrying a RenewIdRequest"),
    responses((status = 200, description = "SignedResponse carrying a RenewIdResponse", body = Object),
              (status = 401, description = "bad signature"),
              (status = 404, description = "unknown instance"),
              (status = 409, description = "replayed nonce")))]
async fn renew_id(State(s): State<AppState>, a: ClientAddr, ApiJson(req): ApiJson<SignedRequest>) -> Signed {
    Ok(Json(device::renew_id(&s, req, a.0).await?))
}

#[utoipa::path(post, path = "/device/authorize", tag = "device",
    request_body(content = Object, description = "SignedRequest carrying an AuthorizationRequest (usage)"),
    responses((status = 200, description = "SignedResponse carrying an AuthorizationResponse", body = Object),
              (status = 400, description = "unknown SKU, malformed or stale"),
              (status = 401, description = "bad signature"),
              (status = 404, description = "unknown instance"),
              (status = 409, description = "replayed nonce"),
              (status = 422, description = "a count beyond what one instance of its platform can carry (over_capacity)")))]
async fn authorize(State(s): State<AppState>, a: ClientAddr, ApiJson(req): ApiJson<SignedRequest>) -> Signed {
    Ok(Json(device::authorize(&s, req, a.0).await?))
}

#[utoipa::path(post, path = "/device/deregister", tag = "device",
    request_body(content = Object, description = "SignedRequest carrying a DeregisterRequest"),
    responses((status = 200, description = "SignedResponse carrying a DeregisterResponse", body = Object),
              (status = 401, description = "bad signature"),
              (status = 404, description = "unknown instance"),
              (status = 409, description = "replayed nonce")))]
async fn deregister(State(s): State<AppState>, a: ClientAddr, ApiJson(req): ApiJson<SignedRequest>) -> Signed {
    Ok(Json(device::deregister(&s, req, a.0).await?))
}
