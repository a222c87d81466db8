//! The HTTP API through `Router::oneshot`: admin commands and their errors, the device protocol
//! and every refusal, roles, and the documents around them.

use crate::store::Store;
use crate::testutil::{NOW, OP_KEY, PW, TestDb, on_both_engines, wraps_test_app};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use smartlic_clock::FixedClock;
use smartlic_protocol::envelope::encode_public_key;
use smartlic_protocol::wire::*;
use smartlic_protocol::{Catalog, ResponsePayload, SignedRequest, SignedResponse};
use std::sync::Arc;
use tower::ServiceExt;

const DAY: i64 = 86_400;
const ASR_TAG: &str = "regid.2017-02.com.cisco.ASR5500,1.0_401f2e9e-67fd-4131-b61d-6e229d13a338";

wraps_test_app!(App, on);

/// The requests of the API tests.
impl App {
    /// An app on a fresh SQLite store (keep the [`TestDb`] until the end of the test).
    async fn sqlite() -> (TestDb, App) {
        let db = TestDb::sqlite().await;
        let app = App::on(db.store.clone()).await;
        (db, app)
    }

    /// [`App::sqlite`] with the account Acme and a token of its DEFAULT VA.
    async fn sqlite_with_account() -> (TestDb, App) {
        let (db, app, _) = App::sqlite_with_token().await;
        (db, app)
    }

    /// [`App::sqlite_with_account`] and the token of Acme's DEFAULT VA.
    async fn sqlite_with_token() -> (TestDb, App, String) {
        let (db, app) = App::sqlite().await;
        let (_, token) = app.setup_account().await;
        (db, app, token)
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.oneshot(req).await;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20).await.unwrap();
        let v =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    async fn op(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, Some(OP_KEY), body).await;
        assert!(s.is_success(), "{path}: {s} {v}");
        v
    }

    /// `GET path` as the operator, which must succeed.
    async fn get(&self, path: &str) -> Value {
        self.op(Method::GET, path, None).await
    }

    /// `POST path` with `body` as the operator, which must succeed.
    async fn post(&self, path: &str, body: Value) -> Value {
        self.op(Method::POST, path, Some(body)).await
    }

    /// `GET path` with the API key `key`.
    async fn get_as(&self, key: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// `POST path` with `body` and the API key `key`.
    async fn post_as(&self, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// `POST path` without a body (an action such as revoke or disable) with the API key `key`.
    async fn act_as(&self, key: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), None).await
    }

    /// Creates a user of `account` (as [`new_user`] describes) as the operator; their API key.
    async fn user_key(&self, account: &str, user: Value) -> String {
        let created = self.post(&format!("/api/v1/accounts/{account}/users"), user).await;
        created["api_key"].as_str().unwrap().to_string()
    }

    /// A new token of Acme's virtual account `va` with `options`, as the operator: its info and secret.
    async fn new_token(&self, va: &str, options: Value) -> Value {
        let path = format!("/api/v1/accounts/Acme/virtual-accounts/{va}/tokens");
        self.post(&path, options).await
    }

    /// The secret of a new token of Acme's DEFAULT virtual account with `options`.
    async fn default_token(&self, options: Value) -> String {
        let token = self.new_token("DEFAULT", options).await;
        token["token"].as_str().unwrap().to_string()
    }

    /// Deposits `quantity` licences of [`PW`] into the virtual account `va` of Acme.
    async fn deposit(&self, va: &str, quantity: u64) -> Value {
        self.post(
            &format!("/api/v1/accounts/Acme/virtual-accounts/{va}/licenses"),
            json!({"sku": PW, "quantity": quantity}),
        )
        .await
    }

    /// Creates the account Acme and a token of its DEFAULT VA: the account's id, the token's secret.
    async fn setup_account(&self) -> (String, String) {
        let a = self
            .post("/api/v1/accounts", json!({"name": "Acme", "domain": "acme.example"}))
            .await;
        let id = a["id"].as_str().unwrap().to_string();
        (id, self.default_token(json!({})).await)
    }
}

/// The string `field` of each item of the array `items`.
fn each<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    let items = items.as_array().unwrap();
    items.iter().map(|i| i[field].as_str().unwrap()).collect()
}

/// Asserts that the events of an answer include each of `actions`.
fn assert_logged(events: &Value, actions: &[&str]) {
    let logged = each(events, "action");
    for a in actions {
        assert!(logged.contains(a), "{a} missing from {logged:?}");
    }
}

fn expect_error(r: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    assert_eq!(r.0, status, "{}", r.1);
    assert_eq!(r.1["error"]["code"], code, "{}", r.1);
    r.1["error"]["message"].as_str().unwrap().to_string()
}

struct Device {
    key: SigningKey,
    sn: String,
    instance_id: Option<String>,
}

impl Device {
    fn new(n: u8) -> Device {
        Device {
            key: SigningKey::from_bytes(&[n; 32]),
            sn: format!("FOX{n:04}"),
            instance_id: None,
        }
    }

    fn register_body(&self, token: &str) -> RegisterRequest {
        RegisterRequest {
            token: token.into(),
            udi: Udi {
                pid: "ASR5500".into(),
                sn: self.sn.clone(),
            },
            hostname: format!("host-{}", self.sn),
            software_tag: ASR_TAG.into(),
            public_key: encode_public_key(&self.key.verifying_key()),
            agent_version: "test".into(),
            ha_udis: Vec::new(),
        }
    }

    fn sign<T: Serialize + smartlic_protocol::envelope::Message>(&self, body: T, ts: i64) -> SignedRequest {
        let nonce = crate::tokens::random_secret(22);
        SignedRequest::sign(&self.key, self.instance_id.clone(), nonce, ts, body).unwrap()
    }
}

/// Posts a signed request to `/api/v1/device/{path}`, unauthenticated like a device.
async fn post_device(app: &App, path: &str, req: &SignedRequest) -> (StatusCode, Value) {
    let body = serde_json::to_value(req).unwrap();
    app.call(Method::POST, &format!("/api/v1/device/{path}"), None, Some(body))
        .await
}

/// Sends a device request; Ok is the verified, opened response.
async fn device<T: DeserializeOwned + smartlic_protocol::envelope::Message>(
    app: &App,
    path: &str,
    req: &SignedRequest,
) -> Result<T, (StatusCode, Value)> {
    let (s, v) = post_device(app, path, req).await;
    if s != StatusCode::OK {
        return Err((s, v));
    }
    let resp: SignedResponse = serde_json::from_value(v).unwrap();
    let anchors = smartlic_protocol::trust::pem_certificates(app.state.pki().ca_pem()).unwrap();
    let vk = smartlic_protocol::trust::verify_signer(&resp.signer_certificate, &anchors, app.clock.now_secs()).unwrap();
    let nonce = req.peek::<Value>().unwrap().nonce;
    let p: ResponsePayload<T> = resp.open(&vk, &nonce).unwrap();
    Ok(p.body)
}

/// Sends a device request that must be refused; its status and error body.
async fn refused(app: &App, path: &str, req: &SignedRequest) -> (StatusCode, Value) {
    let (s, v) = post_device(app, path, req).await;
    assert_ne!(s, StatusCode::OK, "{path} was accepted: {v}");
    (s, v)
}

