//! Webhook deliveries against a real HTTP receiver on loopback: signed, once per condition,
//! retried with back-off after a failure, told again when a cleared condition comes back.

use super::*;
use crate::testutil::TestDb;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use smartlic_clock::FixedClock;
use smartlic_protocol::Catalog;
use smartlic_protocol::admin::{CreateAccount, CreateUser, DepositLicenses, Role};
use smartlic_protocol::time::{DAY, format_date};
use std::sync::{Arc, Mutex};

const NOW: i64 = 1_800_000_000;
const PW: &str = "ASR5K-00-PW10GTWY";

#[derive(Default)]
struct Receiver {
    /// (timestamp header, signature header, body) of every request.
    got: Mutex<Vec<(String, String, String)>>,
    /// Requests still to refuse with 500.
    fail: Mutex<usize>,
}

async fn start_receiver(r: Arc<Receiver>) -> String {
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let r = r.clone();
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                r.got
                    .lock()
                    .unwrap()
                    .push((h(TIMESTAMP_HEADER), h(SIGNATURE_HEADER), body));
                let mut fail = r.fail.lock().unwrap();
                if *fail > 0 {
                    *fail -= 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn alerts_reach_the_webhook_signed_once_and_retried() {
    let db = TestDb::sqlite().await;
    let clock = Arc::new(FixedClock::new(NOW));
    let state = AppState::with_store(db.store.clone(), clock.clone(), Catalog::staros(), "slk_op")
        .await
        .unwrap();
    let op = Caller {
        principal: Principal::Operator,
        source: None,
    };
    let acme = CreateAccount {
        name: "Acme".into(),
        domain: "acme.example".into(),
    };
    admin::create_account(&state, &op, acme).await.unwrap();
    let lots = DepositLicenses {
        sku: PW.into(),
        quantity: 2,
        expires: Some(format_date(NOW + 10 * DAY)),
    };
    admin::deposit(&state, &op, "Acme", "DEFAULT", lots).await.unwrap();

    // Who may add one, and which URLs.
    let va_user = CreateUser {
        email: "v@acme.example".into(),
        role: Role::VaAdmin,
        va: Some("DEFAULT".into()),
        password: None,
    };
    let u = admin::create_user(&state, &op, "Acme", va_user).await.unwrap();
    let va_admin = crate::admin::principal_for_key(&state, &u.api_key)
        .await
        .unwrap()
        .unwrap();
    let as_va_admin = Caller {
        principal: va_admin,
        source: None,
    };
    let e = add(
        &state,
        &as_va_admin,
        "Acme",
        CreateWebhook {
            url: "https://h.example/x".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ApiError::Forbidden(_)), "{e:?}");
    for bad in [
        "http://h.example/x",
        "ftp://127.0.0.1/x",
        "not a url",
        "https://",
        "https://h.example/a b",
    ] {
        let e = add(&state, &op, "Acme", CreateWebhook { url: bad.into() })
            .await
            .unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)), "{bad}: {e:?}");
    }
    assert!(
        list(&state, &op, "Acme").await.unwrap().is_empty(),
        "refusals added nothing"
    );

    let receiver = Arc::new(Receiver::default());
    *receiver.fail.lock().unwrap() = 1;
    let url = start_receiver(receiver.clone()).await;
    let created = add(&state, &op, "Acme", CreateWebhook { url: url.clone() })
        .await
        .unwrap();
    assert_eq!(list(&state, &op, "Acme").await.unwrap(), vec![created.info.clone()]);
    let http = client();

    // The 14-day notice; the first try fails (500) and is retried a minute later.
    let r = round(&state, &http).await.unwrap();
    assert_eq!(
        r,
        Round {
            queued: 1,
            delivered: 0,
            failed: 1
        }
    );
    let r = round(&state, &http).await.unwrap();
    assert_eq!(r, Round::default(), "nothing due before the back-off");
    clock.advance(FIRST_BACKOFF);
    let r = round(&state, &http).await.unwrap();
    assert_eq!(
        r,
        Round {
            queued: 0,
            delivered: 1,
            failed: 0
        }
    );
    assert_eq!(round(&state, &http).await.unwrap(), Round::default(), "told once");

    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let (ts, sig, body) = &got[1];
    let ts: i64 = ts.parse().unwrap();
    assert_eq!(ts, NOW + FIRST_BACKOFF);
    assert_eq!(sig, &format!("sha256={}", signature(&created.secret, ts, body)));
    assert_ne!(sig, &format!("sha256={}", signature("another secret", ts, body)));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["alert"]["kind"], "Licenses Expiring");
    assert!(v["alert"]["message"].as_str().unwrap().contains("14-day notice"), "{v}");

    // Four days later the 7-day notice is a new condition; after the end date, expired.
    clock.set(NOW + 4 * DAY);
    assert_eq!(round(&state, &http).await.unwrap().delivered, 1);
    clock.set(NOW + 11 * DAY);
    assert_eq!(round(&state, &http).await.unwrap().delivered, 1);
    let kinds: Vec<String> = receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, b)| serde_json::from_str::<serde_json::Value>(b).unwrap()["alert"]["message"].to_string())
        .collect();
    assert!(
        kinds[2].contains("7-day notice") && kinds[3].contains("expired on"),
        "{kinds:?}"
    );

    // Removed: nothing more is sent.
    remove(&state, &op, "Acme", &created.info.id).await.unwrap();
    clock.set(NOW + 200 * DAY);
    admin::deposit(
        &state,
        &op,
        "Acme",
        "DEFAULT",
        DepositLicenses {
            sku: PW.into(),
            quantity: 1,
            expires: Some(format_date(NOW + 201 * DAY)),
        },
    )
    .await
    .unwrap();
    assert_eq!(round(&state, &http).await.unwrap(), Round::default());
    assert!(matches!(
        remove(&state, &op, "Acme", &created.info.id).await.unwrap_err(),
        ApiError::NotFound(_)
    ));
    db.finish().await;
}

#[test]
fn backoff_doubles_to_a_cap() {
    assert_eq!(backoff(0), 60);
    assert_eq!(backoff(1), 120);
    assert_eq!(backoff(5), 1920);
    assert_eq!(backoff(30), MAX_BACKOFF);
    assert_eq!(backoff(-3), 60);
}
