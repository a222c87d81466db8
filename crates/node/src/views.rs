//! What the `show license …` commands print, as pure functions of an agent snapshot. The layout
//! follows classic IOS-XE Smart Licensing (`reference/iosxe-show-license-*.txt`) with the status
//! words of CONTRACT.md §3.

use smartlic_agent::Snapshot;
use smartlic_agent::admission::CallPolicy;
use smartlic_agent::agent::{AGENT_VERSION, format_opt};
use smartlic_agent::licensing::{MODE_EVALUATION, MODE_REGISTERED};
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
        (Some(g), "AUTHORIZED" | "OUT OF COMPLIANCE") => {
            let _ = writeln!(out, "  Status: {word} on {}", format_cisco(g.at));
        }
        _ => {
            let _ = writeln!(out, "  Status: {word}");
        }
    }
    if word == "EVAL MODE" || word == "EVAL EXPIRED" || s.state.enabled && s.mode == MODE_EVALUATION {
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

/// `show license status`.
pub fn status(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Smart Licensing Status");
    let _ = writeln!(out, "======================");
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", enabled_line(s));
    if let Some(alert) = &s.state.integrity_alert {
        let _ = writeln!(out);
        let _ = writeln!(out, "WARNING: {alert}");
    }
    let _ = writeln!(out);
    registration_section(s, &mut out, false);
    let _ = writeln!(out);
    authorization_section(s, &mut out);
    let _ = writeln!(out);
    let _ = writeln!(out, "Transport:");
    let _ = writeln!(out, "  Type: Callhome");
    let _ = writeln!(out, "  URL: {}", s.state.url.as_deref().unwrap_or("None"));
    out
}

fn usage_status(s: &Snapshot, sku: &str) -> &'static str {
    if !s.state.enabled {
        return "NOT ENABLED";
    }
    if s.mode == MODE_REGISTERED {
        if s.authorization_word == "AUTHORIZATION EXPIRED" {
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
    } else {
        let _ = writeln!(
            out,
            "  {:<20} {:<40} {:>6}  Status",
            "License", "Entitlement Description", "Count"
        );
        let _ = writeln!(out, "  {}", "-".repeat(90));
        for u in &s.usage {
            let desc = cat.entitlement(&u.sku).map(|e| e.description()).unwrap_or("");
            let _ = writeln!(
                out,
                "  {:<20} {:<40} {:>6}  {}",
                u.sku,
                desc,
                u.count,
                usage_status(s, &u.sku)
            );
        }
    }
    out
}

/// `show license usage`.
pub fn usage(s: &Snapshot, cat: &Catalog) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "License Usage");
    let _ = writeln!(out, "=============");
    let _ = writeln!(out);
    if s.usage.is_empty() {
        let _ = writeln!(out, "No licenses in use");
        return out;
    }
    for u in &s.usage {
        let Some(e) = cat.entitlement(&u.sku) else { continue };
        let _ = writeln!(out, "{} ({}):", u.sku, e.description());
        let _ = writeln!(out, "  Description: {}", e.description());
        let _ = writeln!(out, "  Count: {}", u.count);
        let _ = writeln!(out, "  Version: 1.0");
        let _ = writeln!(out, "  Status: {}", usage_status(s, &u.sku));
        let _ = writeln!(out, "  Entitlement Tag: {}", e.tag());
        match e {
            Entitlement::Service(svc) => {
                let view = cat.service_index(&svc.service).and_then(|i| s.services.get(i));
                let _ = writeln!(
                    out,
                    "  License type: Counting ({} sessions per license)",
                    cat.sessions_per_counting_license
                );
                if let Some(v) = view {
                    let _ = writeln!(out, "  Service: {} (TagId {})", svc.service, svc.tag_id);
                    let _ = writeln!(out, "  Current Sessions: {}", v.cur_call_count);
                    let _ = writeln!(out, "  Peak Sessions Since Last Report: {}", v.peak);
                    let _ = writeln!(out, "  Call Policy: {}", v.policy.word());
                }
            }
            Entitlement::Feature(f) => {
                let _ = writeln!(out, "  License type: On/Off feature (TagId {})", f.tag_id);
                let _ = writeln!(
                    out,
                    "  Enforcement type: {}",
                    if f.enforced { "ENFORCED" } else { "NOT ENFORCED" }
                );
            }
        }
        let _ = writeln!(out);
    }
    out
}

/// `show license udi`.
pub fn udi(s: &Snapshot) -> String {
    format!("UDI: {}\n", s.udi)
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

/// `show license smart-tags [feature|service]`.
pub fn smart_tags(s: &Snapshot, cat: &Catalog, services: bool, features: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Software Tag: {}", s.software_tag);
    if services {
        let _ = writeln!(out);
        let _ = writeln!(out, "Service Tags:");
        let _ = writeln!(
            out,
            "  {:<5} {:<7} {:<20} {:<40} Entitlement Tag",
            "TagId", "Service", "SKU", "Description"
        );
        for e in &cat.service {
            let _ = writeln!(
                out,
                "  {:<5} {:<7} {:<20} {:<40} {}",
                e.tag_id, e.service, e.sku, e.description, e.tag
            );
        }
    }
    if features {
        let _ = writeln!(out);
        let _ = writeln!(out, "Feature Tags:");
        let _ = writeln!(
            out,
            "  {:<5} {:<20} {:<50} Entitlement Tag",
            "TagId", "SKU", "Description"
        );
        for e in &cat.feature {
            let _ = writeln!(out, "  {:<5} {:<20} {:<50} {}", e.tag_id, e.sku, e.description, e.tag);
        }
    }
    out
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
    let _ = writeln!(
        out,
        "  {:<5} {:<20} {:<12} {:<40} Services",
        "TagId", "Feature", "Enforcement", "Description"
    );
    for f in &cat.feature {
        let _ = writeln!(
            out,
            "  {:<5} {:<20} {:<12} {:<40} {}",
            f.tag_id,
            f.sku,
            if f.enforced { "ENFORCED" } else { "NOT ENFORCED" },
            f.description,
            f.services.join(",")
        );
    }
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
        "AUTHORIZATION EXPIRED" => return "authorization expired".into(),
        "EVAL EXPIRED" => return "evaluation period expired".into(),
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

/// `show license all`.
pub fn all(s: &Snapshot, cat: &Catalog) -> String {
    let mut out = status(s);
    let _ = writeln!(out);
    out.push_str(&usage(s, cat));
    let _ = writeln!(out);
    let _ = writeln!(out, "Product Information");
    let _ = writeln!(out, "===================");
    out.push_str(&udi(s));
    let _ = writeln!(out);
    let _ = writeln!(out, "Agent Version");
    let _ = writeln!(out, "=============");
    let _ = writeln!(out, "Smart Agent for Licensing: {AGENT_VERSION}");
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