trait NowSecs {
    fn now_secs(&self) -> i64;
}
impl NowSecs for FixedClock {
    fn now_secs(&self) -> i64 {
        smartlic_clock::Clock::now(self)
    }
}

async fn register(app: &App, dev: &mut Device, token: &str) -> RegisterResponse {
    let req = dev.sign(dev.register_body(token), app.clock.now_secs());
    let r: RegisterResponse = device(app, "register", &req).await.unwrap();
    dev.instance_id = Some(r.instance_id.clone());
    r
}

/// Device `n`, registered with `token`.
async fn registered(app: &App, n: u8, token: &str) -> Device {
    let mut dev = Device::new(n);
    register(app, &mut dev, token).await;
    dev
}

fn authz(usage: &[(&str, u64)]) -> AuthorizationRequest {
    AuthorizationRequest {
        hostname: String::new(),
        usage: usage
            .iter()
            .map(|(s, c)| Usage {
                sku: s.to_string(),
                count: *c,
            })
            .collect(),
    }
}

#[tokio::test]
/// Accounts, virtual accounts, deposits, transfers, tokens and users through the admin API,
/// each change in the event log with who made it.
async fn admin_commands_change_state_and_log_it() {
    let (db, app) = App::sqlite().await;
    let (account_id, _) = app.setup_account().await;

    // Accounts and VAs by name or id.
    let got = app.get(&format!("/api/v1/accounts/{account_id}")).await;
    assert_eq!(got["name"], "Acme");
    let va = app
        .post("/api/v1/accounts/acme/virtual-accounts", json!({"name": "East Coast"}))
        .await;
    let va_id = va["id"].as_str().unwrap();
    let vas = app.get("/api/v1/accounts/Acme/virtual-accounts").await;
    assert_eq!(vas.as_array().unwrap().len(), 2);

    // Deposits and the licence list.
    let l = app
        .post(
            "/api/v1/accounts/Acme/virtual-accounts/East%20Coast/licenses",
            json!({"sku": "asr5k-00-pw10gtwy", "quantity": 3, "expires": "2027-12-01"}),
        )
        .await;
    assert_eq!(l["licenses"][0]["sku"], PW);
    assert_eq!(l["licenses"][0]["purchased"], 3);
    assert_eq!(l["licenses"][0]["status"], "OK");
    assert_eq!(l["licenses"][0]["end_dates"][0]["date"], "2027-12-01");
    let t = app
        .post(
            "/api/v1/accounts/Acme/transfers",
            json!({"from": va_id, "to": "DEFAULT", "sku": PW, "quantity": 2}),
        )
        .await;
    assert_eq!(t["from"]["licenses"][0]["purchased"], 1);
    assert_eq!(t["to"]["licenses"][0]["purchased"], 2);
    let r = app
        .post_as(
            OP_KEY,
            "/api/v1/accounts/Acme/transfers",
            json!({"from": va_id, "to": "DEFAULT", "sku": PW, "quantity": 2}),
        )
        .await;
    let msg = expect_error(&r, StatusCode::CONFLICT, codes::INSUFFICIENT);
    assert!(msg.contains("only 1 available"), "{msg}");

    // Tokens: the secret once, never again; revoke.
    let created = app
        .new_token(
            "DEFAULT",
            json!({"expires_days": 10, "max_uses": 2, "description": "lab", "export_controlled": true}),
        )
        .await;
    let secret = created["token"].as_str().unwrap();
    assert_eq!(created["info"]["expires_at"], NOW + 10 * DAY);
    let list = app.get("/api/v1/accounts/Acme/tokens?va=DEFAULT").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(secret), "a secret is never listed");
    let tid = created["info"]["id"].as_str().unwrap();
    let rv = app
        .op(
            Method::POST,
            &format!("/api/v1/accounts/Acme/tokens/{tid}/revoke"),
            None,
        )
        .await;
    assert_eq!(rv["status"], "REVOKED");

    // Users.
    let u = app
        .post(
            "/api/v1/accounts/Acme/users",
            json!({"email": "ann@acme.example", "role": "va-admin", "va": "East Coast", "password": "long enough"}),
        )
        .await;
    assert!(u["api_key"].as_str().unwrap().starts_with("slk_"));
    assert_eq!(u["user"]["virtual_account"], "East Coast");
    assert_eq!(u["user"]["has_password"], true);

    // Everything changed is in the event log, with who.
    let events = app.get("/api/v1/accounts/Acme/events?limit=50").await;
    assert_logged(
        &events,
        &[
            "account.create",
            "va.create",
            "license.deposit",
            "license.transfer",
            "token.create",
            "token.revoke",
            "user.create",
        ],
    );
    // Pages: `after` the last id of a page lists the older events, and they add up to the log.
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    let first = ids(&app.get("/api/v1/accounts/Acme/events?limit=2").await);
    assert_eq!(first.len(), 2);
    let rest = ids(&app
        .get(&format!("/api/v1/accounts/Acme/events?limit=50&after={}", first[1]))
        .await);
    assert!(rest.iter().all(|id| *id < first[1]), "{rest:?}");
    assert_eq!([first, rest].concat(), ids(&events));
    db.finish().await;
}

/// Method, path, key, body; the status, code and words of the refusal.
type Case<'a> = (
    Method,
    &'a str,
    Option<&'a str>,
    Option<Value>,
    StatusCode,
    &'a str,
    &'a str,
);

