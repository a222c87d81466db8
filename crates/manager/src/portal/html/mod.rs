//! HTML of the portal, built with `format!`: every value from the store or the request goes
//! through [`escape`].
//!
//! One module per page or group of pages; this one has the page layout and the pieces every page
//! uses (escaping, flash messages, one-button forms, secrets shown once).

mod events;
mod overview;
mod public;
mod reservations;
mod users;
mod va;
mod webhooks;

pub(crate) use events::events;
pub(crate) use overview::{VaSummary, overview};
pub(crate) use public::{RequestFields, login, request_account, request_submitted};
pub(crate) use reservations::{ReservationsPage, reservations};
pub(crate) use users::{NewKey, UsersPage, api_key, users};
pub(crate) use va::{InstancesShown, VaPage, VaRights, va};
pub(crate) use webhooks::webhooks;

use smartlic_protocol::time::format_rfc3339;
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-28 13:37 UTC`.
pub(crate) fn time(ts: i64) -> String {
    let t = format_rfc3339(ts);
    match t.get(..16) {
        Some(head) if t.len() >= 16 => format!("{} UTC", head.replace('T', " ")),
        _ => t,
    }
}

/// Who is logged in, for the header.
pub(crate) struct Header<'a> {
    /// E-mail.
    pub email: &'a str,
    /// Role name.
    pub role: &'a str,
    /// CSRF token of the session.
    pub csrf: &'a str,
}

/// An entry of the header's menu: path, label, and for which role names it is shown.
type MenuEntry = (&'static str, &'static str, fn(&str) -> bool);

/// The menu of the header.
const MENU: [MenuEntry; 4] = [
    ("/events", "Event log", |role| role.starts_with("sa-")),
    ("/users", "Users", |role| role.starts_with("sa-")),
    ("/webhooks", "Webhooks", |role| role == "sa-admin"),
    ("/account/key", "My API key", |_| true),
];

/// A whole page.
pub(crate) fn page(title: &str, header: Option<&Header<'_>>, body: &str) -> String {
    let nav = match header {
        None => String::new(),
        Some(h) => format!(
            "<nav><a class=\"brand\" href=\"/\">smartlic</a>{}<span class=\"who\">{} · {}</span>{}</nav>",
            MENU.iter()
                .filter(|(_, _, shown)| shown(h.role))
                .map(|(path, label, _)| format!("<a class=\"navlink\" href=\"{path}\">{label}</a>"))
                .collect::<String>(),
            escape(h.email),
            escape(h.role),
            button_form("/logout", None, h.csrf, "Log out", " class=\"link\"")
        ),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · smartlic</title><link rel=\"stylesheet\" href=\"/static/portal.css\">\
         <script src=\"/static/portal.js\" defer></script></head>\n<body>{nav}<main>\n{body}\n</main></body></html>\n",
        escape(title)
    )
}

/// The top of an account's page: the crumbs back to the overview (`account`, then `here`), the
/// `title`, and a message box if there is one.
fn heading(account: &str, here: &str, title: &str, flash_message: Option<&(&str, String)>) -> String {
    let mut top = format!(
        "<p class=\"crumbs\"><a href=\"/\">{}</a> › {here}</p><h1>{}</h1>",
        escape(account),
        escape(title)
    );
    if let Some((kind, text)) = flash_message {
        top.push_str(&flash(kind, text));
    }
    top
}

/// A form of one button POSTing to `action` (trusted), with the session's CSRF token; `confirm`
/// (trusted, escaped) is asked first if given; `class` is the button's attribute or empty.
fn button_form(action: &str, confirm: Option<&str>, csrf: &str, label: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\" class=\"inline\"{}>{}<button type=\"submit\"{class}>{label}</button></form>",
        confirm.map(|c| format!(" data-confirm=\"{c}\"")).unwrap_or_default(),
        csrf_field(csrf)
    )
}

/// The hidden CSRF field of a form.
pub(crate) fn csrf_field(token: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(token))
}

/// A secret shown once, with a copy button: `title`, the id of its `<code>` element, the secret,
/// and a hint (trusted HTML).
fn secret_card(title: &str, code_id: &str, secret: &str, hint_html: &str) -> String {
    format!(
        "<section class=\"card secret\"><h2>{title}</h2>\
         <p>Copy it now: it is shown only this once.</p>\
         <p><code id=\"{code_id}\">{}</code> <button type=\"button\" data-copy=\"{code_id}\">Copy</button></p>\
         <p class=\"hint\">{hint_html}</p></section>",
        escape(secret)
    )
}

/// A message box.
pub(crate) fn flash(kind: &str, text: &str) -> String {
    format!("<p class=\"flash {kind}\" role=\"alert\">{}</p>", escape(text))
}

/// An error page.
pub(crate) fn error(header: Option<&Header<'_>>, status: u16, message: &str) -> String {
    page(
        "Error",
        header,
        &format!(
            "<h1>Error {status}</h1>{}<p><a href=\"/\">Back to the overview</a></p>",
            flash("error", message)
        ),
    )
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub(crate) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
        );
        assert_eq!(time(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(query_value("token. a&b=c/é"), "token.%20a%26b%3Dc%2F%C3%A9");
    }

    #[test]
    fn usage_chart_draws_days_over_and_under_what_is_purchased() {
        use smartlic_protocol::admin::{SkuUsage, UsagePoint};
        let u = SkuUsage {
            sku: "ASR5K-00-PW10GTWY".into(),
            description: "PDN <GW>".into(),
            purchased: 2,
            days: [0, 1, 2, 3]
                .iter()
                .enumerate()
                .map(|(i, n)| UsagePoint {
                    day: format!("2027-01-0{}", i + 1),
                    in_use: *n,
                })
                .collect(),
        };
        let svg = va::usage_chart(&u);
        assert_eq!(
            svg.matches("<rect").count(),
            3,
            "no bar for a day with nothing in use: {svg}"
        );
        assert_eq!(svg.matches("class=\"bar over\"").count(), 1, "{svg}");
        assert!(
            svg.contains("class=\"purchased\"") && svg.contains("purchased 2"),
            "{svg}"
        );
        assert!(svg.contains("PDN &lt;GW&gt;") && !svg.contains("<GW>"), "{svg}");
        assert!(svg.contains(">2027-01-01<") && svg.contains(">2027-01-04<"), "{svg}");
        assert!(svg.contains("<title>2027-01-04: 3 in use</title>"), "{svg}");
    }
}
