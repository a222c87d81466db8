//! A virtual account's page: licences (and the transfer form), usage charts, product instances
//! a page at a time, registration tokens (and the new-token form).

use super::{Header, button_form, csrf_field, escape, heading, page, secret_card, time};
use smartlic_protocol::admin::{
    AccountInfo, InstanceInfo, LicenseList, LicenseStatus, TokenInfo, TokenStatus, VirtualAccountInfo,
};
use smartlic_protocol::time::format_date;
use std::fmt::Write;

/// What the user may do in a virtual account.
pub(crate) struct VaRights {
    /// Create tokens.
    pub create_token: bool,
    /// Revoke tokens.
    pub revoke_token: bool,
    /// Remove instances.
    pub remove_instance: bool,
    /// Manage licence reservations (and the account allows some).
    pub reservations: bool,
}

/// The page of product instances shown, of all the VA's.
pub(crate) struct InstancesShown<'a> {
    /// The instances on this page.
    pub page: &'a [InstanceInfo],
    /// How many the VA has.
    pub total: u64,
    /// The cursor of the next page, if any.
    pub next: Option<&'a str>,
    /// Whether this is the first page.
    pub first: bool,
}

/// Everything shown on a virtual account's page.
pub(crate) struct VaPage<'a> {
    /// Account.
    pub account: &'a AccountInfo,
    /// Licences.
    pub licenses: &'a LicenseList,
    /// Product instances.
    pub instances: InstancesShown<'a>,
    /// Tokens.
    pub tokens: &'a [TokenInfo],
    /// Rights.
    pub rights: VaRights,
    /// Daily usage per SKU over the last days.
    pub usage: &'a [smartlic_protocol::admin::SkuUsage],
    /// Virtual accounts licences may move to (empty: no transfer form).
    pub transfer_targets: &'a [VirtualAccountInfo],
    /// A message on top (class, text).
    pub flash: Option<(&'a str, String)>,
    /// A token secret just created, shown this once.
    pub new_secret: Option<String>,
}

/// A virtual account's page.
pub(crate) fn va(header: &Header<'_>, p: &VaPage<'_>) -> String {
    let va_id = escape(&p.licenses.virtual_account_id);
    let mut body = heading(
        &p.account.name,
        "virtual account",
        &p.licenses.virtual_account,
        p.flash.as_ref(),
    );
    if let Some(secret) = &p.new_secret {
        body.push_str(&secret_card(
            "New registration token",
            "new-token",
            secret,
            "On the product: <code>license smart register idtoken TOKEN</code>",
        ));
    }
    if p.rights.reservations {
        body.push_str(&format!(
            "<p><a href=\"/va/{va_id}/reservations\">Reserve licences</a> for nodes that never reach \
             this license manager (licence reservation).</p>"
        ));
    }
    licences_card(&mut body, header.csrf, &va_id, p);
    // Usage history.
    if !p.usage.is_empty() {
        body.push_str("<section class=\"card\"><h2>Usage, last 30 days</h2><div class=\"charts\">");
        for u in p.usage {
            body.push_str(&usage_chart(u));
        }
        body.push_str("</div></section>");
    }
    instances_card(&mut body, header.csrf, &va_id, p);
    tokens_card(&mut body, header.csrf, &va_id, p);
    page(&p.licenses.virtual_account, Some(header), &body)
}

