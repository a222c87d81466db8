//! `show license summary`: the status sections, then one line per entitlement in use.

use super::compliance::in_use_status;
use super::status::{authorization_section, enabled_line, registration_section};
use smartlic_agent::Snapshot;
use smartlic_protocol::Catalog;
use std::fmt::Write;

/// `text` cut to `width` characters, its end replaced by `...` when it was longer.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let keep = width.saturating_sub(3);
    let mut t: String = text.chars().take(keep).collect();
    t.push_str("...");
    t
}

/// Width of the summary's `License` column (as the capture: 23 and a space).
const SUMMARY_LICENSE: usize = 23;
/// Width of the summary's `Entitlement Tag` column (as the capture: 29 and a space).
const SUMMARY_TAG: usize = 29;
/// The longest description the summary shows in full (the capture cuts 26 characters to 25).
const SUMMARY_DESCRIPTION: usize = 25;

/// `show license summary`.
pub fn summary(s: &Snapshot, cat: &Catalog) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", enabled_line(s));
    let _ = writeln!(out);
    registration_section(s, &mut out, false);
    let _ = writeln!(out);
    authorization_section(s, &mut out);
    let _ = writeln!(out);
    let _ = writeln!(out, "License Usage:");
    if s.usage.is_empty() {
        let _ = writeln!(out, "  No licenses in use");
        return out;
    }
    let license_w = s
        .usage
        .iter()
        .map(|u| u.sku.chars().count())
        .max()
        .unwrap_or(0)
        .max(SUMMARY_LICENSE);
    let _ = writeln!(
        out,
        "{:<license_w$} {:<SUMMARY_TAG$} {:>5} Status",
        "License", "Entitlement Tag", "Count"
    );
    let _ = writeln!(out, "{}", "-".repeat(license_w + SUMMARY_TAG + 25));
    for u in &s.usage {
        let desc = cat.entitlement(&u.sku).map(|e| e.description()).unwrap_or("");
        let _ = writeln!(
            out,
            "{:<license_w$} {:<SUMMARY_TAG$} {:>5} {}",
            u.sku,
            format!("({})", cut(desc, SUMMARY_DESCRIPTION)),
            u.count,
            in_use_status(s, &u.sku)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn summary_cuts_long_descriptions_to_the_column() {
        assert_eq!(cut("C9300-48 Network Advantage", 25), "C9300-48 Network Advan...");
        assert_eq!(cut("C9300-48 DNA Advantage", 25), "C9300-48 DNA Advantage");
    }
}
