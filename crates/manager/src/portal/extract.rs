//! The portal's extractors: the caller's [`Session`] (from its cookie, looked up in the store once
//! per request), [`CsrfForm`], a form whose CSRF token is the session's, and [`DoubleSubmit`], a
//! public form whose token is its cookie's.

use super::admin::Caller;
use super::{ApiError, PortalError, bad_form, html, read_cookie, redirect, same_secret, sessions};
use crate::api::ClientAddr;
use crate::auth::{Principal, User};
use crate::ids::AccountId;
use crate::state::AppState;
use crate::tokens;
use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use smartlic_protocol::admin::Role;

/// A logged-in portal user: who they are, as the admin actions' [`Caller`], and their session's
/// CSRF token. Without a live session the request goes to the log-in page.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// The SHA-256 of the session id (the id itself is only in the cookie).
    pub(super) id_hash: String,
    /// The logged-in user.
    pub(super) user: User,
    csrf: String,
    caller: Caller,
}

impl Session {
    /// The user as the caller of admin actions.
    pub(super) fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The user's account.
    pub(super) fn account_id(&self) -> &AccountId {
        &self.user.account_id
    }

    /// Who is logged in, for the page header.
    pub(super) fn header(&self) -> html::Header<'_> {
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

    /// A refusal shown as an error page under this user's header.
    pub(super) fn error(&self, e: ApiError) -> PortalError {
        PortalError::from(e).with(self)
    }

    /// The live session of the request's cookie; `Ok(None)` without one.
    async fn look_up(parts: &mut Parts, state: &AppState) -> Result<Option<Session>, PortalError> {
        let source = ClientAddr::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientAddr(None))
            .0;
        let Some(id) = read_cookie(&parts.headers, super::SESSION_COOKIE) else {
            return Ok(None);
        };
        let id_hash = tokens::hash_secret(&id);
        let row = sessions::find(state.store(), &id_hash, state.now())
            .await
            .map_err(ApiError::from)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let role: Role = row
            .role
            .parse()
            .map_err(|e| ApiError::Internal(format!("stored role of user {}: {e}", row.user_id)))?;
        let user = User {
            id: row.user_id,
            email: row.email,
            account_id: row.account_id,
            role,
            va_id: row.va_id,
        };
        Ok(Some(Session {
            id_hash,
            caller: Caller {
                principal: Principal::User(user.clone()),
                source,
            },
            user,
            csrf: row.csrf_token,
        }))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    /// The session is looked up once per request and kept in its extensions, so that a
    /// [`CsrfForm`] after a `Session` finds it again.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(session.clone());
        }
        match Session::look_up(parts, state).await {
            Ok(Some(session)) => {
                parts.extensions.insert(session.clone());
                Ok(session)
            }
            Ok(None) => Err(redirect("/login")),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A form POSTed by a logged-in user, its fields `T` read and its `csrf` field checked against
/// the session's token: a form that cannot be read is a 400 page, a missing or wrong token a 403
/// page, both under the user's header; without a session, the log-in page.
#[derive(Debug)]
pub(super) struct CsrfForm<T>(pub T);

/// What a portal form sends: its CSRF token beside its own fields.
#[derive(Debug, Deserialize)]
struct Sent<T> {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(flatten)]
    fields: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let Form(sent) = Form::<Sent<T>>::from_request(req, state)
            .await
            .map_err(|r| bad_form(&r).with(&session).into_response())?;
        session
            .check_csrf(sent.csrf.as_deref())
            .map_err(IntoResponse::into_response)?;
        Ok(CsrfForm(sent.fields))
    }
}

/// A public form (no session yet): its CSRF token is checked against a double-submit cookie.
pub(super) trait PublicForm: DeserializeOwned + Send {
    /// The cookie holding the token the form was given.
    const COOKIE: &'static str;
    /// The answer to a form whose token is missing or not its cookie's: the form again (403).
    fn out_of_date(&self) -> Response;
}

/// A public form read and its token checked against its cookie: a form that cannot be read is a
/// 400 page; a missing or wrong token, the form again.
#[derive(Debug)]
pub(super) struct DoubleSubmit<T>(pub(super) T);

impl<T: PublicForm> FromRequest<AppState> for DoubleSubmit<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let expected = read_cookie(req.headers(), T::COOKIE);
        let Form(sent) = Form::<Sent<T>>::from_request(req, state)
            .await
            .map_err(|r| bad_form(&r).into_response())?;
        match (expected, sent.csrf) {
            (Some(expected), Some(token)) if same_secret(&expected, &token) => Ok(DoubleSubmit(sent.fields)),
            _ => Err(sent.fields.out_of_date()),
        }
    }
}
