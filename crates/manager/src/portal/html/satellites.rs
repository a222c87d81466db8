//! Satellite managers in the portal: the parent's "Satellites" page of a Smart Account (the
//! satellites, the token of one just made shown once, the "Create a satellite" form, the "Answer a
//! request" paste) and this manager's "Satellite link" page (the link, the Link form, export,
//! import and sync).

use super::{Flash, Header};
use askama::Template;
use smartlic_protocol::admin::{AccountInfo, SatelliteInfo, SatelliteLinkInfo, VirtualAccountInfo};

/// Everything shown on an account's Satellites page.
pub(crate) struct SatellitesPage<'a> {
    /// The account.
    pub account: &'a AccountInfo,
    /// Its satellites, by name.
    pub satellites: &'a [SatelliteInfo],
    /// The virtual accounts a satellite may serve (the form's choice).
    pub vas: &'a [VirtualAccountInfo],
    /// A message on top (class, text).
    pub flash: Flash<'a>,
    /// The satellite just made and its token (shown only this once).
    pub created: Option<(String, String)>,
    /// What the create form had (VA id, name), kept when it is refused.
    pub kept: (&'a str, &'a str),
}

/// The Satellites page.
#[derive(Template)]
#[template(path = "satellites.html")]
pub(crate) struct Satellites<'a> {
    title: String,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    p: &'a SatellitesPage<'a>,
}

/// The Satellites page of an account.
pub(crate) fn satellites<'a>(header: &'a Header<'a>, p: &'a SatellitesPage<'a>) -> Satellites<'a> {
    Satellites {
        title: format!("Satellites of {}", p.account.name),
        header: Some(header),
        csrf: header.csrf,
        p,
    }
}

/// The Satellite link page: the link (none yet: only the Link form).
#[derive(Template)]
#[template(path = "satellite_link.html")]
pub(crate) struct SatelliteLink<'a> {
    title: &'static str,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    link: Option<&'a SatelliteLinkInfo>,
    flash: &'a Flash<'a>,
}

/// The Satellite link page of this manager.
pub(crate) fn satellite_link<'a>(
    header: &'a Header<'a>,
    link: Option<&'a SatelliteLinkInfo>,
    flash: &'a Flash<'a>,
) -> SatelliteLink<'a> {
    SatelliteLink {
        title: "Satellite link",
        header: Some(header),
        csrf: header.csrf,
        link,
        flash,
    }
}
