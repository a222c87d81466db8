//! The portal under abuse, against the real `smartlic server`: 300 log-ins at once with random
//! e-mails (from 15 client addresses, so that the per-address lock-out alone does not absorb
//! them) keep the manager's resident memory under 512 MiB — password checks are bounded and the
//! excess is answered at once with 503 and Retry-After — and every response carries HSTS.

mod common;
use common::*;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const LOGINS: usize = 300;
const SOURCES: u8 = 15;
const LIMIT_MIB: f64 = 512.0;
const LOGIN_COOKIE: &str = "__Host-smartlic-login";
const HSTS: &str = "max-age=31536000";

fn client(ca: &Path, local: Option<IpAddr>) -> reqwest::Client {
    https_client(ca, local, Duration::from_secs(120))
}

/// The manager's `process_resident_memory_bytes`, MiB.
async fn resident_mib(http: &reqwest::Client, url: &str) -> Option<f64> {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|b| b / (1024.0 * 1024.0))
}

/// Form-encodes `s` (every byte percent-encoded, which any form decoder reads back).
fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// One log-in: (status, Retry-After, HSTS header).
async fn login(
    http: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
) -> (u16, Option<String>, Option<String>) {
    // The log-in form's CSRF protection is a double-submit cookie: any matching pair passes it.
    let csrf = format!("csrf{}", email.len());
    let resp = http
        .post(format!("{url}/login"))
        .header("cookie", format!("{LOGIN_COOKIE}={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}&password={}&csrf={csrf}", enc(email), enc(password)))
        .send()
        .await
        .expect("the manager answers every log-in");
    (
        resp.status().as_u16(),
        header(&resp, "retry-after"),
        header(&resp, "strict-transport-security"),
    )
}

fn world_with_user() -> (World, Server) {
    let w = World::with_acme();
    let s = w.server.clone().expect("server");
    let pw_path = w.password_file("correct horse battery staple");
    w.user("Acme", "admin@acme.example", "sa-admin", &["--password-file", &pw_path]);
    (w, s)
}

#[test]
fn three_hundred_logins_at_once_stay_under_512_mib() {
    let (_w, s) = world_with_user();
    block_on(true, async move {
        let url = s.url.clone();
        let probe = client(&s.ca, None);
        let before = resident_mib(&probe, &url).await.expect("the manager's /metrics");

        // Sample the manager's resident memory while the log-ins run.
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (probe, url, done) = (probe.clone(), url.clone(), done.clone());
            tokio::spawn(async move {
                let mut peak: f64 = 0.0;
                let mut samples = 0;
                while !done.load(Ordering::Relaxed) {
                    if let Some(m) = resident_mib(&probe, &url).await {
                        peak = peak.max(m);
                        samples += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (peak, samples)
            })
        };

        let clients: Vec<reqwest::Client> = (0..SOURCES)
            .map(|i| client(&s.ca, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)))))
            .collect();
        let started = Instant::now();
        let mut logins = Vec::new();
        for i in 0..LOGINS {
            let http = clients[i % clients.len()].clone();
            let url = url.clone();
            logins.push(tokio::spawn(async move {
                let email = if i % 50 == 0 {
                    "admin@acme.example".to_string()
                } else {
                    format!("nobody-{i}-{}@random.example", rand_suffix(i))
                };
                let t = Instant::now();
                let r = login(&http, &url, &email, "not the password").await;
                (r, t.elapsed())
            }));
        }
        let mut counts = std::collections::BTreeMap::new();
        let mut slowest = Duration::ZERO;
        for l in logins {
            let ((status, retry_after, hsts), took) = l.await.expect("log-in task");
            *counts.entry(status).or_insert(0) += 1;
            slowest = slowest.max(took);
            assert!(matches!(status, 401 | 429 | 503), "a log-in was answered {status}");
            if status != 401 {
                assert!(retry_after.is_some(), "{status} without Retry-After");
            }
            assert_eq!(hsts.as_deref(), Some(HSTS));
        }
        let took = started.elapsed();
        done.store(true, Ordering::Relaxed);
        let (peak, samples) = sampler.await.expect("sampler");
        println!(
            "{LOGINS} log-ins at once in {took:?} (slowest {slowest:?}): answers {counts:?}; \
             resident memory {before:.0} MiB before, peak {peak:.0} MiB over {samples} samples"
        );
        assert!(samples > 0, "no sample of the manager's memory");
        assert!(
            peak < LIMIT_MIB,
            "the manager's resident memory reached {peak:.0} MiB (limit {LIMIT_MIB} MiB)"
        );
    });
}

/// Some digits that differ between runs (no randomness crate in the tests).
fn rand_suffix(i: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[test]
fn every_response_says_https_only() {
    let (_w, s) = world_with_user();
    block_on(false, async move {
        let http = client(&s.ca, None);
        for path in [
            "/login",
            "/",
            "/healthz",
            "/metrics",
            "/no/such/page",
            "/api/v1/accounts",
        ] {
            let resp = http.get(format!("{}{path}", s.url)).send().await.expect("an answer");
            let hsts = header(&resp, "strict-transport-security");
            assert_eq!(hsts.as_deref(), Some(HSTS), "{path} ({})", resp.status());
        }
        let (status, _, hsts) = login(&http, &s.url, "admin@acme.example", "correct horse battery staple").await;
        assert_eq!(status, 303);
        assert_eq!(hsts.as_deref(), Some(HSTS));
    });
}
