//! `show license udi`: the product's UDI and, on a VPC-DI, its HA UDI list.

use smartlic_agent::Snapshot;
use std::fmt::Write;

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
