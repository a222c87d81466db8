//! The portal through `Router::oneshot` on both engines: log-in, throttling, sessions, CSRF,
//! pages and isolation between accounts and virtual accounts.

use super::{LOGIN_COOKIE, MAX_FAILURES, SESSION_COOKIE, SESSION_TTL, sessions};
use crate::admin::{self, Caller};
use crate::auth::Principal;
use crate::store::Store;
use crate::testutil::{NOW, PW, TestApp, on_both_engines, wraps_test_app};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use smartlic_protocol::admin::{CreateAccount, CreateUser, CreateVirtualAccount, DepositLicenses, Role};
use std::sync::Arc;
use tower::ServiceExt;

/// The portal password of every user of a scene.
const PASS: &str = "correct horse battery";

wraps_test_app!(Portal);

/// What a response says that the tests look at.
struct Resp {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
    retry_after: Option<String>,
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", super::html::query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The operator, as the caller of admin actions that set up and check a scene.
fn operator() -> Caller {
    Caller {
        principal: Principal::Operator,
        source: None,
    }
}

impl Resp {
    /// Asserts a 303 to `to`.
    fn assert_see_other(&self, to: &str) {
        assert_eq!(
            (self.status, self.location.as_deref()),
            (StatusCode::SEE_OTHER, Some(to)),
            "{}",
            self.body
        );
    }
}

/// The value of the first `name="csrf"` field of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap().to_string())
    })
}

/// A manager with two accounts (Acme with the virtual accounts DEFAULT and EDGE, Other) and
/// their users (at [`NOW`], [`PW`] deposited in Acme's DEFAULT), reached through its router.
impl Portal {
    async fn on(store: Store) -> Portal {
        let app = TestApp::on(store).await;
        let state = &app.state;
        let op = operator();
        for (name, domain) in [("Acme", "acme.example"), ("Other", "other.example")] {
            let req = CreateAccount {
                name: name.into(),
                domain: domain.into(),
            };
            admin::create_account(state, &op, req).await.unwrap();
        }
        let edge = CreateVirtualAccount {
            name: "EDGE".into(),
            description: "edge <sites>".into(),
        };
        admin::create_va(state, &op, "Acme", edge).await.unwrap();
        let lots = DepositLicenses {
            sku: PW.into(),
            quantity: 10,
            expires: Some("2028-01-01".into()),
        };
        admin::deposit(state, &op, "Acme", "DEFAULT", lots).await.unwrap();
        for (account, email, role, va) in [
            ("Acme", "alice@acme.example", Role::SaAdmin, None),
            ("Acme", "carol@acme.example", Role::VaUser, Some("EDGE")),
            ("Other", "bob@other.example", Role::SaAdmin, None),
        ] {
            let req = CreateUser {
                email: email.into(),
                role,
                va: va.map(str::to_string),
                password: Some(PASS.into()),
            };
            admin::create_user(state, &op, account, req).await.unwrap();
        }
        Portal(app)
    }

