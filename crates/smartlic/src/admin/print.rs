//! How the administration commands print: plain text tables (comfy-table, no borders, columns
//! padded to their widest cell and two spaces apart), or (`--json`) one pretty JSON document; and
//! the key file written by `operator rotate-key`.

use anyhow::Result;
use serde::Serialize;
use smartlic_protocol::admin::{LicenseList, LicenseUsage};

/// Replaces `path` by `text`, owner-readable only (a fresh temporary file renamed over it).
pub(super) fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A plain text table: a header line, then one line per row; no borders, each column as wide
/// as its widest cell (display width) and two spaces from the next; no trailing spaces.
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    let last = t.column_count().saturating_sub(1);
    for (i, c) in t.column_iter_mut().enumerate() {
        c.set_padding((0, if i == last { 0 } else { 2 }));
    }
    t.trim_fmt()
}

/// Prints `v` as one pretty JSON document.
pub(super) fn print_json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Prints a list: one JSON document with `json`, else a table of `headers`, one `row` per item.
pub(super) fn print_list<T: Serialize>(
    json: bool,
    items: &[T],
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    if json {
        return print_json(items);
    }
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    outln!("{}", table(headers, &rows));
    Ok(())
}

/// `license list`: the account and VA, then one row per SKU.
pub(super) fn license_table(l: &LicenseList) -> String {
    let mut out = format!(
        "Smart Account: {}\nVirtual Account: {}\n\n",
        l.account, l.virtual_account
    );
    if l.licenses.is_empty() {
        out.push_str("No licenses purchased or in use.");
        return out;
    }
    let rows: Vec<Vec<String>> = l
        .licenses
        .iter()
        .map(|s| {
            vec![
                s.sku.clone(),
                s.purchased.to_string(),
                s.in_use.to_string(),
                s.balance.to_string(),
                s.status.as_str().to_string(),
                s.end_dates
                    .iter()
                    .map(|e| format!("{} on {}", e.quantity, e.date))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    out.push_str(&table(
        &["SKU", "PURCHASED", "IN USE", "BALANCE", "STATUS", "EXPIRING"],
        &rows,
    ));
    // IN USE counts the satellites' licences too; say which are theirs.
    let mut by_satellite: Vec<(&str, Vec<String>)> = Vec::new();
    for u in &l.satellites {
        let line = format!("{} {}", u.in_use, u.sku);
        match by_satellite.iter_mut().find(|(n, _)| *n == u.satellite) {
            Some((_, v)) => v.push(line),
            None => by_satellite.push((&u.satellite, vec![line])),
        }
    }
    for (name, uses) in by_satellite {
        out.push_str(&format!("\nIn use at satellite {name}: {}", uses.join(", ")));
    }
    out
}

/// Licence counts in one line: `3 SKU-A, 1 SKU-B` or `no licenses`.
pub(super) fn released(r: &[LicenseUsage]) -> String {
    if r.is_empty() {
        "no licenses".into()
    } else {
        r.iter()
            .map(|u| format!("{} {}", u.count, u.sku))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["A", "LONGER"],
            &[vec!["xyz".into(), "1".into()], vec!["q".into(), "22".into()]],
        );
        assert_eq!(t, "A    LONGER\nxyz  1\nq    22");
        // Columns follow the display width; an empty cell keeps its column.
        let t = table(
            &["NAME", "N", "NOTE"],
            &[
                vec!["Müller".into(), "1".into(), "".into()],
                vec!["x".into(), "".into(), "z".into()],
            ],
        );
        assert_eq!(t, "NAME    N  NOTE\nMüller  1\nx          z");
        assert_eq!(table(&["ID", "NAME"], &[]), "ID  NAME");
    }
}
