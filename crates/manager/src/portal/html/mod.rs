//! The pages of the portal, as askama templates (`crates/manager/templates/`): every value from
//! the store or the request is escaped by the template engine, never by hand.
//!
//! One module per page or group of pages, each with the template struct(s) of its page(s) and a
//! function that fills them in; `layout.html` is the page around every page (title, header and
//! menu) and `macros.html` the pieces many pages use (CSRF field, message box, one-button form,
//! heading, secret shown once). To add a page: write `templates/NAME.html` starting with
//! `{% extends "layout.html" %}` and filling `{% block content %}`, and a struct deriving
//! [`askama::Template`] with at least `title` and `header` (the fields the layout reads), then
//! answer it with `super::html(status, page)`.

mod events;
mod overview;
mod public;
mod reservations;
mod satellites;
mod users;
mod va;
mod webhooks;

pub(crate) use events::events;
pub(crate) use overview::{VaSummary, overview};
pub(crate) use public::{RequestFields, login, request_account, request_submitted};
pub(crate) use reservations::{ReservationsPage, reservations};
pub(crate) use satellites::{SatellitesPage, satellite_link, satellites};
pub(crate) use users::{NewKey, UsersPage, api_key, users};
pub(crate) use va::{InstancesShown, VaPage, VaRights, va};
pub(crate) use webhooks::webhooks;

use askama::Template;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use smartlic_protocol::time::{format_date, format_rfc3339};

/// `2026-11-28 13:37 UTC`.
pub(crate) fn time(ts: &i64) -> String {
    let t = format_rfc3339(*ts);
    match t.get(..16) {
        Some(head) if t.len() >= 16 => format!("{} UTC", head.replace('T', " ")),
        _ => t,
    }
}

/// `2026-11-28`.
pub(crate) fn date(ts: &i64) -> String {
    format_date(*ts)
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
const MENU: [MenuEntry; 5] = [
    ("/events", "Event log", |role| role.starts_with("sa-")),
    ("/users", "Users", |role| role.starts_with("sa-")),
    ("/webhooks", "Webhooks", |role| role == "sa-admin"),
    ("/satellites", "Satellites", |role| role == "sa-admin"),
    ("/account/key", "My API key", |_| true),
];

impl Header<'_> {
    /// The menu entries (path, label) this user's role is shown.
    pub(crate) fn menu(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        MENU.iter()
            .filter(|(_, _, shown)| shown(self.role))
            .map(|(path, label, _)| (*path, *label))
    }
}

/// A message on top of a page: its class (`info` or `error`) and text.
pub(crate) type Flash<'a> = Option<(&'a str, String)>;

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    status: u16,
    message: &'a str,
}

/// The error page of `status` saying `message`.
pub(crate) fn error<'a>(header: Option<&'a Header<'a>>, status: u16, message: &'a str) -> ErrorPage<'a> {
    ErrorPage {
        title: "Error",
        header,
        status,
        message,
    }
}

/// Everything but the unreserved characters of RFC 3986 (letters, digits, `-._~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes a query-string value or a path segment (everything but unreserved characters).
pub(crate) fn query_value(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_formats_times() {
        let header = Header {
            email: "o'neil&co@x.example",
            role: "sa-admin",
            csrf: "t\"k",
        };
        let page = error(Some(&header), 404, "<a href=\"x\">O'Neil & co</a>")
            .render()
            .unwrap();
        assert!(
            page.contains("&#60;a href=&#34;x&#34;&#62;O&#39;Neil &#38; co&#60;/a&#62;"),
            "{page}"
        );
        assert!(
            page.contains("o&#39;neil&#38;co@x.example") && page.contains("value=\"t&#34;k\""),
            "{page}"
        );
        assert!(!page.contains("<a href=\"x\">") && !page.contains("O'Neil"), "{page}");
        assert_eq!(time(&1_800_000_000), "2027-01-15 08:00 UTC");
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
        let svg = va::UsageChart::new(&u).render().unwrap();
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
        assert!(svg.contains("PDN &#60;GW&#62;") && !svg.contains("<GW>"), "{svg}");
        assert!(svg.contains(">2027-01-01<") && svg.contains(">2027-01-04<"), "{svg}");
        assert!(svg.contains("<title>2027-01-04: 3 in use</title>"), "{svg}");
    }
}
