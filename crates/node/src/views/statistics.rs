//! `show license statistics`: the counters per mode and service, then the on/off features.

use super::compliance::{feature_blocks, grace_over, grace_secs, usage_status};
use smartlic_agent::Snapshot;
use smartlic_protocol::Catalog;
use smartlic_protocol::time::{DAY, format_cisco};
use std::fmt::Write;

/// The compliance state of an on/off feature that is on.
fn feature_state(s: &Snapshot, cat: &Catalog, sku: &str) -> &'static str {
    if grace_over(s, cat, sku) {
        return "OUT OF COMPLIANCE, grace period over";
    }
    if s.state.feature_grace.contains_key(sku) {
        return "OUT OF COMPLIANCE, in grace period";
    }
    // With Smart Licensing off, features follow the installed legacy key.
    if !s.state.enabled {
        let licensed = s
            .state
            .legacy_key
            .as_ref()
            .is_some_and(|k| k.key.has_feature(sku) && !k.key.expired(s.now));
        return if licensed {
            "IN COMPLIANCE (licence key)"
        } else {
            "NOT LICENSED (no valid licence key)"
        };
    }
    match usage_status(s, sku) {
        "AUTHORIZED" => "IN COMPLIANCE",
        other => other,
    }
}

/// The feature licence part of `show license statistics`: each on/off feature turned on.
fn feature_statistics(s: &Snapshot, cat: &Catalog, out: &mut String) {
    let _ = writeln!(out, "Feature Licenses:");
    let on: Vec<_> = cat
        .feature
        .iter()
        .filter(|f| s.state.features.contains(&f.sku))
        .collect();
    if on.is_empty() {
        let _ = writeln!(out, "  No features turned on");
        return;
    }
    let grace = grace_secs(cat);
    for f in on {
        let _ = writeln!(out, "  {} ({}):", f.sku, f.description);
        let g = s.state.feature_grace.get(&f.sku);
        let _ = writeln!(out, "    State: {}", feature_state(s, cat, &f.sku));
        let remaining = match g {
            Some(g) => {
                let left = (g.since + grace - s.now).max(0);
                format!("{} days (ends {})", left / DAY, format_cisco(g.since + grace))
            }
            None => "not started".to_string(),
        };
        let _ = writeln!(out, "    Grace Period Remaining: {remaining}");
        let policy = if f.enforced {
            format!("ENFORCED on {} after the grace period", f.services.join(","))
        } else {
            "NOT ENFORCED".to_string()
        };
        let _ = writeln!(out, "    Enforcement Policy: {policy}");
        if feature_blocks(s, cat, f) {
            let blocked: Vec<String> = f
                .services
                .iter()
                .filter_map(|name| {
                    let v = cat.service_index(name).and_then(|i| s.services.get(i))?;
                    Some(format!("{name} {}", v.rejected))
                })
                .collect();
            let _ = writeln!(out, "    Blocking New Calls: {}", f.services.join(","));
            let _ = writeln!(out, "    Calls Refused (per service): {}", blocked.join(", "));
        }
    }
}

/// `show license statistics`.
pub fn statistics(s: &Snapshot, cat: &Catalog) -> String {
    let mut out = String::new();
    let st = &s.state;
    let _ = writeln!(out, "Smart Licensing Statistics");
    let _ = writeln!(out, "==========================");
    let _ = writeln!(
        out,
        "current_sl_state: {}",
        if st.enabled { "Enabled" } else { "Disabled" }
    );
    let _ = writeln!(out, "current_sl_mode: {}", s.mode);
    let _ = writeln!(out, "total_sl_enabled: {}", st.total_enabled);
    let _ = writeln!(out, "total_sl_disabled: {}", st.total_disabled);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<11} {:>5} {:<7} {:<6} {:>14} {:>14} {:>14} {:>13} {:>25} {:>25} {:>14} {:>11}",
        "mode",
        "tagid",
        "service",
        "policy",
        "cur_call_count",
        "max_call_count",
        "last_lic_count",
        "max_lic_count",
        "policy_change_block_calls",
        "policy_change_allow_calls",
        "report_success",
        "report_fail"
    );
    for r in s.statistics(cat) {
        let stats = &r.stats;
        let _ = writeln!(
            out,
            "{:<11} {:>5} {:<7} {:<6} {:>14} {:>14} {:>14} {:>13} {:>25} {:>25} {:>14} {:>11}",
            r.mode.as_str(),
            r.service.tag_id,
            r.service.service,
            r.policy.map(|p| p.word()).unwrap_or("-"),
            r.cur_call_count,
            stats.max_call_count,
            stats.last_lic_count,
            stats.max_lic_count,
            stats.policy_change_block_calls,
            stats.policy_change_allow_calls,
            stats.report_success,
            stats.report_fail
        );
    }
    let _ = writeln!(out);
    feature_statistics(s, cat, &mut out);
    out
}
