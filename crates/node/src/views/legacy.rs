//! The legacy licence key: `show license information` and `show license history`.

use smartlic_agent::Snapshot;
use smartlic_protocol::Catalog;
use smartlic_protocol::time::{format_cisco, format_date};
use std::fmt::Write;

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
