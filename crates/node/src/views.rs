//! What the `show license …` commands print, as pure functions of an agent snapshot. The layout
//! follows classic IOS-XE Smart Licensing (`reference/iosxe-show-license-*.txt`) with the status
//! words of CONTRACT.md §3.

use smartlic_agent::Snapshot;
use smartlic_agent::admission::CallPolicy;
use smartlic_agent::agent::{AGENT_VERSION, format_opt};
use smartlic_agent::licensing::{AuthorizationStatus, MODE_EVALUATION, MODE_REGISTERED};
use smartlic_agent::state::{Attempt, Registration};
use smartlic_protocol::time::{DAY, format_cisco, format_date, split_duration};
use smartlic_protocol::wire::Compliance;
use smartlic_protocol::{Catalog, Entitlement};
use std::fmt::Write;

fn attempt(a: &Option<Attempt>) -> String {
    match a {
        None => "None".into(),
        Some(a) if a.ok => format!("SUCCEEDED on {}", format_cisco(a.at)),
        Some(a) => format!("FAILED on {}", format_cisco(a.at)),
    }
}

fn duration_words(secs: i64) -> String {
    let (d, h, m, s) = split_duration(secs);
    format!("{d} days, {h} hours, {m} minutes, {s} seconds")
}

/// `Smart Licensing is ENABLED|DISABLED`.
pub fn enabled_line(s: &Snapshot) -> String {
    format!(
        "Smart Licensing is {}",
        if s.state.enabled { "ENABLED" } else { "DISABLED" }
    )
}

fn registration_section(s: &Snapshot, out: &mut String, full: bool) {
    let st = &s.state;
    let _ = writeln!(out, "Registration:");
    let _ = writeln!(out, "  Status: {}", s.registration_word);
    let reg = match &st.registration {
        Registration::Registered(r) | Registration::Expired(r) => Some(r),
        _ => None,
    };
    let _ = writeln!(
        out,
        "  Smart Account: {}",
        reg.map(|r| r.smart_account.as_str()).unwrap_or("None")
    );
    let _ = writeln!(
        out,
        "  Virtual Account: {}",
        reg.map(|r| r.virtual_account.as_str()).unwrap_or("None")
    );
    let _ = writeln!(
        out,
        "  Export-Controlled Functionality: {}",
        if reg.is_some_and(|r| r.export_controlled) {
            "ALLOWED"
        } else {
            "NOT ALLOWED"
        }
    );
    if let Registration::Failed {
        reason, at, retrying, ..
    } = &st.registration
    {
        let _ = writeln!(out, "  Initial Registration: FAILED on {}", format_cisco(*at));
        let _ = writeln!(out, "    Failure reason: {reason}");
        let _ = writeln!(out, "    Retrying: {}", if *retrying { "YES" } else { "NO" });
    } else {
        let _ = writeln!(
            out,
            "  Initial Registration: {}",
            reg.map(|r| format!("SUCCEEDED on {}", format_cisco(r.initial_registration_at)))
                .unwrap_or_else(|| "None".into())
        );
    }
    let _ = writeln!(
        out,
        "  Last Renewal Attempt: {}",
        attempt(&reg.and_then(|r| r.last_renewal.clone()))
    );
    if let Some(a) = reg.and_then(|r| r.last_renewal.as_ref()).filter(|a| !a.ok) {
        let _ = writeln!(out, "    Failure reason: {}", a.reason);
    }
    let next = match &st.registration {
        Registration::Registered(r) => Some(r.next_renewal_at),
        _ => None,
    };
    let _ = writeln!(out, "  Next Renewal Attempt: {}", format_opt(next));
    let _ = writeln!(
        out,
        "  Registration Expires: {}",
        format_opt(reg.map(|r| r.id_expires_at))
    );
    if full && let Some(r) = reg {
        let _ = writeln!(out, "  Product Instance ID: {}", r.instance_id);
    }
}

fn authorization_section(s: &Snapshot, out: &mut String) {
    let a = &s.state.authorization;
    let _ = writeln!(out, "License Authorization:");
    let word = s.authorization_word;
    match (&a.grant, word) {
        (Some(g), AuthorizationStatus::Authorized | AuthorizationStatus::OutOfCompliance) => {
            let _ = writeln!(out, "  Status: {word} on {}", format_cisco(g.at));
        }
        _ => {
            let _ = writeln!(out, "  Status: {word}");
        }
    }
    let evaluating = matches!(word, AuthorizationStatus::EvalMode | AuthorizationStatus::EvalExpired);
    if evaluating || s.state.enabled && s.mode == MODE_EVALUATION {
        let _ = writeln!(
            out,
            "  Evaluation Period Remaining: {}",
            duration_words(s.eval_remaining)
        );
    }
    let _ = writeln!(out, "  Last Communication Attempt: {}", attempt(&a.last_attempt));
    if let Some(at) = a.last_attempt.as_ref().filter(|x| !x.ok) {
        let _ = writeln!(out, "    Failure reason: {}", at.reason);
    }
    let _ = writeln!(
        out,
        "  Next Communication Attempt: {}",
        format_opt(s.next_authorization_at)
    );
    let _ = writeln!(
        out,
        "  Communication Deadline: {}",
        format_opt(if matches!(s.state.registration, Registration::Registered(_)) {
            a.deadline
        } else {
            None
        })
    );
}

