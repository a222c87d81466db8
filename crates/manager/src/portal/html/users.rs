//! The account's users and the user's own API key.

use super::{Flash, Header};
use askama::Template;
use smartlic_protocol::admin::{AccountInfo, UserInfo};

/// An API key just given to a user, shown this once.
pub(crate) struct NewKey<'a> {
    /// Whose key it is (e-mail).
    pub email: &'a str,
    /// The key.
    pub key: &'a str,
}

/// Everything shown on the users page.
pub(crate) struct UsersPage<'a> {
    /// Account.
    pub account: &'a AccountInfo,
    /// Its users.
    pub users: &'a [UserInfo],
    /// The user id of who is looking (no button to disable or remove themselves).
    pub me: &'a str,
    /// Whether they may manage users (SA administrators): the buttons.
    pub manage: bool,
    /// A message on top (class, text).
    pub flash: Flash<'a>,
    /// A key just rotated, shown this once.
    pub new_key: Option<NewKey<'a>>,
}

/// The users page.
#[derive(Template)]
#[template(path = "users.html")]
pub(crate) struct Users<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    account: &'a AccountInfo,
    users: &'a [UserInfo],
    me: &'a str,
    manage: bool,
    flash: &'a Flash<'a>,
    new_key: &'a Option<NewKey<'a>>,
}

/// The account's users: e-mail, role, virtual account, portal log-in and status; for an SA
/// administrator (`manage`) a Disable/Enable, Remove and Rotate key button each (none to disable
/// or remove themselves: `me` is their user id), and a just-rotated key (shown this once).
pub(crate) fn users<'a>(header: &'a Header<'a>, p: &'a UsersPage<'a>) -> Users<'a> {
    Users {
        title: "Users",
        header: Some(header),
        csrf: header.csrf,
        account: p.account,
        users: p.users,
        me: p.me,
        manage: p.manage,
        flash: &p.flash,
        new_key: &p.new_key,
    }
}

/// The page where any user rotates their own API key.
#[derive(Template)]
#[template(path = "api_key.html")]
pub(crate) struct ApiKey<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    email: &'a str,
    account: &'a AccountInfo,
    flash: Flash<'static>,
    new_key: Option<&'a str>,
}

/// The page where any user rotates their own API key; the new key shown this once.
pub(crate) fn api_key<'a>(header: &'a Header<'a>, account: &'a AccountInfo, new_key: Option<&'a str>) -> ApiKey<'a> {
    ApiKey {
        title: "My API key",
        header: Some(header),
        csrf: header.csrf,
        email: header.email,
        account,
        flash: new_key.map(|_| {
            (
                "info",
                "Your API key was replaced: the previous one stopped working.".to_string(),
            )
        }),
        new_key,
    }
}
