//! The CSV reports beside the JSON lists: a virtual account's licences and the product
//! instances of an account, written by [`crate::csv_export`] (as the event log's export is).

use super::*;
use crate::csv_export::Cell;

/// A virtual account's licences as CSV: per SKU the columns of `license list`, and the licences
/// with an end date as `YYYY-MM-DD=N` pairs joined by `;`.
pub(crate) async fn licenses_csv(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
) -> Result<String, ApiError> {
    let list = license_list(state, caller, account, va).await?;
    crate::csv_export::write(
        &[
            "virtual_account",
            "sku",
            "description",
            "kind",
            "purchased",
            "in_use",
            "balance",
            "status",
            "end_dates",
        ],
        list.licenses.iter().map(|l| {
            [
                list.virtual_account.as_str().into(),
                l.sku.as_str().into(),
                l.description.as_str().into(),
                l.kind.as_str().into(),
                Cell::Int(l.purchased),
                Cell::Int(l.in_use),
                Cell::Int(l.balance),
                l.status.as_str().into(),
                Cell::Text(
                    l.end_dates
                        .iter()
                        .map(|d| format!("{}={}", d.date, d.quantity))
                        .collect::<Vec<_>>()
                        .join(";"),
                ),
            ]
        }),
    )
}

/// Every product instance of an account (or one virtual account) as CSV, by hostname then id:
/// the columns of `instance list` ([`crate::csv_export`]).
pub(crate) async fn instances_csv(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: Option<&str>,
) -> Result<String, ApiError> {
    let mut rows: Vec<InstanceInfo> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list_instances(
            state,
            caller,
            account,
            va,
            PageRequest {
                limit: Some(MAX_INSTANCE_PAGE),
                after: after.as_deref(),
            },
        )
        .await?;
        rows.extend(page.instances);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    crate::csv_export::write(
        &[
            "id",
            "udi",
            "hostname",
            "virtual_account",
            "software_tag",
            "registered_at",
            "last_contact",
            "id_expires_at",
            "status",
            "satellite",
        ],
        rows.into_iter().map(|i| {
            // A satellite's instance carries no registration or certificate times: empty cells.
            let time = |t: i64| match t {
                0 => String::new(),
                t => smartlic_protocol::time::format_rfc3339(t),
            };
            [
                i.id,
                i.udi,
                i.hostname,
                i.virtual_account,
                i.software_tag,
                time(i.registered_at),
                smartlic_protocol::time::format_rfc3339(i.last_contact),
                time(i.id_expires_at),
                i.status,
                i.satellite.unwrap_or_default(),
            ]
        }),
    )
}
