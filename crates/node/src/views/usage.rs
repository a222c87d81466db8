//! `show license usage`: one block per entitlement in use (also the usage part of `show license
//! all`).

use super::compliance::in_use_status;
use smartlic_agent::Snapshot;
use smartlic_protocol::{Catalog, Entitlement};
use std::fmt::Write;

/// The entitlements in use, one block each, as `iosxe-show-license-usage.txt`.
pub(super) fn usage_entries(s: &Snapshot, cat: &Catalog, out: &mut String) {
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
