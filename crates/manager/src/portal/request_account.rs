//! The public "Request a Smart Account" form ([`crate::account_requests`]): no session, so its
//! CSRF token is a double-submit cookie like the log-in form's.

use super::extract::{DoubleSubmit, PublicForm};
use super::{ApiError, PortalError, REQUEST_COOKIE, html, with_cookie, with_retry_after};
use crate::api::ClientAddr;
use crate::state::AppState;
use crate::tokens;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smartlic_protocol::admin::SubmitAccountRequest;

/// The "Request a Smart Account" form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RequestForm {
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

    /// The request the form asks for, and whether "Create Account" was answered (`None`: not).
    fn request(&self) -> (SubmitAccountRequest, Option<bool>) {
        let authority = match self.create.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        };
        let req = SubmitAccountRequest {
            requester_email: self.requester_email.clone(),
            authority: authority.unwrap_or(true),
            on_behalf_email: Some(self.on_behalf_email.clone()),
            domain: Some(self.domain.clone()),
            name: self.name.clone(),
            password: self.password.clone(),
        };
        (req, authority)
    }
}

impl PublicForm for RequestForm {
    const COOKIE: &'static str = REQUEST_COOKIE;

    fn out_of_date(&self) -> Response {
        request_response(
            StatusCode::FORBIDDEN,
            self,
            &[],
            Some("The form is out of date (or cookies are off); please try again."),
        )
    }
}

/// The form (again, after a refusal) with a fresh CSRF token in it and its cookie.
fn request_response(
    status: StatusCode,
    form: &RequestForm,
    errors: &[(&str, String)],
    message: Option<&str>,
) -> Response {
    let csrf = tokens::random_secret(43);
    with_cookie(
        super::html(status, html::request_account(&csrf, &form.fields(), errors, message)),
        REQUEST_COOKIE,
        &csrf,
        3600,
    )
}

/// `GET /request-account`.
pub(super) async fn page() -> Response {
    let form = RequestForm {
        create: "yes".into(),
        ..RequestForm::default()
    };
    request_response(StatusCode::OK, &form, &[], None)
}

/// `POST /request-account`: field errors beside their fields (400), else a PENDING request.
pub(super) async fn submit(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    DoubleSubmit(form): DoubleSubmit<RequestForm>,
) -> Result<Response, PortalError> {
    let (req, authority) = form.request();
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
            let done = super::html(
                StatusCode::OK,
                html::request_submitted(&info.name, &info.domain, admin_email),
            );
            Ok(with_cookie(done, REQUEST_COOKIE, "", 0))
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
