//! The account's alert webhooks.

use super::{Header, button_form, csrf_field, escape, heading, page, secret_card, time};
use smartlic_protocol::admin::AccountInfo;
use std::fmt::Write;

/// The account's alert webhooks: the list with a remove button each, the form to add one, and a
/// just-added one's signing secret (shown this once).
pub(crate) fn webhooks(
    header: &Header<'_>,
    account: &AccountInfo,
    hooks: &[smartlic_protocol::admin::WebhookInfo],
    flash_message: Option<(&str, String)>,
    new_secret: Option<&str>,
) -> String {
    let mut body = heading(&account.name, "webhooks", "Alert webhooks", flash_message.as_ref());
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
        let url = escape(&h.url);
        let remove = button_form(
            &format!("/webhooks/{}/remove", escape(&h.id)),
            Some(&format!("Remove the webhook to {url}?")),
            header.csrf,
            "Remove",
            " class=\"danger\"",
        );
        let _ = write!(
            body,
            "<tr><td><code>{url}</code></td><td>{}</td><td>{}</td><td>{remove}</td></tr>",
            time(h.created_at),
            escape(&h.created_by),
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
