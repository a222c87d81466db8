//! The account's event log.

use super::{Flash, Header, query_value};
use crate::admin::EventFilter;
use askama::Template;
use smartlic_protocol::admin::{AccountInfo, EventInfo, VirtualAccountInfo};

/// The CSV export of the events `filter` selects.
fn csv_link(filter: &EventFilter) -> String {
    let mut query = Vec::new();
    for (k, val) in [
        ("action", &filter.action),
        ("actor", &filter.actor),
        ("va", &filter.va),
        ("since", &filter.since),
        ("until", &filter.until),
    ] {
        if let Some(val) = val.as_deref().filter(|x| !x.trim().is_empty()) {
            query.push(format!("{k}={}", query_value(val.trim())));
        }
    }
    if let Some(l) = filter.limit {
        query.push(format!("limit={l}"));
    }
    if query.is_empty() {
        "/events.csv".to_string()
    } else {
        format!("/events.csv?{}", query.join("&"))
    }
}

/// The event log page.
#[derive(Template)]
#[template(path = "events.html")]
pub(crate) struct Events<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    account: &'a AccountInfo,
    vas: &'a [VirtualAccountInfo],
    filter: &'a EventFilter,
    events: &'a [EventInfo],
    csv_link: String,
    flash: Flash<'static>,
}

impl Events<'_> {
    /// Whether the filter names `va` (by name or id).
    fn selected(&self, va: &VirtualAccountInfo) -> bool {
        let f = self.filter.va.as_deref();
        f == Some(va.name.as_str()) || f == Some(va.id.as_str())
    }

    /// The name of the virtual account of `e` (its id if not found; nothing without one).
    fn va_name<'e>(&'e self, e: &'e EventInfo) -> &'e str {
        e.virtual_account_id.as_deref().map_or("", |id| {
            self.vas.iter().find(|va| va.id == id).map_or(id, |va| va.name.as_str())
        })
    }
}

/// The account's event log, with its filter form and a CSV link for the same filter.
pub(crate) fn events<'a>(
    header: &'a Header<'a>,
    account: &'a AccountInfo,
    vas: &'a [VirtualAccountInfo],
    filter: &'a EventFilter,
    events: &'a [EventInfo],
) -> Events<'a> {
    Events {
        title: "Event log",
        header: Some(header),
        account,
        vas,
        filter,
        events,
        csv_link: csv_link(filter),
        flash: None,
    }
}
