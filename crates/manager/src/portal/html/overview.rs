//! The account overview: alerts and virtual accounts.

use super::{Header, escape, page};
use smartlic_protocol::admin::{AccountInfo, LicenseList, LicenseStatus, VirtualAccountInfo};
use smartlic_protocol::time::format_date;
use std::fmt::Write;

/// One virtual account on the overview: its info and licence list.
pub(crate) struct VaSummary {
    /// The virtual account.
    pub va: VirtualAccountInfo,
    /// Its licences.
    pub licenses: LicenseList,
}

/// The account overview.
pub(crate) fn overview(
    header: &Header<'_>,
    account: &AccountInfo,
    vas: &[VaSummary],
    alerts: &[smartlic_protocol::admin::AlertInfo],
) -> String {
    let mut alert_rows = String::new();
    for a in alerts {
        let _ = write!(
            alert_rows,
            "<tr class=\"{}\"><td><span class=\"{}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if a.severity == "critical" { "insufficient" } else { "" },
            if a.severity == "critical" { "bad" } else { "warn" },
            escape(&a.kind),
            escape(&a.virtual_account),
            escape(&a.message),
            escape(&format_date(a.at))
        );
    }
    let alerts_card = if alerts.is_empty() {
        "<section class=\"card\"><h2>Alerts</h2><p class=\"empty\">No alert: licences suffice, none expires within \
         90 days, every product instance is in touch.</p></section>"
            .to_string()
    } else {
        format!(
            "<section class=\"card\"><h2>Alerts <small>{}</small></h2><table><thead><tr><th>Alert</th>\
             <th>Virtual account</th><th>Detail</th><th>Date</th></tr></thead><tbody>{alert_rows}</tbody></table></section>",
            alerts.len()
        )
    };
    let mut rows = String::new();
    for s in vas {
        let short = s
            .licenses
            .licenses
            .iter()
            .filter(|l| l.status == LicenseStatus::Insufficient)
            .count();
        let status = if short == 0 {
            "<span class=\"ok\">OK</span>".to_string()
        } else {
            format!("<span class=\"bad\">INSUFFICIENT ({short} SKU)</span>")
        };
        let _ = write!(
            rows,
            "<tr><td><a href=\"/va/{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{status}</td></tr>",
            escape(&s.va.id),
            escape(&s.va.name),
            escape(&s.va.description),
            s.licenses.licenses.len()
        );
    }
    if vas.is_empty() {
        rows.push_str("<tr><td colspan=\"4\" class=\"empty\">No virtual account you may see.</td></tr>");
    }
    page(
        &account.name,
        Some(header),
        &format!(
            "<h1>Smart Account {} <small>{}</small></h1>{alerts_card}\
             <section class=\"card\"><h2>Virtual accounts</h2><table><thead><tr><th>Name</th><th>Description</th>\
             <th class=\"num\">SKUs</th><th>Licences</th></tr></thead><tbody>{rows}</tbody></table></section>",
            escape(&account.name),
            escape(&account.domain)
        ),
    )
}