/// The licences of a virtual account, and the form to transfer some if there are targets.
fn licences_card(body: &mut String, csrf: &str, va_id: &str, p: &VaPage<'_>) {
    body.push_str(
        "<section class=\"card\"><h2>Licences</h2><table><thead><tr><th>SKU</th><th>Description</th>\
         <th class=\"num\">Purchased</th><th class=\"num\">In use</th><th class=\"num\">Balance</th>\
         <th>Status</th><th>End dates</th></tr></thead><tbody>",
    );
    for l in &p.licenses.licenses {
        let bad = l.status == LicenseStatus::Insufficient;
        let ends = if l.end_dates.is_empty() {
            "perpetual".to_string()
        } else {
            l.end_dates
                .iter()
                .map(|e| format!("{} × {}", e.quantity, escape(&e.date)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = write!(
            body,
            "<tr{}><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td><span class=\"{}\">{}</span></td><td>{ends}</td></tr>",
            if bad { " class=\"insufficient\"" } else { "" },
            escape(&l.sku),
            escape(&l.description),
            l.purchased,
            l.in_use,
            l.balance,
            if bad { "bad" } else { "ok" },
            l.status.as_str()
        );
    }
    if p.licenses.licenses.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"empty\">No licences in this virtual account.</td></tr>");
    }
    body.push_str("</tbody></table>");
    let movable: Vec<_> = p.licenses.licenses.iter().filter(|l| l.balance > 0).collect();
    if !p.transfer_targets.is_empty() && !movable.is_empty() {
        let skus: String = movable
            .iter()
            .map(|l| {
                format!(
                    "<option value=\"{}\">{} ({} available)</option>",
                    escape(&l.sku),
                    escape(&l.sku),
                    l.balance
                )
            })
            .collect();
        let targets: String = p
            .transfer_targets
            .iter()
            .map(|v| format!("<option value=\"{}\">{}</option>", escape(&v.id), escape(&v.name)))
            .collect();
        let _ = write!(
            body,
            "<h3>Transfer licences</h3><form method=\"post\" action=\"/va/{va_id}/transfers\" class=\"grid\">{}\
             <label>SKU <select name=\"sku\">{skus}</select></label>\
             <label>Quantity <input type=\"number\" name=\"quantity\" min=\"1\" required></label>\
             <label>To virtual account <select name=\"to\">{targets}</select></label>\
             <button type=\"submit\">Transfer</button></form>",
            csrf_field(csrf)
        );
    }
    body.push_str("</section>");
}

/// The product instances of a virtual account, a page at a time.
fn instances_card(body: &mut String, csrf: &str, va_id: &str, p: &VaPage<'_>) {
    let shown = &p.instances;
    let _ = write!(
        body,
        "<section class=\"card\" id=\"instances\"><h2>Product instances <small>{}</small></h2><table><thead><tr><th>UDI</th><th>Hostname</th>\
         <th>Last contact</th><th>Status</th><th></th></tr></thead><tbody>",
        if shown.total == 0 {
            String::new()
        } else if shown.first && shown.next.is_none() {
            format!("{}", shown.total)
        } else {
            format!("{} shown of {}", shown.page.len(), shown.total)
        }
    );
    for i in shown.page {
        let remove = if p.rights.remove_instance {
            button_form(
                &format!("/va/{va_id}/instances/{}/remove", escape(&i.id)),
                Some(&format!("Remove {}? Its licences are released.", escape(&i.udi))),
                csrf,
                "Remove",
                " class=\"danger\"",
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{remove}</td></tr>",
            escape(&i.udi),
            escape(&i.hostname),
            time(i.last_contact),
            escape(&i.status)
        );
    }
    if shown.page.is_empty() {
        let empty = if shown.first {
            "No product instance registered yet."
        } else {
            "No more product instances."
        };
        let _ = write!(body, "<tr><td colspan=\"5\" class=\"empty\">{empty}</td></tr>");
    }
    body.push_str("</tbody></table>");
    if !shown.first || shown.next.is_some() {
        body.push_str("<p class=\"pages\">");
        if !shown.first {
            let _ = write!(body, "<a href=\"/va/{va_id}#instances\">First page</a> ");
        }
        if let Some(next) = shown.next {
            let _ = write!(
                body,
                "<a href=\"/va/{va_id}?instances_after={}#instances\" rel=\"next\">Next page</a>",
                escape(next)
            );
        }
        body.push_str("</p>");
    }
    body.push_str("</section>");
}

/// The registration tokens of a virtual account, and the form to create one.
fn tokens_card(body: &mut String, csrf: &str, va_id: &str, p: &VaPage<'_>) {
    body.push_str(
        "<section class=\"card\"><h2>Registration tokens</h2><table><thead><tr><th>Description</th>\
         <th>Created</th><th>Expires</th><th class=\"num\">Uses</th><th>Export-controlled</th><th>Status</th>\
         <th></th></tr></thead><tbody>",
    );
    for t in p.tokens {
        let revoke = if p.rights.revoke_token && t.status == TokenStatus::Active {
            button_form(
                &format!("/va/{va_id}/tokens/{}/revoke", escape(&t.id)),
                Some("Revoke this token?"),
                csrf,
                "Revoke",
                " class=\"danger\"",
            )
        } else {
            String::new()
        };
        let uses = match t.max_uses {
            Some(m) => format!("{} / {m}", t.uses),
            None => t.uses.to_string(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{} <small>by {}</small></td><td>{}</td><td class=\"num\">{uses}</td><td>{}</td>\
             <td>{}</td><td>{revoke}</td></tr>",
            escape(&t.description),
            time(t.created_at),
            escape(&t.created_by),
            format_date(t.expires_at),
            if t.export_controlled { "allowed" } else { "no" },
            t.status.as_str()
        );
    }
    if p.tokens.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"empty\">No token yet.</td></tr>");
    }
    body.push_str("</tbody></table>");
    if p.rights.create_token {
        let _ = write!(
            body,
            "<h3>New token</h3><form method=\"post\" action=\"/va/{va_id}/tokens\" class=\"grid\">{}\
             <label>Expires after (days) <input type=\"number\" name=\"expires_days\" min=\"1\" max=\"{}\" value=\"{}\"></label>\
             <label>Max. uses <input type=\"number\" name=\"max_uses\" min=\"1\" placeholder=\"unlimited\"></label>\
             <label class=\"wide\">Description <input type=\"text\" name=\"description\" maxlength=\"500\"></label>\
             <label class=\"check\"><input type=\"checkbox\" name=\"export_controlled\" value=\"on\"> \
             Allow export-controlled functionality</label>\
             <button type=\"submit\">Create token</button></form>",
            csrf_field(csrf),
            crate::tokens::MAX_EXPIRES_DAYS,
            crate::tokens::DEFAULT_EXPIRES_DAYS
        );
    }
    body.push_str("</section>");
}

/// A SKU's daily usage as an SVG bar chart: one bar per day (red above what is purchased), a
/// dashed line at the purchased quantity, the scale and the first and last day labelled.
pub(super) fn usage_chart(u: &smartlic_protocol::admin::SkuUsage) -> String {
    const W: f64 = 480.0;
    const H: f64 = 120.0;
    const LEFT: f64 = 36.0;
    const BOTTOM: f64 = 18.0;
    let n = u.days.len().max(1) as f64;
    let top = u
        .days
        .iter()
        .map(|p| p.in_use)
        .max()
        .unwrap_or(0)
        .max(u.purchased)
        .max(1) as f64;
    let plot_h = H - BOTTOM - 6.0;
    let y = |v: f64| (H - BOTTOM) - v / top * plot_h;
    let slot = (W - LEFT) / n;
    let mut bars = String::new();
    for (i, p) in u.days.iter().enumerate() {
        if p.in_use <= 0 {
            continue;
        }
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let over = p.in_use > u.purchased;
        let _ = write!(
            bars,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" class=\"{}\"><title>{}: {} in use</title></rect>",
            y(p.in_use as f64),
            slot * 0.7,
            (H - BOTTOM) - y(p.in_use as f64),
            if over { "bar over" } else { "bar" },
            escape(&p.day),
            p.in_use
        );
    }
    let purchased_line = if u.purchased > 0 {
        format!(
            "<line x1=\"{LEFT}\" x2=\"{W}\" y1=\"{py:.1}\" y2=\"{py:.1}\" class=\"purchased\"/>\
             <text x=\"{W}\" y=\"{:.1}\" text-anchor=\"end\" class=\"label\">purchased {}</text>",
            {
                // Above the line, or below it when the line runs along the top.
                let py = y(u.purchased as f64);
                if py < 14.0 { py + 11.0 } else { py - 3.0 }
            },
            u.purchased,
            py = y(u.purchased as f64)
        )
    } else {
        String::new()
    };
    let first = u.days.first().map(|p| escape(&p.day)).unwrap_or_default();
    let last = u.days.last().map(|p| escape(&p.day)).unwrap_or_default();
    format!(
        "<figure class=\"chart\"><figcaption><code>{sku}</code> {desc}</figcaption>\
         <svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"daily licences of {sku} in use\">\
         <line x1=\"{LEFT}\" x2=\"{W}\" y1=\"{base}\" y2=\"{base}\" class=\"axis\"/>\
         <text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\" class=\"label\">{top}</text>\
         <text x=\"{lx}\" y=\"{base}\" text-anchor=\"end\" class=\"label\">0</text>{bars}{purchased_line}\
         <text x=\"{LEFT}\" y=\"{H}\" class=\"label\">{first}</text>\
         <text x=\"{W}\" y=\"{H}\" text-anchor=\"end\" class=\"label\">{last}</text></svg></figure>",
        sku = escape(&u.sku),
        desc = escape(&u.description),
        base = H - BOTTOM,
        lx = LEFT - 4.0,
        ty = y(top) + 8.0,
        top = top as i64,
    )
}
