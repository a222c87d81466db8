//! Every CSV the manager writes (the event log, a virtual account's licences, product
//! instances), through the `csv` crate: RFC 4180 (CRLF line ends, a field quoted when it holds
//! a comma, a quote or a line break, quotes doubled), one header row, and the spreadsheet guard:
//! a cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets
//! a leading `'`, so an export cannot carry one, whatever a device or a user wrote into it.
//! Numbers the manager counts itself ([`Cell::Int`], e.g. a negative balance) are written as
//! they are: a spreadsheet reads `-3` as the number it is.

use crate::api::ApiError;
use std::borrow::Cow;

/// A cell as written: with a leading `'` when a spreadsheet would take it for a formula.
pub(crate) fn guard(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// One cell of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    /// Text, [`guard`]ed.
    Text(String),
    /// An integer the manager computed, written as it is.
    Int(i64),
}

impl Cell {
    fn written(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(t) => guard(t),
            Cell::Int(n) => Cow::Owned(n.to_string()),
        }
    }
}

impl From<String> for Cell {
    fn from(t: String) -> Cell {
        Cell::Text(t)
    }
}

impl From<&str> for Cell {
    fn from(t: &str) -> Cell {
        Cell::Text(t.to_string())
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

/// A CSV document: `headers`, then one record per row.
pub(crate) fn write<R, C>(headers: &[&str], rows: R) -> Result<String, ApiError>
where
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: Into<Cell>,
{
    let failed = |e: csv::Error| ApiError::Internal(format!("writing CSV: {e}"));
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    out.write_record(headers).map_err(failed)?;
    for row in rows {
        let cells: Vec<Cell> = row.into_iter().map(Into::into).collect();
        out.write_record(cells.iter().map(|c| c.written().into_owned()))
            .map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("writing CSV: {}", e.error())))?;
    // Every cell was a `str` and the writer adds only ASCII.
    String::from_utf8(bytes).map_err(|_| ApiError::Internal("writing CSV: not UTF-8".into()))
}

/// A CSV download named `filename`.
pub(crate) fn response(filename: &str, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_nothing_else() {
        for bad in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(bad), format!("'{bad}"));
        }
        for fine in ["", "a=b", "1-2", "'=x", " =x", "x@y"] {
            assert_eq!(guard(fine), fine);
        }
    }

    #[test]
    fn records_are_rfc_4180() {
        let csv = write(&["a", "b"], [vec!["x,y", "say \"hi\""], vec!["", "two\nlines"]]).unwrap();
        assert_eq!(csv, "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n,\"two\nlines\"\r\n");
        let csv = write(&["n", "t"], [[Cell::Int(-3), Cell::from("-3")]]).unwrap();
        assert_eq!(csv, "n,t\r\n-3,'-3\r\n", "computed numbers are not guarded, text is");
        assert_eq!(write(&["only"], Vec::<Vec<&str>>::new()).unwrap(), "only\r\n");
    }
}
