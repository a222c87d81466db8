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
//! (any user rotates their own API key), `GET|POST /satellites` and `POST /satellites/answer` (the
//! account's satellite managers, [`satellites`]), `GET /satellite` with `POST
//! /satellite/link|export|import|sync` (this manager as a satellite, [`satellite_link`]),
//! `GET|POST /request-account` (public: request a Smart
//! Account, [`crate::account_requests`]; a double-submit cookie like the log-in form's),
//! `GET /static/portal.css`, `GET /static/portal.js`.
//!
//! Layout: [`extract`] has the two extractors every logged-in handler uses (the [`Session`] of
//! the caller and [`extract::CsrfForm`], a form whose CSRF token was checked); [`login`] logs in and out
//! (with [`password`]'s bounded checks); [`pages`] has the GET handlers, [`forms`] the POST
//! handlers of logged-in users, [`request_account`] the public request form (the public forms
//! are [`extract::DoubleSubmit`]); [`html`] has the pages, askama templates under
//! `crates/manager/templates/`.

pub(crate) mod html;
pub(crate) mod sessions;

mod extract;
mod forms;
mod login;
mod pages;
mod password;
mod request_account;
mod reservations;
mod satellite_link;
mod satellites;

#[cfg(test)]
mod tests;

// The HTTP edge's error type and the admin actions, named once for the whole portal.
use crate::admin;
use crate::api::ApiError;

use crate::state::AppState;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cookie::{Cookie, SameSite};
use extract::Session;
use subtle::ConstantTimeEq;

pub(crate) use login::address_key;
pub(crate) use password::LoginGate;

/// Session cookie.
pub(crate) const SESSION_COOKIE: &str = "__Host-smartlic-session";
/// CSRF cookie of the log-in form.
pub(crate) const LOGIN_COOKIE: &str = "__Host-smartlic-login";
/// CSRF cookie of the "Request a Smart Account" form.
pub(crate) const REQUEST_COOKIE: &str = "__Host-smartlic-request";
/// How long a session lasts.
pub(crate) const SESSION_TTL: i64 = 8 * 3600;
/// Log-in attempts checked per e-mail in [`THROTTLE_WINDOW`] (a success resets the count).
pub(crate) const MAX_FAILURES: i64 = 5;
/// Failed log-in attempts checked per client address in [`THROTTLE_WINDOW`], whatever the e-mail.
pub(crate) const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// How long a log-in waits for a free password check before it is answered 503.
pub(crate) const CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The throttling window.
pub(crate) const THROTTLE_WINDOW: i64 = 15 * 60;

/// The portal's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/login", get(login::login_page).post(login::login))
        .route(
            "/request-account",
            get(request_account::page).post(request_account::submit),
        )
        .route("/logout", post(login::logout))
        .route("/static/portal.css", get(css))
        .route("/static/portal.js", get(js))
        .route("/events", get(pages::events))
        .route("/events.csv", get(pages::events_csv))
        .route("/va/{va}", get(pages::va))
        .route("/va/{va}/tokens", post(forms::create_token))
        .route("/va/{va}/transfers", post(forms::transfer_licenses))
        .route(
            "/va/{va}/reservations",
            get(reservations::page).post(reservations::reserve),
        )
        .route("/va/{va}/reservations/return", post(reservations::return_code))
        .route(
            "/va/{va}/tokens/{token}/revoke",
            forms::va_button(forms::VaButton::RevokeToken),
        )
        .route(
            "/va/{va}/instances/{instance}/remove",
            forms::va_button(forms::VaButton::RemoveInstance),
        )
        .route("/webhooks", get(pages::webhooks).post(forms::add_webhook))
        .route("/webhooks/{webhook}/remove", post(forms::remove_webhook))
        .route("/users", get(pages::users))
        .route(
            "/users/{user}/disable",
            forms::change_user(crate::store::UserChange::Disable),
        )
        .route(
            "/users/{user}/enable",
            forms::change_user(crate::store::UserChange::Enable),
        )
        .route(
            "/users/{user}/remove",
            forms::change_user(crate::store::UserChange::Remove),
        )
        .route("/users/{user}/rotate-key", post(forms::rotate_key))
        .route("/account/key", get(pages::own_key).post(forms::rotate_own_key))
        .route("/satellites", get(satellites::page).post(satellites::create))
        // A pasted request file may be as large as the API's exchange files (`takes_exchange_file`).
        .route("/satellites/answer", post(satellites::answer))
        .route("/satellite", get(satellite_link::page))
        .route("/satellite/link", post(satellite_link::link))
        .route("/satellite/export", post(satellite_link::export))
        .route("/satellite/import", post(satellite_link::import))
        .route("/satellite/sync", post(satellite_link::sync))
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

/// A page rendered, with the portal's security headers; a page that cannot be rendered is a 500
/// (logged).
fn html(status: StatusCode, page: impl askama::Template) -> Response {
    match page.render() {
        Ok(body) => {
            security_headers((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
        }
        Err(e) => {
            tracing::error!("portal: a page could not be rendered: {e}");
            security_headers((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response())
        }
    }
}

/// 303 to `to`, with the portal's security headers.
fn redirect(to: &str) -> Response {
    security_headers((StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response())
}

/// `resp` setting the cookie `name` (an empty value and `max_age` 0 clear it): `Path=/`,
/// `Secure`, `HttpOnly`, `SameSite=Strict`, `Max-Age`.
fn with_cookie(mut resp: Response, name: &str, value: &str, max_age: i64) -> Response {
    let cookie = Cookie::build((name, value))
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `resp` telling the client to retry after `seconds` (at least one).
fn with_retry_after(mut resp: Response, seconds: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The value of the request's first cookie `name`, if it is not empty and at most 256 bytes.
fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// Compares two secrets in time independent of where they differ (not of their lengths).
fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A refusal or failure shown as an HTML page.
#[derive(Debug)]
pub(crate) struct PortalError {
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
