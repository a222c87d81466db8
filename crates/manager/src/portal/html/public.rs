//! The pages without a session: log-in and the "Request a Smart Account" form.

use super::Header;
use askama::Template;

/// The log-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct Login<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    email: &'a str,
    message: Option<&'a str>,
}

/// The log-in page: a form with `csrf`, `email` filled in, and `message` on top if given.
pub(crate) fn login<'a>(csrf: &'a str, email: &'a str, message: Option<&'a str>) -> Login<'a> {
    Login {
        title: "Log in",
        header: None,
        csrf,
        email,
        message,
    }
}

/// What the "Request a Smart Account" form shows again after a refusal (never the password).
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestFields<'a> {
    /// `yes` or `no` (Create Account).
    pub create: &'a str,
    /// The person who will create the account ("No").
    pub on_behalf_email: &'a str,
    /// Account domain identifier.
    pub domain: &'a str,
    /// Account name.
    pub name: &'a str,
    /// The requester's e-mail.
    pub requester_email: &'a str,
}

/// The public "Request a Smart Account" page.
#[derive(Template)]
#[template(path = "request_account.html")]
pub(crate) struct RequestAccount<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    f: &'a RequestFields<'a>,
    errors: &'a [(&'a str, String)],
    message: Option<&'a str>,
}

impl RequestAccount<'_> {
    /// The messages about `field`.
    fn field_errors(&self, field: &str) -> impl Iterator<Item = &str> {
        self.errors
            .iter()
            .filter(move |(k, _)| *k == field)
            .map(|(_, m)| m.as_str())
    }
}

/// The public "Request a Smart Account" page: the seed's Create Account and Account Information
/// sections; `errors` are (field, message) shown beside their fields.
pub(crate) fn request_account<'a>(
    csrf: &'a str,
    f: &'a RequestFields<'a>,
    errors: &'a [(&'a str, String)],
    message: Option<&'a str>,
) -> RequestAccount<'a> {
    RequestAccount {
        title: "Request a Smart Account",
        header: None,
        csrf,
        f,
        errors,
        message,
    }
}

/// The page after a request was stored.
#[derive(Template)]
#[template(path = "request_submitted.html")]
pub(crate) struct RequestSubmitted<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    name: &'a str,
    domain: &'a str,
    admin_email: &'a str,
}

/// The page after the request for `name` (`domain`) was stored; `admin_email` will log in.
pub(crate) fn request_submitted<'a>(name: &'a str, domain: &'a str, admin_email: &'a str) -> RequestSubmitted<'a> {
    RequestSubmitted {
        title: "Smart Account requested",
        header: None,
        name,
        domain,
        admin_email,
    }
}
