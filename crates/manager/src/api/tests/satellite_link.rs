//! The satellite side through the API, against a parent stand-in made here: another manager's PKI
//! that reads requests and signs answers with the protocol crate, as the parent does; over HTTPS
//! for `sync`. Link, export, import, every refusal, the deposit refusal and the rights.

use super::*;
use crate::pki::Pki;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use smartlic_protocol::satellite::{AnswerLot, SatelliteAnswer, SatelliteRequest, SatelliteToken, ca_fingerprint};

/// A parent manager as far as the satellite can tell: its CA, its signing key, the token secret.
struct Parent {
    pki: Pki,
    secret: String,
}

impl Parent {
    fn new() -> Parent {
        let row = Pki::generate(NOW).unwrap();
        Parent {
            pki: Pki::from_row(&row).unwrap(),
            secret: B64.encode(rand::random::<[u8; 32]>()),
        }
    }

    /// The token of satellite `id`, pinning this parent's CA.
    fn token(&self, id: &str) -> String {
        let ca = smartlic_protocol::trust::pem_certificates(self.pki.ca_pem()).unwrap();
        SatelliteToken {
            satellite: id.into(),
            secret: self.secret.clone(),
            parent_ca: ca_fingerprint(&ca[0]),
        }
        .encode()
    }

    /// The answer to a request file: 10 PW perpetual in Acme/Edge, 2 in use elsewhere.
    fn answer(&self, request: &str) -> String {
        let r = SatelliteRequest::decode(request).unwrap();
        if r.proof.is_some() {
            r.proves(&self.secret).unwrap();
        }
        self.sign(&SatelliteAnswer {
            satellite: r.satellite,
            seq: r.seq,
            account: "Acme".into(),
            va: "Edge".into(),
            lots: vec![AnswerLot {
                sku: PW.into(),
                quantity: 10,
                end_date: None,
            }],
            in_use_elsewhere: [(PW.to_string(), 2)].into(),
            events_acknowledged: r.events.iter().map(|e| e.id).max().unwrap_or(0),
            issued_at: NOW,
        })
    }

    fn sign(&self, a: &SatelliteAnswer) -> String {
        a.encode(self.pki.signing_key(), self.pki.signer_pem(), self.pki.ca_pem())
    }

    /// Serves `POST /api/v1/satellites/exchange` over HTTPS (a certificate of this parent's CA
    /// for 127.0.0.1); its URL.
    fn serve(self: Arc<Parent>) -> String {
        let (chain, key) = self.pki.issue_tls("127.0.0.1", &[]).unwrap();
        let config = crate::server::tls_config(&chain, &key).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/api/v1/satellites/exchange",
            axum::routing::post(move |body: String| {
                let parent = self.clone();
                async move { parent.answer(&body) }
            }),
        );
        let served = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
        let server = axum_server::tls_rustls::from_tcp_rustls(listener, served).unwrap();
        tokio::spawn(async move { server.serve(app.into_make_service()).await });
        format!("https://127.0.0.1:{port}")
    }
}

impl App {
    async fn link_call(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(Method::POST, &format!("/api/v1/satellite{path}"), Some(OP_KEY), body)
            .await
    }