fn utility_section(out: &mut String) {
    let _ = writeln!(out, "Utility:");
    let _ = writeln!(out, "  Status: DISABLED");
}

fn privacy_section(out: &mut String) {
    let _ = writeln!(out, "Data Privacy:");
    let _ = writeln!(out, "  Sending Hostname: yes");
    let _ = writeln!(out, "    Callhome hostname privacy: DISABLED");
    let _ = writeln!(out, "    Smart Licensing hostname privacy: DISABLED");
    let _ = writeln!(out, "  Version privacy: DISABLED");
}

fn transport_section(s: &Snapshot, out: &mut String) {
    let _ = writeln!(out, "Transport:");
    let _ = writeln!(out, "  Type: Callhome");
    let _ = writeln!(out, "  URL: {}", s.state.url.as_deref().unwrap_or("None"));
}

fn export_key_section(out: &mut String) {
    let _ = writeln!(out, "Export Authorization Key:");
    let _ = writeln!(out, "  Features Authorized:");
    let _ = writeln!(out, "    <none>");
}

fn enabled_and_alert(s: &Snapshot, out: &mut String) {
    let _ = writeln!(out, "{}", enabled_line(s));
    if let Some(alert) = &s.state.integrity_alert {
        let _ = writeln!(out);
        let _ = writeln!(out, "WARNING: {alert}");
    }
}

/// `show license status`, in the order of `iosxe-show-license-status-registered.txt`.
pub fn status(s: &Snapshot) -> String {
    let mut out = String::new();
    enabled_and_alert(s, &mut out);
    let _ = writeln!(out);
    utility_section(&mut out);
    let _ = writeln!(out);
    privacy_section(&mut out);
    let _ = writeln!(out);
    transport_section(s, &mut out);
    let _ = writeln!(out);
    registration_section(s, &mut out, false);
    let _ = writeln!(out);
    authorization_section(s, &mut out);
    let _ = writeln!(out);
    export_key_section(&mut out);
    out
}

/// The status part of `show license all`, in the order of `iosxe-show-license-all-classic.txt`.
fn all_status(s: &Snapshot, out: &mut String) {
    let _ = writeln!(out, "Smart Licensing Status");
    let _ = writeln!(out, "======================");
    let _ = writeln!(out);
    enabled_and_alert(s, out);
    let _ = writeln!(out);
    registration_section(s, out, false);
    let _ = writeln!(out);
    authorization_section(s, out);
    let _ = writeln!(out);
    export_key_section(out);
    let _ = writeln!(out);
    utility_section(out);
    let _ = writeln!(out);
    privacy_section(out);
    let _ = writeln!(out);
    transport_section(s, out);
}

fn usage_status(s: &Snapshot, sku: &str) -> &'static str {
    if !s.state.enabled {
        return "NOT ENABLED";
    }
    if s.mode == MODE_REGISTERED {
        if s.authorization_word == AuthorizationStatus::AuthorizationExpired {
            return "AUTHORIZATION EXPIRED";
        }
        let ooc = s.state.authorization.grant.as_ref().is_some_and(|g| {
            g.entitlements
                .iter()
                .any(|e| e.sku == sku && e.status == Compliance::OutOfCompliance)
        });
        return if ooc { "OUT OF COMPLIANCE" } else { "AUTHORIZED" };
    }
    if s.eval_remaining == 0 {
        "EVAL EXPIRED"
    } else {
        "EVAL MODE"
    }
}

/// What the usage table and `show license usage` print per entitlement: `IN USE` when nothing is
/// wrong with it (as the reference captures), else the licensing word that applies to it.
fn in_use_status(s: &Snapshot, sku: &str) -> &'static str {
    match usage_status(s, sku) {
        "AUTHORIZED" => "IN USE",
        other => other,
    }
}

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

