//! The web portal at `/`: server-rendered HTML over the same actions and rights as the REST API
//! ([`crate::admin`], [`crate::auth`]).
//!
//! - Log-in with a user's e-mail and argon2 password. Each attempt first claims a slot in the
//!   store (one conditional upsert, shared by every manager of the database): at most
//!   [`MAX_FAILURES`] per e-mail and [`MAX_FAILURES_PER_ADDRESS`] per client address in
//!   [`THROTTLE_WINDOW`], then 429 until the window passes; a success resets the e-mail's count.
//!   At most [`LoginGate`]'s permits (one per core) password checks run at once, an unknown
//!   e-mail's check against a dummy hash included; a log-in that finds none free within
//!   [`CHECK_WAIT`] gets 503 with Retry-After, and its slot back.
//! - Sessions live in the store (`portal_sessions`, the random id only as its SHA-256) and in a
//!   `Secure; HttpOnly; SameSite=Strict` cookie; they end after [`SESSION_TTL`] or at log-out.
//! - Every form carries a CSRF token (per session; the log-in form a double-submit cookie); a
//!   POST without the right one gets 403 and changes nothing.
//!
//! Routes: `GET /` (account overview), `GET|POST /login`, `POST /logout`, `GET /va/{va}`,
//! `POST /va/{va}/tokens`, `POST /va/{va}/tokens/{token}/revoke`, `POST /va/{va}/transfers`,
//! `POST /va/{va}/instances/{instance}/remove`, `GET /events` (the account's event log, filtered by
//! action, actor, VA and days) and `GET /events.csv` (the same as a download), `GET|POST /webhooks`
//! and `POST /webhooks/{webhook}/remove` (the account's alert webhooks, SA administrators),
//! `GET /users` (the account's users, for those who may read them) with
//! `POST /users/{user}/disable|enable|remove|rotate-key` (SA administrators), `GET|POST /account/key`
//! (any user rotates their own API key), `GET|POST /request-account` (public: request a Smart
//! Account, [`crate::account_requests`]; a double-submit cookie like the log-in form's),
//! `GET /static/portal.css`, `GET /static/portal.js`.

pub mod html;
pub mod sessions;

#[cfg(test)]
mod tests;

use crate::admin::{self, Caller};
use crate::api::ClientAddr;
use crate::auth::{Action, Principal, Scope, User, check};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::login_attempts::{AttemptKey, Claim};
use crate::store::{Audit, Event};
use crate::tokens;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use smartlic_protocol::admin::{CreateToken, CreateWebhook, Role};

/// Session cookie.
pub const SESSION_COOKIE: &str = "__Host-smartlic-session";
/// CSRF cookie of the log-in form.
pub const LOGIN_COOKIE: &str = "__Host-smartlic-login";
/// CSRF cookie of the "Request a Smart Account" form.
pub const REQUEST_COOKIE: &str = "__Host-smartlic-request";
/// How long a session lasts.
pub const SESSION_TTL: i64 = 8 * 3600;
/// Log-in attempts checked per e-mail in [`THROTTLE_WINDOW`] (a success resets the count).
pub const MAX_FAILURES: i64 = 5;
/// Failed log-in attempts checked per client address in [`THROTTLE_WINDOW`], whatever the e-mail.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// How long a log-in waits for a free password check before it is answered 503.
pub const CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The throttling window.
pub const THROTTLE_WINDOW: i64 = 15 * 60;

/// The portal's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login))
        .route("/request-account", get(request_account_page).post(request_account))
        .route("/logout", post(logout))
        .route("/static/portal.css", get(css))
        .route("/static/portal.js", get(js))
        .route("/events", get(events_page))
        .route("/events.csv", get(events_csv))
        .route("/va/{va}", get(va_page))
        .route("/va/{va}/tokens", post(create_token))
        .route("/va/{va}/transfers", post(transfer_licenses))
        .route("/va/{va}/tokens/{token}/revoke", post(revoke_token))
        .route("/va/{va}/instances/{instance}/remove", post(remove_instance))
        .route("/webhooks", get(webhooks_page).post(add_webhook))
        .route("/webhooks/{webhook}/remove", post(remove_webhook))
        .route("/users", get(users_page))
        .route("/users/{user}/disable", post(disable_user))
        .route("/users/{user}/enable", post(enable_user))
        .route("/users/{user}/remove", post(remove_user))
        .route("/users/{user}/rotate-key", post(rotate_key))
        .route("/account/key", get(own_key_page).post(rotate_own_key))
}

fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

fn html(status: StatusCode, body: String) -> Response {
    security_headers((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}

fn redirect(to: &str) -> Response {
    security_headers((StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response())
}

fn cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict")
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A logged-in portal user.
#[derive(Debug, Clone)]
pub struct Session {
    id_hash: String,
    user: User,
    csrf: String,
    source: Option<String>,
}

impl Session {
    fn caller(&self) -> Caller {
        Caller {
            principal: Principal::User(self.user.clone()),
            source: self.source.clone(),
        }
    }

    fn header(&self) -> html::Header<'_> {
        html::Header {
            email: &self.user.email,
            role: self.user.role.as_str(),
            csrf: &self.csrf,
        }
    }

    fn check_csrf(&self, sent: Option<&str>) -> Result<(), PortalError> {
        match sent {
            Some(t) if same_secret(t, &self.csrf) => Ok(()),
            _ => Err(PortalError {
                status: StatusCode::FORBIDDEN,
                message: "The form is missing its security token or it is out of date; reload the page and try again."
                    .into(),
                session: Some(Box::new(self.clone())),
            }),
        }
    }

    fn error(&self, e: ApiError) -> PortalError {
        PortalError::from(e).with(self)
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let source = ClientAddr::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientAddr(None))
            .0;
        let Some(id) = read_cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(redirect("/login"));
        };
        let id_hash = tokens::hash_secret(&id);
        let row = sessions::find(state.store(), &id_hash, state.now())
            .await
            .map_err(|e| PortalError::from(ApiError::from(e)).into_response())?;
        let Some(row) = row else {
            return Err(redirect("/login"));
        };
        let role: Role = row.role.parse().map_err(|e| {
            PortalError::from(ApiError::Internal(format!("stored role of user {}: {e}", row.user_id))).into_response()
        })?;
        Ok(Session {
            id_hash,
            user: User {
                id: row.user_id,
                email: row.email,
                account_id: row.account_id,
                role,
                va_id: row.va_id,
            },
            csrf: row.csrf_token,
            source,
        })
    }
}

/// A refusal or failure shown as an HTML page.
#[derive(Debug)]
pub struct PortalError {
    status: StatusCode,
    message: String,
    session: Option<Box<Session>>,
}

impl PortalError {
    fn with(mut self, s: &Session) -> PortalError {
        self.session = Some(Box::new(s.clone()));
        self
    }
}

impl From<ApiError> for PortalError {
    fn from(e: ApiError) -> PortalError {
        if let ApiError::Internal(detail) = &e {
            tracing::error!("portal: internal error: {detail}");
        }
        PortalError {
            status: e.status(),
            message: e.body().error.message,
            session: None,
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let header = self.session.as_deref().map(Session::header);
        html(
            self.status,
            html::error(header.as_ref(), self.status.as_u16(), &self.message),
        )
    }
}

fn bad_form(r: &FormRejection) -> PortalError {
    PortalError {
        status: StatusCode::BAD_REQUEST,
        message: format!("The form could not be read: {}", r.body_text()),
        session: None,
    }
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("portal.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("portal.js"),
    )
        .into_response()
}

// ---- log-in and log-out ----

fn login_response(status: StatusCode, email: &str, message: Option<&str>) -> Response {
    let csrf = tokens::random_secret(43);
    let mut resp = html(status, html::login(&csrf, email, message));
    if let Ok(v) = HeaderValue::from_str(&cookie(LOGIN_COOKIE, &csrf, 3600)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = read_cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = sessions::find(state.store(), &tokens::hash_secret(&id), state.now()).await
    {
        return redirect("/");
    }
    login_response(StatusCode::OK, "", None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: Option<String>,
}

/// A precomputed hash to verify against when the user does not exist, so that both cases take
/// the same time. Computed on first use, inside a password check (so under [`LoginGate`]).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::auth::hash_password("smartlic-no-such-user").unwrap_or_default())
}

/// The bound on concurrent password checks: each argon2 check needs its memory (19 MiB with the
/// default parameters) and a core for its duration, so unbounded parallel log-ins would take the
/// manager's memory (measured: 300 at once, 5.6 GiB resident). The checks' memory is kept and
/// reused, one buffer per permit: allocating and freeing 19 MiB per check fragments the heap
/// (measured: 30 checks two at a time, 590 MiB resident).
#[derive(Debug)]
pub struct LoginGate {
    permits: tokio::sync::Semaphore,
    checked: std::sync::atomic::AtomicU64,
    memory: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
}

/// Largest argon2 memory a stored hash may ask for (256 MiB); a hash asking more never verifies.
const MAX_CHECK_BLOCKS: usize = 256 * 1024;

/// Whether `password` matches the PHC string `phc` (argon2), computed in `memory` (grown to the
/// hash's size if needed, then kept): what `argon2`'s own verifier does, without an allocation of
/// the hash's memory per check. The outputs are compared in constant time.
fn verify_in(password: &str, phc: &str, memory: &mut Vec<argon2::Block>) -> bool {
    use argon2::password_hash::phc::{Output, PasswordHash};
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let blocks = params.block_count();
    if blocks > MAX_CHECK_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::new());
    }
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    let Some(memory) = memory.get_mut(..blocks) else {
        return false;
    };
    argon2::Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
        .is_ok()
        && Output::new(out).is_ok_and(|computed| &computed == expected)
}

