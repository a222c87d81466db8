//! HTML of the portal, built with `format!`: every value from the store or the request goes
//! through [`escape`].

use smartlic_protocol::admin::{
    AccountInfo, InstanceInfo, LicenseList, LicenseStatus, TokenInfo, TokenStatus, VirtualAccountInfo,
};
use smartlic_protocol::time::{format_date, format_rfc3339};
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
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
pub fn time(ts: i64) -> String {
    let t = format_rfc3339(ts);
    match t.get(..16) {
        Some(head) if t.len() >= 16 => format!("{} UTC", head.replace('T', " ")),
        _ => t,
    }
}

/// Who is logged in, for the header.
pub struct Header<'a> {
    /// E-mail.
    pub email: &'a str,
    /// Role name.
    pub role: &'a str,
    /// CSRF token of the session.
    pub csrf: &'a str,
}

/// A whole page.
pub fn page(title: &str, header: Option<&Header<'_>>, body: &str) -> String {
    let nav = match header {
        None => String::new(),
        Some(h) => format!(
            "<nav><a class=\"brand\" href=\"/\">smartlic</a>{}<span class=\"who\">{} · {}</span>\
             <form method=\"post\" action=\"/logout\" class=\"inline\">{}\
             <button type=\"submit\" class=\"link\">Log out</button></form></nav>",
            match h.role {
                "sa-admin" => {
                    "<a class=\"navlink\" href=\"/events\">Event log</a>\
                     <a class=\"navlink\" href=\"/users\">Users</a>\
                     <a class=\"navlink\" href=\"/webhooks\">Webhooks</a>\
                     <a class=\"navlink\" href=\"/account/key\">My API key</a>"
                }
                r if r.starts_with("sa-") => {
                    "<a class=\"navlink\" href=\"/events\">Event log</a>\
                     <a class=\"navlink\" href=\"/users\">Users</a>\
                     <a class=\"navlink\" href=\"/account/key\">My API key</a>"
                }
                _ => "<a class=\"navlink\" href=\"/account/key\">My API key</a>",
            },
            escape(h.email),
            escape(h.role),
            csrf_field(h.csrf)
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

/// The hidden CSRF field of a form.
pub fn csrf_field(token: &str) -> String {
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
pub fn flash(kind: &str, text: &str) -> String {
    format!("<p class=\"flash {kind}\" role=\"alert\">{}</p>", escape(text))
}

/// The log-in page.
pub fn login(csrf: &str, email: &str, message: Option<&str>) -> String {
    let msg = message.map(|m| flash("error", m)).unwrap_or_default();
    page(
        "Log in",
        None,
        &format!(
            "<section class=\"card login\"><h1>smartlic license manager</h1>{msg}\
             <form method=\"post\" action=\"/login\">{}\
             <label>E-mail <input type=\"email\" name=\"email\" value=\"{}\" required autofocus autocomplete=\"username\"></label>\
             <label>Password <input type=\"password\" name=\"password\" required autocomplete=\"current-password\"></label>\
             <button type=\"submit\">Log in</button></form>\
             <p class=\"hint\">No Smart Account yet? <a href=\"/request-account\">Request a Smart Account</a></p></section>",
            csrf_field(csrf),
            escape(email)
        ),
    )
}

/// What the "Request a Smart Account" form shows again after a refusal (never the password).
#[derive(Debug, Clone, Default)]
pub struct RequestFields<'a> {
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

/// The public "Request a Smart Account" page: the seed's Create Account and Account Information
/// sections; `errors` are (field, message) shown beside their fields.
pub fn request_account(csrf: &str, f: &RequestFields<'_>, errors: &[(&str, String)], message: Option<&str>) -> String {
    let err = |field: &str| {
        errors
            .iter()
            .filter(|(k, _)| *k == field)
            .map(|(_, m)| format!("<span class=\"flash error field-error\">{}</span>", escape(m)))
            .collect::<String>()
    };
    let msg = message.map(|m| flash("error", m)).unwrap_or_default();
    let checked = |v: &str| if f.create == v { " checked" } else { "" };
    page(
        "Request a Smart Account",
        None,
        &format!(
            "<section class=\"card login\"><h1>Request a Smart Account</h1>{msg}\
             <p>A Smart Account holds your company's licences, product instances and users. \
             Your request stays pending until the operator of this license manager approves it.</p>\
             <form method=\"post\" action=\"/request-account\">{csrf}\
             <fieldset><legend>Create Account</legend>{create_err}\
             <label><input type=\"radio\" name=\"create\" value=\"yes\"{yes}> Yes, I have authority to represent my company \
             and want to create the Smart Account</label>\
             <label><input type=\"radio\" name=\"create\" value=\"no\"{no}> No, the person specified below will create the account</label>\
             <label>E-mail of the person who will create the account \
             <input type=\"email\" name=\"on_behalf_email\" value=\"{on_behalf}\" maxlength=\"254\"></label>{on_behalf_err}</fieldset>\
             <fieldset><legend>Account Information</legend>\
             <label>Account Domain Identifier <input type=\"text\" name=\"domain\" value=\"{domain}\" maxlength=\"253\" \
             placeholder=\"default: the domain of your e-mail address\"></label>{domain_err}\
             <label>Account Name <input type=\"text\" name=\"name\" value=\"{name}\" maxlength=\"100\" required \
             placeholder=\"typically, the company name\"></label>{name_err}</fieldset>\
             <fieldset><legend>You</legend>\
             <label>Your e-mail <input type=\"email\" name=\"requester_email\" value=\"{requester}\" maxlength=\"254\" required \
             autocomplete=\"email\"></label>{requester_err}\
             <label>Portal password of the account's administrator (8 characters or more) \
             <input type=\"password\" name=\"password\" minlength=\"8\" maxlength=\"1024\" required autocomplete=\"new-password\"></label>{password_err}\
             </fieldset><button type=\"submit\">Continue</button></form>\
             <p class=\"hint\"><a href=\"/login\">Back to log-in</a></p></section>",
            csrf = csrf_field(csrf),
            create_err = err("create"),
            yes = checked("yes"),
            no = checked("no"),
            on_behalf = escape(f.on_behalf_email),
            on_behalf_err = err("on_behalf_email"),
            domain = escape(f.domain),
            domain_err = err("domain"),
            name = escape(f.name),
            name_err = err("name"),
            requester = escape(f.requester_email),
            requester_err = err("requester_email"),
            password_err = err("password"),
        ),
    )
}

/// The page after a request was stored.
pub fn request_submitted(name: &str, domain: &str, admin_email: &str) -> String {
    page(
        "Smart Account requested",
        None,
        &format!(
            "<section class=\"card login\"><h1>Smart Account requested</h1>\
             {}<p>The request for the Smart Account <strong>{}</strong> ({}) is <strong>pending</strong> \
             until the operator of this license manager approves it. Then {} can log in with the \
             password you chose.</p><p><a href=\"/login\">Back to log-in</a></p></section>",
            flash("info", "Your Smart Account request is pending approval."),
            escape(name),
            escape(domain),
            escape(admin_email)
        ),
    )
}

/// An error page.
pub fn error(header: Option<&Header<'_>>, status: u16, message: &str) -> String {
    page(
        "Error",
        header,
        &format!(
            "<h1>Error {status}</h1>{}<p><a href=\"/\">Back to the overview</a></p>",
            flash("error", message)
        ),
    )
}

/// One virtual account on the overview: its info and licence list.
pub struct VaSummary {
    /// The virtual account.
    pub va: VirtualAccountInfo,
    /// Its licences.
    pub licenses: LicenseList,
}

/// The account overview.
pub fn overview(
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

/// What the user may do in a virtual account.
pub struct VaRights {
    /// Create tokens.
    pub create_token: bool,
    /// Revoke tokens.
    pub revoke_token: bool,
    /// Remove instances.
    pub remove_instance: bool,
}

/// The page of product instances shown, of all the VA's.
pub struct InstancesShown<'a> {
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
pub struct VaPage<'a> {
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
pub fn va(header: &Header<'_>, p: &VaPage<'_>) -> String {
    let va_id = escape(&p.licenses.virtual_account_id);
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">{}</a> › virtual account</p><h1>{}</h1>",
        escape(&p.account.name),
        escape(&p.licenses.virtual_account)
    );
    if let Some((kind, text)) = &p.flash {
        body.push_str(&flash(kind, text));
    }
    if let Some(secret) = &p.new_secret {
        body.push_str(&secret_card(
            "New registration token",
            "new-token",
            secret,
            "On the product: <code>license smart register idtoken TOKEN</code>",
        ));
    }

    // Licences.
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
            csrf_field(header.csrf)
        );
    }
    body.push_str("</section>");

    // Usage history.
    if !p.usage.is_empty() {
        body.push_str("<section class=\"card\"><h2>Usage, last 30 days</h2><div class=\"charts\">");
        for u in p.usage {
            body.push_str(&usage_chart(u));
        }
        body.push_str("</div></section>");
    }

    // Product instances, a page at a time.
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
            format!(
                "<form method=\"post\" action=\"/va/{va_id}/instances/{}/remove\" class=\"inline\" \
                 data-confirm=\"Remove {}? Its licences are released.\">{}<button type=\"submit\" class=\"danger\">Remove</button></form>",
                escape(&i.id),
                escape(&i.udi),
                csrf_field(header.csrf)
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

    // Tokens.
    body.push_str(
        "<section class=\"card\"><h2>Registration tokens</h2><table><thead><tr><th>Description</th>\
         <th>Created</th><th>Expires</th><th class=\"num\">Uses</th><th>Export-controlled</th><th>Status</th>\
         <th></th></tr></thead><tbody>",
    );
    for t in p.tokens {
        let revoke = if p.rights.revoke_token && t.status == TokenStatus::Active {
            format!(
                "<form method=\"post\" action=\"/va/{va_id}/tokens/{}/revoke\" class=\"inline\" \
                 data-confirm=\"Revoke this token?\">{}<button type=\"submit\" class=\"danger\">Revoke</button></form>",
                escape(&t.id),
                csrf_field(header.csrf)
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
            csrf_field(header.csrf),
            crate::tokens::MAX_EXPIRES_DAYS,
            crate::tokens::DEFAULT_EXPIRES_DAYS
        );
    }
    body.push_str("</section>");
    page(&p.licenses.virtual_account, Some(header), &body)
}

/// A SKU's daily usage as an SVG bar chart: one bar per day (red above what is purchased), a
/// dashed line at the purchased quantity, the scale and the first and last day labelled.
pub fn usage_chart(u: &smartlic_protocol::admin::SkuUsage) -> String {
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

/// Percent-encodes a query-string value (everything but unreserved characters).
pub fn query_value(s: &str) -> String {
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

/// The account's alert webhooks: the list with a remove button each, the form to add one, and a
/// just-added one's signing secret (shown this once).
pub fn webhooks(
    header: &Header<'_>,
    account: &AccountInfo,
    hooks: &[smartlic_protocol::admin::WebhookInfo],
    flash_message: Option<(&str, String)>,
    new_secret: Option<&str>,
) -> String {
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">{}</a> › webhooks</p><h1>Alert webhooks</h1>",
        escape(&account.name)
    );
    if let Some((kind, text)) = &flash_message {
        body.push_str(&flash(kind, text));
    }
    if let Some(secret) = new_secret {
        body.push_str(&secret_card(
            "Signing secret",
            "new-secret",
            secret,
            "Every delivery carries <code>X-Smartlic-Timestamp: T</code> and \
             <code>X-Smartlic-Signature: sha256=hex(HMAC-SHA256(secret, \"T.\" + body))</code>.",
        ));
    }
    body.push_str(
        "<section class=\"card\"><h2>Webhooks</h2><p class=\"hint\">Each alert of the account's virtual \
         accounts is POSTed once to every webhook, as JSON, and retried with back-off until it is answered 2xx.</p>\
         <table><thead><tr><th>URL</th><th>Added</th><th>By</th><th></th></tr></thead><tbody>",
    );
    for h in hooks {
        let _ = write!(
            body,
            "<tr><td><code>{url}</code></td><td>{}</td><td>{}</td><td>\
             <form method=\"post\" action=\"/webhooks/{}/remove\" class=\"inline\" \
             data-confirm=\"Remove the webhook to {url}?\">{}<button type=\"submit\" class=\"danger\">Remove</button></form></td></tr>",
            time(h.created_at),
            escape(&h.created_by),
            escape(&h.id),
            csrf_field(header.csrf),
            url = escape(&h.url),
        );
    }
    if hooks.is_empty() {
        body.push_str("<tr><td colspan=\"4\" class=\"empty\">No webhook yet: alerts show here only.</td></tr>");
    }
    let _ = write!(
        body,
        "</tbody></table><h3>Add a webhook</h3><form method=\"post\" action=\"/webhooks\" class=\"grid\">{}\
         <label>URL <input name=\"url\" type=\"url\" required maxlength=\"2000\" \
         placeholder=\"https://alerts.example.com/smartlic\"></label>\
         <button type=\"submit\">Add webhook</button></form></section>",
        csrf_field(header.csrf)
    );
    page("Webhooks", Some(header), &body)
}

/// How to use an API key, after one was shown.
const API_KEY_HINT: &str = "The admin CLI takes it as <code>--api-key KEY</code> or in \
     <code>SMARTLIC_API_KEY</code>; the REST API as <code>Authorization: Bearer KEY</code>.";

/// An API key just given to a user, shown this once.
pub struct NewKey<'a> {
    /// Whose key it is (e-mail).
    pub email: &'a str,
    /// The key.
    pub key: &'a str,
}

/// The account's users: e-mail, role, virtual account, portal log-in and status; for an SA
/// administrator (`manage`) a Disable/Enable, Remove and Rotate key button each (none to disable
/// or remove themselves: `me` is their user id), and a just-rotated key (shown this once).
pub fn users(
    header: &Header<'_>,
    account: &AccountInfo,
    users: &[smartlic_protocol::admin::UserInfo],
    me: &str,
    manage: bool,
    flash_message: Option<(&str, String)>,
    new_key: Option<NewKey<'_>>,
) -> String {
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">{}</a> › users</p><h1>Users</h1>",
        escape(&account.name)
    );
    if let Some((kind, text)) = &flash_message {
        body.push_str(&flash(kind, text));
    }
    if let Some(k) = &new_key {
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
    for u in users {
        let own = u.id == me;
        let mut actions = String::new();
        if manage {
            let id = escape(&u.id);
            let email = escape(&u.email);
            let form = |action: &str, confirm: Option<String>, label: &str, class: &str| {
                format!(
                    "<form method=\"post\" action=\"/users/{id}/{action}\" class=\"inline\"{}>{}\
                     <button type=\"submit\"{class}>{label}</button></form> ",
                    confirm.map(|c| format!(" data-confirm=\"{c}\"")).unwrap_or_default(),
                    csrf_field(header.csrf)
                )
            };
            if !own {
                if u.disabled {
                    actions.push_str(&form("enable", None, "Enable", ""));
                } else {
                    actions.push_str(&form(
                        "disable",
                        Some(format!(
                            "Disable {email}? Their API key and portal sessions stop at once."
                        )),
                        "Disable",
                        " class=\"danger\"",
                    ));
                }
            }
            actions.push_str(&form(
                "rotate-key",
                Some(format!(
                    "Give {email} a new API key? The current one stops working at once."
                )),
                "Rotate key",
                "",
            ));
            if !own {
                actions.push_str(&form(
                    "remove",
                    Some(format!("Remove {email}? This cannot be undone.")),
                    "Remove",
                    " class=\"danger\"",
                ));
            }
        }
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
    if users.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"empty\">No user.</td></tr>");
    }
    body.push_str("</tbody></table></section>");
    page("Users", Some(header), &body)
}

/// The page where any user rotates their own API key; the new key shown this once.
pub fn api_key(header: &Header<'_>, account: &AccountInfo, new_key: Option<&str>) -> String {
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">{}</a> › my API key</p><h1>My API key</h1>",
        escape(&account.name)
    );
    if let Some(key) = new_key {
        body.push_str(&flash(
            "info",
            "Your API key was replaced: the previous one stopped working.",
        ));
        body.push_str(&secret_card("Your new API key", "new-key", key, API_KEY_HINT));
    }
    let _ = write!(
        body,
        "<section class=\"card\"><h2>Rotate my API key</h2><p>Your API key lets the admin CLI and the REST API \
         act as you ({}). The manager keeps only its hash, so it cannot show the current one again. Rotating \
         gives you a new key, shown once; the current key stops working at once (your portal session goes on).</p>\
         <form method=\"post\" action=\"/account/key\" class=\"inline\" \
         data-confirm=\"Replace your API key? The current one stops working at once.\">{}\
         <button type=\"submit\">Rotate my API key</button></form></section>",
        escape(header.email),
        csrf_field(header.csrf)
    );
    page("My API key", Some(header), &body)
}

/// The account's event log, with its filter form and a CSV link for the same filter.
pub fn events(
    header: &Header<'_>,
    account: &AccountInfo,
    vas: &[VirtualAccountInfo],
    filter: &crate::admin::EventFilter,
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
    let csv_link = if query.is_empty() {
        "/events.csv".to_string()
    } else {
        format!("/events.csv?{}", query.join("&"))
    };
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
            "<p class=\"crumbs\"><a href=\"/\">{}</a> › event log</p><h1>Event log</h1>\
             <section class=\"card\"><form method=\"get\" action=\"/events\" class=\"grid\">\
             <label>Action starts with <input type=\"text\" name=\"action\" value=\"{}\" placeholder=\"token.\"></label>\
             <label>Actor <input type=\"text\" name=\"actor\" value=\"{}\" placeholder=\"operator\"></label>\
             <label>Virtual account <select name=\"va\">{va_options}</select></label>\
             <label>From <input type=\"date\" name=\"since\" value=\"{}\"></label>\
             <label>To <input type=\"date\" name=\"until\" value=\"{}\"></label>\
             <button type=\"submit\">Filter</button></form>\
             <p><a href=\"{}\" download>Export these events as CSV</a></p></section>\
             <section class=\"card\"><table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Virtual account</th>\
             <th>Detail</th><th>From</th></tr></thead><tbody>{rows}</tbody></table></section>",
            escape(&account.name),
            v(&filter.action),
            v(&filter.actor),
            v(&filter.since),
            v(&filter.until),
            escape(&csv_link)
        ),
    )
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
        let svg = usage_chart(&u);
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
