//! The alerts the Smart Software Manager raises about a virtual account, as a pure function of
//! its licence lots, its usage and its product instances at a time: Insufficient Licenses,
//! Licenses Expiring (at 90, 60, 30, 14, 7, 3 and 1 days before an end date: the alert names the
//! nearest of those marks), Licenses Expired (in the last 90 days), Product Instance Failed to
//! Connect (no contact for 30 days), Product Instance Failed to Renew and was Removed (the
//! manager removed it when its ID certificate expired; for 30 days), Usage Report Refused: Over
//! Platform Capacity (a product instance reported more than its platform can carry, which only a
//! forged or broken device does; for 30 days), Satellite Not Synchronized (a satellite
//! manager and its parent have not exchanged for 30 days; raised on both sides). Computed when asked, so they are always current and
//! several managers on one database agree on them.
//!
//! [`crate::webhooks`] delivers them to the accounts' signed webhooks.

use crate::compliance::{Lot, lot_counts};
use smartlic_protocol::admin::AlertInfo;
use smartlic_protocol::time::{DAY, format_date};

/// The marks before an end date at which Licenses Expiring is raised, nearest first.
pub(crate) const EXPIRY_MARKS: [i64; 7] = [1, 3, 7, 14, 30, 60, 90];
/// How long an expired lot is still reported.
pub(crate) const EXPIRED_SHOWN_DAYS: i64 = 90;
/// Days without contact before Product Instance Failed to Connect.
pub(crate) const FAILED_TO_CONNECT_DAYS: i64 = 30;

/// What the alerts of one virtual account are computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VaFacts<'a> {
    /// Virtual account name.
    pub va: &'a str,
    /// Licence lots per SKU (all, expired ones included).
    pub lots: &'a [(String, Lot)],
    /// Licences in use per SKU.
    pub in_use: &'a [(String, i64)],
    /// Product instances (those silent for [`FAILED_TO_CONNECT_DAYS`] at least; others are
    /// ignored): hostname and last contact.
    pub instances: &'a [(String, i64)],
    /// Instances the manager removed because they failed to renew: (instance id, when, the
    /// event's detail), in the last [`REMOVED_SHOWN_DAYS`].
    pub removed: &'a [(String, i64, String)],
    /// Instances whose usage report was refused as beyond their platform's capacity: (instance
    /// id, when, the event's detail), the latest per instance, in the last
    /// [`OVER_CAPACITY_SHOWN_DAYS`].
    pub over_capacity: &'a [(String, i64, String)],
    /// Satellite exchanges of the VA: (who, for the message — `the parent manager` on a
    /// satellite, `satellite NAME` on a parent —, the last exchange, or the link's making if it
    /// never exchanged). Raises an alert once silent for [`SATELLITE_SILENT_DAYS`].
    pub exchanges: &'a [(String, i64)],
}

/// Days without a satellite exchange before Satellite Not Synchronized.
pub(crate) const SATELLITE_SILENT_DAYS: i64 = 30;

/// How long a usage report refused as over capacity is reported.
pub(crate) const OVER_CAPACITY_SHOWN_DAYS: i64 = 30;

/// How long a removal for failing to renew is reported.
pub(crate) const REMOVED_SHOWN_DAYS: i64 = 30;

/// The nearest expiry mark at or beyond `days_left` (`None` past 90 days).
pub(crate) fn expiry_mark(days_left: i64) -> Option<i64> {
    EXPIRY_MARKS.iter().copied().find(|m| days_left <= *m)
}

