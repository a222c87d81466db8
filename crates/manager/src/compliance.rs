//! Licence arithmetic of a virtual account, as pure functions the tests can see: what is
//! purchased (deposits not past their end date), what a usage report changes, whether a SKU is
//! in compliance, and which licences a transfer moves.

use smartlic_protocol::Catalog;
use smartlic_protocol::admin::{LicenseEndDate, LicenseStatus, LicenseSummary};
use smartlic_protocol::wire::Compliance;
use std::collections::BTreeMap;

/// Licences of one SKU that share an end date (`None`: perpetual), net of transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lot {
    /// They stop counting at this time.
    pub end_date: Option<i64>,
    /// How many.
    pub quantity: i64,
}

/// Whether a lot still counts at `now`.
pub(crate) fn lot_counts(end_date: Option<i64>, now: i64) -> bool {
    end_date.is_none_or(|end| now < end)
}

/// Licences purchased: the lots still counting at `now`.
pub(crate) fn purchased(lots: &[Lot], now: i64) -> i64 {
    lots.iter()
        .filter(|l| lot_counts(l.end_date, now))
        .map(|l| l.quantity)
        .sum()
}

/// Status of a SKU in a virtual account.
pub(crate) fn sku_status(purchased: i64, in_use: i64) -> LicenseStatus {
    if in_use > purchased {
        LicenseStatus::Insufficient
    } else {
        LicenseStatus::Ok
    }
}

/// The compliance a product instance is told for one SKU: out of compliance when it uses the SKU
/// and the virtual account uses more of it than it purchased. An instance that does not use the
/// SKU is not out of compliance for it.
pub(crate) fn compliance(instance_count: i64, va_in_use: i64, va_purchased: i64) -> Compliance {
    if instance_count > 0 && va_in_use > va_purchased {
        Compliance::OutOfCompliance
    } else {
        Compliance::Authorized
    }
}

/// The overall answer: out of compliance if any entitlement is.
pub(crate) fn overall(statuses: impl IntoIterator<Item = Compliance>) -> Compliance {
    if statuses.into_iter().any(|c| c == Compliance::OutOfCompliance) {
        Compliance::OutOfCompliance
    } else {
        Compliance::Authorized
    }
}

/// How one SKU's count of one instance changes with a new report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageChange {
    /// SKU.
    pub sku: String,
    /// The instance's new count (0: the row goes).
    pub new_count: i64,
    /// new − old, added to the virtual account's total.
    pub delta: i64,
}

/// What a report that replaces `old` with `new` changes, in SKU order (the lock order of the
/// per-VA totals). SKUs whose count does not change are left out.
pub(crate) fn usage_changes(old: &[(String, i64)], new: &[(String, i64)]) -> Vec<UsageChange> {
    let mut by_sku: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (sku, n) in old {
        by_sku.entry(sku).or_default().0 += n;
    }
    for (sku, n) in new {
        by_sku.entry(sku).or_default().1 += n;
    }
    by_sku
        .into_iter()
        .filter(|(_, (o, n))| o != n)
        .map(|(sku, (o, n))| UsageChange {
            sku: sku.to_string(),
            new_count: n,
            delta: n - o,
        })
        .collect()
}

/// Why a transfer cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shortfall {
    /// Licences the source could give (purchased − in use, at least 0).
    pub available: i64,
}

/// Which licences a transfer of `quantity` moves out of a virtual account with `lots` and
/// `in_use` licences in use: refused if the source would go below zero available (available =
/// purchased − in use). Licences that end soonest go first (perpetual ones last), so that each
/// moved licence keeps its end date and the source keeps its longest-lived ones.
pub(crate) fn plan_transfer(lots: &[Lot], in_use: i64, quantity: i64, now: i64) -> Result<Vec<Lot>, Shortfall> {
    let available = (purchased(lots, now) - in_use).max(0);
    if quantity <= 0 || quantity > available {
        return Err(Shortfall { available });
    }
    let mut counting: Vec<Lot> = lots
        .iter()
        .copied()
        .filter(|l| lot_counts(l.end_date, now) && l.quantity > 0)
        .collect();
    counting.sort_by_key(|l| (l.end_date.is_none(), l.end_date));
    let mut left = quantity;
    let mut plan = Vec::new();
    for lot in counting {
        if left == 0 {
            break;
        }
        let take = lot.quantity.min(left);
        plan.push(Lot {
            end_date: lot.end_date,
            quantity: take,
        });
        left -= take;
    }
    if left > 0 {
        // Lots and totals disagree (cannot happen with well-formed rows): refuse, change nothing.
        return Err(Shortfall { available });
    }
    Ok(plan)
}

