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

/// Asserts that `caller` may add none of `urls` to Acme: each is a bad request.
async fn assert_bad_urls(state: &AppState, caller: &Caller, urls: &[&str]) {
    for &bad in urls {
        let e = add(state, caller, "Acme", CreateWebhook { url: bad.into() })
            .await
            .map(|c| c.info.url)
            .unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)), "{bad}: {e:?}");
    }
}

/// When `hook` delivered the first alert due, and its last error.
async fn first_delivery(state: &AppState, hook: &str) -> (Option<i64>, Option<String>) {
    let due = state.store().due_deliveries(i64::MAX, 10).await.unwrap();
    let (_, delivered, error) = state
        .store()
        .delivery_state(hook, &due[0].alert_key)
        .await
        .unwrap()
        .unwrap();
    (delivered, error)
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
    assert_bad_urls(
        &state,
        &op,
        &[
            "http://h.example/x",
            "ftp://127.0.0.1/x",
            "not a url",
            "https://",
            "https://h.example/a b",
        ],
    )
    .await;
    assert!(
        list(&state, &op, "Acme").await.unwrap().is_empty(),
        "refusals added nothing"
    );

    // A receiver on loopback: only where the operator allows it.
    let receiver = Arc::new(Receiver::default());
    *receiver.fail.lock().unwrap() = 1;
    let url = start_receiver(receiver.clone()).await;
    let e = add(&state, &op, "Acme", CreateWebhook { url: url.clone() })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--webhook-allow"), "{e}");
    state.webhooks().set_allow(vec!["127.0.0.0/8".parse().unwrap()]);
    let created = add(&state, &op, "Acme", CreateWebhook { url: url.clone() })
        .await
        .unwrap();
    // The store holds the signing secret sealed under the master key, never as given.
    let stored = state.store().list_webhooks(None).await.unwrap();
    assert!(crate::secrets::is_sealed(&stored[0].secret), "{}", stored[0].secret);
    assert!(!stored[0].secret.contains(&created.secret));
    assert_eq!(list(&state, &op, "Acme").await.unwrap(), vec![created.info.clone()]);

    // The 14-day notice; the first try fails (500) and is retried a minute later.
    let r = round(&state).await.unwrap();
    assert_eq!(
        r,
        Round {
            queued: 1,
            delivered: 0,
            failed: 1
        }
    );
    let r = round(&state).await.unwrap();
    assert_eq!(r, Round::default(), "nothing due before the back-off");
    clock.advance(FIRST_BACKOFF);
    let r = round(&state).await.unwrap();
    assert_eq!(
        r,
        Round {
            queued: 0,
            delivered: 1,
            failed: 0
        }
    );
    assert_eq!(round(&state).await.unwrap(), Round::default(), "told once");

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
    assert_eq!(round(&state).await.unwrap().delivered, 1);
    clock.set(NOW + 11 * DAY);
    assert_eq!(round(&state).await.unwrap().delivered, 1);
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
    assert_eq!(round(&state).await.unwrap(), Round::default());
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

// ---- Trust: webhooks are not a way into the network ----

const OP: Caller = Caller {
    principal: Principal::Operator,
    source: None,
};

/// A state with accounts `names`, each with licences expiring in 10 days (so each has an alert).
async fn accounts_with_alerts(db: &TestDb, names: &[&str]) -> (AppState, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(NOW));
    let state = AppState::with_store(db.store.clone(), clock.clone(), Catalog::staros(), "slk_op")
        .await
        .unwrap();
    for name in names {
        let req = CreateAccount {
            name: name.to_string(),
            domain: format!("{}.example", name.to_lowercase()),
        };
        admin::create_account(&state, &OP, req).await.unwrap();
        let lots = DepositLicenses {
            sku: PW.into(),
            quantity: 1,
            expires: Some(format_date(NOW + 10 * DAY)),
        };
        admin::deposit(&state, &OP, name, "DEFAULT", lots).await.unwrap();
    }
    (state, clock)
}

#[tokio::test]
async fn webhook_urls_never_point_into_the_network() {
    let db = TestDb::sqlite().await;
    let (state, _) = accounts_with_alerts(&db, &["Acme"]).await;
    assert_bad_urls(
        &state,
        &OP,
        &[
            "https://169.254.169.254/latest/meta-data/",
            "http://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/latest/meta-data/",
            "https://100.100.100.200/latest/meta-data/",
            "http://127.0.0.1:22/",
            "http://localhost:8080/hook",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:169.254.169.254]/",
            "https://2130706433/hook",
            "https://10.0.0.1/hook",
            "https://172.16.5.4/hook",
            "https://192.168.1.1/hook",
            "https://100.64.0.1/hook",
            "https://[fc00::1]/hook",
            "https://[fe80::1]/hook",
            "https://0.0.0.0/hook",
            "https://[::]/hook",
            "https://224.0.0.1/hook",
            "https://255.255.255.255/hook",
            "https://[ff02::1]/hook",
            "https://user:pw@alerts.acme.example/hook",
            "https://user@alerts.acme.example/hook",
        ],
    )
    .await;
    assert!(list(&state, &OP, "Acme").await.unwrap().is_empty());
    // A name that does not resolve now is accepted: each delivery checks it again.
    add(
        &state,
        &OP,
        "Acme",
        CreateWebhook {
            url: "https://alerts.acme.example/hook".into(),
        },
    )
    .await
    .unwrap();

    // The operator's allow list opens loopback and private ranges, never the others.
    let allow = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "169.254.0.0/16", "fe80::/10"];
    state
        .webhooks()
        .set_allow(allow.iter().map(|c| c.parse().unwrap()).collect());
    for good in [
        "http://127.0.0.1:22/",
        "http://localhost:8080/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://10.0.0.1/hook",
    ] {
        add(&state, &OP, "Acme", CreateWebhook { url: good.into() })
            .await
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    assert_bad_urls(
        &state,
        &OP,
        &[
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/hook",
            "https://[fd00:ec2::254]/latest/meta-data/",
            "https://172.16.5.4/hook",
            "https://user:pw@10.0.0.1/hook",
            "http://10.0.0.1/hook",
        ],
    )
    .await;
    db.finish().await;
}

