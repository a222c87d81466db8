//! Smart Account requests through the HTTP API (`Router::oneshot`) on both engines: submit,
//! approve (the new SA administrator logs in to the portal and uses their key), reject, bounds,
//! one decision only, taken names and e-mails, and the operator's right alone.

use crate::portal::{LOGIN_COOKIE, SESSION_COOKIE};
use crate::store::account_requests::{NewAccountRequest, RequestBounds};
use crate::store::{Audit, Store};
use crate::testutil::{NOW, OP_KEY, on_both_engines, wraps_test_app};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// Where the operator's calls come from.
const OPERATOR_FROM: &str = "192.0.2.250";
const PASS: &str = "a long enough password";

wraps_test_app!(App, on);

/// The requests of these tests.
impl App {
    /// A JSON call from `from` (a client address) with an optional API key.
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        from: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let mut req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .expect("request"),
            None => b.body(Body::empty()).expect("request"),
        };
        let addr: SocketAddr = format!("{from}:4000").parse().expect("address");
        req.extensions_mut().insert(ConnectInfo(addr));
        let resp = self.oneshot(req).await;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        let v =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    async fn op(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, Some(OP_KEY), OPERATOR_FROM, body).await
    }

    /// `POST path` with `body` as the operator.
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.op(Method::POST, path, Some(body)).await
    }

    /// The requests the operator lists with `query` (such as `?status=pending`).
    async fn list(&self, query: &str) -> (StatusCode, Value) {
        let path = format!("/api/v1/account-requests{query}");
        self.op(Method::GET, &path, None).await
    }

    /// Approves the request `id` with the API key `key` from `from`.
    async fn approve_as(&self, key: Option<&str>, from: &str, id: &str) -> (StatusCode, Value) {
        let path = format!("/api/v1/account-requests/{id}/approve");
        self.call(Method::POST, &path, key, from, None).await
    }

    /// Rejects the request `id` for `reason` with the API key `key` from `from`.
    async fn reject_as(&self, key: Option<&str>, from: &str, id: &str, reason: &str) -> (StatusCode, Value) {
        let path = format!("/api/v1/account-requests/{id}/reject");
        let body = json!({ "reason": reason });
        self.call(Method::POST, &path, key, from, Some(body)).await
    }

    /// Approves the request `id` as the operator.
    async fn approve(&self, id: &str) -> (StatusCode, Value) {
        self.approve_as(Some(OP_KEY), OPERATOR_FROM, id).await
    }

    /// Rejects the request `id` for `reason` as the operator.
    async fn reject(&self, id: &str, reason: &str) -> (StatusCode, Value) {
        self.reject_as(Some(OP_KEY), OPERATOR_FROM, id, reason).await
    }

    async fn submit(&self, from: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/api/v1/account-requests", None, from, Some(body))
            .await
    }

    /// Logs in to the portal with the password of every request ([`PASS`]); the status of the
    /// log-in POST.
    async fn portal_login(&self, email: &str) -> StatusCode {
        let password = PASS;
        let page = self
            .oneshot(Request::get("/login").body(Body::empty()).expect("request"))
            .await;
        let csrf = page
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix(&format!("{LOGIN_COOKIE}=")))
            .and_then(|rest| rest.split(';').next())
            .expect("log-in cookie")
            .to_string();
        let form = format!(
            "email={}&password={}&csrf={csrf}",
            email.replace('@', "%40"),
            password.replace(' ', "+")
        );
        let resp = self
            .oneshot(
                Request::post("/login")
                    .header(header::COOKIE, format!("{LOGIN_COOKIE}={csrf}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .expect("request"),
            )
            .await;
        if resp.status() == StatusCode::SEE_OTHER {
            assert!(
                resp.headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .any(|c| c.to_str().is_ok_and(|c| c.starts_with(SESSION_COOKIE))),
                "a session cookie"
            );
        }
        resp.status()
    }

    async fn actions(&self) -> Vec<String> {
        self.state
            .store()
            .list_events(None, 1000)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

fn request(email: &str, name: &str) -> Value {
    json!({"requester_email": email, "authority": true, "name": name, "password": PASS})
}

async fn submitted_requests_are_approved_into_a_working_account(store: Store) {
    let app = App::on(store).await;
    let (s, r) = app
        .submit("198.51.100.7", request("Ann@Widgets.example", "Widgets Inc"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], "PENDING");
    assert_eq!(r["domain"], "widgets.example", "the domain defaults to the e-mail's");
    assert!(!r.to_string().contains("argon2"), "never the hash: {r}");
    let id = r["id"].as_str().expect("id").to_string();
    // Pending: no account, no user, no log-in.
    assert!(
        app.state
            .store()
            .find_account("Widgets Inc")
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(app.portal_login("Ann@Widgets.example").await, StatusCode::UNAUTHORIZED);

    let (s, list) = app.list("?status=pending").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], id.as_str());
    assert!(!list.to_string().contains("argon2"), "never the hash: {list}");

    let (s, ok) = app.approve(&id).await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    assert_eq!(ok["request"]["status"], "APPROVED");
    assert_eq!(ok["request"]["decided_by"], "operator");
    assert_eq!(ok["account"]["name"], "Widgets Inc");
    assert_eq!(ok["request"]["account_id"], ok["account"]["id"]);
    assert_eq!(ok["admin"]["role"], "sa-admin");
    assert_eq!(ok["admin"]["email"], "Ann@Widgets.example");
    assert_eq!(ok["admin"]["has_password"], true);
    let key = ok["api_key"].as_str().expect("api key").to_string();

    // The SA administrator's key works and sees the account with its DEFAULT VA.
    let (s, vas) = app
        .call(
            Method::GET,
            "/api/v1/accounts/Widgets%20Inc/virtual-accounts",
            Some(&key),
            "198.51.100.7",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{vas}");
    assert_eq!(vas[0]["name"], "DEFAULT");
    // And the password chosen in the request logs in to the portal.
    assert_eq!(app.portal_login("ann@widgets.example").await, StatusCode::SEE_OTHER);

    // Decided once only.
    let (s, e) = app.approve(&id).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = app.reject(&id, "too late").await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, _) = app.approve("00000000-0000-4000-8000-000000000000").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let actions = app.actions().await;
    for a in [
        "account_request.create",
        "account_request.approve",
        "account.create",
        "user.create",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} logged: {actions:?}");
    }
}

