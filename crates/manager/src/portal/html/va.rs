//! A virtual account's page: licences (and the transfer form), usage charts, product instances
//! a page at a time, registration tokens (and the new-token form).

use super::{Flash, Header};
use askama::Template;
use smartlic_protocol::admin::{
    AccountInfo, InstanceInfo, LicenseList, LicenseStatus, LicenseSummary, SkuUsage, TokenInfo, TokenStatus,
    VirtualAccountInfo,
};

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

impl InstancesShown<'_> {
    /// How many are shown, for the card's title: nothing, all of them, or `N shown of M`.
    fn count(&self) -> String {
        if self.total == 0 {
            String::new()
        } else if self.first && self.next.is_none() {
            self.total.to_string()
        } else {
            format!("{} shown of {}", self.page.len(), self.total)
        }
    }
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
    pub usage: &'a [SkuUsage],
    /// Virtual accounts licences may move to (empty: no transfer form).
    pub transfer_targets: &'a [VirtualAccountInfo],
    /// A message on top (class, text).
    pub flash: Flash<'a>,
    /// A token secret just created, shown this once.
    pub new_secret: Option<String>,
}

/// A virtual account's page.
#[derive(Template)]
#[template(path = "va.html")]
pub(crate) struct Va<'a> {
    title: &'a str,
    header: Option<&'a Header<'a>>,
    csrf: &'a str,
    account: &'a AccountInfo,
    licenses: &'a LicenseList,
    instances: &'a InstancesShown<'a>,
    tokens: &'a [TokenInfo],
    rights: &'a VaRights,
    charts: Vec<UsageChart<'a>>,
    transfer_targets: &'a [VirtualAccountInfo],
    flash: &'a Flash<'a>,
    new_secret: &'a Option<String>,
}

impl Va<'_> {
    /// The licences with some left to transfer.
    fn movable(&self) -> Vec<&LicenseSummary> {
        self.licenses.licenses.iter().filter(|l| l.balance > 0).collect()
    }
}

/// A virtual account's page for the user of `header`.
pub(crate) fn va<'a>(header: &'a Header<'a>, p: &'a VaPage<'a>) -> Va<'a> {
    Va {
        title: &p.licenses.virtual_account,
        header: Some(header),
        csrf: header.csrf,
        account: p.account,
        licenses: p.licenses,
        instances: &p.instances,
        tokens: p.tokens,
        rights: &p.rights,
        charts: p.usage.iter().map(UsageChart::new).collect(),
        transfer_targets: p.transfer_targets,
        flash: &p.flash,
        new_secret: &p.new_secret,
    }
}

/// Width of a usage chart.
const W: f64 = 480.0;
/// Height of a usage chart.
const H: f64 = 120.0;
/// Room on the left of a usage chart, for the scale.
const LEFT: f64 = 36.0;
/// Room under a usage chart, for the days.
const BOTTOM: f64 = 18.0;

/// One day's bar of a usage chart.
struct Bar<'a> {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    over: bool,
    day: &'a str,
    in_use: i64,
}

/// The dashed line of what is purchased, and where its label goes.
struct PurchasedLine {
    y: f64,
    label_y: f64,
    quantity: i64,
}

/// A SKU's daily usage as an SVG bar chart: one bar per day (red above what is purchased), a
/// dashed line at the purchased quantity, the scale and the first and last day labelled.
#[derive(Template)]
#[template(path = "usage_chart.html")]
pub(super) struct UsageChart<'a> {
    sku: &'a str,
    description: &'a str,
    base: f64,
    label_x: f64,
    top: i64,
    top_y: f64,
    bars: Vec<Bar<'a>>,
    purchased: Option<PurchasedLine>,
    first_day: &'a str,
    last_day: &'a str,
}

impl<'a> UsageChart<'a> {
    /// The chart of `u`.
    pub(super) fn new(u: &'a SkuUsage) -> UsageChart<'a> {
        let n = u.days.len().max(1) as f64;
        let top = u
            .days
            .iter()
            .map(|p| p.in_use)
            .max()
            .unwrap_or(0)
            .max(u.purchased)
            .max(1);
        let base = H - BOTTOM;
        let plot_h = base - 6.0;
        let y = |v: i64| base - v as f64 / top as f64 * plot_h;
        let slot = (W - LEFT) / n;
        let bars = u
            .days
            .iter()
            .enumerate()
            .filter(|(_, p)| p.in_use > 0)
            .map(|(i, p)| Bar {
                x: LEFT + i as f64 * slot + slot * 0.15,
                y: y(p.in_use),
                width: slot * 0.7,
                height: base - y(p.in_use),
                over: p.in_use > u.purchased,
                day: &p.day,
                in_use: p.in_use,
            })
            .collect();
        let purchased = (u.purchased > 0).then(|| {
            let py = y(u.purchased);
            PurchasedLine {
                y: py,
                // Above the line, or below it when the line runs along the top.
                label_y: if py < 14.0 { py + 11.0 } else { py - 3.0 },
                quantity: u.purchased,
            }
        });
        UsageChart {
            sku: &u.sku,
            description: &u.description,
            base,
            label_x: LEFT - 4.0,
            top,
            top_y: y(top) + 8.0,
            bars,
            purchased,
            first_day: u.days.first().map_or("", |p| p.day.as_str()),
            last_day: u.days.last().map_or("", |p| p.day.as_str()),
        }
    }
}
