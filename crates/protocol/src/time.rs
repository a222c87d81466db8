//! Time as the protocol carries it: whole seconds since the Unix epoch (UTC), and the fixed
//! lengths of the licensing rules.

use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Validity of a device ID certificate (365 days).
pub const ID_CERT_VALIDITY: i64 = 365 * DAY;
/// The ID certificate is renewed automatically this long after it was issued (180 days).
pub const ID_RENEW_AFTER: i64 = 180 * DAY;
/// Validity of an authorization (90 days).
pub const AUTH_VALIDITY: i64 = 90 * DAY;
/// The authorization is renewed automatically this long after it was granted (30 days).
pub const AUTH_RENEW_AFTER: i64 = 30 * DAY;
/// How far a request's timestamp may be from the manager's clock.
pub const MAX_CLOCK_SKEW: i64 = 15 * 60;

/// Formats seconds since the epoch like IOS-XE: `Mar 13 08:09:24 2024 UTC`.
pub fn format_cisco(ts: i64) -> String {
    let fmt = format_description!("[month repr:short] [day] [hour]:[minute]:[second] [year] UTC");
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| format!("@{ts}"))
}

/// Formats seconds since the epoch as RFC 3339 (`2026-11-28T13:37:25Z`).
pub fn format_rfc3339(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{ts}"))
}

/// Formats the date part only (`2026-11-28`).
pub fn format_date(ts: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]");
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| format!("@{ts}"))
}

/// Parses an RFC 3339 timestamp into seconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Parses `YYYY-MM-DD` into the first second of that day (UTC).
pub fn parse_date(text: &str) -> Option<i64> {
    let fmt = format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &fmt)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp())
}

/// Splits a number of seconds into days, hours, minutes and seconds.
pub fn split_duration(secs: i64) -> (i64, i64, i64, i64) {
    let s = secs.max(0);
    (s / DAY, (s % DAY) / 3600, (s % 3600) / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_ios() {
        let t = parse_rfc3339("2024-03-13T08:09:24Z").unwrap();
        assert_eq!(format_cisco(t), "Mar 13 08:09:24 2024 UTC");
        assert_eq!(format_rfc3339(t), "2024-03-13T08:09:24Z");
        assert_eq!(format_date(t), "2024-03-13");
        assert_eq!(parse_date("2024-03-13"), Some(t - 8 * 3600 - 9 * 60 - 24));
        assert_eq!(parse_rfc3339("not a time"), None);
        assert_eq!(split_duration(90 * DAY - 1), (89, 23, 59, 59));
    }
}
