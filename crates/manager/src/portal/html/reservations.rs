//! A virtual account's licence reservations: the authorization code just made (read-only, to
//! copy to the node), the reservations of the VA, the "Reserve licences" form (a request code, a
//! count per SKU of the VA, the universal licence when the account allows it) and the Return form.

use super::{Flash, Header};
use askama::Template;
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
    pub flash: Flash<'a>,
    /// An authorization code just made.
    pub authorization_code: Option<String>,
    /// The request code typed, kept when the form is refused.
    pub request_code: &'a str,
}

/// The reservation page.
#[derive(Template)]
#[template(path = "reservations.html")]
pub(crate) struct Reservations<'a> {
    title: String,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    account: &'a AccountInfo,
    licenses: &'a LicenseList,
    reservations: &'a [ReservationInfo],
    flash: &'a Flash<'a>,
    authorization_code: &'a Option<String>,
    request_code: &'a str,
}

/// The reservation page of a virtual account.
pub(crate) fn reservations<'a>(header: &'a Header<'a>, p: &'a ReservationsPage<'a>) -> Reservations<'a> {
    Reservations {
        title: format!("Reservations of {}", p.licenses.virtual_account),
        header: Some(header),
        csrf: header.csrf,
        account: p.account,
        licenses: p.licenses,
        reservations: p.reservations,
        flash: &p.flash,
        authorization_code: &p.authorization_code,
        request_code: p.request_code,
    }
}
