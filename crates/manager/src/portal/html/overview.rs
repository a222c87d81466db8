//! The account overview: alerts and virtual accounts.

use super::Header;
use askama::Template;
use smartlic_protocol::admin::{AccountInfo, AlertInfo, LicenseList, LicenseStatus, VirtualAccountInfo};

/// One virtual account on the overview: its info and licence list.
pub(crate) struct VaSummary {
    /// The virtual account.
    pub va: VirtualAccountInfo,
    /// Its licences.
    pub licenses: LicenseList,
}

impl VaSummary {
    /// How many of its SKUs are short.
    fn short(&self) -> usize {
        self.licenses
            .licenses
            .iter()
            .filter(|l| l.status == LicenseStatus::Insufficient)
            .count()
    }
}

/// The account overview.
#[derive(Template)]
#[template(path = "overview.html")]
pub(crate) struct Overview<'a> {
    title: &'a str,
    header: Option<&'a Header<'a>>,
    account: &'a AccountInfo,
    vas: &'a [VaSummary],
    alerts: &'a [AlertInfo],
}

/// The account overview: `alerts`, then the virtual accounts `vas`.
pub(crate) fn overview<'a>(
    header: &'a Header<'a>,
    account: &'a AccountInfo,
    vas: &'a [VaSummary],
    alerts: &'a [AlertInfo],
) -> Overview<'a> {
    Overview {
        title: &account.name,
        header: Some(header),
        account,
        vas,
        alerts,
    }
}
