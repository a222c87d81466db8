//! `show license tech-support`: every licensing view, the trust pool, the licensing events and
//! the agent's internals, for debugging.

use super::{all, enforcement_status, eval_period, statistics, trustpool};
use smartlic_agent::Snapshot;
use smartlic_agent::agent::format_opt;
use smartlic_agent::events::{Condition, LicenseEvent};
use smartlic_protocol::Catalog;
use smartlic_protocol::time::format_cisco;
use smartlic_protocol::trust::CertSummary;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// What the node knows beyond the agent snapshot that tech-support prints.
#[derive(Debug, Clone, Copy)]
pub struct TechSupport<'a> {
    /// The certificates of the agent's trust pool.
    pub trust: &'a [CertSummary],
    /// The licensing events, oldest first.
    pub history: &'a [LicenseEvent],
    /// The node's data directory.
    pub data_dir: &'a Path,
}

/// `show license tech-support`.
pub fn tech_support(snap: &Snapshot, cat: &Catalog, more: TechSupport<'_>) -> String {
    let mut out = all(snap, cat);
    let _ = writeln!(out);
    out.push_str(&statistics(snap, cat));
    let _ = writeln!(out);
    out.push_str(&eval_period(snap));
    let _ = writeln!(out);
    out.push_str(&enforcement_status(snap, cat, true, true, true, true));
    let _ = writeln!(out);
    let _ = writeln!(out, "Trust Pool");
    let _ = writeln!(out, "==========");
    out.push_str(&trustpool(more.trust));
    let _ = writeln!(out);
    let _ = writeln!(out, "Licensing Events (most recent last)");
    let _ = writeln!(out, "===================================");
    for e in more.history {
        let _ = writeln!(
            out,
            "{} {} {}{}",
            format_cisco(e.at),
            if e.set { "SET  " } else { "CLEAR" },
            condition_words(&e.condition),
            if e.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.detail)
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Agent Internals");
    let _ = writeln!(out, "===============");
    let _ = writeln!(out, "Clock: {}", format_cisco(snap.now));
    let _ = writeln!(out, "Data directory: {}", more.data_dir.display());
    let _ = writeln!(
        out,
        "Evaluation accounted to: {}",
        format_opt(snap.state.eval.accounted_to)
    );
    let _ = writeln!(out, "Last usage reported: {}", usage_words(&snap.state.last_report));
    let _ = writeln!(
        out,
        "Integrity: {}",
        snap.state.integrity_alert.as_deref().unwrap_or("OK")
    );
    out
}

/// A licensing condition as the operator reads it.
fn condition_words(c: &Condition) -> String {
    match c {
        Condition::EvalMode => "Evaluation mode: licences in use while unregistered".into(),
        Condition::EvalExpired => "Evaluation period expired".into(),
        Condition::ServiceOoc { sku } => format!("Out of compliance: {sku}"),
        Condition::ManagerConnectionFailed => "Communication with the license manager failed".into(),
        Condition::FeatureGraceExpired { sku } => format!("Feature grace period expired: {sku}"),
        Condition::AuthorizationExpired => "Authorization expired".into(),
        Condition::RegistrationExpired => "Registration expired".into(),
        Condition::Reserved => "Licence reservation installed".into(),
    }
}

/// The last usage report (SKU → count) as `SKU count, …`, or `None`.
fn usage_words(report: &BTreeMap<String, u64>) -> String {
    let words: Vec<String> = report.iter().map(|(sku, n)| format!("{sku} {n}")).collect();
    if words.is_empty() {
        "None".into()
    } else {
        words.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_usage_read_as_words() {
        let sku = "ASR5K-00-EG01RS".to_string();
        assert_eq!(
            condition_words(&Condition::ServiceOoc { sku: sku.clone() }),
            "Out of compliance: ASR5K-00-EG01RS"
        );
        assert_eq!(
            condition_words(&Condition::FeatureGraceExpired { sku: sku.clone() }),
            "Feature grace period expired: ASR5K-00-EG01RS"
        );
        for c in [
            Condition::EvalMode,
            Condition::EvalExpired,
            Condition::ManagerConnectionFailed,
            Condition::AuthorizationExpired,
            Condition::RegistrationExpired,
        ] {
            let w = condition_words(&c);
            assert!(!w.contains(['{', '}', '"']), "{w}");
        }
        assert_eq!(usage_words(&Default::default()), "None");
        assert_eq!(usage_words(&[(sku, 2)].into()), "ASR5K-00-EG01RS 2");
    }
}
