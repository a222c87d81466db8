//! `show license smart-tags [feature|service]`: the catalog's entitlement tags.

use super::table::{row, table};
use smartlic_agent::Snapshot;
use smartlic_protocol::Catalog;
use std::fmt::Write;

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
