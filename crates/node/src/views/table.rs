//! Tables laid out as wide as their widest cells.

use std::fmt::Write;

/// A table whose columns are as wide as their widest cell (the last one is not padded), each line
/// indented by `indent` spaces. `right` lists the columns aligned to the right.
pub(super) fn table(out: &mut String, indent: usize, right: &[usize], rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|x| x.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = " ".repeat(indent);
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push(' ');
            }
            let w = widths[c];
            if right.contains(&c) {
                let _ = write!(line, "{cell:>w$}");
            } else if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// One row of a table from its cells.
pub(super) fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}
