//! Satellite managers through the API, the parent's side: a satellite stand-in here makes the
//! request files a satellite would (its own Ed25519 key, the token's proof); the answers are
//! checked as a satellite would check them. Merged listings and compliance, the sequence rules,
//! the retry of a lost answer, every refusal, and the rights.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use smartlic_protocol::satellite::{SatelliteAnswer, SatelliteToken};
use std::collections::BTreeMap;

const SATS: &str = "/api/v1/accounts/Acme/satellites";
const ANSWER: &str = "/api/v1/satellites/answer";
const EXCHANGE: &str = "/api/v1/satellites/exchange";

use crate::testutil::Sat;

impl Sat {
    /// The answer checked as the satellite checks it (CA pin, chain, signature).
    fn open(&self, answer: &Value) -> SatelliteAnswer {
        SatelliteAnswer::decode(&answer.to_string(), &self.token.parent_ca).unwrap()
    }
}

impl App {
    /// Acme with 5 [`PW`] in DEFAULT and a VA East.
    async fn with_licences() -> (TestDb, App) {
        let (db, app) = App::sqlite_with_account().await;
        app.deposit("DEFAULT", 5).await;
        app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "East"}))
            .await;
        (db, app)
    }

    /// A new satellite of `va` named `name`, as the operator: its token.
    async fn satellite(&self, va: &str, name: &str) -> String {
        let created = self.post(SATS, json!({"va": va, "name": name})).await;
        created["token"].as_str().unwrap().to_string()
    }

    /// Posts a request file's text to `path` with `key` (none: no Authorization header).
    async fn send_file(&self, path: &str, key: Option<&str>, text: &str) -> (StatusCode, Value) {
        let mut b = Request::builder().method(Method::POST).uri(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        self.send(b.body(Body::from(text.to_string())).unwrap()).await
    }

    /// `satellite answer` as the operator, which must succeed: the answer file.
    async fn answer(&self, text: &str) -> Value {
        let (s, v) = self.send_file(ANSWER, Some(OP_KEY), text).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// PW's line of a VA's licence list.
    async fn pw_line(&self, va: &str) -> (Value, Value) {
        let l = self
            .get(&format!("/api/v1/accounts/Acme/virtual-accounts/{va}/licenses"))
            .await;
        let line = l["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["sku"] == PW)
            .cloned()
            .unwrap_or(Value::Null);
        (line, l["satellites"].clone())
    }
}

/// Two satellites of DEFAULT: their instances and usage join the parent's listings and
/// compliance, each answer carries the VA's lots and what is in use outside that satellite, a
/// retry gets the same answer, a replay is refused, the events land in the parent's log.
async fn exchanges_merge_instances_usage_and_events(store: Store) {
    let app = App::on(store).await;
    app.setup_account().await;
    app.deposit("DEFAULT", 5).await;
    let lab = Sat::new(&app.satellite("DEFAULT", "lab").await, 1);
    let list = app.get(SATS).await;
    assert_eq!(list[0]["name"], "lab");
    assert_eq!(list[0]["virtual_account"], "DEFAULT");
    assert_eq!(list[0]["linked"], false);
    assert_eq!(list[0]["last_exchange"], Value::Null);
    let (s, v) = app
        .call(
            Method::POST,
            SATS,
            Some(OP_KEY),
            Some(json!({"va": "DEFAULT", "name": "LAB"})),
        )
        .await;
    assert!(expect_error(&(s, v), StatusCode::CONFLICT, "conflict").contains("named LAB"));

    // Request 1: two instances using 1 PW each, two events.
    let first = app
        .answer(&lab.request(1, &[("lab-a", 1), ("lab-b", 1)], &[1, 2]))
        .await;
    let a = lab.open(&first);
    assert_eq!((a.satellite.as_str(), a.seq), (lab.token.satellite.as_str(), 1));
    assert_eq!((a.account.as_str(), a.va.as_str()), ("Acme", "DEFAULT"));
    assert_eq!(a.lots.len(), 1);
    assert_eq!(
        (a.lots[0].sku.as_str(), a.lots[0].quantity, a.lots[0].end_date),
        (PW, 5, None)
    );
    assert!(a.in_use_elsewhere.is_empty(), "{:?}", a.in_use_elsewhere);
    assert_eq!(a.events_acknowledged, 2);
    let (line, sats) = app.pw_line("DEFAULT").await;
    assert_eq!(line["in_use"], 2, "{line}");
    assert_eq!(sats, json!([{"satellite": "lab", "sku": PW, "in_use": 2}]));

    // The instances are listed (marked), shown with usage, and cannot be removed here.
    let instances = app.get("/api/v1/accounts/Acme/instances?va=DEFAULT").await;
    let instances = instances.as_array().unwrap();
    assert_eq!(instances.len(), 2, "{instances:?}");
    assert!(instances.iter().all(|i| i["satellite"] == "lab"), "{instances:?}");
    assert_eq!(each(&Value::Array(instances.clone()), "hostname"), ["lab-a", "lab-b"]);
    let id = instances[0]["id"].as_str().unwrap().to_string();
    let one = app.get(&format!("/api/v1/accounts/Acme/instances/{id}")).await;
    assert_eq!(one["usage"], json!([{"sku": PW, "count": 1}]));
    assert_eq!(one["udi"], "PID:ASR5500,SN:lab-a");
    let (_, csv) = app
        .get_as(OP_KEY, "/api/v1/accounts/Acme/instances.csv?va=DEFAULT")
        .await;
    let csv = csv.as_str().unwrap_or_default().to_string();
    assert!(
        csv.contains(",lab-a,DEFAULT,,,") && csv.contains(",AUTHORIZED,lab\r\n"),
        "{csv}"
    );
    let gone = app
        .call(
            Method::DELETE,
            &format!("/api/v1/accounts/Acme/instances/{id}"),
            Some(OP_KEY),
            None,
        )
        .await;
    assert!(expect_error(&gone, StatusCode::CONFLICT, "conflict").contains("served by satellite lab"));
    // Nor moved to another VA here.
    app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "East"}))
        .await;
    let moved = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/Acme/instances/{id}/move"),
            Some(OP_KEY),
            Some(json!({"to": "East"})),
        )
        .await;
    assert!(expect_error(&moved, StatusCode::CONFLICT, "conflict").contains("served by satellite lab"));
    let events = app
        .get("/api/v1/accounts/Acme/events?limit=50&actor=satellite%20lab")
        .await;
    assert_eq!(each(&events, "detail"), ["satellite event 2", "satellite event 1"]);

    // A retry of request 1 (a lost answer) gets the very same answer, whatever it now says.
    let again = app.answer(&lab.request(1, &[("other", 5)], &[3])).await;
    assert_eq!(again, first);
    assert_eq!(app.pw_line("DEFAULT").await.0["in_use"], 2);

    // Request 2: usage up to 7 of 5 purchased: the VA is short on the merged figures.
    let second = lab.open(&app.answer(&lab.request(2, &[("lab-a", 7)], &[2, 3])).await);
    assert_eq!((second.seq, second.events_acknowledged), (2, 3));
    let (line, _) = app.pw_line("DEFAULT").await;
    assert_eq!(
        (line["in_use"].as_i64(), line["status"].as_str()),
        (Some(7), Some("INSUFFICIENT"))
    );
    let alerts = app.get("/api/v1/accounts/Acme/alerts").await;
    assert!(each(&alerts, "kind").contains(&"Insufficient Licenses"), "{alerts}");
    let events = app
        .get("/api/v1/accounts/Acme/events?limit=50&actor=satellite%20lab")
        .await;
    assert_eq!(events.as_array().unwrap().len(), 3, "event 2 is stored once: {events}");

    // A lower sequence number is a replay.
    let (s, v) = app.send_file(ANSWER, Some(OP_KEY), &lab.request(1, &[], &[])).await;
    assert!(expect_error(&(s, v), StatusCode::CONFLICT, "conflict").contains("replayed"));

    // A second satellite of the VA is told what the first one uses.
    let ship = Sat::new(&app.satellite("DEFAULT", "ship").await, 2);
    let s1 = ship.open(&app.answer(&ship.request(1, &[("ship-a", 1)], &[])).await);
    assert_eq!(s1.in_use_elsewhere, BTreeMap::from([(PW.to_string(), 7)]));
    let lab3 = lab.open(&app.answer(&lab.request(3, &[("lab-a", 2)], &[])).await);
    assert_eq!(lab3.in_use_elsewhere, BTreeMap::from([(PW.to_string(), 1)]));
    assert_eq!(app.pw_line("DEFAULT").await.0["in_use"], 3);

    let list = app.get(SATS).await;
    assert_eq!(each(&list, "name"), ["lab", "ship"]);
    assert_eq!(list[0]["linked"], true);
    assert_eq!(list[0]["instances"], 1);
    assert_eq!(list[0]["seq"], 3);
    assert_eq!(list[0]["last_exchange"], NOW);
    // Pages of one cover the satellites' instances too, one by one.
    let mut hosts = Vec::new();
    let mut next = Some("/api/v1/accounts/Acme/instances?limit=1".to_string());
    while let Some(path) = next {
        let resp = app
            .oneshot(
                Request::builder()
                    .uri(&path)
                    .header("authorization", format!("Bearer {OP_KEY}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        next = resp
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(smartlic_client_next)
            .map(|query| format!("/api/v1/accounts/Acme/instances{query}"));
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        hosts.extend(each(&v, "hostname").into_iter().map(str::to_string));
    }
    assert_eq!(hosts, ["lab-a", "ship-a"]);
}

/// The target of a `Link: <…>; rel="next"` header.
fn smartlic_client_next(link: &str) -> Option<String> {
    let (target, rel) = link.split_once(';')?;
    rel.contains("next")
        .then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_string())
}

on_both_engines!(exchanges_merge_instances_usage_and_events);

/// Every bad request is refused with one line and changes nothing.
#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let (db, app) = App::with_licences().await;
    let lab = Sat::new(&app.satellite("DEFAULT", "lab").await, 1);
    let before = app.get(SATS).await;
    let refused = |r: (StatusCode, Value), status: StatusCode, code: &str, words: &str| {
        let m = expect_error(&r, status, code);
        assert!(m.contains(words), "{m}");
        assert!(!m.contains('\n'), "{m}");
    };
    let ok = lab.request(1, &[("lab-a", 1)], &[]);
    refused(
        app.send_file(ANSWER, Some(OP_KEY), "garbage").await,
        StatusCode::BAD_REQUEST,
        "malformed",
        "not a satellite request file",
    );
    // Altered: the body of one request with the signature of another.
    let mut file: Value = serde_json::from_str(&ok).unwrap();
    let other: Value = serde_json::from_str(&lab.request(1, &[("lab-a", 5)], &[])).unwrap();
    file["body"] = other["body"].clone();
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &file.to_string()).await,
        StatusCode::BAD_REQUEST,
        "malformed",
        "does not verify",
    );
    // An answer is not a request.
    let mut kind: Value = serde_json::from_str(&ok).unwrap();
    kind["kind"] = json!("answer");
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &kind.to_string()).await,
        StatusCode::BAD_REQUEST,
        "malformed",
        "satellite answer file",
    );
    // Unknown satellite.
    let stranger = Sat {
        key: SigningKey::from_bytes(&[9; 32]),
        token: SatelliteToken {
            satellite: "00000000-0000-4000-8000-000000000000".into(),
            ..lab.token.clone()
        },
    };
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &stranger.request(1, &[], &[]))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        "no satellite",
    );
    // A wrong token secret.
    let forger = Sat {
        key: SigningKey::from_bytes(&[8; 32]),
        token: SatelliteToken {
            secret: B64.encode([1u8; 32]),
            ..lab.token.clone()
        },
    };
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &forger.request(1, &[], &[])).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        "does not prove",
    );
    // Too many events; a UDI twice; a negative count; sequence 0.
    let many: Vec<i64> = (1..=1001).collect();
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &lab.request(1, &[], &many)).await,
        StatusCode::BAD_REQUEST,
        "malformed",
        "at most 1000",
    );
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &lab.request(1, &[("x", 1), ("x", 1)], &[]))
            .await,
        StatusCode::BAD_REQUEST,
        "malformed",
        "twice",
    );
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &lab.request(1, &[("x", -1)], &[]))
            .await,
        StatusCode::BAD_REQUEST,
        "malformed",
        "counts are 0 to",
    );
    refused(
        app.send_file(ANSWER, Some(OP_KEY), &lab.request(0, &[], &[])).await,
        StatusCode::BAD_REQUEST,
        "malformed",
        "out of range",
    );
    assert_eq!(app.get(SATS).await, before, "a refused request changed the satellite");
    assert!(app.pw_line("DEFAULT").await.1.is_null());

    // Over the network (no API key), a big request (beyond the API's usual 64 KiB) binds the key.
    let hosts: Vec<String> = (0..600).map(|i| format!("lab-{i:04}")).collect();
    let big: Vec<(&str, i64)> = hosts.iter().map(|h| (h.as_str(), 0)).collect();
    let text = lab.request(1, &big, &[]);
    assert!(text.len() > 64 * 1024, "{}", text.len());
    let (s, v) = app.send_file(EXCHANGE, None, &text).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(lab.open(&v).seq, 1);
    assert_eq!(app.get(SATS).await[0]["instances"], 600);
    let events = app
        .get("/api/v1/accounts/Acme/events?limit=5&action=satellite.exchange")
        .await;
    assert_eq!(events[0]["actor"], "satellite lab");
    // Once bound, a request signed by another key is refused, even with the token's proof.
    let copy = Sat {
        key: SigningKey::from_bytes(&[7; 32]),
        token: lab.token.clone(),
    };
    refused(
        app.send_file(EXCHANGE, None, &copy.request(2, &[], &[])).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        "not signed by the identity key",
    );
    // Larger than the extractors' 2 MB default and any other body, yet within the exchange
    // limit: read and judged (not a request file), not refused as too large.
    let large = "x".repeat(3 << 20);
    let (status, _) = app.send_file(EXCHANGE, None, &large).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Over the exchange limit: 413.
    let huge = "x".repeat(crate::api::satellite_routes::EXCHANGE_LIMIT + 1);
    assert_eq!(
        app.send_file(EXCHANGE, None, &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    db.finish().await;
}

/// Create, list and answer are the operator's and the SA administrator's; another account's
/// administrator is told the satellite does not exist, in the same words as a satellite that
/// does not.
#[tokio::test]
async fn only_the_sa_admin_manages_satellites() {
    let (db, app) = App::with_licences().await;
    let lab = Sat::new(&app.satellite("DEFAULT", "lab").await, 1);
    let mut keys = Vec::new();
    for (email, role, va) in [
        ("sa@acme.example", "sa-admin", None),
        ("su@acme.example", "sa-user", None),
        ("va@acme.example", "va-admin", Some("DEFAULT")),
        ("vu@acme.example", "va-user", Some("DEFAULT")),
    ] {
        keys.push((role, app.user_key("Acme", new_user(email, role, va)).await));
    }
    for (role, key) in &keys {
        let create = app
            .post_as(key, SATS, json!({"va": "DEFAULT", "name": format!("by-{role}")}))
            .await;
        let list = app.get_as(key, SATS).await;
        let answer = app.send_file(ANSWER, Some(key), &lab.request(1, &[], &[])).await;
        if *role == "sa-admin" {
            assert_eq!(create.0, StatusCode::CREATED, "{create:?}");
            assert_eq!(list.0, StatusCode::OK, "{list:?}");
            assert_eq!(answer.0, StatusCode::OK, "{answer:?}");
        } else {
            for r in [create, list, answer] {
                assert!(expect_error(&r, StatusCode::FORBIDDEN, "forbidden").contains("may not manage satellite"));
            }
        }
    }
    app.post("/api/v1/accounts", json!({"name": "Other", "domain": "other.example"}))
        .await;
    let other = app
        .user_key("Other", new_user("boss@other.example", "sa-admin", None))
        .await;
    let foreign = app.send_file(ANSWER, Some(&other), &lab.request(2, &[], &[])).await;
    let unknown = Sat {
        key: SigningKey::from_bytes(&[9; 32]),
        token: SatelliteToken {
            satellite: "00000000-0000-4000-8000-000000000000".into(),
            ..lab.token.clone()
        },
    };
    let none = app.send_file(ANSWER, Some(&other), &unknown.request(1, &[], &[])).await;
    let foreign = expect_error(&foreign, StatusCode::NOT_FOUND, "not_found");
    let none = expect_error(&none, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        foreign.replace(&lab.token.satellite, "ID"),
        none.replace("00000000-0000-4000-8000-000000000000", "ID")
    );
    assert_eq!(app.get_as(&other, SATS).await.0, StatusCode::NOT_FOUND);
    let list = app.get(SATS).await;
    let lab_now = list.as_array().unwrap().iter().find(|s| s["name"] == "lab").unwrap();
    assert_eq!(lab_now["seq"], 1, "the foreign answer changed nothing");
    db.finish().await;
}

/// A satellite silent for 30 days (counted from its creation if it never exchanged) raises an
/// alert on its VA.
#[tokio::test]
async fn a_silent_satellite_raises_an_alert() {
    let (db, app) = App::with_licences().await;
    let lab = Sat::new(&app.satellite("DEFAULT", "lab").await, 1);
    app.satellite("East", "ship").await;
    app.clock.set(NOW + 10 * DAY);
    app.answer(&lab.request(1, &[], &[])).await;
    app.clock.set(NOW + 30 * DAY);
    let alerts = app.get("/api/v1/accounts/Acme/alerts").await;
    let silent: Vec<&Value> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "Satellite Not Synchronized")
        .collect();
    assert_eq!(silent.len(), 1, "{alerts}");
    assert_eq!(
        (silent[0]["subject"].as_str(), silent[0]["virtual_account"].as_str()),
        (Some("satellite ship"), Some("East"))
    );
    app.clock.set(NOW + 40 * DAY);
    let alerts = app.get("/api/v1/accounts/Acme/alerts").await;
    let subjects: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "Satellite Not Synchronized")
        .map(|a| a["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["satellite ship", "satellite lab"]);
    db.finish().await;
}