/// The entitlements in use, one block each, as `iosxe-show-license-usage.txt`.
fn usage_entries(s: &Snapshot, cat: &Catalog, out: &mut String) {
    if s.usage.is_empty() {
        let _ = writeln!(out, "No licenses in use");
        return;
    }
    for u in &s.usage {
        let Some(e) = cat.entitlement(&u.sku) else { continue };
        let _ = writeln!(out, "{} ({}):", u.sku, e.description());
        let _ = writeln!(out, "  Description: {}", e.description());
        let _ = writeln!(out, "  Count: {}", u.count);
        let _ = writeln!(out, "  Version: 1.0");
        let _ = writeln!(out, "  Status: {}", in_use_status(s, &u.sku));
        let _ = writeln!(out, "  Export status: NOT RESTRICTED");
        let _ = writeln!(out, "  Feature Name: {}", u.sku);
        let _ = writeln!(out, "  Feature Description: {}", e.description());
        match e {
            Entitlement::Service(svc) => {
                // A service out of compliance blocks its new calls at once.
                let _ = writeln!(out, "  Enforcement type: ENFORCED");
                let _ = writeln!(
                    out,
                    "  License type: Counting ({} sessions per license)",
                    cat.sessions_per_counting_license
                );
                let _ = writeln!(out, "  Entitlement Tag: {}", e.tag());
                let view = cat.service_index(&svc.service).and_then(|i| s.services.get(i));
                if let Some(v) = view {
                    let _ = writeln!(out, "  Service: {} (TagId {})", svc.service, svc.tag_id);
                    let _ = writeln!(out, "  Current Sessions: {}", v.cur_call_count);
                    let _ = writeln!(out, "  Peak Sessions Since Last Report: {}", v.peak);
                    let _ = writeln!(out, "  Call Policy: {}", v.policy.word());
                }
            }
            Entitlement::Feature(f) => {
                let _ = writeln!(
                    out,
                    "  Enforcement type: {}",
                    if f.enforced { "ENFORCED" } else { "NOT ENFORCED" }
                );
                let _ = writeln!(out, "  License type: On/Off feature (TagId {})", f.tag_id);
                let _ = writeln!(out, "  Entitlement Tag: {}", e.tag());
            }
        }
        let _ = writeln!(out);
    }
}

/// `show license usage`.
pub fn usage(s: &Snapshot, cat: &Catalog) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "License Authorization:");
    let _ = writeln!(out, "  Status: {}", s.authorization_word);
    let _ = writeln!(out);
    usage_entries(s, cat, &mut out);
    out
}

/// `show license udi`.
pub fn udi(s: &Snapshot) -> String {
    let mut out = format!("UDI: {}\n", s.udi);
    if !s.ha_udis.is_empty() {
        out.push_str("\nHA UDI List:\n");
        for m in &s.ha_udis {
            let _ = writeln!(out, "    {}:{}", m.role, m.udi);
        }
    }
    out
}

/// `show license information`: the legacy licence key and what it licenses.
pub fn information(s: &Snapshot, cat: &Catalog) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Chassis SN: {}", s.udi.sn);
    let _ = writeln!(out, "Platform: {}", s.udi.pid);
    let Some(installed) = &s.state.legacy_key else {
        let _ = writeln!(out, "License Status: Not Installed");
        return out;
    };
    let key = &installed.key;
    let _ = writeln!(out, "Key: {}", key.id);
    let _ = writeln!(out, "Issued: {}", format_cisco(key.issued_at));
    let _ = writeln!(out, "Installed: {}", format_cisco(installed.installed_at));
    let _ = writeln!(
        out,
        "Expires: {}",
        key.expires_at.map_or_else(|| "Never".to_string(), format_date)
    );
    // Services in catalog order, then features in catalog order.
    for svc in &cat.service {
        let n = key.sessions_for(&svc.service);
        if n > 0 {
            let _ = writeln!(out, "{} Sessions: {n}", svc.service);
        }
    }
    for f in &cat.feature {
        if key.has_feature(&f.sku) {
            let _ = writeln!(out, "{}: Enabled", f.sku);
        }
    }
    let _ = writeln!(
        out,
        "License Status: {}",
        if key.expired(s.now) { "Expired" } else { "Good" }
    );
    out
}

/// `show license history`: installs and removals of legacy licence keys, oldest first.
pub fn key_history(s: &Snapshot) -> String {
    let mut out = String::new();
    if s.state.legacy_history.is_empty() {
        let _ = writeln!(out, "No licence key was ever installed");
        return out;
    }
    for e in &s.state.legacy_history {
        let _ = writeln!(
            out,
            "{}  {:<9} key {} ({})",
            format_cisco(e.at),
            e.action,
            e.key_id,
            e.detail
        );
    }
    out
}