impl Default for LoginGate {
    fn default() -> LoginGate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        LoginGate::new(cores)
    }
}

impl LoginGate {
    /// At most `permits` checks at once.
    pub fn new(permits: usize) -> LoginGate {
        LoginGate {
            permits: tokio::sync::Semaphore::new(permits.max(1)),
            checked: std::sync::atomic::AtomicU64::new(0),
            memory: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Password checks done so far.
    pub fn checked(&self) -> u64 {
        self.checked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks `password` against `phc` (the dummy hash if `None`) on a blocking thread, once a
    /// permit is free; `None` if none was within [`CHECK_WAIT`].
    async fn check(&self, password: String, phc: Option<String>) -> Result<Option<bool>, ApiError> {
        let Ok(Ok(_permit)) = tokio::time::timeout(CHECK_WAIT, self.permits.acquire()).await else {
            return Ok(None);
        };
        self.checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // At most one buffer per permit is ever out, so the pool holds at most that many.
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        let (verified, memory) = tokio::task::spawn_blocking(move || {
            let phc = phc.as_deref().unwrap_or_else(|| dummy_hash());
            (verify_in(&password, phc, &mut memory), memory)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("password check task: {e}")))?;
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
        Ok(Some(verified))
    }

    /// Hashes a new password (argon2id) on a blocking thread under the same permits as the
    /// checks; `None` if no permit was free within [`CHECK_WAIT`].
    pub(crate) async fn hash(&self, password: String) -> Result<Option<String>, ApiError> {
        let Ok(Ok(_permit)) = tokio::time::timeout(CHECK_WAIT, self.permits.acquire()).await else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
            .await
            .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))?
            .map(Some)
    }
}

/// The throttle key of a client address: an IPv6 client is counted by its /64 (one host usually
/// has the whole /64, so counting single addresses would count nothing).
pub(crate) fn address_key(source: &str) -> String {
    match source.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => format!("addr:{}", v6.to_canonical()),
        _ => format!("addr:{source}"),
    }
}

/// Gives back the attempts claimed under `keys`.
async fn release_attempts<const N: usize>(store: &crate::store::Store, keys: [Option<&str>; N]) {
    for k in keys.into_iter().flatten() {
        if let Err(e) = store.release_login_attempt(k).await {
            tracing::warn!("portal log-in: giving back an attempt: {e}");
        }
    }
}

