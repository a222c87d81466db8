//! The account's users and the user's own API key.

use super::{Header, button_form, escape, heading, page, secret_card, time};
use smartlic_protocol::admin::{AccountInfo, UserInfo};
use std::fmt::Write;

/// How to use an API key, after one was shown.
const API_KEY_HINT: &str = "The admin CLI takes it as <code>--api-key KEY</code> or in \
     <code>SMARTLIC_API_KEY</code>; the REST API as <code>Authorization: Bearer KEY</code>.";

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
    pub flash: Option<(&'a str, String)>,
    /// A key just rotated, shown this once.
    pub new_key: Option<NewKey<'a>>,
}

/// The buttons of one user's row for an SA administrator (`manage`): Disable or Enable, Rotate
/// key and Remove (only Rotate key on their own row: `own`); none for others.
fn user_actions(csrf: &str, manage: bool, u: &UserInfo, own: bool) -> String {
    if !manage {
        return String::new();
    }
    let id = escape(&u.id);
    let email = escape(&u.email);
    let form = |action: &str, confirm: Option<String>, label: &str, class: &str| {
        let path = format!("/users/{id}/{action}");
        button_form(&path, confirm.as_deref(), csrf, label, class) + " "
    };
    let mut actions = String::new();
    if !own {
        if u.disabled {
            actions.push_str(&form("enable", None, "Enable", ""));
        } else {
            let confirm = format!("Disable {email}? Their API key and portal sessions stop at once.");
            actions.push_str(&form("disable", Some(confirm), "Disable", " class=\"danger\""));
        }
    }
    let confirm = format!("Give {email} a new API key? The current one stops working at once.");
    actions.push_str(&form("rotate-key", Some(confirm), "Rotate key", ""));
    if !own {
        let confirm = format!("Remove {email}? This cannot be undone.");
        actions.push_str(&form("remove", Some(confirm), "Remove", " class=\"danger\""));
    }
    actions
}

/// The account's users: e-mail, role, virtual account, portal log-in and status; for an SA
/// administrator (`manage`) a Disable/Enable, Remove and Rotate key button each (none to disable
/// or remove themselves: `me` is their user id), and a just-rotated key (shown this once).
pub(crate) fn users(header: &Header<'_>, p: &UsersPage<'_>) -> String {
    let mut body = heading(&p.account.name, "users", "Users", p.flash.as_ref());
    if let Some(k) = &p.new_key {
        body.push_str(&secret_card(
            &format!("New API key of {}", escape(k.email)),
            "new-key",
            k.key,
            &format!("Their previous key stopped working. {API_KEY_HINT}"),
        ));
    }
    body.push_str(
        "<section class=\"card\"><h2>Users</h2><p class=\"hint\">A disabled user can neither use their API key \
         nor log in, and their portal sessions end at once; enabling them gives both back.</p>\
         <table><thead><tr><th>E-mail</th><th>Role</th><th>Virtual account</th><th>Portal log-in</th>\
         <th>Status</th><th>Added</th><th></th></tr></thead><tbody>",
    );
    for u in p.users {
        let own = u.id == p.me;
        let actions = user_actions(header.csrf, p.manage, u, own);
        let _ = write!(
            body,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{actions}</td></tr>",
            escape(&u.email),
            if own { " <small>(you)</small>" } else { "" },
            escape(u.role.as_str()),
            u.virtual_account.as_deref().map(escape).unwrap_or_default(),
            if u.has_password { "yes" } else { "no" },
            if u.disabled {
                "<span class=\"bad\">DISABLED</span>"
            } else {
                "<span class=\"ok\">ENABLED</span>"
            },
            time(u.created_at),
        );
    }
    if p.users.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"empty\">No user.</td></tr>");
    }
    body.push_str("</tbody></table></section>");
    page("Users", Some(header), &body)
}

/// The page where any user rotates their own API key; the new key shown this once.
pub(crate) fn api_key(header: &Header<'_>, account: &AccountInfo, new_key: Option<&str>) -> String {
    let replaced = new_key.map(|_| {
        (
            "info",
            "Your API key was replaced: the previous one stopped working.".to_string(),
        )
    });
    let mut body = heading(&account.name, "my API key", "My API key", replaced.as_ref());
    if let Some(key) = new_key {
        body.push_str(&secret_card("Your new API key", "new-key", key, API_KEY_HINT));
    }
    let _ = write!(
        body,
        "<section class=\"card\"><h2>Rotate my API key</h2><p>Your API key lets the admin CLI and the REST API \
         act as you ({}). The manager keeps only its hash, so it cannot show the current one again. Rotating \
         gives you a new key, shown once; the current key stops working at once (your portal session goes on).</p>{}</section>",
        escape(header.email),
        button_form(
            "/account/key",
            Some("Replace your API key? The current one stops working at once."),
            header.csrf,
            "Rotate my API key",
            ""
        )
    );
    page("My API key", Some(header), &body)
}