/// The licence list of a virtual account: one entry per SKU purchased or in use, catalog order
/// first (then any SKU the catalog no longer has, by name).
pub(crate) fn summarize(
    catalog: &Catalog,
    lots: &[(String, Lot)],
    in_use: &[(String, i64)],
    now: i64,
) -> Vec<LicenseSummary> {
    let mut per_sku: BTreeMap<String, (Vec<Lot>, i64)> = BTreeMap::new();
    for (sku, lot) in lots {
        per_sku.entry(sku.clone()).or_default().0.push(*lot);
    }
    for (sku, n) in in_use {
        per_sku.entry(sku.clone()).or_default().1 += n;
    }
    let order = |sku: &str| {
        catalog
            .service
            .iter()
            .map(|s| s.sku.as_str())
            .chain(catalog.feature.iter().map(|f| f.sku.as_str()))
            .position(|s| s == sku)
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<LicenseSummary> = per_sku
        .into_iter()
        .filter_map(|(sku, (lots, in_use))| {
            let bought = purchased(&lots, now);
            let mut end_dates: Vec<LicenseEndDate> = lots
                .iter()
                .filter(|l| l.quantity > 0 && lot_counts(l.end_date, now))
                .filter_map(|l| {
                    l.end_date.map(|d| LicenseEndDate {
                        date: smartlic_protocol::time::format_date(d),
                        quantity: l.quantity,
                    })
                })
                .collect();
            end_dates.sort_by(|a, b| a.date.cmp(&b.date));
            if bought == 0 && in_use == 0 {
                return None;
            }
            let (kind, description) = match catalog.entitlement(&sku) {
                Some(smartlic_protocol::Entitlement::Service(s)) => ("counting", s.description.clone()),
                Some(smartlic_protocol::Entitlement::Feature(f)) => ("feature", f.description.clone()),
                None => ("unknown", String::new()),
            };
            Some(LicenseSummary {
                status: sku_status(bought, in_use),
                balance: bought - in_use,
                purchased: bought,
                in_use,
                kind: kind.into(),
                description,
                end_dates,
                sku,
            })
        })
        .collect();
    out.sort_by(|a, b| order(&a.sku).cmp(&order(&b.sku)).then_with(|| a.sku.cmp(&b.sku)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn lot(end: Option<i64>, q: i64) -> Lot {
        Lot {
            end_date: end,
            quantity: q,
        }
    }

    #[test]
    fn purchased_counts_only_lots_not_past_their_end() {
        let lots = [lot(None, 2), lot(Some(10 * DAY), 3), lot(Some(5 * DAY), 4)];
        assert_eq!(purchased(&lots, 0), 9);
        assert_eq!(purchased(&lots, 5 * DAY - 1), 9);
        assert_eq!(purchased(&lots, 5 * DAY), 5, "ends at the first second of its end date");
        assert_eq!(purchased(&lots, 11 * DAY), 2);
    }

    #[test]
    fn compliance_is_per_va_and_only_for_users_of_the_sku() {
        assert_eq!(compliance(1, 1, 1), Compliance::Authorized);
        assert_eq!(compliance(1, 2, 1), Compliance::OutOfCompliance);
        assert_eq!(compliance(0, 2, 1), Compliance::Authorized);
        assert_eq!(compliance(2, 2, 0), Compliance::OutOfCompliance);
        assert_eq!(
            overall([Compliance::Authorized, Compliance::OutOfCompliance]),
            Compliance::OutOfCompliance
        );
        assert_eq!(overall([]), Compliance::Authorized);
        assert_eq!(sku_status(1, 2), LicenseStatus::Insufficient);
        assert_eq!(sku_status(2, 2), LicenseStatus::Ok);
    }

    #[test]
    fn usage_changes_are_deltas_in_sku_order() {
        let old = vec![("B".to_string(), 2), ("A".to_string(), 1), ("C".to_string(), 4)];
        let new = vec![("C".to_string(), 4), ("A".to_string(), 3), ("D".to_string(), 1)];
        let ch = usage_changes(&old, &new);
        assert_eq!(
            ch,
            vec![
                UsageChange {
                    sku: "A".into(),
                    new_count: 3,
                    delta: 2
                },
                UsageChange {
                    sku: "B".into(),
                    new_count: 0,
                    delta: -2
                },
                UsageChange {
                    sku: "D".into(),
                    new_count: 1,
                    delta: 1
                },
            ]
        );
        assert!(usage_changes(&new, &new).is_empty());
    }

    #[test]
    fn transfer_takes_soonest_ending_first_and_never_below_zero_available() {
        let lots = [
            lot(None, 2),
            lot(Some(30 * DAY), 1),
            lot(Some(10 * DAY), 1),
            lot(Some(DAY), 5),
        ];
        let now = 2 * DAY; // the 5 ending on day 1 no longer count
        assert_eq!(purchased(&lots, now), 4);
        assert_eq!(plan_transfer(&lots, 1, 4, now), Err(Shortfall { available: 3 }));
        assert_eq!(plan_transfer(&lots, 0, 0, now), Err(Shortfall { available: 4 }));
        assert_eq!(
            plan_transfer(&lots, 1, 3, now).unwrap(),
            vec![lot(Some(10 * DAY), 1), lot(Some(30 * DAY), 1), lot(None, 1)]
        );
        assert_eq!(plan_transfer(&lots, 5, 1, now), Err(Shortfall { available: 0 }));
    }

    #[test]
    fn summary_follows_catalog_order_and_flags_shortage() {
        let c = Catalog::staros();
        let lots = vec![
            ("ASR5K-00-SG10".to_string(), lot(None, 1)),
            ("ASR5K-00-PW10GTWY".to_string(), lot(Some(100 * DAY), 2)),
            ("ASR5K-00-PW10GTWY".to_string(), lot(Some(DAY), 7)),
        ];
        let in_use = vec![
            ("ASR5K-00-PW10GTWY".to_string(), 3),
            ("ASR5K-00-GN01REC".to_string(), 1),
        ];
        let s = summarize(&c, &lots, &in_use, 2 * DAY);
        let skus: Vec<_> = s.iter().map(|l| l.sku.as_str()).collect();
        assert_eq!(skus, ["ASR5K-00-PW10GTWY", "ASR5K-00-SG10", "ASR5K-00-GN01REC"]);
        assert_eq!((s[0].purchased, s[0].in_use, s[0].balance), (2, 3, -1));
        assert_eq!(s[0].status, LicenseStatus::Insufficient);
        assert_eq!(
            s[0].end_dates,
            vec![LicenseEndDate {
                date: "1970-04-11".into(),
                quantity: 2
            }]
        );
        assert_eq!(s[0].kind, "counting");
        assert_eq!(s[2].kind, "feature");
        assert_eq!(s[2].status, LicenseStatus::Insufficient);
        assert_eq!(s[1].status, LicenseStatus::Ok);
    }
}
