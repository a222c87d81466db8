//! The account's event log.

use super::{Header, escape, heading, page, query_value, time};
use crate::admin::EventFilter;
use smartlic_protocol::admin::{AccountInfo, VirtualAccountInfo};
use std::fmt::Write;

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

/// The account's event log, with its filter form and a CSV link for the same filter.
pub(crate) fn events(
    header: &Header<'_>,
    account: &AccountInfo,
    vas: &[VirtualAccountInfo],
    filter: &EventFilter,
    events: &[smartlic_protocol::admin::EventInfo],
) -> String {
    let v = |o: &Option<String>| o.as_deref().map(escape).unwrap_or_default();
    let mut va_options = String::from("<option value=\"\">all</option>");
    for va in vas {
        let selected = filter.va.as_deref() == Some(va.name.as_str()) || filter.va.as_deref() == Some(va.id.as_str());
        let _ = write!(
            va_options,
            "<option value=\"{}\"{}>{}</option>",
            escape(&va.name),
            if selected { " selected" } else { "" },
            escape(&va.name)
        );
    }
    let csv_link = csv_link(filter);
    let mut rows = String::new();
    for e in events {
        let va_name = e
            .virtual_account_id
            .as_deref()
            .map(|id| {
                vas.iter()
                    .find(|va| va.id == id)
                    .map(|va| va.name.as_str())
                    .unwrap_or(id)
            })
            .unwrap_or("");
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(e.at),
            escape(&e.actor),
            escape(&e.action),
            escape(va_name),
            escape(&e.detail),
            escape(e.source.as_deref().unwrap_or(""))
        );
    }
    if events.is_empty() {
        rows.push_str("<tr><td colspan=\"6\" class=\"empty\">No event matches.</td></tr>");
    }
    page(
        "Event log",
        Some(header),
        &format!(
            "{}<section class=\"card\"><form method=\"get\" action=\"/events\" class=\"grid\">\
             <label>Action starts with <input type=\"text\" name=\"action\" value=\"{}\" placeholder=\"token.\"></label>\
             <label>Actor <input type=\"text\" name=\"actor\" value=\"{}\" placeholder=\"operator\"></label>\
             <label>Virtual account <select name=\"va\">{va_options}</select></label>\
             <label>From <input type=\"date\" name=\"since\" value=\"{}\"></label>\
             <label>To <input type=\"date\" name=\"until\" value=\"{}\"></label>\
             <button type=\"submit\">Filter</button></form>\
             <p><a href=\"{}\" download>Export these events as CSV</a></p></section>\
             <section class=\"card\"><table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Virtual account</th>\
             <th>Detail</th><th>From</th></tr></thead><tbody>{rows}</tbody></table></section>",
            heading(&account.name, "event log", "Event log", None),
            v(&filter.action),
            v(&filter.actor),
            v(&filter.since),
            v(&filter.until),
            escape(&csv_link)
        ),
    )
}