    async fn export(&self) -> String {
        let (s, v) = self.link_call("/request", None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["request"].as_str().unwrap().to_string()
    }

    async fn import(&self, answer: &str) -> (StatusCode, Value) {
        self.link_call("/import", Some(json!({ "answer": answer }))).await
    }
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

/// Link, export, import by files: the request proves the token and names the key; the VA takes
/// the parent's lots and figures; every bad answer is refused with one line and changes nothing.
#[tokio::test]
async fn by_files_from_link_to_import_and_every_refusal() {
    let (db, app) = App::sqlite().await;
    let parent = Parent::new();
    let (s, v) = app.link_call("/request", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(message(&v).contains("not linked to a parent"), "{v}");

    for (body, says) in [
        (json!({"token": "ST1.garbage.xxxx"}), "not a satellite token"),
        (
            json!({"token": parent.token("sat-1"), "parent_url": "https://p.example"}),
            "together",
        ),
        (
            json!({"token": parent.token("sat-1"), "parent_url": "http://p.example", "parent_ca_pem": parent.pki.ca_pem()}),
            "https:// URL",
        ),
        (
            json!({"token": parent.token("sat-1"), "parent_url": "https://p.example", "parent_ca_pem": "junk"}),
            "no PEM certificate",
        ),
    ] {
        let (s, v) = app.link_call("/link", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(message(&v).contains(says), "{v}");
    }
    let (s, v) = app
        .link_call("/link", Some(json!({"token": parent.token("sat-1")})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["satellite"], "sat-1");
    assert_eq!(v["seq"], 0);

    // A request: numbered, signed by the key it names, proving the token.
    let first = app.export().await;
    let r = SatelliteRequest::decode(&first).unwrap();
    assert_eq!((r.satellite.as_str(), r.seq), ("sat-1", 1));
    r.proves(&parent.secret).unwrap();

    // Answers that are not the parent's, or not this one, change nothing.
    let mut stranger = Parent::new();
    stranger.secret = parent.secret.clone();
    let good = parent.answer(&first);
    let mut altered: Value = serde_json::from_str(&good).unwrap();
    let body = altered["body"].as_str().unwrap().to_string();
    let mut bytes = B64.decode(&body).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap().replace("10", "99");
    bytes = text.into_bytes();
    altered["body"] = json!(B64.encode(&bytes));
    let mut for_other: SatelliteAnswer = {
        let a = SatelliteRequest::decode(&first).unwrap();
        SatelliteAnswer {
            satellite: a.satellite,
            seq: a.seq,
            account: "Acme".into(),
            va: "Edge".into(),
            lots: vec![],
            in_use_elsewhere: Default::default(),
            events_acknowledged: 0,
            issued_at: NOW,
        }
    };
    let mut bad_lot = for_other.clone();
    bad_lot.lots = vec![AnswerLot {
        sku: "NOT A SKU".into(),
        quantity: 1,
        end_date: None,
    }];
    let mut bad_count = for_other.clone();
    bad_count.in_use_elsewhere = [(PW.to_string(), -1)].into();
    let mut no_name = for_other.clone();
    no_name.va = " ".into();
    for_other.satellite = "sat-2".into();
    for (answer, status, says) in [
        (parent.sign(&bad_lot), StatusCode::BAD_REQUEST, "invalid lot"),
        (
            parent.sign(&bad_count),
            StatusCode::BAD_REQUEST,
            "invalid count in use elsewhere",
        ),
        (
            parent.sign(&no_name),
            StatusCode::BAD_REQUEST,
            "virtual account name must be 1 to 100",
        ),
        (stranger.answer(&first), StatusCode::BAD_REQUEST, "another CA"),
        (
            altered.to_string(),
            StatusCode::BAD_REQUEST,
            "signature does not verify",
        ),
        (
            "garbage".to_string(),
            StatusCode::BAD_REQUEST,
            "not a satellite answer file",
        ),
        (first.clone(), StatusCode::BAD_REQUEST, "it is a satellite request file"),
        (
            parent.sign(&for_other),
            StatusCode::CONFLICT,
            "for satellite sat-2, not this one",
        ),
    ] {
        let (s, v) = app.import(&answer).await;
        assert_eq!(s, status, "{says}: {v}");
        assert!(message(&v).contains(says), "{says}: {v}");
    }
    let (_, acc) = app.get_as(OP_KEY, "/api/v1/accounts/Acme").await;
    assert_eq!(acc["error"]["code"], "not_found", "nothing was made: {acc}");

    // The parent's answer: the account and VA are made with its lots and figures.
    let (s, v) = app.import(&good).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["seq"].as_u64(), v["account"].as_str(), v["va"].as_str()),
        (Some(1), Some("Acme"), Some("Edge"))
    );
    let l = app.get("/api/v1/accounts/Acme/virtual-accounts/Edge/licenses").await;
    let pw = &l["licenses"][0];
    assert_eq!(
        (pw["sku"].as_str(), pw["purchased"].as_i64(), pw["in_use"].as_i64()),
        (Some(PW), Some(10), Some(2))
    );
    let (s, v) = app.import(&good).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("already imported"), "{v}");
    let link = app.get("/api/v1/satellite").await;
    assert_eq!(
        (link["answered_seq"].as_u64(), link["va"].as_str()),
        (Some(1), Some("Edge"))
    );

    // Deposits and transfers into or out of the VA are refused, even for the operator.
    let (s, v) = app
        .post_as(
            OP_KEY,
            "/api/v1/accounts/Acme/virtual-accounts/Edge/licenses",
            json!({"sku": PW, "quantity": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        message(&v),
        "licences of virtual account Edge come from the parent manager; deposit them there"
    );
    app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "Lab"}))
        .await;
    let (s, v) = app
        .post_as(
            OP_KEY,
            "/api/v1/accounts/Acme/transfers",
            json!({"from": "Edge", "to": "Lab", "sku": PW, "quantity": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // An older request's answer is refused once a newer request was made; a second token is
    // refused now that the link exchanged.
    let second = app.export().await;
    let third = app.export().await;
    let (s, v) = app.import(&parent.answer(&second)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("not the answer to the latest request"), "{v}");
    assert!(
        SatelliteRequest::decode(&third).unwrap().proof.is_none(),
        "the key is bound by now"
    );
    let (s, v) = app.import(&parent.answer(&third)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .link_call("/link", Some(json!({"token": parent.token("sat-3")})))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).starts_with("already linked to parent"), "{v}");

    // Linking is the operator's alone; viewing and exchanging also an SA administrator of the
    // account the satellite serves (made here by the first import), no other user.
    let admin = app
        .user_key("Acme", new_user("admin@acme.example", "sa-admin", None))
        .await;
    let (s, v) = app
        .call(
            Method::POST,
            "/api/v1/satellite/link",
            Some(&admin),
            Some(json!({"token": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = app
        .call(Method::POST, "/api/v1/satellite/request", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .call(Method::POST, "/api/v1/satellite/sync", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "linked without --parent: {v}");
    let (s, v) = app.get_as(&admin, "/api/v1/satellite").await;
    assert_eq!((s, v["account"].as_str()), (StatusCode::OK, Some("Acme")), "{v}");
    let user = app
        .user_key("Acme", new_user("user@acme.example", "sa-user", None))
        .await;
    app.post("/api/v1/accounts", json!({"name": "Other", "domain": "other.example"}))
        .await;
    let stranger = app
        .user_key("Other", new_user("admin@other.example", "sa-admin", None))
        .await;
    for key in [&user, &stranger] {
        for path in ["/request", "/sync", "/import"] {
            let (s, v) = app
                .call(
                    Method::POST,
                    &format!("/api/v1/satellite{path}"),
                    Some(key),
                    Some(json!({"answer": "x"})),
                )
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        }
        let (s, _) = app.get_as(key, "/api/v1/satellite").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    db.finish().await;
}

/// `sync`: one exchange over HTTPS with a parent trusted by the CA given at link; a parent whose
/// TLS certificate another CA signed is not reached, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_exchanges_over_https_with_the_parent() {
    let (db, app) = App::sqlite().await;
    let parent = Arc::new(Parent::new());
    let token = parent.token("sat-1");
    let url = parent.clone().serve();

    app.link_call("/link", Some(json!({ "token": token }))).await;
    let (s, v) = app.link_call("/sync", None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("linked without --parent"), "{v}");

    let stranger = Parent::new();
    let (s, v) = app
        .link_call(
            "/link",
            Some(json!({"token": token, "parent_url": url, "parent_ca_pem": stranger.pki.ca_pem()})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app.link_call("/sync", None).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert!(
        message(&v).starts_with("cannot reach the parent manager at https://127.0.0.1:"),
        "{v}"
    );
    assert!(app.state.store().find_account("Acme").await.unwrap().is_none());

    app.link_call(
        "/link",
        Some(json!({"token": token, "parent_url": url, "parent_ca_pem": parent.pki.ca_pem()})),
    )
    .await;
    let (s, v) = app.link_call("/sync", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["account"].as_str(), v["va"].as_str(), v["lots"].as_u64()),
        (Some("Acme"), Some("Edge"), Some(1))
    );
    let (s, v) = app.link_call("/sync", None).await;
    assert_eq!(s, StatusCode::OK, "a second exchange (the key bound by now): {v}");
    let link = app.get("/api/v1/satellite").await;
    assert_eq!(
        (link["seq"].as_u64(), link["answered_seq"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(link["last_exchange"].as_i64(), Some(NOW));
    db.finish().await;
}

/// The link once `ok` holds (polled, 20 s at most).
async fn link_when(store: &Store, what: &str, ok: impl Fn(&crate::store::LinkRow) -> bool) -> crate::store::LinkRow {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let link = store.satellite_link().await.unwrap().unwrap();
        if ok(&link) {
            return link;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {link:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The `--sync-every` schedule: an exchange at start; a failed one is kept in the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_exchanges_at_start_and_keeps_the_last_failure() {
    let (db, app) = App::sqlite().await;
    let parent = Arc::new(Parent::new());
    let token = parent.token("sat-1");
    let url = parent.clone().serve();
    let store = app.state.store().clone();
    let every = std::time::Duration::from_secs(3600);
    let stranger = Parent::new();
    app.link_call(
        "/link",
        Some(json!({"token": token, "parent_url": url, "parent_ca_pem": stranger.pki.ca_pem()})),
    )
    .await;
    let task = tokio::spawn(crate::satellite_sync::run_schedule(app.state.clone(), every));
    let link = link_when(&store, "the failure", |l| l.last_error.is_some()).await;
    task.abort();
    assert!(link.last_error.unwrap().starts_with("cannot reach the parent manager"));
    assert_eq!(link.answered_seq, 0);

    app.link_call(
        "/link",
        Some(json!({"token": token, "parent_url": url, "parent_ca_pem": parent.pki.ca_pem()})),
    )
    .await;
    let task = tokio::spawn(crate::satellite_sync::run_schedule(app.state.clone(), every));
    let link = link_when(&store, "the exchange", |l| l.answered_seq == 1).await;
    task.abort();
    assert_eq!((link.last_exchange, link.last_error), (Some(NOW), None));
    db.finish().await;
}