fn with_retry_after(mut resp: Response, seconds: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r))?;
    let expected = read_cookie(&headers, LOGIN_COOKIE);
    match (&expected, form.csrf.as_deref()) {
        (Some(e), Some(sent)) if same_secret(e, sent) => {}
        _ => {
            return Ok(login_response(
                StatusCode::FORBIDDEN,
                &form.email,
                Some("The log-in form is out of date (or cookies are off); please try again."),
            ));
        }
    }
    let email = form.email.trim().to_string();
    let password = form.password;
    let wrong = || {
        login_response(
            StatusCode::UNAUTHORIZED,
            &email,
            Some("Wrong e-mail address or password."),
        )
    };
    // No account has such an e-mail or password: answered without a check (and without telling
    // anything about any account).
    if email.is_empty() || email.len() > 254 || password.is_empty() || password.len() > 1024 {
        return Ok(wrong());
    }
    let email_key = format!("email:{}", email.to_lowercase());
    let addr_key = source.as_deref().map(address_key);
    let now = state.now();
    let store = state.store();

    // Claim the attempt before anything is checked: e-mail first, then address (one lock order).
    let mut keys = vec![AttemptKey {
        key: &email_key,
        limit: MAX_FAILURES,
    }];
    if let Some(k) = &addr_key {
        keys.push(AttemptKey {
            key: k,
            limit: MAX_FAILURES_PER_ADDRESS,
        });
    }
    if let Claim::Locked { key, until } = store
        .claim_login_attempt(&keys, now, THROTTLE_WINDOW)
        .await
        .map_err(ApiError::from)?
    {
        let whose = if key == 0 {
            "for this e-mail address"
        } else {
            "from your address"
        };
        let minutes = ((until - now).max(1) + 59) / 60;
        let resp = login_response(
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            Some(&format!(
                "Too many failed log-ins {whose}: try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            )),
        );
        return Ok(with_retry_after(resp, until - now));
    }
    let user = sessions::user_for_login(store, &email.to_lowercase())
        .await
        .map_err(ApiError::from)?;
    let (account_id, user_id, phc) = match user {
        Some((id, account, Some(phc))) => (Some(account), Some(id), Some(phc)),
        _ => (None, None, None),
    };
    let Some(verified) = state.logins().check(password, phc).await? else {
        release_attempts(store, [Some(email_key.as_str()), addr_key.as_deref()]).await;
        let resp = login_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &email,
            Some("The portal is busy checking other log-ins: please try again in a moment."),
        );
        return Ok(with_retry_after(resp, 1));
    };
    let audit = Audit::new(email.clone(), source.clone());
    let (Some(user_id), true) = (user_id, verified) else {
        let _ = store
            .log_event(
                now,
                &audit,
                Event {
                    action: "portal.login_failed",
                    account_id: account_id.as_deref(),
                    detail: "failed portal log-in".into(),
                    ..Event::default()
                },
            )
            .await;
        return Ok(wrong());
    };
    // A success resets the e-mail's count and gives the address its attempt back.
    store.reset_login_attempts(&email_key).await.map_err(ApiError::from)?;
    release_attempts(store, [addr_key.as_deref()]).await;
    let id = tokens::random_secret(43);
    let csrf = tokens::random_secret(43);
    sessions::create(
        store,
        &tokens::hash_secret(&id),
        &user_id,
        &csrf,
        source.as_deref(),
        now,
        now + SESSION_TTL,
    )
    .await
    .map_err(ApiError::from)?;
    let _ = store
        .log_event(
            now,
            &audit,
            Event {
                action: "portal.login",
                account_id: account_id.as_deref(),
                object_id: Some(&user_id),
                detail: "logged in to the portal".into(),
                ..Event::default()
            },
        )
        .await;
    let mut resp = redirect("/");
    for c in [cookie(SESSION_COOKIE, &id, SESSION_TTL), cookie(LOGIN_COOKIE, "", 0)] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

// ---- Request a Smart Account (public) ----

#[derive(Debug, Default, Deserialize)]
struct RequestForm {
    #[serde(default)]
    create: String,
    #[serde(default)]
    on_behalf_email: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    requester_email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: Option<String>,
}

impl RequestForm {
    fn fields(&self) -> html::RequestFields<'_> {
        html::RequestFields {
            create: &self.create,
            on_behalf_email: &self.on_behalf_email,
            domain: &self.domain,
            name: &self.name,
            requester_email: &self.requester_email,
        }
    }
}

