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
        let header = row(["TagId", "Service", "SKU", "Description", "Entitlement Tag"]);
        let tags = cat.service.iter();
        let rows = tags.map(|e| tag_row(e.tag_id, Some(&e.service), &e.sku, &e.description, &e.tag));
        tag_table(&mut out, "Service Tags:", header, rows);
    }
    if features {
        let header = row(["TagId", "SKU", "Description", "Entitlement Tag"]);
        let rows = cat
            .feature
            .iter()
            .map(|e| tag_row(e.tag_id, None, &e.sku, &e.description, &e.tag));
        tag_table(&mut out, "Feature Tags:", header, rows);
    }
    out
}

/// A row of a tag table: its id, its service (service tags only), SKU, description and tag.
fn tag_row(tag_id: u32, service: Option<&str>, sku: &str, description: &str, tag: &str) -> Vec<String> {
    let mut row = vec![tag_id.to_string()];
    row.extend(service.map(str::to_string));
    row.extend([sku, description, tag].map(str::to_string));
    row
}

/// A blank line, `title`, and the table of `header` and `rows`.
fn tag_table(out: &mut String, title: &str, header: Vec<String>, rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(out);
    let _ = writeln!(out, "{title}");
    let mut all = vec![header];
    all.extend(rows);
    table(out, 2, &[], &all);
}