/// `show license eval-period`.
pub fn eval_period(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Evaluation Period Remaining: {}", duration_words(s.eval_remaining));
    let _ = writeln!(
        out,
        "Evaluation Period Used: {}",
        duration_words(s.eval_total - s.eval_remaining)
    );
    let state = if s.eval_remaining == 0 {
        format!("EXPIRED on {}", format_opt(s.state.eval.expired_at))
    } else if s.state.eval.accounted_to.is_some() {
        "IN USE".into()
    } else {
        "NOT IN USE".into()
    };
    let _ = writeln!(out, "Evaluation Period State: {state}");
    out
}

/// A table whose columns are as wide as their widest cell (the last one is not padded), each line
/// indented by `indent` spaces. `right` lists the columns aligned to the right.
fn table(out: &mut String, indent: usize, right: &[usize], rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|x| x.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = " ".repeat(indent);
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push(' ');
            }
            let w = widths[c];
            if right.contains(&c) {
                let _ = write!(line, "{cell:>w$}");
            } else if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// `show license smart-tags [feature|service]`.
pub fn smart_tags(s: &Snapshot, cat: &Catalog, services: bool, features: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Software Tag: {}", s.software_tag);
    if services {
        let _ = writeln!(out);
        let _ = writeln!(out, "Service Tags:");
        let mut rows = vec![row(["TagId", "Service", "SKU", "Description", "Entitlement Tag"])];
        rows.extend(cat.service.iter().map(|e| {
            vec![
                e.tag_id.to_string(),
                e.service.clone(),
                e.sku.clone(),
                e.description.clone(),
                e.tag.clone(),
            ]
        }));
        table(&mut out, 2, &[], &rows);
    }
    if features {
        let _ = writeln!(out);
        let _ = writeln!(out, "Feature Tags:");
        let mut rows = vec![row(["TagId", "SKU", "Description", "Entitlement Tag"])];
        rows.extend(cat.feature.iter().map(|e| {
            vec![
                e.tag_id.to_string(),
                e.sku.clone(),
                e.description.clone(),
                e.tag.clone(),
            ]
        }));
        table(&mut out, 2, &[], &rows);
    }
    out
}

