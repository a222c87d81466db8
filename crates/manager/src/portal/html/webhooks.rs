//! The account's alert webhooks.

use super::{Flash, Header};
use askama::Template;
use smartlic_protocol::admin::{AccountInfo, WebhookInfo};

/// The webhooks page.
#[derive(Template)]
#[template(path = "webhooks.html")]
pub(crate) struct Webhooks<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    account: &'a AccountInfo,
    hooks: &'a [WebhookInfo],
    flash: Flash<'a>,
    new_secret: Option<&'a str>,
}

/// The account's alert webhooks: the list with a remove button each, the form to add one, and a
/// just-added one's signing secret (shown this once).
pub(crate) fn webhooks<'a>(
    header: &'a Header<'a>,
    account: &'a AccountInfo,
    hooks: &'a [WebhookInfo],
    flash: Flash<'a>,
    new_secret: Option<&'a str>,
) -> Webhooks<'a> {
    Webhooks {
        title: "Webhooks",
        header: Some(header),
        csrf: header.csrf,
        account,
        hooks,
        flash,
        new_secret,
    }
}
