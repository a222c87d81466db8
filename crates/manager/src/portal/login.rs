//! Log-in and log-out: the log-in form (a double-submit cookie for its CSRF token), the attempts
//! claimed in the store before a password is checked, and the session cookie.

use super::extract::{CsrfForm, DoubleSubmit, PublicForm, Session};
use super::{
    ApiError, LOGIN_COOKIE, MAX_FAILURES, MAX_FAILURES_PER_ADDRESS, PortalError, SESSION_COOKIE, SESSION_TTL,
    THROTTLE_WINDOW, html, redirect, sessions, with_cookie, with_retry_after,
};
use crate::api::ClientAddr;
use crate::ids::AccountId;
use crate::state::AppState;
use crate::store::login_attempts::{AttemptKey, Claim};
use crate::store::{Audit, Event, Store};
use crate::tokens;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// The log-in page with a fresh CSRF token in its form and cookie.
fn login_response(status: StatusCode, email: &str, message: Option<&str>) -> Response {
    let csrf = tokens::random_secret(43);
    with_cookie(
        super::html(status, html::login(&csrf, email, message)),
        LOGIN_COOKIE,
        &csrf,
        3600,
    )
}

/// `GET /login`: the form, or the overview for a logged-in user.
pub(super) async fn login_page(session: Result<Session, Response>) -> Response {
    if session.is_ok() {
        return redirect("/");
    }
    login_response(StatusCode::OK, "", None)
}

/// The log-in form.
#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

impl PublicForm for LoginForm {
    const COOKIE: &'static str = LOGIN_COOKIE;

    fn out_of_date(&self) -> Response {
        login_response(
            StatusCode::FORBIDDEN,
            &self.email,
            Some("The log-in form is out of date (or cookies are off); please try again."),
        )
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
async fn release_attempts<const N: usize>(store: &Store, keys: [Option<&str>; N]) {
    for k in keys.into_iter().flatten() {
        if let Err(e) = store.release_login_attempt(k).await {
            tracing::warn!("portal log-in: giving back an attempt: {e}");
        }
    }
}

/// Claims a log-in attempt under the e-mail's key, then the address's (one lock order); the 429
/// page if either is locked.
async fn claim_attempt(
    store: &Store,
    email: &str,
    email_key: &str,
    addr_key: Option<&str>,
    now: i64,
) -> Result<Option<Response>, ApiError> {
    let mut keys = vec![AttemptKey {
        key: email_key,
        limit: MAX_FAILURES,
    }];
    if let Some(k) = addr_key {
        keys.push(AttemptKey {
            key: k,
            limit: MAX_FAILURES_PER_ADDRESS,
        });
    }
    let Claim::Locked { key, until } = store.claim_login_attempt(&keys, now, THROTTLE_WINDOW).await? else {
        return Ok(None);
    };
    let whose = if key == 0 {
        "for this e-mail address"
    } else {
        "from your address"
    };
    let minutes = ((until - now).max(1) + 59) / 60;
    let resp = login_response(
        StatusCode::TOO_MANY_REQUESTS,
        email,
        Some(&format!(
            "Too many failed log-ins {whose}: try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )),
    );
    Ok(Some(with_retry_after(resp, until - now)))
}

/// Records a log-in (or a failed one) in the event log; a failure to record does not stop it.
async fn log_login(store: &Store, now: i64, audit: &Audit, account_id: Option<&AccountId>, user_id: Option<&str>) {
    let event = match user_id {
        Some(user_id) => Event {
            action: "portal.login",
            account_id,
            object_id: Some(user_id),
            detail: "logged in to the portal".into(),
            ..Event::default()
        },
        None => Event {
            action: "portal.login_failed",
            account_id,
            detail: "failed portal log-in".into(),
            ..Event::default()
        },
    };
    let _ = store.log_event(now, audit, event).await;
}

/// `POST /login`: the double-submit check, the attempt claimed, the password checked under
/// [`super::LoginGate`], then a new session.
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    DoubleSubmit(form): DoubleSubmit<LoginForm>,
) -> Result<Response, PortalError> {
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

    // Claim the attempt before anything is checked.
    if let Some(locked) = claim_attempt(store, &email, &email_key, addr_key.as_deref(), now).await? {
        return Ok(locked);
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
        log_login(store, now, &audit, account_id.as_ref(), None).await;
        return Ok(wrong());
    };
    // A success resets the e-mail's count and gives the address its attempt back.
    store.reset_login_attempts(&email_key).await.map_err(ApiError::from)?;
    release_attempts(store, [addr_key.as_deref()]).await;
    let id = start_session(store, &user_id, source.as_deref(), now).await?;
    log_login(store, now, &audit, account_id.as_ref(), Some(&user_id)).await;
    let resp = with_cookie(redirect("/"), SESSION_COOKIE, &id, SESSION_TTL);
    Ok(with_cookie(resp, LOGIN_COOKIE, "", 0))
}

/// Stores a new session of `user_id` with its own CSRF token; its id, for the cookie.
async fn start_session(store: &Store, user_id: &str, source: Option<&str>, now: i64) -> Result<String, ApiError> {
    let id = tokens::random_secret(43);
    let csrf = tokens::random_secret(43);
    let id_hash = tokens::hash_secret(&id);
    sessions::create(store, &id_hash, user_id, &csrf, source, now, now + SESSION_TTL).await?;
    Ok(id)
}

/// `POST /logout`: ends the session and clears its cookie.
pub(super) async fn logout(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(()): CsrfForm<()>,
) -> Result<Response, PortalError> {
    sessions::delete(state.store(), &session.id_hash)
        .await
        .map_err(|e| session.error(e.into()))?;
    Ok(with_cookie(redirect("/login"), SESSION_COOKIE, "", 0))
}
