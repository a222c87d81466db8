//! The floors `smartlic bench fleet` measures renewals against, in the same run: the crypto
//! floor (the manager's signature work of one renewal, on one core) and the transport floor (the
//! same client, TLS and HTTP stack and the manager's own listener and middleware, against an
//! endpoint that does no work).
//!
//! The no-op endpoint is a path under the device API that no route serves
//! ([`TRANSPORT_FLOOR_PATH`]): the manager reads the body, passes it through the same layers as a
//! renewal (body limit, request counting, the device routes' admission gate) and answers its
//! small `404` error at once, without touching the database or any key. So the manager needs no
//! benchmark endpoint, and the figure includes everything of the stack a renewal pays for, minus
//! its crypto and its database work (the client sends a pre-signed renewal body, and does not
//! verify the error answer).

use ed25519_dalek::SigningKey;
use smartlic_agent::transport::{CallHome, TransportError, nonce};
use smartlic_protocol::wire::{AuthorizationRequest, AuthorizationResponse, Compliance, EntitlementStatus, Usage};
use smartlic_protocol::{SignedRequest, SignedResponse};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the transport floor's requests go: under the device API, served by no route.
pub const TRANSPORT_FLOOR_PATH: &str = "/api/v1/device/transport-floor";

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The transport floor's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransportFloor {
    /// Requests answered by the no-op endpoint, per second (all workers).
    pub per_s: f64,
    /// Requests that did not get the no-op answer (503s included).
    pub errors: u64,
}

/// `concurrency` workers post a pre-signed renewal to the no-op endpoint of the managers behind
/// `homes` (worker w to manager w mod M) for `dur`.
pub async fn transport_floor(homes: &[CallHome], concurrency: usize, dur: Duration) -> TransportFloor {
    let body = AuthorizationRequest {
        hostname: "transport-floor".into(),
        usage: vec![Usage {
            sku: "ASR5K-00-PW10GTWY".into(),
            count: 3,
        }],
    };
    let key = SigningKey::from_bytes(&[7; 32]);
    let Ok(req) = SignedRequest::sign(&key, Some("transport-floor".into()), nonce(), now_s(), &body) else {
        return TransportFloor::default();
    };
    let req = Arc::new(req);
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + dur;
    let mut workers = Vec::new();
    for w in 0..concurrency.max(1) {
        let Some(home) = homes.get(w % homes.len().max(1)).cloned() else {
            break;
        };
        let (req, ok, errors) = (req.clone(), ok.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < end {
                match home.post(TRANSPORT_FLOOR_PATH, &req).await {
                    Err(TransportError::Refused { status: 404, .. }) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    TransportFloor {
        per_s: ok.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64(),
        errors: errors.load(Ordering::Relaxed),
    }
}

/// The manager's crypto per renewal on one core: verify the request signature, sign the answer.
pub fn crypto_floor_per_s(dur: Duration) -> f64 {
    let device = SigningKey::from_bytes(&[7; 32]);
    let manager = SigningKey::from_bytes(&[9; 32]);
    let vk = device.verifying_key();
    let body = AuthorizationRequest {
        hostname: "bench".into(),
        usage: vec![Usage {
            sku: "ASR5K-00-PW10GTWY".into(),
            count: 3,
        }],
    };
    let req = match SignedRequest::sign(&device, Some("i".into()), nonce(), now_s(), &body) {
        Ok(r) => r,
        Err(_) => return 0.0,
    };
    let answer = AuthorizationResponse {
        status: Compliance::Authorized,
        entitlements: vec![EntitlementStatus {
            sku: "ASR5K-00-PW10GTWY".into(),
            count: 3,
            status: Compliance::Authorized,
        }],
        authorized_at: 1,
        expires_at: 2,
        renew_at: 3,
    };
    let start = Instant::now();
    let mut n = 0u64;
    // Bounded by time (and a count, should the clock misbehave).
    while start.elapsed() < dur && n < 10_000_000 {
        for _ in 0..16 {
            let p = std::hint::black_box(&req).open::<AuthorizationRequest>(&vk);
            let Ok(p) = p else { return 0.0 };
            let s = SignedResponse::sign(&manager, "", p.nonce, 1, &answer);
            let _ = std::hint::black_box(s);
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crypto_floor_is_measured() {
        assert!(crypto_floor_per_s(Duration::from_millis(20)) > 0.0);
    }
}