/// The alerts of one virtual account at `now`, most severe first.
// Long: one arm per alert kind of the seed, read in the order the portal shows them.
pub(crate) fn va_alerts(f: &VaFacts<'_>, now: i64) -> Vec<AlertInfo> {
    let mut out = Vec::new();
    let alert = |key: String, kind: &str, severity: &str, subject: &str, message: String, at: i64| AlertInfo {
        key,
        kind: kind.into(),
        severity: severity.into(),
        virtual_account: f.va.into(),
        subject: subject.into(),
        message,
        at,
    };
    // Insufficient: in use beyond the lots still counting.
    for (sku, used) in f.in_use {
        let purchased: i64 = f
            .lots
            .iter()
            .filter(|(s, l)| s == sku && lot_counts(l.end_date, now))
            .map(|(_, l)| l.quantity)
            .sum();
        if *used > purchased {
            out.push(alert(
                format!("insufficient|{}|{sku}", f.va),
                "Insufficient Licenses",
                "critical",
                sku,
                format!("{used} {sku} in use, {purchased} purchased: {} short", used - purchased),
                now,
            ));
        }
    }
    for (sku, lot) in f.lots {
        let Some(end) = lot.end_date else { continue };
        if lot.quantity <= 0 {
            continue;
        }
        if end > now {
            let days_left = (end - now + DAY - 1) / DAY;
            if let Some(mark) = expiry_mark(days_left) {
                out.push(alert(
                    format!("expiring|{}|{sku}|{end}|{mark}", f.va),
                    "Licenses Expiring",
                    if mark <= 7 { "critical" } else { "warning" },
                    sku,
                    format!(
                        "{} {sku} expire on {} (in {days_left} day{}; {mark}-day notice)",
                        lot.quantity,
                        format_date(end),
                        if days_left == 1 { "" } else { "s" }
                    ),
                    end,
                ));
            }
        } else if now - end <= EXPIRED_SHOWN_DAYS * DAY {
            out.push(alert(
                format!("expired|{}|{sku}|{end}", f.va),
                "Licenses Expired",
                "warning",
                sku,
                format!("{} {sku} expired on {}", lot.quantity, format_date(end)),
                end,
            ));
        }
    }
    for (host, last) in f.instances {
        let silent = now - last;
        if silent >= FAILED_TO_CONNECT_DAYS * DAY {
            out.push(alert(
                format!("silent|{}|{host}|{last}", f.va),
                "Product Instance Failed to Connect",
                "warning",
                host,
                format!(
                    "{host} has not contacted the license manager for {} days (last on {})",
                    silent / DAY,
                    format_date(*last)
                ),
                last + FAILED_TO_CONNECT_DAYS * DAY,
            ));
        }
    }
    for (who, last) in f.exchanges {
        let silent = now - last;
        if silent >= SATELLITE_SILENT_DAYS * DAY {
            out.push(alert(
                format!("satellite-silent|{}|{who}|{last}", f.va),
                "Satellite Not Synchronized",
                "warning",
                who,
                format!(
                    "no exchange with {who} for {} days (last on {}): licences and usage may be stale",
                    silent / DAY,
                    format_date(*last)
                ),
                last + SATELLITE_SILENT_DAYS * DAY,
            ));
        }
    }
    // The critical alerts of an instance: (key prefix, kind, instances, what happened to each
    // given its detail and date).
    type Critical<'a> = (&'a str, &'a str, &'a [(String, i64, String)], fn(&str, &str) -> String);
    let critical: [Critical<'_>; 2] = [
        (
            "removed",
            "Product Instance Failed to Renew and was Removed",
            f.removed,
            |detail, on| {
                format!(
                    "the product instance did not renew its registration before its ID certificate expired; {detail} on {on}"
                )
            },
        ),
        (
            "over-capacity",
            "Usage Report Refused: Over Platform Capacity",
            f.over_capacity,
            |detail, on| {
                format!(
                    "a usage report claimed more than the product's platform can carry and was refused \
                     (a forged or faulty device?): {detail}, on {on}"
                )
            },
        ),
    ];
    for (prefix, kind, instances, explain) in critical {
        for (id, at, detail) in instances {
            let message = explain(detail, &format_date(*at));
            out.push(alert(
                format!("{prefix}|{}|{id}", f.va),
                kind,
                "critical",
                id,
                message,
                *at,
            ));
        }
    }
    out.sort_by_key(|a| (a.severity != "critical", a.at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const PW: &str = "ASR5K-00-PW10GTWY";

    fn lot(q: i64, end: Option<i64>) -> (String, Lot) {
        (
            PW.to_string(),
            Lot {
                end_date: end,
                quantity: q,
            },
        )
    }

    #[test]
    fn marks_are_the_nearest_notice() {
        assert_eq!(expiry_mark(1), Some(1));
        assert_eq!(expiry_mark(2), Some(3));
        assert_eq!(expiry_mark(8), Some(14));
        assert_eq!(expiry_mark(90), Some(90));
        assert_eq!(expiry_mark(91), None);
    }

    #[test]
    fn each_alert_when_it_holds_and_not_before() {
        let lots = [
            lot(2, None),
            lot(3, Some(NOW + 10 * DAY)),
            lot(1, Some(NOW + 120 * DAY)),
            lot(4, Some(NOW - 5 * DAY)),
            lot(5, Some(NOW - 100 * DAY)),
        ];
        let in_use = [(PW.to_string(), 7)];
        let instances = [("fresh".to_string(), NOW - DAY), ("silent".to_string(), NOW - 31 * DAY)];
        let a = va_alerts(
            &VaFacts {
                va: "core",
                lots: &lots,
                in_use: &in_use,
                instances: &instances,
                removed: &[],
                over_capacity: &[],
                exchanges: &[],
            },
            NOW,
        );
        let kinds: Vec<(&str, &str)> = a.iter().map(|x| (x.kind.as_str(), x.subject.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                ("Insufficient Licenses", PW),
                ("Licenses Expired", PW),
                ("Product Instance Failed to Connect", "silent"),
                ("Licenses Expiring", PW),
            ],
            "{a:#?}"
        );
        // 7 in use; 2 perpetual + 3 + 1 still counting = 6 (the expired lots no longer count).
        assert!(
            a[0].message
                .contains("7 ASR5K-00-PW10GTWY in use, 6 purchased: 1 short"),
            "{}",
            a[0].message
        );
        assert!(a[3].message.contains("in 10 days; 14-day notice"), "{}", a[3].message);
        assert_eq!(a[3].severity, "warning");
        assert!(a[2].message.contains("for 31 days"), "{}", a[2].message);

        // Enough licences, nothing near its end, everyone in touch: no alert.
        let quiet = va_alerts(
            &VaFacts {
                va: "core",
                lots: &[lot(10, None), lot(1, Some(NOW + 91 * DAY))],
                in_use: &in_use,
                instances: &[("fresh".to_string(), NOW - 29 * DAY)],
                removed: &[],
                over_capacity: &[],
                exchanges: &[],
            },
            NOW,
        );
        assert!(quiet.is_empty(), "{quiet:#?}");
    }

    #[test]
    fn a_satellite_exchange_silent_for_30_days_raises_an_alert() {
        let facts = |last: i64| {
            let exchanges = [("the parent manager".to_string(), last)];
            va_alerts(
                &VaFacts {
                    va: "core",
                    lots: &[lot(10, None)],
                    in_use: &[],
                    instances: &[],
                    removed: &[],
                    over_capacity: &[],
                    exchanges: &exchanges,
                },
                NOW,
            )
        };
        assert!(facts(NOW - 29 * DAY).is_empty());
        let a = facts(NOW - 31 * DAY);
        assert_eq!(a.len(), 1, "{a:#?}");
        assert_eq!(a[0].kind, "Satellite Not Synchronized");
        assert_eq!(a[0].subject, "the parent manager");
        assert_eq!(a[0].at, NOW - DAY);
        assert!(a[0].message.contains("for 31 days"), "{}", a[0].message);
    }
}
