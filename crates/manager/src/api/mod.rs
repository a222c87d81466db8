//! The HTTP edge: the router, extractors that turn every malformed request into an [`ApiError`]
//! (never a 500 or a panic), the admin REST API ([`admin_routes`]), the device protocol
//! ([`device_routes`]), the OpenAPI document, health, metrics and the portal ([`crate::portal`]).

pub(crate) mod admin_routes;
pub(crate) mod device_routes;
mod error;
mod reservation_routes;
mod satellite_link_routes;
mod satellite_routes;
mod va_routes;

pub use error::ApiError;

#[cfg(test)]
mod tests;

use crate::auth::Principal;
use crate::state::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Largest request body accepted (64 KiB); bigger ones get 413.
pub(crate) const BODY_LIMIT: usize = smartlic_protocol::envelope::MAX_ENVELOPE_BYTES;

/// A JSON body; a bad one is a 400 (or 413) [`ApiError`].
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(ApiError::from(r as JsonRejection)),
        }
    }
}

/// Path parameters; bad ones are a 400.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(ApiError::from(r as PathRejection)),
        }
    }
}

/// A query string; a bad one is a 400.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(ApiError::from(r as QueryRejection)),
        }
    }
}

/// The client's address, when the server knows it (not under `Router::oneshot`).
#[derive(Debug, Clone)]
pub(crate) struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

/// The API key of a request, as sent (`Authorization: Bearer KEY`).
#[derive(Debug, Clone)]
pub(crate) struct BearerKey(pub String);

fn bearer_key(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing API key (send Authorization: Bearer KEY)".into()))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .ok_or_else(|| ApiError::Unauthorized("Authorization header must be \"Bearer KEY\"".into()))
}

impl<S: Send + Sync> FromRequestParts<S> for BearerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        bearer_key(parts).map(|k| BearerKey(k.to_string()))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer_key(parts)?;
        crate::admin::principal_for_key(state, key)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("API key is not valid".into()))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "smartlic license manager",
        description = "Administration API of the smartlic Smart Software Manager. Authenticate with \
                       `Authorization: Bearer KEY` (the operator key from `admin.key`, or a user's key). \
                       Errors are `{\"error\": {\"code\", \"message\"}}`. The device protocol under \
                       `/api/v1/device` uses signed envelopes instead of API keys (docs/protocol.md)."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Smart Accounts and virtual accounts"),
        (name = "licenses", description = "Purchased licences, transfers and usage"),
        (name = "tokens", description = "Product Instance Registration tokens"),
        (name = "instances", description = "Registered product instances"),
        (name = "users", description = "Users, roles and the event log"),
        (name = "reservations", description = "Licence reservations (SLR/PLR) for nodes that never reach the manager"),
        (name = "satellites", description = "Satellite managers of a virtual account, and their exchanges (docs/satellite.md)"),
        (name = "satellite", description = "This manager as a satellite of a parent manager: link, request, import, sync"),
        (name = "device", description = "Device protocol (signed envelopes)")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The OpenAPI document and the API routes it describes.
fn api_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            admin_routes::routes()
                .merge(va_routes::routes())
                .merge(reservation_routes::routes())
                .merge(satellite_routes::routes())
                .merge(satellite_link_routes::routes())
                .merge(device_routes::routes()),
        )
        .split_for_parts()
}

/// The whole HTTP service of one manager.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_parts();
    Router::new()
        .merge(api)
        .merge(api_docs(doc))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::portal::routes())
        .fallback(no_route)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            crate::backpressure::DeviceGate::default(),
            crate::backpressure::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_requests))
        // `body_limit` bounds every body (and decides which routes take an exchange file); the
        // extractors' own limit would only repeat it, per route.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(body_limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        // HTTPS only: a browser keeps to https for this host for a year (every response).
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=31536000"),
        ))
        .with_state(state)
}

/// The OpenAPI document at `/api/v1/openapi.json` and Swagger UI over it at `/api/docs/` (its
/// files are built into the binary by utoipa-swagger-ui's `vendored` feature). The UI loads only
/// its own scripts and the document from this origin; its inline style attributes and `data:`
/// icons are the only exceptions the policy makes.
fn api_docs(doc: utoipa::openapi::OpenApi) -> Router<AppState> {
    let docs: Router<AppState> = utoipa_swagger_ui::SwaggerUi::new("/api/docs")
        .url("/api/v1/openapi.json", doc)
        .into();
    docs.layer(axum::middleware::map_response(|mut resp: Response| async move {
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
            ),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        resp
    }))
}

/// Most of an over-long body read (and dropped) before answering 413, and for how long.
const DRAIN_BYTES: usize = 1 << 20;
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads every request body before its handler, refusing one over [`BODY_LIMIT`] (a satellite's
/// exchange file: [`satellite_routes::EXCHANGE_LIMIT`]) with 413. The one place that bounds
/// bodies: the router turns the extractors' `DefaultBodyLimit` off, so no route sets a limit of
/// its own.
///
/// An over-long body is still read (and dropped) up to [`DRAIN_BYTES`] before the answer: over
/// HTTP/2, answering while the client is still sending made the stream end in a reset that
/// clients report instead of the status (curl printed `000`); once the body is read, every client
/// gets its 413. A body announced (Content-Length) or found beyond the drain bound is answered at
/// once: a client sending that much gets whatever its HTTP stack makes of the early answer.
async fn body_limit(req: Request, next: Next) -> Response {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let (limit, drain) = if satellite_routes::takes_exchange_file(parts.uri.path()) {
        (satellite_routes::EXCHANGE_LIMIT, satellite_routes::EXCHANGE_LIMIT)
    } else {
        (BODY_LIMIT, DRAIN_BYTES)
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain as u64) {
        return ApiError::TooLarge(limit).into_response();
    }
    let mut body = body;
    let mut kept: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return ApiError::BadRequest("the request body could not be read".into()).into_response();
        };
        let Ok(data) = frame.into_data() else { continue };
        kept.extend_from_slice(&data);
        if kept.len() > limit {
            // Over the limit: read on (and drop) a bounded amount for a bounded time.
            let mut seen = kept.len();
            drop(kept);
            let deadline = tokio::time::Instant::now() + DRAIN_FOR;
            while seen <= drain {
                match tokio::time::timeout_at(deadline, body.frame()).await {
                    Ok(Some(Ok(frame))) => seen += frame.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
            return ApiError::TooLarge(limit).into_response();
        }
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(kept))).await
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("a request handler panicked".into()).into_response()
}

async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute(uri.path().chars().take(200).collect())
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let mut resp = next.run(req).await;
    state.metrics().request(&route, resp.status().as_u16());
    resp.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::warn!("health check: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "reason": "database does not answer"})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let now = state.clock().now();
    let figures = tokio::try_join!(state.store().licence_gauges(now), state.store().instances_by_status());
    match figures {
        Ok((licences, instances)) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            state.metrics().render(&licences, &instances),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!("metrics: reading the store's figures: {e}");
            ApiError::from(e).into_response()
        }
    }
}
