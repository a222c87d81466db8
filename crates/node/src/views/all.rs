//! `show license all`: status, usage, product information, agent version and reservation info
//! (what `show license reservation` shows).

use super::status::all_status;
use super::udi::udi;
use super::usage::usage_entries;
use smartlic_agent::Snapshot;
use smartlic_agent::agent::AGENT_VERSION;
use smartlic_protocol::Catalog;
use std::fmt::Write;

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
    out.push_str(&super::reservation::reservation(s));
    out
}
