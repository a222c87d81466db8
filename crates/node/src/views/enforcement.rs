//! `show license enforcement policy` and `show license enforcement status`: which new calls the
//! licences allow or block, and why.

use super::compliance::{feature_blocks, grace_over, grace_secs, usage_status};
use super::table::{row, table};
use smartlic_agent::AuthorizationStatus;
use smartlic_agent::Snapshot;
use smartlic_agent::admission::{CallPolicy, UNLIMITED};
use smartlic_protocol::Catalog;
use smartlic_protocol::time::format_cisco;
use std::fmt::Write;

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
    let wanted = Wanted {
        allowed: want_allowed,
        blocked: want_blocked,
    };
    let mut out = String::new();
    if services {
        service_enforcement(s, cat, &wanted, &mut out);
    }
    if features {
        if services {
            let _ = writeln!(out);
        }
        feature_enforcement(s, cat, &wanted, &mut out);
    }
    out
}

/// Which licences `show license enforcement status` lists: those allowing new calls, those
/// blocking them, or both.
struct Wanted {
    allowed: bool,
    blocked: bool,
}

impl Wanted {
    fn shows(&self, blocked: bool) -> bool {
        if blocked { self.blocked } else { self.allowed }
    }
}

/// The `Service Licenses:` table: each service's call policy and why.
fn service_enforcement(s: &Snapshot, cat: &Catalog, wanted: &Wanted, out: &mut String) {
    let _ = writeln!(out, "Service Licenses:");
    let _ = writeln!(
        out,
        "  {:<7} {:<20} {:<8} {:>12}  Reason",
        "Service", "SKU", "Status", "Sessions"
    );
    for (i, svc) in cat.service.iter().enumerate() {
        let Some(v) = s.services.get(i) else { continue };
        let blocked = v.policy == CallPolicy::Block;
        if !wanted.shows(blocked) {
            continue;
        }
        let reason = match v.policy {
            CallPolicy::Block => service_block_reason(s, cat, &svc.sku, &svc.service),
            CallPolicy::Allow { limit } if limit < UNLIMITED => format!("evaluation, up to {limit} sessions"),
            CallPolicy::Allow { .. } => "licensed".into(),
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

/// The `Feature Licenses:` table: each on/off feature, whether it blocks its services and why.
fn feature_enforcement(s: &Snapshot, cat: &Catalog, wanted: &Wanted, out: &mut String) {
    let _ = writeln!(out, "Feature Licenses:");
    let _ = writeln!(
        out,
        "  {:<20} {:<8} {:<8} {:<32} Reason",
        "Feature", "State", "Status", "Grace Period Ends"
    );
    let grace = grace_secs(cat);
    for f in &cat.feature {
        let on = s.state.features.contains(&f.sku);
        let g = s.state.feature_grace.get(&f.sku);
        let expired = grace_over(s, cat, &f.sku);
        let blocked = feature_blocks(s, cat, f);
        if !wanted.shows(blocked) {
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

/// Why a service blocks its new calls: the authorization or evaluation expired, it is out of
/// compliance, or enforced features of it are past their grace period.
fn service_block_reason(s: &Snapshot, cat: &Catalog, sku: &str, service: &str) -> String {
    match s.authorization_word {
        AuthorizationStatus::AuthorizationExpired => return "authorization expired".into(),
        AuthorizationStatus::EvalExpired => return "evaluation period expired".into(),
        _ => {}
    }
    if usage_status(s, sku) == "OUT OF COMPLIANCE" {
        return "out of compliance".into();
    }
    let by: Vec<&str> = cat
        .feature
        .iter()
        .filter(|f| {
            f.enforced
                && f.services.iter().any(|x| x == service)
                && s.state.features.contains(&f.sku)
                && grace_over(s, cat, &f.sku)
        })
        .map(|f| f.sku.as_str())
        .collect();
    if by.is_empty() {
        "blocked".into()
    } else {
        format!("feature out of compliance: {}", by.join(","))
    }
}