/// The admin API's refusals, each a 4xx JSON body, on an account made by `setup_account`.
fn admin_error_cases() -> Vec<Case<'static>> {
    vec![
        (
            Method::GET,
            "/api/v1/accounts/Nope",
            Some(OP_KEY),
            None,
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "no Smart Account \"Nope\"",
        ),
        (
            Method::GET,
            "/api/v1/accounts/Acme/virtual-accounts/West/licenses",
            Some(OP_KEY),
            None,
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "no virtual account \"West\"",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses",
            Some(OP_KEY),
            Some(json!({"sku": "NOPE", "quantity": 1})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "unknown SKU \"NOPE\"",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses",
            Some(OP_KEY),
            Some(json!({"sku": PW, "quantity": 0})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "quantity",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses",
            Some(OP_KEY),
            Some(json!({"sku": PW, "quantity": -1})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "invalid JSON",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses",
            Some(OP_KEY),
            Some(json!({"sku": PW, "quantity": 1, "expires": "2020-01-01"})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "not in the future",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses",
            Some(OP_KEY),
            Some(json!({"sku": PW, "quantity": 1, "expires": "next year"})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "YYYY-MM-DD",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/tokens",
            Some(OP_KEY),
            Some(json!({"max_uses": 0})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "max-uses",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/tokens",
            Some(OP_KEY),
            Some(json!({"expires_days": 0})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "expires-days",
        ),
        (
            Method::POST,
            "/api/v1/accounts",
            Some(OP_KEY),
            Some(json!({"name": "acme", "domain": "x.example"})),
            StatusCode::CONFLICT,
            codes::CONFLICT,
            "already exists",
        ),
        (
            Method::POST,
            "/api/v1/accounts",
            Some(OP_KEY),
            Some(json!({"name": "", "domain": "x.example"})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "account name",
        ),
        (
            Method::POST,
            "/api/v1/accounts",
            Some(OP_KEY),
            Some(json!({"name": "X", "domain": "x", "extra": 1})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "unknown field",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/users",
            Some(OP_KEY),
            Some(json!({"email": "b@acme.example", "role": "va-user"})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "give --va",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/users",
            Some(OP_KEY),
            Some(json!({"email": "b@acme.example", "role": "sa-user", "va": "DEFAULT"})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "leave out --va",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/users",
            Some(OP_KEY),
            Some(json!({"email": "b@acme.example", "role": "boss"})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "invalid JSON",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/users",
            Some(OP_KEY),
            Some(json!({"email": "b@acme.example", "role": "sa-user", "password": "short"})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "password",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/transfers",
            Some(OP_KEY),
            Some(json!({"from": "DEFAULT", "to": "default", "sku": PW, "quantity": 1})),
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "same virtual account",
        ),
        (
            Method::POST,
            "/api/v1/accounts/Acme/tokens/nope/revoke",
            Some(OP_KEY),
            None,
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "no registration token",
        ),
        (
            Method::DELETE,
            "/api/v1/accounts/Acme/instances/nope",
            Some(OP_KEY),
            None,
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "no product instance",
        ),
        (
            Method::GET,
            "/api/v1/accounts/Acme/tokens?bogus=1",
            Some(OP_KEY),
            None,
            StatusCode::BAD_REQUEST,
            codes::MALFORMED,
            "query",
        ),
        (
            Method::GET,
            "/api/v1/accounts",
            None,
            None,
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            "missing API key",
        ),
        (
            Method::GET,
            "/api/v1/accounts",
            Some("slk_wrong"),
            None,
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            "not valid",
        ),
        (
            Method::GET,
            "/api/v1/nothing-here",
            Some(OP_KEY),
            None,
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "no such endpoint",
        ),
        (
            Method::PUT,
            "/api/v1/accounts",
            Some(OP_KEY),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            codes::MALFORMED,
            "method",
        ),
    ]
}

#[tokio::test]
async fn every_admin_error_is_a_4xx_with_its_code() {
    let (db, app) = App::sqlite_with_account().await;
    for (method, path, key, body, status, code, text) in admin_error_cases() {
        let r = app.call(method.clone(), path, key, body.clone()).await;
        let msg = expect_error(&r, status, code);
        assert!(msg.contains(text), "{method} {path} {body:?}: {msg:?} lacks {text:?}");
    }

    db.finish().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_or_too_big_are_refused() {
    let (db, app) = App::sqlite().await;
    let req = Request::post("/api/v1/accounts")
        .header("authorization", format!("Bearer {OP_KEY}"))
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    expect_error(&app.send(req).await, StatusCode::BAD_REQUEST, codes::MALFORMED);
    let req = Request::post("/api/v1/accounts")
        .header("authorization", format!("Bearer {OP_KEY}"))
        .body(Body::from("{}"))
        .unwrap();
    expect_error(&app.send(req).await, StatusCode::BAD_REQUEST, codes::MALFORMED);
    let big = format!("{{\"name\": \"{}\", \"domain\": \"x\"}}", "a".repeat(70 * 1024));
    let req = Request::post("/api/v1/accounts")
        .header("authorization", format!("Bearer {OP_KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(big))
        .unwrap();
    expect_error(&app.send(req).await, StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE);

    db.finish().await;
}

/// The body of a new user.
fn new_user(email: &str, role: &str, va: Option<&str>) -> Value {
    let mut body = json!({"email": email, "role": role});
    if let Some(va) = va {
        body["va"] = json!(va);
    }
    body
}

/// Acme with the VA East and four users, one of each role, and another account, Other: the store,
/// the app and the API keys of Acme's VA user, VA administrator, SA user and SA administrator.
async fn roles() -> (TestDb, App, [String; 4]) {
    let (db, app) = App::sqlite_with_account().await;
    app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "East"}))
        .await;
    app.post("/api/v1/accounts", json!({"name": "Other", "domain": "other.example"}))
        .await;
    app.post("/api/v1/accounts/Other/virtual-accounts/DEFAULT/tokens", json!({}))
        .await;
    let mut keys = Vec::new();
    for (email, role, va) in [
        ("vu@acme.example", "va-user", Some("East")),
        ("va@acme.example", "va-admin", Some("East")),
        ("su@acme.example", "sa-user", None),
        ("sa@acme.example", "sa-admin", None),
    ] {
        keys.push(app.user_key("Acme", new_user(email, role, va)).await);
    }
    let keys = <[String; 4]>::try_from(keys).unwrap();
    (db, app, keys)
}

/// A VA user sees only its VA, creates tokens there, revokes nothing.
#[tokio::test]
async fn a_va_user_sees_and_changes_only_its_va() {
    let (db, app, [va_user, _, _, _]) = roles().await;
    let (s, list) = app.get_as(&va_user, "/api/v1/accounts/Acme/tokens").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 0, "the DEFAULT token is not its VA's");
    let (s, vas) = app.get_as(&va_user, "/api/v1/accounts/Acme/virtual-accounts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(vas.as_array().unwrap().len(), 1);
    let (s, t) = app
        .post_as(
            &va_user,
            "/api/v1/accounts/Acme/virtual-accounts/East/tokens",
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let tid = t["info"]["id"].as_str().unwrap();
    let r = app
        .act_as(&va_user, &format!("/api/v1/accounts/Acme/tokens/{tid}/revoke"))
        .await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    let r = app
        .post_as(
            &va_user,
            "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/tokens",
            json!({}),
        )
        .await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    let r = app.get_as(&va_user, "/api/v1/accounts/Acme/tokens?va=DEFAULT").await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);

    db.finish().await;
}

/// Another account is invisible to every user; account creation is the operator's.
#[tokio::test]
async fn another_account_is_invisible_to_every_user() {
    let (db, app, [va_user, _, sa_user, sa_admin]) = roles().await;
    for k in [&va_user, &sa_user, &sa_admin] {
        for path in [
            "/api/v1/accounts/Other",
            "/api/v1/accounts/Other/tokens",
            "/api/v1/accounts/Other/virtual-accounts/DEFAULT/licenses",
        ] {
            let r = app.get_as(k, path).await;
            expect_error(&r, StatusCode::NOT_FOUND, codes::NOT_FOUND);
        }
        let r = app
            .post_as(k, "/api/v1/accounts", json!({"name": "Mine", "domain": "m.example"}))
            .await;
        expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
        let (_, accounts) = app.get_as(k, "/api/v1/accounts").await;
        assert_eq!(accounts.as_array().unwrap().len(), 1);
    }
    db.finish().await;
}

/// An SA user manages licences but not users; an SA administrator creates users.
#[tokio::test]
async fn only_an_sa_admin_manages_users() {
    let (db, app, [_, _, sa_user, sa_admin]) = roles().await;
    let users = "/api/v1/accounts/Acme/users";
    let r = app
        .post_as(&sa_user, users, new_user("x@acme.example", "sa-user", None))
        .await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    let (s, _) = app
        .post_as(&sa_admin, users, new_user("y@acme.example", "va-admin", Some("East")))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    db.finish().await;
}

/// Licences come from the vendor: no user role deposits, not even in its own VA.
#[tokio::test]
async fn no_user_role_deposits_licences() {
    let (db, app, [va_user, va_admin, sa_user, sa_admin]) = roles().await;
    for k in [&va_user, &va_admin, &sa_user, &sa_admin] {
        let r = app
            .post_as(
                k,
                "/api/v1/accounts/Acme/virtual-accounts/East/licenses",
                json!({"sku": PW, "quantity": 1}),
            )
            .await;
        expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    }
    let east = app.get("/api/v1/accounts/Acme/virtual-accounts/East/licenses").await;
    assert_eq!(
        east["licenses"].as_array().unwrap().len(),
        0,
        "nothing deposited: {east}"
    );
    db.finish().await;
}

/// Licence reservation is allowed per account by the operator alone; the account shows its
/// policy (default `none`), and the change is logged.
#[tokio::test]
async fn only_the_operator_allows_reservation() {
    let (db, app, [va_user, va_admin, sa_user, sa_admin]) = roles().await;
    assert_eq!(app.get("/api/v1/accounts/Acme").await["reservation"], "none");
    let path = "/api/v1/accounts/Acme/reservation";
    for k in [&va_user, &va_admin, &sa_user, &sa_admin] {
        let r = app
            .call(Method::PUT, path, Some(k), Some(json!({"reservation": "universal"})))
            .await;
        expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    }
    assert_eq!(app.get("/api/v1/accounts/Acme").await["reservation"], "none");
    for bad in [
        json!({"reservation": "everything"}),
        json!({"reservation": "specific", "x": 1}),
    ] {
        let r = app.call(Method::PUT, path, Some(OP_KEY), Some(bad)).await;
        expect_error(&r, StatusCode::BAD_REQUEST, codes::MALFORMED);
    }
    let set = app
        .op(Method::PUT, path, Some(json!({"reservation": "specific"})))
        .await;
    assert_eq!(set["reservation"], "specific");
    assert_eq!(app.get("/api/v1/accounts/Acme").await["reservation"], "specific");
    let (_, other) = app.get_as(&sa_admin, "/api/v1/accounts/Acme").await;
    assert_eq!(other["reservation"], "specific", "users read it");
    let events = app.get("/api/v1/accounts/Acme/events").await;
    assert_logged(&events, &["account.reservation"]);
    db.finish().await;
}

/// Export-controlled tokens are the SA administrator's.
#[tokio::test]
async fn export_controlled_tokens_are_the_sa_admins() {
    let (db, app, [va_user, va_admin, sa_user, sa_admin]) = roles().await;
    let path = "/api/v1/accounts/Acme/virtual-accounts/East/tokens";
    let export = json!({"export_controlled": true});
    for k in [&va_user, &va_admin, &sa_user] {
        let r = app.post_as(k, path, export.clone()).await;
        expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    }
    let (s, t) = app.post_as(&sa_admin, path, export).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    db.finish().await;
}

#[tokio::test]
async fn device_protocol_end_to_end() {
    let (db, app, token) = App::sqlite_with_token().await;
    app.deposit("DEFAULT", 1).await;

    let mut a = Device::new(1);
    let reg = register(&app, &mut a, &token).await;
    assert_eq!(reg.smart_account, "Acme");
    assert_eq!(reg.virtual_account, "DEFAULT");
    assert_eq!(reg.id_expires_at, NOW + 365 * DAY);
    assert!(reg.id_certificate.contains("BEGIN CERTIFICATE"));
    let b = registered(&app, 2, &token).await;

    // Two instances share the VA's one licence: the second report puts both out of compliance.
    let r: AuthorizationResponse = device(&app, "authorize", &a.sign(authz(&[(PW, 1)]), NOW))
        .await
        .unwrap();
    assert_eq!(r.status, Compliance::Authorized);
    assert_eq!(
        (r.authorized_at, r.expires_at, r.renew_at),
        (NOW, NOW + 90 * DAY, NOW + 30 * DAY)
    );
    let r: AuthorizationResponse = device(
        &app,
        "authorize",
        &b.sign(authz(&[(PW, 1), ("ASR5K-00-GN01REC", 0)]), NOW),
    )
    .await
    .unwrap();
    assert_eq!(r.status, Compliance::OutOfCompliance);
    assert_eq!(r.entitlements.len(), 2);
    assert_eq!(
        r.entitlements[1].status,
        Compliance::Authorized,
        "count 0 is never out of compliance"
    );
    let list = app.get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses").await;
    assert_eq!(list["licenses"][0]["in_use"], 2);
    assert_eq!(list["licenses"][0]["status"], "INSUFFICIENT");
    let inst = app.get("/api/v1/accounts/Acme/instances").await;
    let statuses = each(&inst, "status");
    assert_eq!(statuses, ["AUTHORIZED", "OUT OF COMPLIANCE"]);

    // One more licence and a renewal clear it.
    app.deposit("DEFAULT", 1).await;
    let r: AuthorizationResponse = device(&app, "authorize", &b.sign(authz(&[(PW, 1)]), NOW))
        .await
        .unwrap();
    assert_eq!(r.status, Compliance::Authorized);

    // 180 days later: a new ID certificate.
    app.clock.set(NOW + 180 * DAY);
    let r: RenewIdResponse = device(&app, "renew-id", &a.sign(RenewIdRequest {}, NOW + 180 * DAY))
        .await
        .unwrap();
    assert_eq!(r.id_expires_at, NOW + 545 * DAY);
    let one = app
        .op(
            Method::GET,
            &format!("/api/v1/accounts/Acme/instances/{}", a.instance_id.as_deref().unwrap()),
            None,
        )
        .await;
    assert_eq!(one["id_expires_at"], NOW + 545 * DAY);
    assert_eq!(one["usage"][0]["count"], 1);

    // Deregistration releases; the instance is then unknown.
    let r: DeregisterResponse = device(&app, "deregister", &a.sign(DeregisterRequest {}, NOW + 180 * DAY))
        .await
        .unwrap();
    assert_eq!(
        r.released,
        vec![Usage {
            sku: PW.into(),
            count: 1
        }]
    );
    let e = refused(&app, "authorize", &a.sign(authz(&[]), NOW + 180 * DAY)).await;
    expect_error(&e, StatusCode::NOT_FOUND, codes::UNKNOWN_INSTANCE);
    let list = app.get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses").await;
    assert_eq!(list["licenses"][0]["in_use"], 1);

    // Removal by the administrator releases too.
    let bid = b.instance_id.clone().unwrap();
    let removed = app
        .op(Method::DELETE, &format!("/api/v1/accounts/Acme/instances/{bid}"), None)
        .await;
    assert_eq!(removed["released"][0]["count"], 1);
    let e = refused(&app, "authorize", &b.sign(authz(&[]), NOW + 180 * DAY)).await;
    expect_error(&e, StatusCode::NOT_FOUND, codes::UNKNOWN_INSTANCE);

    let events = app.get("/api/v1/accounts/Acme/events").await;
    assert_logged(
        &events,
        &[
            "device.register",
            "device.usage",
            "device.renew_id",
            "device.deregister",
            "instance.remove",
        ],
    );
    let metrics = app.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.1;
    let text = metrics.as_str().unwrap().to_string();
    assert!(text.contains("smartlic_registrations_total{result=\"ok\"} 2"), "{text}");
    assert!(
        text.contains("smartlic_authorizations_total{result=\"OUT_OF_COMPLIANCE\"} 1"),
        "{text}"
    );
    db.finish().await;
}

#[tokio::test]
async fn every_device_refusal_has_its_code() {
    let (db, app, token) = App::sqlite_with_token().await;
    let dev = registered(&app, 3, &token).await;

    // Signed by another key.
    let mut thief = Device::new(4);
    thief.instance_id = dev.instance_id.clone();
    let e = refused(&app, "authorize", &thief.sign(authz(&[]), NOW)).await;
    expect_error(&e, StatusCode::UNAUTHORIZED, codes::BAD_SIGNATURE);
    // Tampered payload.
    let mut t = dev.sign(authz(&[(PW, 1)]), NOW);
    t.payload = dev.sign(authz(&[(PW, 9)]), NOW).payload;
    let e = refused(&app, "authorize", &t).await;
    expect_error(&e, StatusCode::UNAUTHORIZED, codes::BAD_SIGNATURE);
    // Replay.
    let req = dev.sign(authz(&[]), NOW);
    device::<AuthorizationResponse>(&app, "authorize", &req).await.unwrap();
    let e = refused(&app, "authorize", &req).await;
    expect_error(&e, StatusCode::CONFLICT, codes::REPLAYED);
    // Stale both ways.
    for ts in [NOW - 16 * 60, NOW + 16 * 60] {
        let e = refused(&app, "authorize", &dev.sign(authz(&[]), ts)).await;
        let msg = expect_error(&e, StatusCode::BAD_REQUEST, codes::STALE);
        assert!(msg.contains("16 minutes"), "{msg}");
    }
    // Unknown instance, missing instance id.
    let mut ghost = Device::new(5);
    ghost.instance_id = Some("no-such-instance".into());
    let e = refused(&app, "renew-id", &ghost.sign(RenewIdRequest {}, NOW)).await;
    expect_error(&e, StatusCode::NOT_FOUND, codes::UNKNOWN_INSTANCE);
    ghost.instance_id = None;
    let e = refused(&app, "deregister", &ghost.sign(DeregisterRequest {}, NOW)).await;
    expect_error(&e, StatusCode::BAD_REQUEST, codes::MALFORMED);
    // Unknown SKU, duplicate SKU.
    let e = refused(&app, "authorize", &dev.sign(authz(&[("ASR5K-NOPE", 1)]), NOW)).await;
    assert!(expect_error(&e, StatusCode::BAD_REQUEST, codes::MALFORMED).contains("unknown SKU"));
    let e = refused(&app, "authorize", &dev.sign(authz(&[(PW, 1), (PW, 2)]), NOW)).await;
    expect_error(&e, StatusCode::BAD_REQUEST, codes::MALFORMED);
    // Garbage envelopes and bodies.
    let junk = SignedRequest {
        instance_id: None,
        payload: "%%%".into(),
        signature: "x".into(),
    };
    let e = refused(&app, "register", &junk).await;
    expect_error(&e, StatusCode::BAD_REQUEST, codes::MALFORMED);
    let r = app
        .call(Method::POST, "/api/v1/device/register", None, Some(json!({"hello": 1})))
        .await;
    expect_error(&r, StatusCode::BAD_REQUEST, codes::MALFORMED);
    let big = json!({"payload": "A".repeat(65 * 1024), "signature": ""});
    let r = app
        .call(Method::POST, "/api/v1/device/authorize", None, Some(big))
        .await;
    expect_error(&r, StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE);

    // Registration: proof of possession, software tag, and each token refusal.
    let mut fresh = Device::new(6);
    let body = fresh.register_body(&token);
    let forged = SignedRequest::sign(&SigningKey::from_bytes(&[99; 32]), None, "n-forged".into(), NOW, &body).unwrap();
    let e = refused(&app, "register", &forged).await;
    expect_error(&e, StatusCode::UNAUTHORIZED, codes::BAD_SIGNATURE);
    let mut odd = fresh.register_body(&token);
    odd.software_tag = "regid.unknown".into();
    let e = refused(&app, "register", &fresh.sign(odd, NOW)).await;
    assert!(expect_error(&e, StatusCode::BAD_REQUEST, codes::MALFORMED).contains("unknown software tag"));
    let e = refused(&app, "register", &fresh.sign(fresh.register_body("not-a-token"), NOW)).await;
    expect_error(&e, StatusCode::FORBIDDEN, codes::TOKEN_INVALID);

    let one = app
        .new_token("DEFAULT", json!({"max_uses": 1, "expires_days": 3}))
        .await;
    let one_secret = one["token"].as_str().unwrap().to_string();
    register(&app, &mut fresh, &one_secret).await;
    let mut next = Device::new(7);
    let e = refused(&app, "register", &next.sign(next.register_body(&one_secret), NOW)).await;
    let msg = expect_error(&e, StatusCode::FORBIDDEN, codes::TOKEN_USED_UP);
    assert!(msg.contains("1 of 1"), "{msg}");

    let short_secret = app.default_token(json!({"expires_days": 1})).await;
    app.clock.set(NOW + DAY);
    let e = refused(
        &app,
        "register",
        &next.sign(next.register_body(&short_secret), NOW + DAY),
    )
    .await;
    let msg = expect_error(&e, StatusCode::FORBIDDEN, codes::TOKEN_EXPIRED);
    assert_eq!(
        msg,
        format!("token expired on {}", smartlic_protocol::time::format_date(NOW + DAY))
    );

    let tid = one["info"]["id"].as_str().unwrap();
    let main_tokens = app.get("/api/v1/accounts/Acme/tokens").await;
    let main_id = main_tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] != tid && t["max_uses"].is_null() && t["expires_at"] == NOW + 30 * DAY)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.op(
        Method::POST,
        &format!("/api/v1/accounts/Acme/tokens/{main_id}/revoke"),
        None,
    )
    .await;
    let e = refused(&app, "register", &next.sign(next.register_body(&token), NOW + DAY)).await;
    assert!(expect_error(&e, StatusCode::FORBIDDEN, codes::TOKEN_REVOKED).starts_with("token was revoked on"));
    next.instance_id = None;
    // The refused registrations changed nothing and were logged.
    let inst = app.get("/api/v1/accounts/Acme/instances").await;
    assert_eq!(inst.as_array().unwrap().len(), 2);
    let events = app.get("/api/v1/accounts/Acme/events?limit=200").await;
    let refused = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "device.refused")
        .count();
    assert!(refused >= 4, "{refused} refusals logged");
    db.finish().await;
}

on_both_engines!(concurrent_registrations_on_an_n_use_token);

async fn concurrent_registrations_on_an_n_use_token(store: Store) {
    let app = Arc::new(App::on(store).await);
    app.setup_account().await;
    let secret = app.default_token(json!({"max_uses": 5})).await;
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let app = app.clone();
        let secret = secret.clone();
        tasks.push(tokio::spawn(async move {
            let dev = Device::new(100 + n);
            let req = dev.sign(dev.register_body(&secret), NOW);
            device::<RegisterResponse>(&app, "register", &req).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                expect_error(&e, StatusCode::FORBIDDEN, codes::TOKEN_USED_UP);
            }
        }
    }
    assert_eq!(ok, 5);
    let list = app.get("/api/v1/accounts/Acme/tokens").await;
    let five = list.as_array().unwrap().iter().find(|x| x["max_uses"] == 5).unwrap();
    assert_eq!(five["uses"], 5);
    assert_eq!(five["status"], "USED_UP");
}

#[tokio::test]
async fn documents_health_and_portal() {
    let (db, app) = App::sqlite().await;
    let (s, doc) = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/accounts",
        "/api/v1/accounts/{account}/virtual-accounts/{va}/licenses",
        "/api/v1/accounts/{account}/transfers",
        "/api/v1/accounts/{account}/tokens/{token}/revoke",
        "/api/v1/accounts/{account}/instances/{instance}",
        "/api/v1/accounts/{account}/users",
        "/api/v1/device/register",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["LicenseList"].is_object());
    let (s, h) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, h["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, _) = app.call(Method::GET, "/", None, None).await;
    assert_eq!(
        s,
        StatusCode::SEE_OTHER,
        "the portal sends strangers to its log-in page"
    );
    let (s, page) = app.call(Method::GET, "/login", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("smartlic license manager"));
    db.finish().await;
}

/// Strict isolation: every operation of the OpenAPI document, walked with the victim's real ids
/// and names in its path, as the administrator of another Smart Account and as the VA
/// administrator of another virtual account of the same account. The other account gets 403 or
/// 404 everywhere. The other VA gets 403 or 404 wherever the path names the victim's VA or one
/// of its objects; where the path names only the account (lists across it), an answer may
/// succeed but must hold none of the victim VA's data. Afterwards the victim's state is as it was.
/// Device endpoints are left out: they authenticate by the device's signature, not by users, and
/// `every_device_refusal_has_its_code` covers them.
#[tokio::test]
async fn every_endpoint_refuses_other_tenants() {
    let (db, app) = App::sqlite().await;
    // The victim: VA East of Acme, with licences, a token, a product instance and a user.
    app.setup_account().await;
    let east = app
        .post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "East"}))
        .await;
    let east_id = east["id"].as_str().unwrap().to_string();
    app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "West"}))
        .await;
    app.deposit("East", 5).await;
    let t = app.new_token("East", json!({"description": "east-secret-desc"})).await;
    let token_id = t["info"]["id"].as_str().unwrap().to_string();
    let token = t["token"].as_str().unwrap().to_string();
    let mut dev = Device::new(41);
    let reg = register(&app, &mut dev, &token).await;
    app.post(
        "/api/v1/accounts/Acme/users",
        json!({"email": "victim@acme.example", "role": "va-user", "va": "East"}),
    )
    .await;
    let hook = app
        .post(
            "/api/v1/accounts/Acme/webhooks",
            json!({"url": "https://victim-hook.example/alerts"}),
        )
        .await;
    let hook_id = hook["info"]["id"].as_str().unwrap().to_string();
    // A satellite of East, and a request of it (the walk answers it as each attacker).
    let sat_token = app
        .post(
            "/api/v1/accounts/Acme/satellites",
            json!({"va": "East", "name": "victim-sat"}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let sat_request = satellite_request(&sat_token);
    let acme_id = app.get("/api/v1/accounts/Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The attackers.
    app.post("/api/v1/accounts", json!({"name": "Other", "domain": "other.example"}))
        .await;
    let other_admin = app
        .user_key("Other", new_user("boss@other.example", "sa-admin", None))
        .await;
    let west_admin = app
        .user_key("Acme", new_user("wa@acme.example", "va-admin", Some("West")))
        .await;

    // What must never come back to them.
    let secrets = [
        east_id.clone(),
        reg.instance_id.clone(),
        token_id.clone(),
        dev.sn.clone(),
        "victim@acme.example".to_string(),
        "east-secret-desc".to_string(),
        "victim-hook".to_string(),
        hook["secret"].as_str().unwrap().to_string(),
    ];
    let before = victim_state(&app).await;

    let doc = app.get("/api/v1/openapi.json").await;
    let paths = doc["paths"].as_object().expect("paths in the OpenAPI document");
    let mut walked = 0;
    for (template, ops) in paths {
        let full = if template.starts_with("/api/v1") {
            template.clone()
        } else {
            format!("/api/v1{template}")
        };
        if full.starts_with("/api/v1/device") {
            continue;
        }
        for (method, _) in ops.as_object().expect("operations") {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            if !full.contains("{account}") && m == Method::GET {
                // Account-free reads (`GET /accounts` lists only the caller's own account,
                // asserted in `another_account_is_invisible_to_every_user`; the documents are public).
                continue;
            }
            if full == "/api/v1/satellites/exchange" {
                // A satellite's own exchange: no API key, the request's signature and token
                // proof are its credentials (`api::tests::satellites` covers every refusal).
                continue;
            }
            if full == "/api/v1/account-requests" && m == Method::POST {
                // The public Smart Account request: anyone may submit one, it touches no
                // account (`account_requests::tests` covers its bounds).
                continue;
            }
            // Names and ids both, in every position.
            for (account, va) in [("Acme", "East"), (acme_id.as_str(), east_id.as_str())] {
                let path = full
                    .replace("{account}", account)
                    .replace("{va}", va)
                    .replace("{token}", &token_id)
                    .replace("{instance}", &reg.instance_id)
                    .replace("{webhook}", &hook_id)
                    .replace("{user}", "victim@acme.example")
                    .replace("{id}", "00000000-0000-4000-8000-000000000000");
                let body = if full == "/api/v1/satellites/answer" {
                    Some(sat_request.clone())
                } else {
                    body_for(&m, template)
                };
                if m == Method::GET {
                    // Control: the operator reaches the same path, so a refusal below is the
                    // rights check and not a wrong fill.
                    let (s, v) = app.call(m.clone(), &path, Some(OP_KEY), None).await;
                    assert!(s.is_success(), "control: operator GET {path} gave {s}: {v}");
                }
                for (who, k) in [
                    ("other account's admin", &other_admin),
                    ("West's VA admin", &west_admin),
                ] {
                    let (s, v) = app.call(m.clone(), &path, Some(k), body.clone()).await;
                    walked += 1;
                    let text = v.to_string();
                    let names_victim_va = template.contains("{va}")
                        || template.contains("{token}")
                        || template.contains("{instance}")
                        || template.contains("webhooks")
                        || m != Method::GET;
                    let other_account = k == &other_admin;
                    if other_account || names_victim_va {
                        assert!(
                            s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                            "{who}: {m} {path} gave {s}: {text}"
                        );
                    } else {
                        assert!(
                            s.is_success() || s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                            "{who}: {m} {path} gave {s}: {text}"
                        );
                    }
                    for secret in &secrets {
                        assert!(
                            !text.contains(secret.as_str()),
                            "{who}: {m} {path} leaked {secret}: {text}"
                        );
                    }
                }
            }
        }
    }
    assert!(walked >= 40, "only {walked} calls: is the OpenAPI document complete?");
    assert_eq!(
        victim_state(&app).await,
        before,
        "a refused call changed the victim's state"
    );
    db.finish().await;
}

/// A first request of the satellite whose token is given, as its file's JSON.
fn satellite_request(token: &str) -> Value {
    use smartlic_protocol::satellite::{SatelliteRequest, SatelliteToken};
    let token = SatelliteToken::decode(token).unwrap();
    let key = SigningKey::from_bytes(&[78; 32]);
    let public = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        key.verifying_key().to_bytes(),
    );
    let text = SatelliteRequest {
        proof: Some(SatelliteRequest::proof_for(&token.secret, &token.satellite, &public, 1)),
        satellite: token.satellite,
        seq: 1,
        key: public,
        created_at: NOW,
        instances: vec![],
        events: vec![],
    }
    .encode(&key);
    serde_json::from_str(&text).unwrap()
}

/// A valid body for each operation that takes one (so that a refusal is the rights check, not
/// body validation); an operation added without one here gets `{}`.
fn body_for(m: &Method, template: &str) -> Option<Value> {
    if *m != Method::POST && *m != Method::PUT && *m != Method::PATCH {
        return None;
    }
    let node = SigningKey::from_bytes(&[77; 32]);
    let proof = |kind| {
        smartlic_protocol::reservation::NodeProof {
            id: "00000000-0000-4000-8000-000000000000".into(),
            seq: 1,
            udi: "PID:ASR5500,SN:FOX0077".into(),
            at: NOW,
        }
        .encode(kind, &node)
    };
    Some(if *m == Method::PATCH && template.ends_with("/virtual-accounts/{va}") {
        json!({"name": "Renamed"})
    } else if template.ends_with("/move") {
        json!({"to": "West"})
    } else if template.ends_with("/reservation") {
        json!({"reservation": "universal"})
    } else if template.ends_with("/reservations") {
        let request = smartlic_protocol::reservation::ReservationRequest {
            udi: "PID:ASR5500,SN:FOX0077".into(),
            ha_udis: vec![],
            key: base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                node.verifying_key().to_bytes(),
            ),
            nonce: "walk".into(),
            created_at: NOW,
        };
        json!({"va": "East", "request_code": request.encode(&node), "licenses": {PW: 1}})
    } else if template.ends_with("/satellites") {
        json!({"va": "East", "name": "intruder"})
    } else if template.ends_with("/reservations/return") {
        json!({"return_code": proof(smartlic_protocol::reservation::CodeKind::Return)})
    } else if template.ends_with("/reservations/confirm") {
        json!({"confirmation_code": proof(smartlic_protocol::reservation::CodeKind::Confirmation)})
    } else if template.contains("/reservations/") {
        json!({"licenses": {PW: 1}})
    } else if template.ends_with("/transfers") {
        json!({"from": "East", "to": "West", "sku": PW, "quantity": 1})
    } else if template.ends_with("/licenses") {
        json!({"sku": PW, "quantity": 1})
    } else if template.ends_with("/virtual-accounts") {
        json!({"name": "Intruder"})
    } else if template.ends_with("/webhooks") {
        json!({"url": "https://intruder.example/hook"})
    } else if template.ends_with("/users") {
        json!({"email": "intruder@evil.example", "role": "sa-admin"})
    } else if template.ends_with("/accounts") {
        json!({"name": "Intruder", "domain": "evil.example"})
    } else if template.ends_with("/reject") {
        json!({"reason": "intruder"})
    } else if template.ends_with("/satellite/link") {
        json!({"token": "ST1.intruder.0000"})
    } else if template.ends_with("/satellite/import") {
        json!({"answer": "intruder"})
    } else if template.ends_with("/legacy-keys") {
        json!({"serial": "FOX0001", "platform": "ASR5500", "sessions": {"pgw": 10000}})
    } else {
        json!({})
    })
}

/// Everything of Acme that a refused call could have changed, as the operator sees it.
async fn victim_state(app: &App) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/accounts/Acme",
        "/api/v1/accounts/Acme/virtual-accounts",
        "/api/v1/accounts/Acme/virtual-accounts/East/licenses",
        "/api/v1/accounts/Acme/virtual-accounts/West/licenses",
        "/api/v1/accounts/Acme/tokens",
        "/api/v1/accounts/Acme/instances",
        "/api/v1/accounts/Acme/users",
        "/api/v1/accounts/Acme/webhooks",
        "/api/v1/accounts/Acme/reservations",
        "/api/v1/accounts/Acme/satellites",
    ] {
        out.push(app.get(path).await);
    }
    out
}

/// Usage reports leave a daily history: each day's peak, totals carried over quiet days,
/// removals counted, days bounded; it is what the portal's chart draws.
#[tokio::test]
async fn usage_history_follows_reports_day_by_day() {
    let (db, app, token) = App::sqlite_with_token().await;
    app.deposit("DEFAULT", 3).await;
    let day0 = NOW - NOW.rem_euclid(DAY);
    let mut a = Device::new(51);
    let mut b = Device::new(52);
    register(&app, &mut a, &token).await;
    register(&app, &mut b, &token).await;
    let app = &app;
    let report = |dev: &Device, n: u64| {
        let req = dev.sign(authz(&[(PW, n)]), app.clock.now_secs());
        async move { device::<AuthorizationResponse>(app, "authorize", &req).await.unwrap() }
    };
    // Day 0: a uses 2, then b 2 (peak 4), then a drops to 1 (3 at the end of the day).
    report(&a, 2).await;
    report(&b, 2).await;
    report(&a, 1).await;
    // Day 2: b is removed by the administrator (1 left).
    app.clock.set(day0 + 2 * DAY + 3600);
    let id = b.instance_id.clone().unwrap();
    app.op(Method::DELETE, &format!("/api/v1/accounts/Acme/instances/{id}"), None)
        .await;
    // Day 4: a reports 1 again: no change, no row.
    app.clock.set(day0 + 4 * DAY + 60);
    report(&a, 1).await;

    let h = app
        .get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/usage?days=6")
        .await;
    let skus = h["skus"].as_array().unwrap();
    assert_eq!(skus.len(), 1, "{h}");
    assert_eq!(skus[0]["sku"], PW);
    assert_eq!(skus[0]["purchased"], 3);
    let points: Vec<(String, i64)> = skus[0]["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["day"].as_str().unwrap().to_string(), p["in_use"].as_i64().unwrap()))
        .collect();
    let day = |d: i64| smartlic_protocol::time::format_date(day0 + d * DAY);
    assert_eq!(
        points,
        vec![
            (day(-1), 0),
            (day(0), 4),
            (day(1), 3),
            (day(2), 3),
            (day(3), 1),
            (day(4), 1)
        ],
        "{h}"
    );
    // Only the last day: carried forward from the day of the last change.
    let h = app
        .get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/usage?days=1")
        .await;
    assert_eq!(h["skus"][0]["days"], json!([{"day": day(4), "in_use": 1}]), "{h}");
    for bad in ["days=0", "days=366", "days=x", "weeks=2"] {
        let r = app
            .get_as(
                OP_KEY,
                &format!("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/usage?{bad}"),
            )
            .await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{bad}: {}", r.1);
    }
    db.finish().await;
}

/// Alerts follow the manager's clock: expiring licences at their notice marks, then expired,
/// insufficient licences, a silent instance; a VA administrator sees only its own VA's alerts.
#[tokio::test]
async fn alerts_follow_the_clock_and_the_rights() {
    let (db, app, token) = App::sqlite_with_token().await;
    app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "West"}))
        .await;
    let end = smartlic_protocol::time::format_date(NOW + 20 * DAY);
    app.post(
        "/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses",
        json!({"sku": PW, "quantity": 1, "expires": end}),
    )
    .await;
    let west_admin = app
        .user_key("Acme", new_user("wa@acme.example", "va-admin", Some("West")))
        .await;
    let alerts = |key: Option<&'static str>| {
        let app = &app;
        let k = key.map(str::to_string);
        async move {
            let (s, v) = app
                .call(
                    Method::GET,
                    "/api/v1/accounts/Acme/alerts",
                    Some(k.as_deref().unwrap_or(OP_KEY)),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v.as_array()
                .unwrap()
                .iter()
                .map(|a| format!("{} | {}", a["kind"].as_str().unwrap(), a["message"].as_str().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    let dev = registered(&app, 61, &token).await;
    device::<AuthorizationResponse>(&app, "authorize", &dev.sign(authz(&[(PW, 1)]), NOW))
        .await
        .unwrap();
    // 20 days before the end: the 30-day notice.
    let a = alerts(None).await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].starts_with("Licenses Expiring | 1 ASR5K-00-PW10GTWY expire on") && a[0].contains("30-day notice"),
        "{a:?}"
    );
    // 2 days before: the 3-day notice.
    app.clock.set(NOW + 18 * DAY);
    let a = alerts(None).await;
    assert!(a[0].contains("3-day notice"), "{a:?}");
    // Past the end, the device silent for 31 days: expired, insufficient (1 in use, 0 counting),
    // failed to connect.
    app.clock.set(NOW + 31 * DAY);
    let a = alerts(None).await;
    let kinds: Vec<&str> = a.iter().map(|x| x.split(" | ").next().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "Insufficient Licenses",
            "Licenses Expired",
            "Product Instance Failed to Connect"
        ],
        "{a:?}"
    );
    // West's VA administrator sees none of DEFAULT's alerts.
    let (s, v) = app.get_as(&west_admin, "/api/v1/accounts/Acme/alerts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!([]), "{v}");

    // A year without renewal: the ID certificate has expired; the manager removes the
    // instance, releases its licence and says so. A renewal in time is left alone.
    assert_eq!(crate::admin::expire_instances(&app.state).await.unwrap(), 0);
    app.clock.set(NOW + 366 * DAY);
    assert_eq!(crate::admin::expire_instances(&app.state).await.unwrap(), 1);
    assert_eq!(crate::admin::expire_instances(&app.state).await.unwrap(), 0);
    let list = app.get("/api/v1/accounts/Acme/instances").await;
    assert_eq!(list, json!([]), "{list}");
    let a = alerts(None).await;
    assert!(
        a.iter()
            .any(|x| x.starts_with("Product Instance Failed to Renew and was Removed | ")
                && x.contains("released 1 ASR5K-00-PW10GTWY")),
        "{a:?}"
    );
    assert!(
        !a.iter().any(|x| x.starts_with("Insufficient")),
        "its licence was released: {a:?}"
    );
    let e = refused(&app, "authorize", &dev.sign(authz(&[(PW, 1)]), NOW + 366 * DAY)).await;
    assert_eq!(e.1["error"]["code"], codes::UNKNOWN_INSTANCE, "{}", e.1);
    // Thirty days on, the alert is history (the event log keeps it).
    app.clock.set(NOW + 397 * DAY);
    assert!(!alerts(None).await.iter().any(|x| x.contains("Failed to Renew")));
    db.finish().await;
}

on_both_engines!(instances_are_listed_a_page_at_a_time);

/// `GET …/instances?limit=` pages by hostname then id and names the next page in a `Link`
/// header; every page together is the whole list, each instance once; bad limits and cursors
/// are 400s.
async fn instances_are_listed_a_page_at_a_time(store: Store) {
    let ids = crate::store::tests::register_some(&store, 7).await;
    let account = store.find_account("Many").await.unwrap().unwrap();
    let whole: Vec<crate::ids::ProductInstanceId> = store
        .instance_page(&account.id, None, None, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(whole.len(), ids.len());
    let app = App::on(store).await;
    let get = |path: String| {
        let router = app.router.clone();
        async move {
            let req = Request::builder()
                .uri(path)
                .header("authorization", format!("Bearer {OP_KEY}"))
                .body(Body::empty())
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let link = resp.headers().get("link").map(|v| v.to_str().unwrap().to_string());
            let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20).await.unwrap();
            (status, link, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let base = "/api/v1/accounts/Many/instances";
    let mut path = format!("{base}?va=DEFAULT&limit=3");
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let (status, link, body) = get(path.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        sizes.push(page.len());
        seen.extend(page);
        let Some(link) = link else { break };
        let query = link
            .strip_prefix("<?")
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("unexpected link {link}"));
        assert!(query.starts_with("va=DEFAULT&limit=3&after="), "{query}");
        path = format!("{base}?{query}");
    }
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(seen, whole, "the pages in order are the whole list");
    // Without a limit, one page of up to 1,000: all seven, no link.
    let (status, link, body) = get(base.to_string()).await;
    assert_eq!((status, link), (StatusCode::OK, None));
    assert_eq!(body.as_array().unwrap().len(), 7);
    // A page that ends exactly at the last instance has no next page.
    let (_, link, _) = get(format!("{base}?limit=7")).await;
    assert_eq!(link, None);
    for bad in [
        "limit=0",
        "limit=10001",
        "limit=x",
        "after=%25%25",
        "after=bm90IGpzb24",
        "page=2",
    ] {
        let (status, _, body) = get(format!("{base}?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], codes::MALFORMED, "{bad}: {body}");
    }
}

mod reservations;
mod satellite_link;
mod satellites;
mod trust;
mod va;

#[tokio::test]
async fn metrics_show_licences_per_va_and_sku_and_instances_by_status() {
    let (db, app, token) = App::sqlite_with_token().await;
    app.deposit("DEFAULT", 1).await;
    let a = registered(&app, 1, &token).await;
    let b = registered(&app, 2, &token).await;
    let _never_authorized = registered(&app, 3, &token).await;
    for dev in [&a, &b] {
        let r: Result<AuthorizationResponse, _> = device(&app, "authorize", &dev.sign(authz(&[(PW, 1)]), NOW)).await;
        assert!(r.is_ok());
    }
    let text = app.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.1;
    let text = text.as_str().unwrap();
    let series = format!("{{account=\"Acme\",va=\"DEFAULT\",sku=\"{PW}\"}}");
    assert!(
        text.contains(&format!("smartlic_licences_purchased{series} 1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("smartlic_licences_in_use{series} 2\n")),
        "{text}"
    );
    assert!(text.contains(&format!("smartlic_licences_short{series} 1\n")), "{text}");
    assert!(text.contains("smartlic_licence_series_dropped 0\n"), "{text}");
    assert!(text.contains("smartlic_instances{status=\"NONE\"} 1\n"), "{text}");
    let by_status: i64 = text
        .lines()
        .filter(|l| l.starts_with("smartlic_instances{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
        .sum();
    assert_eq!(by_status, 3, "{text}");
    db.finish().await;
}