fn request_response(
    status: StatusCode,
    form: &RequestForm,
    errors: &[(&str, String)],
    message: Option<&str>,
) -> Response {
    let csrf = tokens::random_secret(43);
    let mut resp = html(status, html::request_account(&csrf, &form.fields(), errors, message));
    if let Ok(v) = HeaderValue::from_str(&cookie(REQUEST_COOKIE, &csrf, 3600)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn request_account_page() -> Response {
    let form = RequestForm {
        create: "yes".into(),
        ..RequestForm::default()
    };
    request_response(StatusCode::OK, &form, &[], None)
}

async fn request_account(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<RequestForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r))?;
    let expected = read_cookie(&headers, REQUEST_COOKIE);
    match (&expected, form.csrf.as_deref()) {
        (Some(e), Some(sent)) if same_secret(e, sent) => {}
        _ => {
            return Ok(request_response(
                StatusCode::FORBIDDEN,
                &form,
                &[],
                Some("The form is out of date (or cookies are off); please try again."),
            ));
        }
    }
    let authority = match form.create.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let req = smartlic_protocol::admin::SubmitAccountRequest {
        requester_email: form.requester_email.clone(),
        authority: authority.unwrap_or(true),
        on_behalf_email: Some(form.on_behalf_email.clone()),
        domain: Some(form.domain.clone()),
        name: form.name.clone(),
        password: form.password.clone(),
    };
    let mut errors: Vec<(&str, String)> = Vec::new();
    if authority.is_none() {
        errors.push(("create", "Choose Yes or No.".into()));
    }
    let checked = match crate::account_requests::check(&req) {
        Ok(c) => Some(c),
        Err(es) => {
            errors.extend(es.into_iter().map(|e| (e.field, e.message)));
            None
        }
    };
    let Some(checked) = checked.filter(|_| errors.is_empty()) else {
        return Ok(request_response(
            StatusCode::BAD_REQUEST,
            &form,
            &errors,
            Some("Please correct the fields marked below."),
        ));
    };
    match crate::account_requests::submit(&state, source.as_deref(), checked).await {
        Ok(info) => {
            let admin_email = info
                .on_behalf_email
                .as_deref()
                .filter(|_| !info.authority)
                .unwrap_or(&info.requester_email);
            let mut resp = html(
                StatusCode::OK,
                html::request_submitted(&info.name, &info.domain, admin_email),
            );
            if let Ok(v) = HeaderValue::from_str(&cookie(REQUEST_COOKIE, "", 0)) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(resp)
        }
        Err(e @ (ApiError::TooMany(_) | ApiError::Busy(_))) => {
            let resp = request_response(e.status(), &form, &[], Some(&e.to_string()));
            Ok(if matches!(e, ApiError::Busy(_)) {
                with_retry_after(resp, 1)
            } else {
                resp
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    sessions::delete(state.store(), &session.id_hash)
        .await
        .map_err(|e| session.error(e.into()))?;
    let mut resp = redirect("/login");
    if let Ok(v) = HeaderValue::from_str(&cookie(SESSION_COOKIE, "", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

// ---- pages ----

async fn overview(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    let caller = session.caller();
    let account_id = session.user.account_id.clone();
    let account = admin::get_account(&state, &caller, &account_id)
        .await
        .map_err(|e| session.error(e))?;
    let mut vas = Vec::new();
    for va in admin::list_vas(&state, &caller, &account_id)
        .await
        .map_err(|e| session.error(e))?
    {
        let licenses = admin::license_list(&state, &caller, &account_id, &va.id)
            .await
            .map_err(|e| session.error(e))?;
        vas.push(html::VaSummary { va, licenses });
    }
    let alerts = admin::list_alerts(&state, &caller, &account_id)
        .await
        .map_err(|e| session.error(e))?;
    Ok(html(
        StatusCode::OK,
        html::overview(&session.header(), &account, &vas, &alerts),
    ))
}

/// Product instances on one page of a virtual account.
const INSTANCES_SHOWN: u32 = 100;

async fn render_va(
    state: &AppState,
    session: &Session,
    va: &str,
    status: StatusCode,
    flash: Option<(&str, String)>,
    new_secret: Option<String>,
) -> Result<Response, PortalError> {
    render_va_page(state, session, va, status, flash, new_secret, None).await
}

/// The page of a virtual account, its instances from the cursor `instances_after` on.
async fn render_va_page(
    state: &AppState,
    session: &Session,
    va: &str,
    status: StatusCode,
    flash: Option<(&str, String)>,
    new_secret: Option<String>,
    instances_after: Option<&str>,
) -> Result<Response, PortalError> {
    let caller = session.caller();
    let account_id = &session.user.account_id;
    let account = admin::get_account(state, &caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let licenses = admin::license_list(state, &caller, account_id, va)
        .await
        .map_err(|e| session.error(e))?;
    let va_id = licenses.virtual_account_id.clone();
    let page = admin::PageRequest {
        limit: Some(INSTANCES_SHOWN),
        after: instances_after,
    };
    let instances = admin::list_instances(state, &caller, account_id, Some(&va_id), page)
        .await
        .map_err(|e| session.error(e))?;
    let instances_total = admin::count_instances(state, &caller, account_id, Some(&va_id))
        .await
        .map_err(|e| session.error(e))?;
    let tokens = admin::list_tokens(state, &caller, account_id, Some(&va_id))
        .await
        .map_err(|e| session.error(e))?;
    let may = |action| {
        check(
            &caller.principal,
            action,
            Scope::Va {
                account: account_id,
                va: &va_id,
            },
        )
        .is_ok()
    };
    // Licences move only between virtual accounts the caller manages licences in.
    let transfer_targets: Vec<_> = if may(Action::TransferLicenses) {
        admin::list_vas(state, &caller, account_id)
            .await
            .map_err(|e| session.error(e))?
            .into_iter()
            .filter(|v| {
                v.id != va_id
                    && check(
                        &caller.principal,
                        Action::TransferLicenses,
                        Scope::Va {
                            account: account_id,
                            va: &v.id,
                        },
                    )
                    .is_ok()
            })
            .collect()
    } else {
        Vec::new()
    };
    let usage = admin::usage_history(state, &caller, account_id, &va_id, Some(30))
        .await
        .map_err(|e| session.error(e))?;
    let page = html::VaPage {
        account: &account,
        licenses: &licenses,
        instances: html::InstancesShown {
            page: &instances.instances,
            total: instances_total,
            next: instances.next.as_deref(),
            first: instances_after.is_none(),
        },
        tokens: &tokens,
        usage: &usage.skus,
        rights: html::VaRights {
            create_token: may(Action::CreateToken),
            revoke_token: may(Action::RevokeToken),
            remove_instance: may(Action::RemoveInstance),
        },
        transfer_targets: &transfer_targets,
        flash,
        new_secret,
    };
    Ok(html(status, html::va(&session.header(), &page)))
}

/// The filter of the event pages; a malformed query string is a 400 page.
fn event_filter(
    session: &Session,
    query: Result<axum::extract::Query<admin::EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<admin::EventFilter, PortalError> {
    query.map(|q| q.0).map_err(|e| {
        session.error(ApiError::BadRequest(format!(
            "the event filter is malformed: {}",
            e.body_text()
        )))
    })
}

async fn events_page(
    State(state): State<AppState>,
    session: Session,
    query: Result<axum::extract::Query<admin::EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PortalError> {
    let filter = event_filter(&session, query)?;
    let caller = session.caller();
    let account_id = &session.user.account_id;
    let account = admin::get_account(&state, &caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let events = admin::list_events(&state, &caller, account_id, &filter)
        .await
        .map_err(|e| session.error(e))?;
    let vas = admin::list_vas(&state, &caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    Ok(html(
        StatusCode::OK,
        html::events(&session.header(), &account, &vas, &filter, &events),
    ))
}

async fn events_csv(
    State(state): State<AppState>,
    session: Session,
    query: Result<axum::extract::Query<admin::EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PortalError> {
    let filter = event_filter(&session, query)?;
    let events = admin::list_events(&state, &session.caller(), &session.user.account_id, &filter)
        .await
        .map_err(|e| session.error(e))?;
    Ok(security_headers(crate::api::admin_routes::csv_response(
        admin::events_csv(&events),
    )))
}

/// The account's alert webhooks (SA administrators), with a just-added one's secret on top.
async fn render_webhooks(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<(&str, String)>,
    new_secret: Option<&str>,
) -> Result<Response, PortalError> {
    let caller = session.caller();
    let account_id = &session.user.account_id;
    let account = admin::get_account(state, &caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let hooks = crate::webhooks::list(state, &caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    Ok(html(
        status,
        html::webhooks(&session.header(), &account, &hooks, flash, new_secret),
    ))
}

async fn webhooks_page(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render_webhooks(&state, &session, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
struct WebhookForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    url: String,
}

async fn add_webhook(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<WebhookForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    let req = CreateWebhook {
        url: form.url.trim().to_string(),
    };
    match crate::webhooks::add(&state, &session.caller(), &session.user.account_id, req).await {
        Ok(created) => {
            let msg = format!("Webhook added: alerts go to {}.", created.info.url);
            render_webhooks(
                &state,
                &session,
                StatusCode::CREATED,
                Some(("info", msg)),
                Some(&created.secret),
            )
            .await
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            render_webhooks(&state, &session, e.status(), Some(("error", e.to_string())), None).await
        }
        Err(e) => Err(session.error(e)),
    }
}

async fn remove_webhook(
    State(state): State<AppState>,
    session: Session,
    Path(webhook): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    crate::webhooks::remove(&state, &session.caller(), &session.user.account_id, &webhook)
        .await
        .map_err(|e| session.error(e))?;
    Ok(redirect("/webhooks"))
}

/// The account's users (for those who may read them), with the management buttons for those who
/// may manage them and a just-rotated key on top.
async fn render_users(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<(&str, String)>,
    new_key: Option<html::NewKey<'_>>,
) -> Result<Response, PortalError> {
    let caller = session.caller();
    let account_id = &session.user.account_id;
    let account = admin::get_account(state, &caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let users = admin::list_users(state, &caller, account_id)
        .await
        .map_err(|e| session.error(e))?;
    let manage = check(&caller.principal, Action::ManageUsers, Scope::Account(account_id)).is_ok();
    Ok(html(
        status,
        html::users(
            &session.header(),
            &account,
            &users,
            &session.user.id,
            manage,
            flash,
            new_key,
        ),
    ))
}

async fn users_page(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render_users(&state, &session, StatusCode::OK, None, None).await
}

/// A refused user change: the users page again with the reason on top and the refusal's status
/// (400, 403 or 409) for those who may read users; an error page otherwise.
async fn user_refused(state: &AppState, session: &Session, e: ApiError) -> Result<Response, PortalError> {
    let readable = check(
        &session.caller().principal,
        Action::ReadUsers,
        Scope::Account(&session.user.account_id),
    )
    .is_ok();
    match e {
        ApiError::BadRequest(_) | ApiError::Forbidden(_) | ApiError::Conflict(_) if readable => {
            render_users(state, session, e.status(), Some(("error", e.to_string())), None).await
        }
        e => Err(session.error(e)),
    }
}

/// Disables, enables or removes a user (SA administrators; never themselves), then back to the list.
async fn change_user(
    state: AppState,
    session: Session,
    user: String,
    form: Result<Form<CsrfForm>, FormRejection>,
    change: crate::store::UserChange<'static>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    match admin::change_user(&state, &session.caller(), &session.user.account_id, &user, change).await {
        Ok(_) => Ok(redirect("/users")),
        Err(e) => user_refused(&state, &session, e).await,
    }
}

async fn disable_user(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    change_user(state, session, user, form, crate::store::UserChange::Disable).await
}

async fn enable_user(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    change_user(state, session, user, form, crate::store::UserChange::Enable).await
}

async fn remove_user(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    change_user(state, session, user, form, crate::store::UserChange::Remove).await
}

/// Gives a user a new API key (SA administrators, or the user themselves); the users page with the
/// key shown once.
async fn rotate_key(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    match admin::rotate_user_key(&state, &session.caller(), &session.user.account_id, &user).await {
        Ok(rotated) => {
            let msg = format!("{} has a new API key; the previous one stopped.", rotated.user.email);
            let key = html::NewKey {
                email: &rotated.user.email,
                key: &rotated.api_key,
            };
            render_users(&state, &session, StatusCode::OK, Some(("info", msg)), Some(key)).await
        }
        Err(e) => user_refused(&state, &session, e).await,
    }
}

/// The user's own API key page (any role), with a just-rotated key.
async fn render_own_key(state: &AppState, session: &Session, new_key: Option<&str>) -> Result<Response, PortalError> {
    let account = admin::get_account(state, &session.caller(), &session.user.account_id)
        .await
        .map_err(|e| session.error(e))?;
    Ok(html(
        StatusCode::OK,
        html::api_key(&session.header(), &account, new_key),
    ))
}

async fn own_key_page(State(state): State<AppState>, session: Session) -> Result<Response, PortalError> {
    render_own_key(&state, &session, None).await
}

async fn rotate_own_key(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    let rotated = admin::rotate_user_key(&state, &session.caller(), &session.user.account_id, &session.user.id)
        .await
        .map_err(|e| session.error(e))?;
    render_own_key(&state, &session, Some(&rotated.api_key)).await
}

/// `?instances_after=` of a virtual account's page.
#[derive(Debug, Deserialize)]
struct VaQuery {
    instances_after: Option<String>,
}

async fn va_page(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    query: Result<axum::extract::Query<VaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PortalError> {
    let query = query.map(|q| q.0).map_err(|e| {
        session.error(ApiError::BadRequest(format!(
            "the page address is malformed: {}",
            e.body_text()
        )))
    })?;
    let after = query.instances_after.as_deref().filter(|a| !a.is_empty());
    render_va_page(&state, &session, &va, StatusCode::OK, None, None, after).await
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    expires_days: String,
    #[serde(default)]
    max_uses: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    export_controlled: Option<String>,
}

fn optional_number<T: std::str::FromStr>(what: &str, text: &str) -> Result<Option<T>, ApiError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| ApiError::BadRequest(format!("{what} must be a whole number (got {t:?})")))
}

#[derive(Debug, Deserialize)]
struct TransferForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    to: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    quantity: String,
}

async fn transfer_licenses(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    form: Result<Form<TransferForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    let req = match optional_number::<u64>("Quantity", &form.quantity) {
        Ok(Some(quantity)) => Ok(smartlic_protocol::admin::TransferLicenses {
            from: va.clone(),
            to: form.to.trim().to_string(),
            sku: form.sku.trim().to_string(),
            quantity,
        }),
        Ok(None) => Err(ApiError::BadRequest("Quantity is required".into())),
        Err(e) => Err(e),
    };
    let done = match req {
        Ok(req) => admin::transfer(&state, &session.caller(), &session.user.account_id, req)
            .await
            .map(|r| (r.to.virtual_account, form.quantity.trim().to_string())),
        Err(e) => Err(e),
    };
    match done {
        Ok((to, quantity)) => {
            let msg = format!("Transferred {quantity} {} to {to}.", form.sku.trim());
            render_va(&state, &session, &va, StatusCode::OK, Some(("info", msg)), None).await
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_) | ApiError::Insufficient(_))) => {
            // The page again, with the reason on top and the form to correct it.
            let status = if matches!(e, ApiError::BadRequest(_)) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::CONFLICT
            };
            render_va(&state, &session, &va, status, Some(("error", e.to_string())), None).await
        }
        Err(e) => Err(session.error(e)),
    }
}

async fn create_token(
    State(state): State<AppState>,
    session: Session,
    Path(va): Path<String>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    let req = optional_number("Expires after (days)", &form.expires_days).and_then(|expires_days| {
        Ok(CreateToken {
            expires_days,
            max_uses: optional_number("Max. uses", &form.max_uses)?,
            description: form.description.clone(),
            export_controlled: form.export_controlled.is_some(),
        })
    });
    let created = match req {
        Ok(req) => admin::create_token(&state, &session.caller(), &session.user.account_id, &va, req).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(t) => {
            render_va(
                &state,
                &session,
                &va,
                StatusCode::CREATED,
                Some(("info", "Token created.".into())),
                Some(t.token),
            )
            .await
        }
        Err(e @ ApiError::BadRequest(_)) => {
            render_va(
                &state,
                &session,
                &va,
                StatusCode::BAD_REQUEST,
                Some(("error", e.to_string())),
                None,
            )
            .await
        }
        Err(e) => Err(session.error(e)),
    }
}

fn back_to(va: &str) -> Response {
    let mut path = String::from("/va/");
    path.extend(url_segment(va));
    redirect(&path)
}

/// Percent-encodes a path segment.
fn url_segment(s: &str) -> impl Iterator<Item = String> + '_ {
    s.bytes().map(|b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            (b as char).to_string()
        } else {
            format!("%{b:02X}")
        }
    })
}

async fn revoke_token(
    State(state): State<AppState>,
    session: Session,
    Path((va, token)): Path<(String, String)>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    admin::revoke_token(&state, &session.caller(), &session.user.account_id, &token)
        .await
        .map_err(|e| session.error(e))?;
    Ok(back_to(&va))
}

async fn remove_instance(
    State(state): State<AppState>,
    session: Session,
    Path((va, instance)): Path<(String, String)>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let Form(form) = form.map_err(|r| bad_form(&r).with(&session))?;
    session.check_csrf(form.csrf.as_deref())?;
    admin::remove_instance(&state, &session.caller(), &session.user.account_id, &instance)
        .await
        .map_err(|e| session.error(e))?;
    Ok(back_to(&va))
}