/// Whether an on/off feature that is on blocks the calls of its services now: enforced, its grace
/// period over, and registered (in evaluation features are not enforced).
fn feature_blocks(s: &Snapshot, cat: &Catalog, f: &smartlic_protocol::FeatureEntitlement) -> bool {
    let grace = i64::from(cat.feature_grace_days) * DAY;
    f.enforced
        && s.mode == MODE_REGISTERED
        && s.state.features.contains(&f.sku)
        && s.state
            .feature_grace
            .get(&f.sku)
            .is_some_and(|g| s.now >= g.since + grace)
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
    let grace = i64::from(cat.feature_grace_days) * DAY;
    for f in on {
        let _ = writeln!(out, "  {} ({}):", f.sku, f.description);
        let g = s.state.feature_grace.get(&f.sku);
        let state = match g {
            Some(g) if s.now >= g.since + grace => "OUT OF COMPLIANCE, grace period over".to_string(),
            Some(_) => "OUT OF COMPLIANCE, in grace period".to_string(),
            // With Smart Licensing off, features follow the installed legacy key.
            None if !s.state.enabled => {
                let licensed = s
                    .state
                    .legacy_key
                    .as_ref()
                    .is_some_and(|k| k.key.has_feature(&f.sku) && !k.key.expired(s.now));
                if licensed {
                    "IN COMPLIANCE (licence key)".to_string()
                } else {
                    "NOT LICENSED (no valid licence key)".to_string()
                }
            }
            None => match usage_status(s, &f.sku) {
                "AUTHORIZED" => "IN COMPLIANCE".to_string(),
                other => other.to_string(),
            },
        };
        let _ = writeln!(out, "    State: {state}");
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
            r.mode,
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

/// `show license enforcement policy`.
pub fn enforcement_policy(cat: &Catalog) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Smart Licensing Enforcement Policy");
    let _ = writeln!(out, "==================================");
    let _ = writeln!(out);
    let _ = writeln!(out, "Service (counting) licenses:");
    let _ = writeln!(
        out,
        "  Out of compliance: new calls of the service are BLOCKED at once; existing calls stay."
    );
    let _ = writeln!(
        out,
        "  Evaluation: one license ({} sessions) per service for {} days; then new calls are BLOCKED.",
        cat.sessions_per_counting_license, cat.evaluation_days
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Feature (on/off) licenses: {} days of grace when out of compliance, then:",
        cat.feature_grace_days
    );
    let mut rows = vec![row(["TagId", "Feature", "Enforcement", "Description", "Services"])];
    rows.extend(cat.feature.iter().map(|f| {
        vec![
            f.tag_id.to_string(),
            f.sku.clone(),
            if f.enforced { "ENFORCED" } else { "NOT ENFORCED" }.to_string(),
            f.description.clone(),
            f.services.join(","),
        ]
    }));
    table(&mut out, 2, &[], &rows);
    out
}

/// `show license enforcement status [allowed|blocked] [feature|service]`.
pub fn enforcement_status(
    s: &Snapshot,
    cat: &Catalog,
    want_allowed: bool,
    want_blocked: bool,
    services: bool,
    features: bool,
) -> String {
    let mut out = String::new();
    if services {
        let _ = writeln!(out, "Service Licenses:");
        let _ = writeln!(
            out,
            "  {:<7} {:<20} {:<8} {:>12}  Reason",
            "Service", "SKU", "Status", "Sessions"
        );
        for (i, svc) in cat.service.iter().enumerate() {
            let Some(v) = s.services.get(i) else { continue };
            let blocked = v.policy == CallPolicy::Block;
            if (blocked && !want_blocked) || (!blocked && !want_allowed) {
                continue;
            }
            let reason = if !blocked {
                match v.policy {
                    CallPolicy::Allow { limit } if limit < smartlic_agent::admission::UNLIMITED => {
                        format!("evaluation, up to {limit} sessions")
                    }
                    _ => "licensed".into(),
                }
            } else {
                service_block_reason(s, cat, &svc.sku, &svc.service)
            };
            let _ = writeln!(
                out,
                "  {:<7} {:<20} {:<8} {:>12}  {}",
                svc.service,
                svc.sku,
                if blocked { "BLOCKED" } else { "ALLOWED" },
                v.cur_call_count,
                reason
            );
        }
    }
    if features {
        if services {
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "Feature Licenses:");
        let _ = writeln!(
            out,
            "  {:<20} {:<8} {:<8} {:<32} Reason",
            "Feature", "State", "Status", "Grace Period Ends"
        );
        let grace = i64::from(cat.feature_grace_days) * DAY;
        for f in &cat.feature {
            let on = s.state.features.contains(&f.sku);
            let g = s.state.feature_grace.get(&f.sku);
            let expired = g.is_some_and(|g| s.now >= g.since + grace);
            let blocked = on && f.enforced && expired && s.mode == MODE_REGISTERED;
            if (blocked && !want_blocked) || (!blocked && !want_allowed) {
                continue;
            }
            let reason = match (on, g) {
                (false, _) => "feature off".to_string(),
                (true, None) => usage_status(s, &f.sku).to_lowercase(),
                (true, Some(_)) if blocked => format!("out of compliance, grace over; blocks {}", f.services.join(",")),
                (true, Some(_)) if expired => "out of compliance, grace over; not enforced".into(),
                (true, Some(_)) => "out of compliance, in grace period".into(),
            };
            let _ = writeln!(
                out,
                "  {:<20} {:<8} {:<8} {:<32} {}",
                f.sku,
                if on { "ON" } else { "OFF" },
                if blocked { "BLOCKED" } else { "ALLOWED" },
                g.map(|g| format_cisco(g.since + grace)).unwrap_or_else(|| "-".into()),
                reason
            );
        }
    }
    out
}

fn service_block_reason(s: &Snapshot, cat: &Catalog, sku: &str, service: &str) -> String {
    match s.authorization_word {
        AuthorizationStatus::AuthorizationExpired => return "authorization expired".into(),
        AuthorizationStatus::EvalExpired => return "evaluation period expired".into(),
        _ => {}
    }
    if usage_status(s, sku) == "OUT OF COMPLIANCE" {
        return "out of compliance".into();
    }
    let grace = i64::from(cat.feature_grace_days) * DAY;
    let by: Vec<&str> = cat
        .feature
        .iter()
        .filter(|f| {
            f.enforced
                && f.services.iter().any(|x| x == service)
                && s.state.features.contains(&f.sku)
                && s.state
                    .feature_grace
                    .get(&f.sku)
                    .is_some_and(|g| s.now >= g.since + grace)
        })
        .map(|f| f.sku.as_str())
        .collect();
    if by.is_empty() {
        "blocked".into()
    } else {
        format!("feature out of compliance: {}", by.join(","))
    }
}

/// `show license all`, as `iosxe-show-license-all-classic.txt`.
pub fn all(s: &Snapshot, cat: &Catalog) -> String {
    let mut out = String::new();
    all_status(s, &mut out);
    let _ = writeln!(out);
    let _ = writeln!(out, "License Usage");
    let _ = writeln!(out, "=============");
    let _ = writeln!(out);
    usage_entries(s, cat, &mut out);
    if s.usage.is_empty() {
        // Each entry ends in a blank line already.
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Product Information");
    let _ = writeln!(out, "===================");
    out.push_str(&udi(s));
    let _ = writeln!(out);
    let _ = writeln!(out, "Agent Version");
    let _ = writeln!(out, "=============");
    let _ = writeln!(out, "Smart Agent for Licensing: {AGENT_VERSION}");
    let _ = writeln!(out);
    let _ = writeln!(out, "Reservation Info");
    let _ = writeln!(out, "================");
    let _ = writeln!(out, "License reservation: DISABLED");
    out
}

/// `show crypto pki trustpool`.
pub fn trustpool(certs: &[smartlic_protocol::trust::CertSummary]) -> String {
    let mut out = String::new();
    if certs.is_empty() {
        let _ = writeln!(out, "Trust pool is empty");
    }
    for (i, c) in certs.iter().enumerate() {
        let _ = writeln!(out, "CA Certificate {}", i + 1);
        let _ = writeln!(out, "  Subject: {}", c.subject);
        let _ = writeln!(out, "  Issuer: {}", c.issuer);
        let _ = writeln!(out, "  Serial Number: {}", c.serial);
        let _ = writeln!(out, "  Validity Start: {}", format_cisco(c.not_before));
        let _ = writeln!(out, "  Validity End: {}", format_cisco(c.not_after));
        let _ = writeln!(out, "  SHA-256 Fingerprint: {}", c.fingerprint);
    }
    out
}

#[cfg(test)]
mod snapshot_tests {
    //! Every `show license …` view in the states a unit test can build without a network. The
    //! snapshots (`src/snapshots/`) were read against `reference/iosxe-show-license-*.txt`.

    use super::*;
    use smartlic_agent::agent::ServiceView;
    use smartlic_agent::licensing::RegistrationStatus;
    use smartlic_agent::state::{
        Authorization, FeatureGrace, Grant, InstalledKey, KeyHistoryEntry, PersistedState, Registered, ServiceStats,
    };
    use smartlic_protocol::legacy::LegacyKey;
    use smartlic_protocol::wire::{EntitlementStatus, Udi, Usage};

    /// Dec 01 12:00:00 2026 UTC.
    const NOW: i64 = 1_796_126_400;
    const EVAL: i64 = 90 * DAY;

    fn cat() -> Catalog {
        Catalog::staros()
    }

    fn services(policy: CallPolicy) -> Vec<ServiceView> {
        (0..cat().service.len())
            .map(|index| ServiceView {
                index,
                policy,
                cur_call_count: 0,
                peak: 0,
                rejected: 0,
            })
            .collect()
    }

    /// A node that was never enabled.
    fn base() -> Snapshot {
        let cat = cat();
        Snapshot {
            now: NOW,
            state: PersistedState::default(),
            registration_word: RegistrationStatus::Unregistered,
            authorization_word: AuthorizationStatus::NoLicensesInUse,
            eval_remaining: EVAL,
            eval_total: EVAL,
            in_use: false,
            mode: MODE_EVALUATION,
            services: services(CallPolicy::Block),
            usage: Vec::new(),
            udi: Udi {
                pid: "ASR5500".into(),
                sn: "FOX1001".into(),
            },
            hostname: "pgw1".into(),
            software_tag: cat.software[0].tag.clone(),
            next_authorization_at: None,
            ha_udis: Vec::new(),
        }
    }

    fn stats(max_call_count: u64, last_lic_count: u64) -> ServiceStats {
        ServiceStats {
            max_call_count,
            last_lic_count,
            max_lic_count: last_lic_count,
            policy_change_block_calls: 1,
            policy_change_allow_calls: 1,
            report_success: 3,
            report_fail: 0,
        }
    }

    /// Enabled, unregistered, 30 days of evaluation used, 15000 pgw calls tried (10000 admitted).
    fn eval_mode() -> Snapshot {
        let mut s = base();
        s.state.enabled = true;
        s.state.total_enabled = 1;
        s.state.url = Some("https://licensing.example.net:8443".into());
        s.state.eval.used_secs = 30 * DAY;
        s.state.eval.accounted_to = Some(NOW);
        s.eval_remaining = EVAL - 30 * DAY;
        s.authorization_word = AuthorizationStatus::EvalMode;
        s.in_use = true;
        s.services = services(CallPolicy::Allow { limit: 10_000 });
        s.services[0].cur_call_count = 10_000;
        s.services[0].peak = 10_000;
        s.services[0].rejected = 5_000;
        s.services[3].cur_call_count = 3;
        s.services[3].peak = 3;
        s.usage = vec![
            Usage {
                sku: cat().service[0].sku.clone(),
                count: 1,
            },
            Usage {
                sku: cat().service[3].sku.clone(),
                count: 1,
            },
        ];
        s.state
            .stats
            .entry(MODE_EVALUATION.into())
            .or_default()
            .insert("pgw".into(), stats(10_000, 1));
        s
    }

    /// The evaluation is used up; the state file had failed its integrity check.
    fn eval_expired() -> Snapshot {
        let mut s = eval_mode();
        s.state.eval.used_secs = EVAL;
        s.state.eval.accounted_to = None;
        s.state.eval.expired_at = Some(NOW - 2 * DAY);
        s.eval_remaining = 0;
        s.authorization_word = AuthorizationStatus::EvalExpired;
        s.services = services(CallPolicy::Block);
        s.services[0].rejected = 12;
        s.state.integrity_alert = Some(
            "licensing state failed its integrity check (licensing.json); the evaluation period is used up".into(),
        );
        s
    }

    fn registration() -> Registered {
        Registered {
            instance_id: "5f0c7a4e-8d5b-4a43-9d0e-0c6f3f4f1a01".into(),
            smart_account: "Acme".into(),
            virtual_account: "DEFAULT".into(),
            export_controlled: false,
            initial_registration_at: NOW - 10 * DAY,
            id_certificate: String::new(),
            id_issued_at: NOW - 10 * DAY,
            id_expires_at: NOW + 355 * DAY,
            last_renewal: None,
            next_renewal_at: NOW + 170 * DAY,
            device_key: String::new(),
        }
    }

    /// Registered and authorized: 2 pgw licences and Session Recovery in use.
    fn registered() -> Snapshot {
        let cat = cat();
        let mut s = eval_mode();
        s.state.eval.accounted_to = None;
        s.state.registration = Registration::Registered(registration());
        s.registration_word = RegistrationStatus::Registered;
        let pgw = cat.service[0].sku.clone();
        let rec = "ASR5K-00-GN01REC".to_string();
        s.state.features.insert(rec.clone());
        s.state.authorization = Authorization {
            grant: Some(Grant {
                status: Compliance::Authorized,
                entitlements: vec![
                    EntitlementStatus {
                        sku: pgw.clone(),
                        count: 2,
                        status: Compliance::Authorized,
                    },
                    EntitlementStatus {
                        sku: rec.clone(),
                        count: 1,
                        status: Compliance::Authorized,
                    },
                ],
                at: NOW - DAY,
                expires_at: NOW + 89 * DAY,
                renew_at: NOW + 29 * DAY,
            }),
            last_attempt: Some(Attempt {
                at: NOW - DAY,
                ok: true,
                reason: String::new(),
            }),
            next_attempt_at: Some(NOW + 29 * DAY),
            failures: 0,
            deadline: Some(NOW + 89 * DAY),
        };
        s.next_authorization_at = Some(NOW + 29 * DAY);
        s.authorization_word = AuthorizationStatus::Authorized;
        s.mode = MODE_REGISTERED;
        s.services = services(CallPolicy::Allow {
            limit: smartlic_agent::admission::UNLIMITED,
        });
        s.services[0].cur_call_count = 15_000;
        s.services[0].peak = 15_000;
        s.usage = vec![Usage { sku: pgw, count: 2 }, Usage { sku: rec, count: 1 }];
        s.state
            .stats
            .entry(MODE_REGISTERED.into())
            .or_default()
            .insert("pgw".into(), stats(15_000, 2));
        s
    }

    /// pgw out of compliance in the virtual account: its new calls are blocked.
    fn out_of_compliance() -> Snapshot {
        let mut s = registered();
        if let Some(g) = s.state.authorization.grant.as_mut() {
            g.status = Compliance::OutOfCompliance;
            g.entitlements[0].status = Compliance::OutOfCompliance;
        }
        s.authorization_word = AuthorizationStatus::OutOfCompliance;
        s.services[0].policy = CallPolicy::Block;
        s.services[0].rejected = 7;
        s
    }

    /// Two features out of compliance: ePDG (enforced) in grace, VoLTE (enforced) past it.
    fn feature_grace() -> Snapshot {
        let mut s = registered();
        let eg = "ASR5K-00-EG01RS".to_string();
        let vle = "ASR5K-00-EP01VLE".to_string();
        s.state.features.insert(eg.clone());
        s.state.features.insert(vle.clone());
        s.state
            .feature_grace
            .insert(eg.clone(), FeatureGrace { since: NOW - 30 * DAY });
        s.state
            .feature_grace
            .insert(vle.clone(), FeatureGrace { since: NOW - 91 * DAY });
        if let Some(g) = s.state.authorization.grant.as_mut() {
            g.status = Compliance::OutOfCompliance;
            for sku in [&eg, &vle] {
                g.entitlements.push(EntitlementStatus {
                    sku: sku.clone(),
                    count: 1,
                    status: Compliance::OutOfCompliance,
                });
            }
        }
        s.authorization_word = AuthorizationStatus::OutOfCompliance;
        s.services[0].policy = CallPolicy::Block;
        s.services[0].rejected = 4;
        s.services[1].policy = CallPolicy::Block;
        s.usage.push(Usage { sku: eg, count: 1 });
        s.usage.push(Usage { sku: vle, count: 1 });
        s
    }

    /// No successful authorization for 90 days; the last attempt failed.
    fn authorization_expired() -> Snapshot {
        let mut s = registered();
        s.state.authorization.last_attempt = Some(Attempt {
            at: NOW - 3600,
            ok: false,
            reason: "cannot reach the license manager".into(),
        });
        s.state.authorization.failures = 12;
        s.state.authorization.deadline = Some(NOW - DAY);
        s.state.authorization.next_attempt_at = Some(NOW + 3600);
        s.next_authorization_at = Some(NOW + 3600);
        s.authorization_word = AuthorizationStatus::AuthorizationExpired;
        s.services = services(CallPolicy::Block);
        s
    }

    /// Smart Licensing off, a legacy key licensing 50000 pgw sessions and Session Recovery.
    fn legacy_key() -> Snapshot {
        let mut s = base();
        let key = LegacyKey {
            id: "LK-0001".into(),
            serial: "FOX1001".into(),
            platform: "ASR5500".into(),
            sessions: [("pgw".to_string(), 50_000)].into(),
            features: vec!["ASR5K-00-GN01REC".into()],
            expires_at: Some(NOW + 365 * DAY),
            issued_at: NOW - 20 * DAY,
        };
        s.state.legacy_key = Some(InstalledKey {
            text: "LK1.example".into(),
            key,
            installed_at: NOW - 19 * DAY,
        });
        s.state.legacy_history.push(KeyHistoryEntry {
            at: NOW - 19 * DAY,
            action: "installed".into(),
            key_id: "LK-0001".into(),
            detail: "pgw 50000, ASR5K-00-GN01REC".into(),
        });
        s.state.features.insert("ASR5K-00-GN01REC".into());
        s.services = services(CallPolicy::Block);
        s.services[0].policy = CallPolicy::Allow { limit: 50_000 };
        s.services[0].cur_call_count = 120;
        s
    }

    fn states() -> Vec<(&'static str, Snapshot)> {
        vec![
            ("unregistered", base()),
            ("eval_mode", eval_mode()),
            ("eval_expired", eval_expired()),
            ("registered", registered()),
            ("out_of_compliance", out_of_compliance()),
            ("feature_grace", feature_grace()),
            ("authorization_expired", authorization_expired()),
            ("legacy_key", legacy_key()),
        ]
    }

    #[test]
    fn views_in_every_state() {
        let cat = cat();
        for (name, s) in states() {
            let views = [
                ("status", status(&s)),
                ("summary", summary(&s, &cat)),
                ("usage", usage(&s, &cat)),
                ("all", all(&s, &cat)),
                ("statistics", statistics(&s, &cat)),
                ("eval_period", eval_period(&s)),
                (
                    "enforcement_status",
                    enforcement_status(&s, &cat, true, true, true, true),
                ),
                ("information", information(&s, &cat)),
                ("history", key_history(&s)),
            ];
            for (view, text) in views {
                insta::assert_snapshot!(format!("{name}__{view}"), text);
            }
        }
    }

    #[test]
    fn catalog_views() {
        let cat = cat();
        let s = base();
        insta::assert_snapshot!("smart_tags", smart_tags(&s, &cat, true, true));
        insta::assert_snapshot!("enforcement_policy", enforcement_policy(&cat));
    }

    #[test]
    fn contract_words_stay() {
        let cat = cat();
        for (name, s) in states() {
            let st = status(&s);
            assert!(st.lines().any(|l| l == enabled_line(&s)), "{name}");
            assert!(
                st.contains(&format!("  Status: {}\n", s.registration_word)),
                "{name}: {st}"
            );
            assert!(st.contains(&format!("  Status: {}", s.authorization_word)), "{name}");
            let a = all(&s, &cat);
            assert!(a.contains(&format!("  Status: {}", s.authorization_word)), "{name}");
        }
    }

    #[test]
    fn summary_cuts_long_descriptions_to_the_column() {
        assert_eq!(cut("C9300-48 Network Advantage", 25), "C9300-48 Network Advan...");
        assert_eq!(cut("C9300-48 DNA Advantage", 25), "C9300-48 DNA Advantage");
    }
}