    async fn send(&self, method: Method, path: &str, cookie: Option<&str>, body: Option<String>) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        let req = match body {
            Some(f) => b
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(f))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        let resp = self.oneshot(req).await;
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let cookies = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20).await.unwrap();
        Resp {
            status,
            location,
            cookies,
            retry_after,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    /// `GET path` in the session of `cookie`.
    async fn get(&self, path: &str, cookie: &str) -> Resp {
        self.send(Method::GET, path, Some(cookie), None).await
    }

    /// `POST path` of a form of `fields` in the session of `cookie`.
    async fn post(&self, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Resp {
        self.send(Method::POST, path, Some(cookie), Some(form(fields))).await
    }

    async fn try_login(&self, email: &str, password: &str) -> Resp {
        let page = self.send(Method::GET, "/login", None, None).await;
        assert_eq!(page.status, StatusCode::OK);
        let login_cookie = cookie_value(&page.cookies, LOGIN_COOKIE).expect("log-in CSRF cookie");
        let csrf = csrf_of(&page.body);
        assert_eq!(csrf, login_cookie);
        self.post(
            "/login",
            &format!("{LOGIN_COOKIE}={login_cookie}"),
            &[("email", email), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Logs in; returns the Cookie header value and the session's CSRF token.
    async fn login(&self, email: &str) -> (String, String) {
        let r = self.try_login(email, PASS).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location.as_deref(), Some("/"));
        let id = cookie_value(&r.cookies, SESSION_COOKIE).expect("session cookie");
        let cookie = format!("{SESSION_COOKIE}={id}");
        let home = self.get("/", &cookie).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        (cookie, csrf_of(&home.body))
    }

    async fn va_id(&self, account: &str, va: &str) -> crate::ids::VirtualAccountId {
        let a = self.state.store().find_account(account).await.unwrap().unwrap();
        self.state.store().find_va(&a.id, va).await.unwrap().unwrap().id
    }

    async fn token_count(&self) -> usize {
        let op = operator();
        admin::list_tokens(&self.state, &op, "Acme", None).await.unwrap().len()
    }
}

async fn login_and_throttling(store: Store) {
    let p = Portal::on(store).await;
    // Wrong password: refused, no session.
    let r = p.try_login("alice@acme.example", "wrong password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Wrong e-mail address or password"));
    assert!(cookie_value(&r.cookies, SESSION_COOKIE).is_none());
    assert_eq!(sessions::count(p.state.store()).await.unwrap(), 0);
    // Unknown user: the same answer.
    let r = p.try_login("nobody@acme.example", PASS).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Without the log-in form's token: 403.
    let r = p
        .send(
            Method::POST,
            "/login",
            None,
            Some(form(&[("email", "alice@acme.example"), ("password", PASS)])),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(cookie_value(&r.cookies, SESSION_COOKIE).is_none());
    // The right password: a session cookie with every protection.
    let r = p.try_login("Alice@Acme.example", PASS).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let set = r
        .cookies
        .iter()
        .find(|c| c.starts_with(SESSION_COOKIE))
        .expect("session cookie");
    for attr in [
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        &format!("Max-Age={SESSION_TTL}"),
    ] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert_eq!(sessions::count(p.state.store()).await.unwrap(), 1);

    // Throttling: after MAX_FAILURES failures even the right password is refused.
    for _ in 0..MAX_FAILURES {
        let r = p.try_login("bob@other.example", "nope nope").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = p.try_login("bob@other.example", PASS).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Too many failed log-ins"), "{}", r.body);
    assert_eq!(sessions::count(p.state.store()).await.unwrap(), 1);
    // After the window, the right password works again.
    p.clock.advance(super::THROTTLE_WINDOW + 1);
    let r = p.try_login("bob@other.example", PASS).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

async fn pages_show_the_account(store: Store) {
    let p = Portal::on(store).await;
    let (cookie, _) = p.login("alice@acme.example").await;
    let home = p.get("/", &cookie).await;
    assert!(home.body.contains("Smart Account Acme"));
    assert!(home.body.contains("DEFAULT") && home.body.contains("EDGE"));
    assert!(home.body.contains("edge &#60;sites&#62;"), "escaped description");
    assert!(!home.body.contains("<sites>"));
    assert_eq!(
        home.status,
        StatusCode::OK,
        "headers and status of a page are those of HTML"
    );
    let default = p.va_id("Acme", "DEFAULT").await;
    let page = p.get(&format!("/va/{default}"), &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for text in [
        PW,
        "2028-01-01",
        ">10<",
        "No product instance registered yet",
        "Create token",
    ] {
        assert!(page.body.contains(text), "VA page lacks {text}");
    }
    let css = p.send(Method::GET, "/static/portal.css", None, None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.contains(".insufficient"));

    // A user of another account: 404 and no data.
    let (bob, bob_csrf) = p.login("bob@other.example").await;
    let page = p.get(&format!("/va/{default}"), &bob).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains(PW));
    let home = p.get("/", &bob).await;
    assert!(home.body.contains("Smart Account Other") && !home.body.contains("Acme"));
    let r = p
        .post(
            &format!("/va/{default}/tokens"),
            &bob,
            &[("csrf", &bob_csrf), ("description", "bob was here")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(p.token_count().await, 0);

    // A VA user sees its own VA only.
    let (carol, _) = p.login("carol@acme.example").await;
    let home = p.get("/", &carol).await;
    assert!(home.body.contains("EDGE") && !home.body.contains(default.as_str()));
    let page = p.get(&format!("/va/{default}"), &carol).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.body.contains(PW));
}

async fn csrf_and_tokens(store: Store) {
    let p = Portal::on(store).await;
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let default = p.va_id("Acme", "DEFAULT").await;
    let path = format!("/va/{default}/tokens");
    // No token, a wrong one: 403 and nothing created.
    for fields in [
        vec![("description", "no csrf")],
        vec![("description", "bad csrf"), ("csrf", "x")],
    ] {
        let r = p.post(&path, &cookie, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    assert_eq!(p.token_count().await, 0);
    // A malformed number: 400 with the reason, nothing created.
    let r = p.post(&path, &cookie, &[("csrf", &csrf), ("max_uses", "many")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Max. uses must be a whole number"), "{}", r.body);
    assert_eq!(p.token_count().await, 0);

    // Created: the secret is shown once.
    let r = p
        .post(
            &path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("description", "lab nodes"),
                ("expires_days", "7"),
                ("max_uses", "3"),
                ("export_controlled", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let at = r.body.find("id=\"new-token\">").unwrap() + 15;
    let secret = r.body[at..].split('<').next().unwrap().to_string();
    assert_eq!(secret.len(), 64);
    let page = p.get(&format!("/va/{default}"), &cookie).await;
    assert!(page.body.contains("lab nodes") && page.body.contains("0 / 3") && page.body.contains("ACTIVE"));
    assert!(!page.body.contains(&secret), "the secret is never shown again");
    let op = operator();
    let listed = admin::list_tokens(&p.state, &op, "Acme", None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].export_controlled);
    assert_eq!(listed[0].expires_at, NOW + 7 * 86_400);

    // Revoke: without CSRF refused, with it done.
    let revoke = format!("/va/{default}/tokens/{}/revoke", listed[0].id);
    let r = p.post(&revoke, &cookie, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        admin::list_tokens(&p.state, &op, "Acme", None).await.unwrap()[0]
            .revoked_at
            .is_none()
    );
    let r = p.post(&revoke, &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some(format!("/va/{default}").as_str()));
    assert!(
        admin::list_tokens(&p.state, &op, "Acme", None).await.unwrap()[0]
            .revoked_at
            .is_some()
    );
    let page = p.get(&format!("/va/{default}"), &cookie).await;
    assert!(page.body.contains("REVOKED"));
}

async fn sessions_end(store: Store) {
    let p = Portal::on(store).await;
    // No cookie, a made-up one: to the log-in page.
    for cookie in [None, Some(format!("{SESSION_COOKIE}=forged"))] {
        let r = p.send(Method::GET, "/", cookie.as_deref(), None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location.as_deref(), Some("/login"));
    }
    // Log-out needs the CSRF token, then ends the session.
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let r = p.post("/logout", &cookie, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = p.post("/logout", &cookie, &[("csrf", &csrf)]).await;
    r.assert_see_other("/login");
    let r = p.get("/", &cookie).await;
    r.assert_see_other("/login");
    assert_eq!(sessions::count(p.state.store()).await.unwrap(), 0);
    // Expiry.
    let (cookie, _) = p.login("alice@acme.example").await;
    p.clock.advance(SESSION_TTL - 1);
    assert_eq!(p.get("/", &cookie).await.status, StatusCode::OK);
    p.clock.advance(1);
    let r = p.get("/", &cookie).await;
    r.assert_see_other("/login");
    let default = p.va_id("Acme", "DEFAULT").await;
    let r = p.post(&format!("/va/{default}/tokens"), &cookie, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(p.token_count().await, 0);
}

on_both_engines!(
    login_and_throttling,
    pages_show_the_account,
    csrf_and_tokens,
    sessions_end,
    event_log_filters_and_exports,
    licence_transfers,
    instances_are_shown_a_page_at_a_time,
    webhooks_are_managed_by_sa_administrators,
    the_users_page_lists_the_account,
    user_changes_need_the_csrf_token,
    administrators_disable_enable_rotate_and_remove_users,
    administrators_cannot_lock_themselves_out,
    sa_users_read_users_but_change_none,
    va_users_and_other_accounts_see_no_users,
    users_rotate_their_own_key,
    disabling_a_user_ends_their_sessions,
    parallel_guesses_are_counted_before_the_check,
    busy_checks_answer_503,
    the_smart_account_request_form
);

/// The public "Request a Smart Account" form: linked from the log-in page, the seed's fields,
/// CSRF by a double-submit cookie, field errors shown beside their fields with the input escaped
/// and the password never echoed, success says "pending" and stores a PENDING request.
async fn the_smart_account_request_form(store: Store) {
    use super::REQUEST_COOKIE;
    let p = Portal::on(store).await;
    let login = p.send(Method::GET, "/login", None, None).await;
    assert!(login.body.contains("href=\"/request-account\""), "{}", login.body);
    let page = p.send(Method::GET, "/request-account", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Yes, I have authority to represent my company and want to create the Smart Account",
        "No, the person specified below will create the account",
        "Account Domain Identifier",
        "Account Name",
        "name=\"on_behalf_email\"",
        "name=\"password\"",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    let token = cookie_value(&page.cookies, REQUEST_COOKIE).expect("request CSRF cookie");
    assert_eq!(csrf_of(&page.body), token);
    let cookie = format!("{REQUEST_COOKIE}={token}");
    let fields = |name: &'static str, password: &'static str, csrf: &str| {
        form(&[
            ("create", "yes"),
            ("on_behalf_email", ""),
            ("domain", ""),
            ("name", name),
            ("requester_email", "dana@newco.example"),
            ("password", password),
            ("csrf", csrf),
        ])
    };
    let pending = |p: &Portal| {
        let store = p.state.store().clone();
        async move { store.list_account_requests(Some("PENDING"), 100).await.unwrap().len() }
    };

    // No cookie, or a token that is not the cookie's: 403, nothing stored.
    let r = p
        .send(
            Method::POST,
            "/request-account",
            None,
            Some(fields("NewCo", PASS, &token)),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = p
        .send(
            Method::POST,
            "/request-account",
            Some(&cookie),
            Some(fields("NewCo", PASS, "forged")),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(pending(&p).await, 0);

    // Field errors: shown beside the fields, the input escaped, the password not echoed.
    let r = p
        .post(
            "/request-account",
            &cookie,
            &[
                ("create", "no"),
                ("on_behalf_email", "<b>not-an-address"),
                ("domain", "bad domain!"),
                ("name", ""),
                ("requester_email", "dana@newco.example"),
                ("password", "short77"),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    for message in [
        "Enter an e-mail address",
        "must be a domain name",
        "account name must be 1 to 100",
        "password must have 8 to 1024 characters",
    ] {
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    assert!(r.body.contains("&#60;b&#62;not-an-address"), "escaped");
    assert!(!r.body.contains("<b>not-an-address"), "never unescaped");
    assert!(!r.body.contains("short77"), "the password is never echoed");
    assert_eq!(pending(&p).await, 0);
    // The re-rendered form carries a fresh token in a fresh cookie.
    let token = cookie_value(&r.cookies, REQUEST_COOKIE).expect("fresh cookie");
    assert_eq!(csrf_of(&r.body), token);
    let cookie = format!("{REQUEST_COOKIE}={token}");

    // Success: "pending", the cookie cleared, a PENDING request with the e-mail's domain.
    let r = p
        .send(
            Method::POST,
            "/request-account",
            Some(&cookie),
            Some(fields("NewCo <Ltd>", PASS, &token)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("pending"), "{}", r.body);
    assert!(r.body.contains("NewCo &#60;Ltd&#62;"), "{}", r.body);
    assert!(!r.body.contains(PASS));
    assert_eq!(cookie_value(&r.cookies, REQUEST_COOKIE).as_deref(), Some(""));
    let stored = p
        .state
        .store()
        .list_account_requests(Some("PENDING"), 100)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].domain, "newco.example");
    assert_eq!(stored[0].name, "NewCo <Ltd>");
    assert!(stored[0].password_hash.starts_with("$argon2id$"));
    assert!(!stored[0].password_hash.contains(PASS));
    // Nothing exists until the operator approves.
    assert!(p.state.store().find_account("NewCo <Ltd>").await.unwrap().is_none());
}

/// The event log page: filters by action, actor, VA and days; the CSV export has the same rows;
/// a VA user may not read it, another account's events never show, bad filters get a 400.
async fn event_log_filters_and_exports(store: Store) {
    let p = Portal::on(store).await;
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let edge = p.va_id("Acme", "EDGE").await;
    // A token in EDGE by alice (portal), so there are events of two actors and two VAs.
    let r = p
        .post(
            &format!("/va/{edge}/tokens"),
            &cookie,
            &[
                ("csrf", &csrf),
                ("description", "edge, \"north\""),
                ("expires_days", "30"),
            ],
        )
        .await;
    assert!(r.status.is_success() && r.body.contains("Token created."), "{}", r.body);

    let all = p.get("/events", &cookie).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(
        all.body.contains("token.create") && all.body.contains("license.deposit"),
        "{}",
        all.body
    );
    assert!(
        all.body.contains("alice@acme.example") && all.body.contains(">operator<"),
        "{}",
        all.body
    );
    assert!(!all.body.contains("other.example"), "another account's events leaked");

    let only_tokens = p.get("/events?action=token.", &cookie).await;
    assert!(only_tokens.body.contains("token.create"));
    assert!(!only_tokens.body.contains("license.deposit"), "{}", only_tokens.body);
    let by_operator = p.get("/events?actor=operator&va=DEFAULT", &cookie).await;
    assert!(by_operator.body.contains("license.deposit"), "{}", by_operator.body);
    assert!(!by_operator.body.contains("token.create"), "{}", by_operator.body);
    let future = p.get("/events?since=2030-01-01", &cookie).await;
    assert!(future.body.contains("No event matches."), "{}", future.body);
    // The page links the CSV of the same filter.
    assert!(
        only_tokens.body.contains("href=\"/events.csv?action=token.\""),
        "{}",
        only_tokens.body
    );

    let csv = p.get("/events.csv?action=token.", &cookie).await;
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,time,actor,action,virtual_account_id,object_id,detail,source"
    );
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(
        lines[1].contains(",alice@acme.example,token.create,") && lines[1].contains(edge.as_str()),
        "{}",
        lines[1]
    );

    for bad in [
        "/events?since=yesterday",
        "/events?until=2027-13-01",
        "/events?bogus=1",
        "/events?since=2028-01-02&until=2028-01-01",
    ] {
        let r = p.get(bad, &cookie).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
    }
    // Without a session: to the log-in page. A VA user: refused.
    let anon = p.send(Method::GET, "/events.csv", None, None).await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert!(!anon.body.contains("token.create"));
    let (carol, _) = p.login("carol@acme.example").await;
    let r = p.get("/events", &carol).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p.get("/events.csv", &carol).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(!r.body.contains("token.create"));
}

/// The transfer form moves licences between VAs; too many, a malformed quantity or a missing
/// CSRF token change nothing; a VA user gets no form and a 403.
async fn licence_transfers(store: Store) {
    let p = Portal::on(store).await;
    let op = operator();
    let in_va = |va: &'static str| {
        let state = p.state.clone();
        let op = op.clone();
        async move {
            let l = admin::license_list(&state, &op, "Acme", va).await.unwrap();
            l.licenses
                .iter()
                .find(|l| l.sku == PW)
                .map(|l| l.purchased)
                .unwrap_or(0)
        }
    };
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let default = p.va_id("Acme", "DEFAULT").await;
    let edge = p.va_id("Acme", "EDGE").await;
    let page = p.get(&format!("/va/{default}"), &cookie).await;
    assert!(page.body.contains("Transfer licences") && page.body.contains(&format!("value=\"{edge}\"")));

    let transfers = format!("/va/{default}/transfers");
    // The transfer form of `quantity` to EDGE, with `csrf` if any.
    let post = |csrf: Option<&str>, quantity: &str| {
        let mut fields = vec![("sku", PW), ("quantity", quantity), ("to", edge.as_str())];
        if let Some(csrf) = csrf {
            fields.insert(0, ("csrf", csrf));
        }
        let fields: Vec<(&str, String)> = fields.into_iter().map(|(k, v)| (k, v.to_string())).collect();
        let body = form(&fields.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
        (fields, p.send(Method::POST, &transfers, Some(&cookie), Some(body)))
    };
    let (_, r) = post(Some(&csrf), "3");
    let r = r.await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Transferred 3 ASR5K-00-PW10GTWY to EDGE."),
        "{}",
        r.body
    );
    assert_eq!((in_va("DEFAULT").await, in_va("EDGE").await), (7, 3));

    for (sent_csrf, quantity, status) in [
        (Some(csrf.as_str()), "100", StatusCode::CONFLICT),
        (Some(&csrf), "three", StatusCode::BAD_REQUEST),
        (Some(&csrf), "", StatusCode::BAD_REQUEST),
        (None, "1", StatusCode::FORBIDDEN),
        (Some("forged"), "1", StatusCode::FORBIDDEN),
    ] {
        let (fields, r) = post(sent_csrf, quantity);
        let r = r.await;
        assert_eq!(r.status, status, "{fields:?}: {}", r.body);
        assert_eq!(
            (in_va("DEFAULT").await, in_va("EDGE").await),
            (7, 3),
            "{fields:?} changed something"
        );
    }

    // A VA user of EDGE: no form, and a forged post is refused.
    let (carol, carol_csrf) = p.login("carol@acme.example").await;
    let page = p.get(&format!("/va/{edge}"), &carol).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Transfer licences"));
    let body = form(&[("csrf", &carol_csrf), ("sku", PW), ("quantity", "1"), ("to", &default)]);
    let r = p
        .send(Method::POST, &format!("/va/{edge}/transfers"), Some(&carol), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!((in_va("DEFAULT").await, in_va("EDGE").await), (7, 3));
}

/// A VA with more instances than one page shows the first hundred, how many there are, and a
/// link to the next page; following the links shows each instance once.
async fn instances_are_shown_a_page_at_a_time(store: Store) {
    let p = Portal::on(store).await;
    let default = p.va_id("Acme", "DEFAULT").await;
    let ids = crate::store::tests::register_in(p.state.store(), &default, 150).await;
    let (cookie, _) = p.login("alice@acme.example").await;
    let shown = |body: &str| {
        ids.iter()
            .filter(|id| body.contains(&format!("/instances/{id}/remove")))
            .count()
    };
    let first = p.get(&format!("/va/{default}"), &cookie).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert!(first.body.contains("100 shown of 150"), "{}", first.body);
    assert_eq!(shown(&first.body), 100);
    assert!(!first.body.contains("First page"));
    let at = first.body.find("?instances_after=").expect("a next page link");
    let next = first.body[at..].split('#').next().unwrap().to_string();
    let second = p.get(&format!("/va/{default}{next}"), &cookie).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert!(second.body.contains("50 shown of 150"), "{}", second.body);
    assert_eq!(shown(&second.body), 50);
    assert_eq!(
        shown(&format!("{}{}", first.body, second.body)),
        150,
        "each instance on one page"
    );
    assert!(second.body.contains("First page") && !second.body.contains("instances_after="));
    // A cursor not given out is a 400 page, not an empty list.
    let bad = p.get(&format!("/va/{default}?instances_after=nonsense"), &cookie).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

/// The webhooks page: an SA administrator adds one (its secret shown once, the event logged),
/// sees it listed without the secret and removes it; a bad URL is a 400 with the reason; no
/// CSRF token, 403; other roles may not see the page; other accounts never see the webhook.
async fn webhooks_are_managed_by_sa_administrators(store: Store) {
    let p = Portal::on(store).await;
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let home = p.get("/", &cookie).await;
    assert!(
        home.body.contains("href=\"/webhooks\""),
        "the SA administrator's menu links it"
    );
    let empty = p.get("/webhooks", &cookie).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert!(empty.body.contains("No webhook yet"));

    let url = "https://alerts.acme.example/smartlic";
    let r = p.post("/webhooks", &cookie, &[("url", url)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token: {}", r.body);
    let r = p
        .post(
            "/webhooks",
            &cookie,
            &[("csrf", &csrf), ("url", "http://alerts.acme.example/")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("must use https"), "{}", r.body);
    let op = operator();
    assert!(crate::webhooks::list(&p.state, &op, "Acme").await.unwrap().is_empty());

    let added = p.post("/webhooks", &cookie, &[("csrf", &csrf), ("url", url)]).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let hooks = crate::webhooks::list(&p.state, &op, "Acme").await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, url);
    let at = added.body.find("id=\"new-secret\">").expect("the secret, once") + 18;
    let secret = added.body[at..].split('<').next().unwrap().to_string();
    assert!(secret.len() >= 40, "{secret}");
    let listed = p.get("/webhooks", &cookie).await;
    assert!(listed.body.contains(url));
    assert!(!listed.body.contains(&secret), "the secret is shown only when added");

    // Other roles and accounts.
    let (carol, _) = p.login("carol@acme.example").await;
    let page = p.get("/webhooks", &carol).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.body.contains(url));
    let home = p.get("/", &carol).await;
    assert!(!home.body.contains("href=\"/webhooks\""));
    let (bob, bob_csrf) = p.login("bob@other.example").await;
    let page = p.get("/webhooks", &bob).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(url), "another account's webhooks never show");
    let remove = format!("/webhooks/{}/remove", hooks[0].id);
    let r = p.post(&remove, &bob, &[("csrf", &bob_csrf)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(crate::webhooks::list(&p.state, &op, "Acme").await.unwrap().len(), 1);

    let r = p.post(&remove, &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/webhooks"));
    assert!(crate::webhooks::list(&p.state, &op, "Acme").await.unwrap().is_empty());
    let events = p.get("/events?action=webhook", &cookie).await;
    assert!(
        events.body.contains("webhook.add") && events.body.contains("webhook.remove"),
        "{}",
        events.body
    );
}

/// Adds a user to Acme (by the operator); returns its id and API key.
async fn add_user(p: &Portal, email: &str, role: Role, va: Option<&str>, password: Option<&str>) -> (String, String) {
    let op = operator();
    let req = CreateUser {
        email: email.into(),
        role,
        va: va.map(str::to_string),
        password: password.map(str::to_string),
    };
    let created = admin::create_user(&p.state, &op, "Acme", req).await.unwrap();
    (created.user.id, created.api_key)
}

/// Acme's users as the operator sees them.
async fn acme_users(p: &Portal) -> Vec<smartlic_protocol::admin::UserInfo> {
    let op = operator();
    admin::list_users(&p.state, &op, "Acme").await.unwrap()
}

async fn disabled(p: &Portal, email: &str) -> Option<bool> {
    acme_users(p)
        .await
        .into_iter()
        .find(|u| u.email == email)
        .map(|u| u.disabled)
}

/// The e-mail of the user an API key authenticates, if it does.
async fn key_user(p: &Portal, key: &str) -> Option<String> {
    match admin::principal_for_key(&p.state, key).await.unwrap() {
        Some(Principal::User(u)) => Some(u.email),
        Some(Principal::Operator) => Some("operator".into()),
        None => None,
    }
}

/// The status of `GET /api/v1/accounts/Acme` with `key` as Bearer.
async fn api_status(p: &Portal, key: &str) -> StatusCode {
    let req = Request::builder()
        .uri("/api/v1/accounts/Acme")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    p.router.clone().oneshot(req).await.unwrap().status()
}

/// The table row of a page whose first cell starts with `text`.
fn row_of<'a>(page: &'a str, text: &str) -> &'a str {
    let start = page
        .find(&format!("<tr><td>{text}"))
        .unwrap_or_else(|| panic!("no row of {text} in {page}"));
    let end = start + page[start..].find("</tr>").expect("the row's end");
    &page[start..end]
}

/// The secret of a `secret_card` with code id `new-key`.
fn new_key_of(page: &str) -> String {
    let at = page.find("id=\"new-key\">").expect("the new key, once") + 13;
    page[at..].split('<').next().unwrap().to_string()
}

/// Acme with an SA user (dave) and a VA user of EDGE without a portal password (frank) beside
/// alice, its SA administrator, who is logged in.
struct UsersScene {
    p: Portal,
    alice_id: String,
    dave_id: String,
    frank_id: String,
    frank_key: String,
    cookie: String,
    csrf: String,
}

impl UsersScene {
    async fn on(store: Store) -> UsersScene {
        let p = Portal::on(store).await;
        let (dave_id, _) = add_user(&p, "dave@acme.example", Role::SaUser, None, Some(PASS)).await;
        let (frank_id, frank_key) = add_user(&p, "frank@acme.example", Role::VaUser, Some("EDGE"), None).await;
        let alice_id = acme_users(&p)
            .await
            .into_iter()
            .find(|u| u.email == "alice@acme.example")
            .unwrap()
            .id;
        let (cookie, csrf) = p.login("alice@acme.example").await;
        UsersScene {
            p,
            alice_id,
            dave_id,
            frank_id,
            frank_key,
            cookie,
            csrf,
        }
    }

    /// Alice's `POST /users/{user}/{action}` with her CSRF token.
    async fn change(&self, user: &str, action: &str) -> Resp {
        let path = format!("/users/{user}/{action}");
        self.p.post(&path, &self.cookie, &[("csrf", &self.csrf)]).await
    }

    /// `POST /users/{frank}/{action}` for each action in the session of `cookie` (with `csrf`).
    async fn change_frank_as(&self, cookie: &str, csrf: &str, actions: &[&str]) -> Vec<(String, Resp)> {
        let mut answers = Vec::new();
        for action in actions {
            let path = format!("/users/{}/{action}", self.frank_id);
            answers.push((action.to_string(), self.p.post(&path, cookie, &[("csrf", csrf)]).await));
        }
        answers
    }
}

/// The users page of an SA administrator lists the account's users (no other account's), each
/// with its role, VA, log-in and status and the buttons to manage it, but no button to disable
/// or remove themselves.
async fn the_users_page_lists_the_account(store: Store) {
    let s = UsersScene::on(store).await;
    let home = s.p.get("/", &s.cookie).await;
    assert!(
        home.body.contains("href=\"/users\""),
        "the SA administrator's menu links it"
    );
    let page = s.p.get("/users", &s.cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for email in ["alice@acme.example", "carol@acme.example", "dave@acme.example"] {
        assert!(page.body.contains(email), "{email} listed");
    }
    assert!(
        !page.body.contains("bob@other.example"),
        "another account's user listed"
    );
    let frank = row_of(&page.body, "frank@acme.example");
    for text in [
        "va-user",
        "EDGE",
        "<td>no</td>",
        "ENABLED",
        "Disable",
        "Rotate key",
        "Remove",
    ] {
        assert!(frank.contains(text), "frank's row lacks {text}: {frank}");
    }
    assert!(row_of(&page.body, "carol@acme.example").contains("<td>yes</td>"));
    let own = row_of(&page.body, "alice@acme.example");
    assert!(
        own.contains("(you)") && !own.contains("/disable") && !own.contains("/remove"),
        "no button to lock oneself out: {own}"
    );
}

/// A user change without the CSRF token, or with a wrong one: 403 and nothing changed.
async fn user_changes_need_the_csrf_token(store: Store) {
    let s = UsersScene::on(store).await;
    for path in ["disable", "remove", "rotate-key"] {
        let path = format!("/users/{}/{path}", s.frank_id);
        for body in [String::new(), form(&[("csrf", "forged")])] {
            let r = s.p.send(Method::POST, &path, Some(&s.cookie), Some(body)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        }
    }
    assert_eq!(disabled(&s.p, "frank@acme.example").await, Some(false));
    assert_eq!(
        key_user(&s.p, &s.frank_key).await.as_deref(),
        Some("frank@acme.example")
    );
}

/// An SA administrator disables a user (the key stops), enables them (it works again), rotates
/// their key (the new one shown once works, the old one is refused) and removes them (gone from
/// the list, the key refused); every change is in the event log.
async fn administrators_disable_enable_rotate_and_remove_users(store: Store) {
    let s = UsersScene::on(store).await;
    let (p, frank_key) = (&s.p, &s.frank_key);
    let r = s.change(&s.frank_id, "disable").await;
    r.assert_see_other("/users");
    assert_eq!(disabled(p, "frank@acme.example").await, Some(true));
    assert_eq!(key_user(p, frank_key).await, None, "a disabled user's key is refused");
    assert_eq!(api_status(p, frank_key).await, StatusCode::UNAUTHORIZED);
    let page = p.get("/users", &s.cookie).await;
    let frank = row_of(&page.body, "frank@acme.example");
    assert!(frank.contains("DISABLED") && frank.contains(">Enable<"), "{frank}");
    let r = s.change(&s.frank_id, "enable").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(disabled(p, "frank@acme.example").await, Some(false));
    assert_eq!(api_status(p, frank_key).await, StatusCode::OK);

    // Rotate: the new key shown once works, the old one is refused.
    let r = s.change(&s.frank_id, "rotate-key").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("New API key of frank@acme.example"), "{}", r.body);
    let new_key = new_key_of(&r.body);
    assert!(new_key.len() >= 40 && &new_key != frank_key, "{new_key}");
    assert_eq!(key_user(p, &new_key).await.as_deref(), Some("frank@acme.example"));
    assert_eq!(key_user(p, frank_key).await, None, "the old key stopped");
    assert_eq!(api_status(p, &new_key).await, StatusCode::OK);
    assert_eq!(api_status(p, frank_key).await, StatusCode::UNAUTHORIZED);
    let page = p.get("/users", &s.cookie).await;
    assert!(!page.body.contains(&new_key), "the key is shown only once");

    // Remove: gone from the list, the key refused; every change is in the event log.
    let r = s.change(&s.frank_id, "remove").await;
    r.assert_see_other("/users");
    assert_eq!(disabled(p, "frank@acme.example").await, None);
    assert_eq!(key_user(p, &new_key).await, None);
    let page = p.get("/users", &s.cookie).await;
    assert!(!page.body.contains("frank@acme.example"));
    let events = p.get("/events?action=user.", &s.cookie).await;
    for action in ["user.disable", "user.enable", "user.rotate_key", "user.remove"] {
        assert!(events.body.contains(action), "{action} not logged: {}", events.body);
    }
}

/// An SA administrator may neither disable nor remove themselves: 409, the page again with the
/// reason, nothing changed.
async fn administrators_cannot_lock_themselves_out(store: Store) {
    let s = UsersScene::on(store).await;
    for action in ["disable", "remove"] {
        let r = s.change(&s.alice_id, action).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{action}: {}", r.body);
        assert!(
            r.body.contains("you cannot disable or remove yourself") && r.body.contains("frank@acme.example"),
            "{}",
            r.body
        );
    }
    assert_eq!(disabled(&s.p, "alice@acme.example").await, Some(false));
}

/// An SA user sees the list without buttons, and every action is a 403 with the page again.
async fn sa_users_read_users_but_change_none(store: Store) {
    let s = UsersScene::on(store).await;
    let p = &s.p;
    let (dave, dave_csrf) = p.login("dave@acme.example").await;
    let home = p.get("/", &dave).await;
    assert!(home.body.contains("href=\"/users\"") && !home.body.contains("href=\"/webhooks\""));
    let page = p.get("/users", &dave).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("frank@acme.example") && page.body.contains("alice@acme.example"));
    assert!(
        !page.body.contains("action=\"/users/"),
        "no management buttons: {}",
        page.body
    );
    for (action, r) in s
        .change_frank_as(&dave, &dave_csrf, &["disable", "remove", "rotate-key"])
        .await
    {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}: {}", r.body);
        assert!(
            r.body.contains("role sa-user may not") && r.body.contains("frank@acme.example"),
            "{}",
            r.body
        );
    }
    assert_eq!(disabled(p, "frank@acme.example").await, Some(false));
    assert_eq!(key_user(p, &s.frank_key).await.as_deref(), Some("frank@acme.example"));
}

/// A VA user has no users link, page or action; another account's administrator never sees the
/// account's users and cannot touch them (404).
async fn va_users_and_other_accounts_see_no_users(store: Store) {
    let s = UsersScene::on(store).await;
    let p = &s.p;
    let (carol, carol_csrf) = p.login("carol@acme.example").await;
    let home = p.get("/", &carol).await;
    assert!(!home.body.contains("href=\"/users\"") && home.body.contains("href=\"/account/key\""));
    let page = p.get("/users", &carol).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.body.contains("frank@acme.example"));
    let disable_dave = format!("/users/{}/disable", s.dave_id);
    let r = p.post(&disable_dave, &carol, &[("csrf", &carol_csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(disabled(p, "dave@acme.example").await, Some(false));

    let (bob, bob_csrf) = p.login("bob@other.example").await;
    let page = p.get("/users", &bob).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("acme.example"), "{}", page.body);
    for (action, r) in s
        .change_frank_as(&bob, &bob_csrf, &["disable", "remove", "rotate-key"])
        .await
    {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}: {}", r.body);
    }
    assert_eq!(key_user(p, &s.frank_key).await.as_deref(), Some("frank@acme.example"));
}

/// Any user rotates their own API key on the "My API key" page: without the CSRF token nothing
/// changes; with it the new key is shown once, works against the API, and the old one is refused;
/// the portal session goes on.
async fn users_rotate_their_own_key(store: Store) {
    let p = Portal::on(store).await;
    let (_, old_key) = add_user(&p, "gina@acme.example", Role::VaUser, Some("EDGE"), Some(PASS)).await;
    let (cookie, csrf) = p.login("gina@acme.example").await;
    let page = p.get("/account/key", &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Rotate my API key") && !page.body.contains("id=\"new-key\""));

    for body in [String::new(), form(&[("csrf", "forged")])] {
        let r = p.send(Method::POST, "/account/key", Some(&cookie), Some(body)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    assert_eq!(key_user(&p, &old_key).await.as_deref(), Some("gina@acme.example"));

    let r = p.post("/account/key", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new_key = new_key_of(&r.body);
    assert!(new_key.len() >= 40 && new_key != old_key, "{new_key}");
    assert_eq!(key_user(&p, &new_key).await.as_deref(), Some("gina@acme.example"));
    assert_eq!(key_user(&p, &old_key).await, None, "the old key stopped");
    assert_eq!(api_status(&p, &new_key).await, StatusCode::OK);
    assert_eq!(api_status(&p, &old_key).await, StatusCode::UNAUTHORIZED);
    let again = p.get("/account/key", &cookie).await;
    assert_eq!(again.status, StatusCode::OK, "the session goes on");
    assert!(!again.body.contains(&new_key), "the key is shown only once");
    let home = p.get("/", &cookie).await;
    assert_eq!(home.status, StatusCode::OK);
}

/// A user disabled by another SA administrator is logged out at once: their session's next
/// request goes to the log-in page, changes nothing, and they cannot log in until enabled again.
async fn disabling_a_user_ends_their_sessions(store: Store) {
    let p = Portal::on(store).await;
    let (erin_id, _) = add_user(&p, "erin@acme.example", Role::SaAdmin, None, Some(PASS)).await;
    let (erin, erin_csrf) = p.login("erin@acme.example").await;
    let (alice, alice_csrf) = p.login("alice@acme.example").await;
    let page = p.get("/users", &erin).await;
    assert_eq!(page.status, StatusCode::OK);

    let r = p
        .post(&format!("/users/{erin_id}/disable"), &alice, &[("csrf", &alice_csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for path in ["/", "/users"] {
        let r = p.get(path, &erin).await;
        assert_eq!(
            (r.status, r.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/login")),
            "{path}"
        );
    }
    let page = p.get("/users", &alice).await;
    assert!(row_of(&page.body, "erin@acme.example").contains("DISABLED"));
    // A form of the ended session: to the log-in page, nothing done.
    let r = p
        .post(
            &format!("/va/{}/tokens", p.va_id("Acme", "DEFAULT").await),
            &erin,
            &[("csrf", &erin_csrf), ("description", "after disable")],
        )
        .await;
    r.assert_see_other("/login");
    assert_eq!(p.token_count().await, 0);
    let r = p.try_login("erin@acme.example", PASS).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a disabled user cannot log in");

    // Enabled again: a new log-in works; the old session stays ended.
    let r = p
        .post(&format!("/users/{erin_id}/enable"), &alice, &[("csrf", &alice_csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = p.get("/", &erin).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the old session does not come back");
    let (erin_again, _) = p.login("erin@acme.example").await;
    assert_eq!(p.get("/users", &erin_again).await.status, StatusCode::OK);
}

/// 60 wrong guesses at once on one account: the attempts are counted in the store before the
/// password check, so at most MAX_FAILURES are checked; then even the right password is refused
/// until the lock passes (at the manager's clock).
async fn parallel_guesses_are_counted_before_the_check(store: Store) {
    let p = Arc::new(Portal::on(store).await);
    let checks_before = p.state.logins().checked();
    let mut guesses = Vec::new();
    for i in 0..60 {
        let p = p.clone();
        guesses.push(tokio::spawn(async move {
            p.try_login("bob@other.example", &format!("guess {i}")).await.status
        }));
    }
    let mut checked = 0;
    for g in guesses {
        match g.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {}
            other => panic!("a guess was answered {other}"),
        }
    }
    let checks = p.state.logins().checked() - checks_before;
    println!("60 parallel guesses: {checked} answered 401, {checks} passwords checked");
    assert!(checked <= MAX_FAILURES, "{checked} of 60 parallel guesses were checked");
    assert_eq!(checks, checked as u64, "every 401 is one check, and only those");
    let r = p.try_login("bob@other.example", PASS).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "locked out: {}", r.body);
    let wait: i64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= super::THROTTLE_WINDOW, "{wait}");
    p.clock.advance(super::THROTTLE_WINDOW - 60);
    let r = p.try_login("bob@other.example", PASS).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "still locked");
    p.clock.advance(61);
    let r = p.try_login("bob@other.example", PASS).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the lock passed: {}", r.body);
    let left = p.state.store().login_attempts("email:bob@other.example").await.unwrap();
    assert_eq!(left, 0, "a success resets the account's count");
}

/// When every password check is taken, a log-in is answered 503 with Retry-After as soon as its
/// short wait is over, its attempt given back; an unknown e-mail waits for a check like a known one.
async fn busy_checks_answer_503(store: Store) {
    let p = Portal::on(store).await;
    let gate = p.state.logins();
    let all = gate.permits.available_permits() as u32;
    let held = gate.permits.acquire_many(all).await.unwrap();
    for email in ["alice@acme.example", "nobody@acme.example"] {
        let before = gate.checked();
        let started = std::time::Instant::now();
        let r = p.try_login(email, PASS).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(r.retry_after.as_deref(), Some("1"));
        assert!(r.body.contains("busy"), "{}", r.body);
        assert!(started.elapsed() < super::CHECK_WAIT * 3, "{:?}", started.elapsed());
        assert_eq!(gate.checked(), before, "nothing checked");
        let key = format!("email:{email}");
        assert_eq!(p.state.store().login_attempts(&key).await.unwrap(), 0, "given back");
    }
    drop(held);
    let r = p.try_login("alice@acme.example", PASS).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn every_response_says_https_only() {
    let db = crate::testutil::TestDb::sqlite().await;
    let p = Portal::on(db.store.clone()).await;
    for path in ["/login", "/", "/healthz", "/no/such/page", "/api/v1/accounts"] {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let resp = p.router.clone().oneshot(req).await.unwrap();
        assert_eq!(
            resp.headers()
                .get(header::STRICT_TRANSPORT_SECURITY)
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path} ({})",
            resp.status()
        );
    }
    db.finish().await;
}

/// The password check in reused memory agrees with argon2's own verifier, for the manager's
/// hashes and for other parameters, and allocates nothing the second time.
#[test]
fn password_checks_reuse_their_memory() {
    use argon2::password_hash::PasswordHasher;
    let h = crate::auth::hash_password("correct horse").unwrap();
    let mut memory = Vec::new();
    assert!(super::password::verify_in("correct horse", &h, &mut memory));
    let (len, at) = (memory.len(), memory.as_ptr());
    assert!(!super::password::verify_in("correct horsf", &h, &mut memory));
    assert!(
        super::password::verify_in("correct horse", &h, &mut memory),
        "again, in the same memory"
    );
    assert_eq!((memory.len(), memory.as_ptr()), (len, at), "no new allocation");
    for (password, phc) in [
        ("correct horse", "not a phc string"),
        ("", &h),
        ("x", "$argon2id$v=19$m=1,t=1,p=1$"),
    ] {
        assert!(!super::password::verify_in(password, phc, &mut memory), "{phc}");
        assert!(!crate::auth::verify_password(password, phc));
    }
    let params = argon2::Params::new(4096, 3, 1, None).unwrap();
    let other = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x10, params)
        .hash_password(b"pw")
        .unwrap()
        .to_string();
    assert!(other.starts_with("$argon2i$v=16$m=4096,t=3,p=1$"), "{other}");
    assert!(super::password::verify_in("pw", &other, &mut memory));
    assert!(!super::password::verify_in("pX", &other, &mut memory));
    assert!(crate::auth::verify_password("pw", &other));
}

#[test]
fn client_addresses_are_counted_by_host() {
    assert_eq!(super::address_key("192.0.2.7"), "addr:192.0.2.7");
    assert_eq!(super::address_key("::ffff:192.0.2.7"), "addr:192.0.2.7");
    assert_eq!(super::address_key("2001:db8:1:2:aaaa::1"), "addr:2001:db8:1:2::/64");
    assert_eq!(super::address_key("2001:db8:1:2:bbbb::9"), "addr:2001:db8:1:2::/64");
    assert_eq!(super::address_key("unknown"), "addr:unknown");
}

mod headers;
mod reservations;
mod satellites;