/// The address is checked again at every delivery, after resolving the name, and the delivery
/// connects to the checked address: a webhook whose name now resolves to a refused address (here:
/// the operator withdrew loopback from the allow list) is not called.
#[tokio::test]
async fn every_delivery_checks_the_address_again() {
    let db = TestDb::sqlite().await;
    let (state, clock) = accounts_with_alerts(&db, &["Acme"]).await;
    state
        .webhooks()
        .set_allow(vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
    let receiver = Arc::new(Receiver::default());
    let url = start_receiver(receiver.clone()).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    let named = add(&state, &OP, "Acme", CreateWebhook { url: by_name }).await.unwrap();
    let literal = add(&state, &OP, "Acme", CreateWebhook { url }).await.unwrap();

    state.webhooks().set_allow(Vec::new());
    let r = round(&state).await.unwrap();
    assert_eq!((r.queued, r.delivered, r.failed), (2, 0, 2), "{r:?}");
    assert!(receiver.got.lock().unwrap().is_empty(), "nothing reached the receiver");
    for (hook, says) in [(&named, "localhost resolves to"), (&literal, "127.0.0.1 is a loopback")] {
        let (delivered, error) = first_delivery(&state, &hook.info.id).await;
        let error = error.unwrap_or_default();
        assert_eq!(delivered, None);
        assert!(error.contains(says) && error.contains("--webhook-allow"), "{error}");
    }

    // Allowed again: both are delivered at their next try.
    state
        .webhooks()
        .set_allow(vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
    clock.advance(FIRST_BACKOFF);
    let r = round(&state).await.unwrap();
    assert_eq!((r.delivered, r.failed), (2, 0), "{r:?}");
    assert_eq!(receiver.got.lock().unwrap().len(), 2);
    db.finish().await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let db = TestDb::sqlite().await;
    let (state, _) = accounts_with_alerts(&db, &["Acme"]).await;
    state.webhooks().set_allow(vec!["127.0.0.0/8".parse().unwrap()]);
    let target = Arc::new(Receiver::default());
    let target_url = start_receiver(target.clone()).await;
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let to = target_url.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, to)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let hook = add(
        &state,
        &OP,
        "Acme",
        CreateWebhook {
            url: format!("http://{addr}/hook"),
        },
    )
    .await
    .unwrap();
    let r = round(&state).await.unwrap();
    assert_eq!((r.delivered, r.failed), (0, 1), "a 3xx is a failed try");
    assert!(target.got.lock().unwrap().is_empty(), "the redirect was not followed");
    let (delivered, error) = first_delivery(&state, &hook.info.id).await;
    assert_eq!(delivered, None);
    assert!(error.unwrap_or_default().contains("307"));
    db.finish().await;
}

#[tokio::test]
async fn an_account_has_at_most_ten_webhooks() {
    let db = TestDb::sqlite().await;
    let (state, _) = accounts_with_alerts(&db, &["Acme"]).await;
    for i in 0..10 {
        let url = format!("https://alerts.acme.example/{i}");
        add(&state, &OP, "Acme", CreateWebhook { url }).await.unwrap();
    }
    let url = "https://alerts.acme.example/10".to_string();
    let e = add(&state, &OP, "Acme", CreateWebhook { url }).await.unwrap_err();
    assert!(matches!(e, ApiError::Conflict(_)), "{e:?}");
    assert!(e.to_string().contains("10 webhooks"), "{e}");
    assert_eq!(list(&state, &OP, "Acme").await.unwrap().len(), 10);
    db.finish().await;
}

/// A receiver that accepts connections and never answers.
async fn start_hanging_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    format!("http://{addr}/hook")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_delay_another_account() {
    let db = TestDb::sqlite().await;
    let (state, clock) = accounts_with_alerts(&db, &["Slow", "Quick"]).await;
    state.webhooks().set_allow(vec!["127.0.0.0/8".parse().unwrap()]);
    let hanging = start_hanging_receiver().await;
    for i in 0..5 {
        let url = format!("{hanging}{i}");
        add(&state, &OP, "Slow", CreateWebhook { url }).await.unwrap();
    }
    clock.advance(1);
    let quick = Arc::new(Receiver::default());
    let url = start_receiver(quick.clone()).await;
    add(&state, &OP, "Quick", CreateWebhook { url }).await.unwrap();

    // The round starts its sends and returns: two of the slow account's five (its bound), and
    // the other account's one.
    let started = std::time::Instant::now();
    let (r, sends) = start_round(&state).await.unwrap();
    assert_eq!(r.queued, 6);
    assert_eq!(sends.len(), 1 + IN_FLIGHT_PER_ACCOUNT, "sends started");
    let deadline = started + std::time::Duration::from_secs(3);
    while quick.got.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the other account's alert waited more than 3 s behind a hanging receiver"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    println!("alert of the other account delivered after {:?}", started.elapsed());
    // While the slow account's two hang, a new round sends none of its other three.
    let (_, more) = start_round(&state).await.unwrap();
    assert_eq!(more.len(), 0);
    db.finish().await;
}
