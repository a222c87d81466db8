//! A virtual account's licence reservations: the authorization code just made (read-only, to
//! copy to the node), the reservations of the VA, the "Reserve licences" form (a request code, a
//! count per SKU of the VA, the universal licence when the account allows it) and the Return form.

use super::{Header, csrf_field, escape, heading, page, time};
use smartlic_protocol::admin::{AccountInfo, LicenseList, ReservationInfo, ReservationPolicy, ReservationType};

/// Everything shown on a VA's reservation page.
pub(crate) struct ReservationsPage<'a> {
    /// Account (its reservation setting decides the form).
    pub account: &'a AccountInfo,
    /// The VA's licences (the SKUs of the form, with their balance).
    pub licenses: &'a LicenseList,
    /// The VA's reservations, newest first.
    pub reservations: &'a [ReservationInfo],
    /// A message on top (class, text).
    pub flash: Option<(&'a str, String)>,
    /// An authorization code just made.
    pub authorization_code: Option<String>,
    /// The request code typed, kept when the form is refused.
    pub request_code: &'a str,
}

/// The reservation page of a virtual account.
pub(crate) fn reservations(header: &Header<'_>, p: &ReservationsPage<'_>) -> String {
    let va_id = escape(&p.licenses.virtual_account_id);
    let mut body = heading(
        &p.account.name,
        &format!(
            "<a href=\"/va/{va_id}\">{}</a> › reservations",
            escape(&p.licenses.virtual_account)
        ),
        &format!("Licence reservations of {}", p.licenses.virtual_account),
        p.flash.as_ref(),
    );
    if let Some(code) = &p.authorization_code {
        body.push_str(&format!(
            "<section class=\"card secret\"><h2>Authorization code</h2>\
             <p>Install it on the node: <code>license smart reservation install \"CODE\"</code>.</p>\
             <textarea id=\"authorization-code\" readonly rows=\"6\" cols=\"80\">{}</textarea>\
             <p><button type=\"button\" data-copy=\"authorization-code\">Copy</button></p></section>",
            escape(code)
        ));
    }
    list_card(&mut body, p);
    reserve_card(&mut body, header.csrf, &va_id, p);
    body.push_str(&format!(
        "<section class=\"card\"><h2>Return a reservation</h2>\
         <p>Paste the node's return code (<code>license smart reservation return local</code>): the \
         reservation's licences are released.</p>\
         <form method=\"post\" action=\"/va/{va_id}/reservations/return\">{}\
         <label>Return code <textarea name=\"return_code\" rows=\"4\" cols=\"80\" required></textarea></label>\
         <button type=\"submit\">Return</button></form></section>",
        csrf_field(header.csrf)
    ));
    page(
        &format!("Reservations of {}", p.licenses.virtual_account),
        Some(header),
        &body,
    )
}

fn list_card(body: &mut String, p: &ReservationsPage<'_>) {
    body.push_str("<section class=\"card\"><h2>Reservations</h2>");
    if p.reservations.is_empty() {
        body.push_str("<p>No reservations.</p></section>");
        return;
    }
    body.push_str(
        "<table><thead><tr><th>ID</th><th>UDI</th><th>Kind</th><th>Licences</th><th>Status</th>\
         <th>Authorization</th><th>Expires</th><th>Created</th></tr></thead><tbody>",
    );
    for r in p.reservations {
        let licences = if r.kind == ReservationType::Universal {
            "ALL".to_string()
        } else {
            r.licenses
                .iter()
                .map(|(s, n)| format!("{}={n}", escape(s)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let confirmed = match r.confirmed_seq {
            Some(c) => format!("{} (confirmed {c})", r.seq),
            None => r.seq.to_string(),
        };
        body.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{licences}</td><td>{}</td><td>{confirmed}</td>\
             <td>{}</td><td>{}</td></tr>",
            escape(&r.id),
            escape(&r.udi),
            r.kind,
            r.status,
            r.expires_at.map_or_else(|| "never".to_string(), time),
            time(r.created_at)
        ));
    }
    body.push_str("</tbody></table></section>");
}

fn reserve_card(body: &mut String, csrf: &str, va_id: &str, p: &ReservationsPage<'_>) {
    body.push_str("<section class=\"card\"><h2>Reserve licences</h2>");
    if p.account.reservation == ReservationPolicy::None {
        body.push_str(
            "<p>This Smart Account may not reserve licences: the operator allows reservation per \
             account.</p></section>",
        );
        return;
    }
    let mut counts = String::new();
    for l in &p.licenses.licenses {
        counts.push_str(&format!(
            "<label>{} <small>({} available)</small> <input type=\"number\" min=\"0\" name=\"qty.{}\" value=\"\"></label>",
            escape(&l.sku),
            l.balance.max(0),
            escape(&l.sku)
        ));
    }
    let universal = if p.account.reservation == ReservationPolicy::Universal {
        "<label><input type=\"checkbox\" name=\"universal\" value=\"1\"> Universal licence (PLR: \
         everything, no counts)</label>"
    } else {
        ""
    };
    body.push_str(&format!(
        "<p>Paste the node's request code (<code>license smart reservation request local</code>) and \
         choose what to reserve: the licences count as in use at once.</p>\
         <form method=\"post\" action=\"/va/{va_id}/reservations\" class=\"grid\">{}\
         <label>Request code <textarea name=\"request_code\" rows=\"4\" cols=\"80\" required>{}</textarea></label>\
         {counts}{universal}<label>Expires (YYYY-MM-DD, optional) <input name=\"expires\"></label>\
         <button type=\"submit\">Reserve</button></form></section>",
        csrf_field(csrf),
        escape(p.request_code)
    ));
}