async fn a_named_person_becomes_the_administrator_and_rejections_are_final(store: Store) {
    let app = App::on(store).await;
    // "No": the named person is required…
    let (s, e) = app
        .submit(
            "198.51.100.8",
            json!({"requester_email": "clerk@gadgets.example", "authority": false,
                   "name": "Gadgets", "password": PASS}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e.to_string().contains("on_behalf_email"), "{e}");
    // …and becomes the SA administrator.
    let (s, r) = app
        .submit(
            "198.51.100.8",
            json!({"requester_email": "clerk@gadgets.example", "authority": false,
                   "on_behalf_email": "cto@gadgets.example", "domain": "Gadgets.Example",
                   "name": "Gadgets", "password": PASS}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["domain"], "gadgets.example");
    let id = r["id"].as_str().expect("id").to_string();
    let (s, ok) = app.approve(&id).await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    assert_eq!(ok["admin"]["email"], "cto@gadgets.example");
    assert_eq!(app.portal_login("cto@gadgets.example").await, StatusCode::SEE_OTHER);

    // A rejection keeps its reason, creates nothing, and is final.
    let (_, r) = app.submit("198.51.100.8", request("eve@spam.example", "Spam")).await;
    let id = r["id"].as_str().expect("id").to_string();
    let (s, e) = app.reject(&id, " ").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a reason is required: {e}");
    let (s, r) = app.reject(&id, "not a customer").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "REJECTED");
    assert_eq!(r["reason"], "not a customer");
    let (s, _) = app.approve(&id).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(app.state.store().find_account("Spam").await.expect("find").is_none());
    assert_eq!(app.portal_login("eve@spam.example").await, StatusCode::UNAUTHORIZED);
    let (_, pending) = app.list("?status=pending").await;
    assert_eq!(pending.as_array().map(Vec::len), Some(0));
    let (_, all) = app.list("").await;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let (s, _) = app.list("?status=maybe").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(app.actions().await.iter().any(|a| a == "account_request.reject"));
}

async fn submissions_are_bounded(store: Store) {
    let app = App::on(store).await;
    for i in 0..3 {
        let (s, r) = app
            .submit(
                "203.0.113.9",
                request(&format!("u{i}@flood.example"), &format!("Flood {i}")),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    let (s, e) = app.submit("203.0.113.9", request("u4@flood.example", "Flood 4")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
    assert_eq!(e["error"]["code"], "too_many_requests");
    assert!(e.to_string().contains("per day"), "{e}");
    // IPv6 clients are counted per /64.
    for i in 0..3 {
        let (s, _) = app
            .submit(
                &format!("[2001:db8:1:2::{i}]"),
                request(&format!("v{i}@six.example"), &format!("Six {i}")),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, _) = app
        .submit("[2001:db8:1:2::ff]", request("v9@six.example", "Six 9"))
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // Another address still may.
    let (s, _) = app.submit("203.0.113.10", request("x@other.example", "Other")).await;
    assert_eq!(s, StatusCode::CREATED);
    // Invalid fields are refused before anything is counted or hashed.
    let (s, e) = app
        .submit(
            "203.0.113.11",
            json!({"requester_email": "not an e-mail", "authority": true, "name": "", "password": "short"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for field in ["requester_email", "name", "password"] {
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let (s, _) = app
        .submit(
            "203.0.113.11",
            json!({"requester_email": "a@b.example", "authority": true, "name": "X", "password": PASS, "extra": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unknown fields are refused");

    // The bound on pending requests in all, checked in the insert's transaction.
    let bounds = RequestBounds {
        max_pending: 8,
        max_per_source: 100,
        since: NOW - 86_400,
    };
    let new = |name: &'static str| NewAccountRequest {
        requester_email: "p@pending.example",
        on_behalf_email: None,
        authority: true,
        domain: "pending.example",
        name,
        password_hash: "$argon2id$placeholder",
        source: "192.0.2.1",
    };
    let store = app.state.store();
    store
        .insert_account_request(new("P1"), bounds, NOW, &Audit::system())
        .await
        .expect("8th pending request");
    let e = store
        .insert_account_request(new("P2"), bounds, NOW, &Audit::system())
        .await
        .expect_err("9th pending request");
    assert!(
        matches!(crate::api::ApiError::from(e), crate::api::ApiError::TooMany(ref m) if m.contains("waiting")),
        "pending bound"
    );
}

async fn approval_refuses_taken_names_and_emails_and_changes_nothing(store: Store) {
    let app = App::on(store).await;
    let (s, _) = app
        .post("/api/v1/accounts", json!({"name": "Acme", "domain": "acme.example"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .post(
            "/api/v1/accounts/Acme/users",
            json!({"email": "taken@acme.example", "role": "sa-user"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let accounts = app.state.store().list_accounts().await.expect("accounts").len();

    // The name, ignoring case.
    let (_, r) = app.submit("198.51.100.20", request("new@acme2.example", "ACME")).await;
    let id = r["id"].as_str().expect("id").to_string();
    let (s, e) = app.approve(&id).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e.to_string().contains("already exists"), "{e}");
    // The e-mail: the account created before the user is rolled back with it.
    let (_, r) = app
        .submit("198.51.100.20", request("Taken@acme.example", "Fresh Co"))
        .await;
    let id2 = r["id"].as_str().expect("id").to_string();
    let (s, e) = app.approve(&id2).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e.to_string().to_lowercase().contains("taken@acme.example"), "{e}");

    assert!(
        app.state
            .store()
            .find_account("Fresh Co")
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(
        app.state.store().list_accounts().await.expect("accounts").len(),
        accounts
    );
    for id in [&id, &id2] {
        let r = app
            .state
            .store()
            .account_request(id)
            .await
            .expect("read")
            .expect("request");
        assert_eq!(r.status, "PENDING");
        assert_eq!(r.account_id, None);
        assert_eq!(r.decided_at, None);
    }
    assert!(!app.actions().await.iter().any(|a| a == "account_request.approve"));
    // Still decidable: rejected now.
    let (s, _) = app.reject(&id, "name taken").await;
    assert_eq!(s, StatusCode::OK);
}

async fn only_the_operator_reviews_requests(store: Store) {
    let app = App::on(store).await;
    app.post("/api/v1/accounts", json!({"name": "Acme", "domain": "acme.example"}))
        .await;
    let (_, u) = app
        .post(
            "/api/v1/accounts/Acme/users",
            json!({"email": "boss@acme.example", "role": "sa-admin"}),
        )
        .await;
    let key = u["api_key"].as_str().expect("key").to_string();
    let (_, r) = app.submit("198.51.100.30", request("x@y.example", "Y Corp")).await;
    let id = r["id"].as_str().expect("id").to_string();
    let from = "198.51.100.31";
    let (s, _) = app
        .call(Method::GET, "/api/v1/account-requests", Some(&key), from, None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(Method::GET, "/api/v1/account-requests", None, from, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.approve_as(Some(&key), from, &id).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.reject_as(Some(&key), from, &id, "mine").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.approve_as(None, from, &id).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let r = app
        .state
        .store()
        .account_request(&id)
        .await
        .expect("read")
        .expect("request");
    assert_eq!(r.status, "PENDING");
}

on_both_engines!(
    submitted_requests_are_approved_into_a_working_account,
    a_named_person_becomes_the_administrator_and_rejections_are_final,
    submissions_are_bounded,
    approval_refuses_taken_names_and_emails_and_changes_nothing,
    only_the_operator_reviews_requests,
);
