//! Backpressure on the device protocol: past capacity the manager answers `503` with
//! `Retry-After` and the JSON error body (code `overloaded`) at once, instead of queueing a request
//! until the client times out. A registration storm (every device renewing after an outage) then
//! converges: the agents come back after Retry-After plus jitter.
//!
//! Two bounds on the requests under `/api/v1/device/`: at most `max_in_flight` run at a time, and
//! at most `max_queued` more wait (each for at most `max_wait`) for a free slot. A request that
//! finds the queue full, or waits too long, gets the 503. Other routes are not limited.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use smartlic_protocol::wire::{DEVICE_API, ErrorBody, ErrorDetail, codes};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Requests of the device protocol running at once (default).
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Requests of the device protocol waiting for a slot (default).
pub(crate) const DEFAULT_MAX_QUEUED: usize = 256;
/// Longest wait in the queue before a 503 (default).
pub(crate) const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(2);
/// Seconds the 503 asks the client to wait.
pub(crate) const RETRY_AFTER_SECONDS: u64 = 1;

/// The limits of one manager process. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub(crate) struct DeviceGate {
    /// In flight + queued.
    admitted: Arc<Semaphore>,
    /// In flight.
    running: Arc<Semaphore>,
    max_wait: Duration,
}

impl Default for DeviceGate {
    fn default() -> Self {
        DeviceGate::new(DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED, DEFAULT_MAX_WAIT)
    }
}

impl DeviceGate {
    /// A gate letting `max_in_flight` (at least 1) requests run and `max_queued` wait up to `max_wait`.
    pub(crate) fn new(max_in_flight: usize, max_queued: usize, max_wait: Duration) -> DeviceGate {
        let max_in_flight = max_in_flight.max(1);
        DeviceGate {
            admitted: Arc::new(Semaphore::new(max_in_flight.saturating_add(max_queued))),
            running: Arc::new(Semaphore::new(max_in_flight)),
            max_wait,
        }
    }
}

/// The 503 answer: `Retry-After` and `{"error": {"code": "overloaded", …}}`.
pub(crate) fn overloaded() -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: codes::OVERLOADED.to_string(),
            message: format!("the license manager is over capacity; retry after {RETRY_AFTER_SECONDS} s"),
        },
    };
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    resp
}

/// Middleware: limits the device protocol routes (use with `from_fn_with_state`).
pub(crate) async fn limit(State(gate): State<DeviceGate>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with(DEVICE_API) {
        return next.run(req).await;
    }
    let Ok(_admitted) = gate.admitted.clone().try_acquire_owned() else {
        return overloaded();
    };
    let _running = match tokio::time::timeout(gate.max_wait, gate.running.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        // Timed out in the queue (or the semaphore was closed, which never happens).
        _ => return overloaded(),
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt;

    fn app(gate: DeviceGate, hold: Arc<tokio::sync::Notify>) -> Router {
        let h = hold.clone();
        Router::new()
            .route(
                "/api/v1/device/authorize",
                post(move || {
                    let h = h.clone();
                    async move {
                        h.notified().await;
                        "ok"
                    }
                }),
            )
            .route("/healthz", post(|| async { "healthy" }))
            .layer(axum::middleware::from_fn_with_state(gate, limit))
    }

    fn req(path: &str) -> Request {
        Request::builder().method("POST").uri(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn past_capacity_answers_503_with_retry_after_and_overloaded() {
        let hold = Arc::new(tokio::sync::Notify::new());
        // One running, none queued.
        let router = app(DeviceGate::new(1, 0, Duration::from_millis(50)), hold.clone());
        let first = tokio::spawn(router.clone().oneshot(req("/api/v1/device/authorize")));
        // Let the first request take the slot.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let resp = router.clone().oneshot(req("/api/v1/device/authorize")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let bytes = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let body: ErrorBody = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body.error.code, codes::OVERLOADED);
        // Other routes are not limited.
        let other = router.clone().oneshot(req("/healthz")).await.unwrap();
        assert_eq!(other.status(), StatusCode::OK);
        // The first one completes, and then the slot is free again.
        hold.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        let again = tokio::spawn(router.clone().oneshot(req("/api/v1/device/authorize")));
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        hold.notify_one();
        assert_eq!(again.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_queued_request_that_waits_too_long_gets_503() {
        let hold = Arc::new(tokio::sync::Notify::new());
        let router = app(DeviceGate::new(1, 4, Duration::from_millis(30)), hold.clone());
        let first = tokio::spawn(router.clone().oneshot(req("/api/v1/device/authorize")));
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let resp = router.clone().oneshot(req("/api/v1/device/authorize")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        hold.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}
