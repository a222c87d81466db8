//! `smartlic alert list`, `event list`, `usage` and `webhook add|list|remove`: what an account's
//! administrators watch (docs/interface.md §2). Tables by default, `--json` one JSON document,
//! `event list --csv` the manager's CSV export as it came.

use super::cli::{AlertCommand, EventCommand, ListScope, WebhookCommand};
use super::print::{print_json, print_list, table};
use anyhow::Result;
use smartlic_client::{AdminClient, EventFilter};
use smartlic_protocol::admin::{EventInfo, UsageHistory};
use smartlic_protocol::time::format_rfc3339;

/// The most events the manager lists at once.
const MAX_LIMIT: u32 = 1000;

/// `smartlic alert list`.
pub(super) async fn alert(c: &AdminClient, cmd: AlertCommand) -> Result<()> {
    let AlertCommand::List(ListScope { account, va, json }) = cmd;
    let mut list = c.alerts(&account).await?;
    if let Some(va) = va {
        list.retain(|a| a.virtual_account.eq_ignore_ascii_case(&va));
    }
    let headers = ["SEVERITY", "ALERT", "VIRTUAL ACCOUNT", "SUBJECT", "SINCE", "MESSAGE"];
    print_list(json, &list, &headers, |a| {
        vec![
            a.severity.to_uppercase(),
            a.kind.clone(),
            a.virtual_account.clone(),
            a.subject.clone(),
            format_rfc3339(a.at),
            a.message.clone(),
        ]
    })
}

/// `smartlic event list`.
pub(super) async fn event(c: &AdminClient, cmd: EventCommand) -> Result<()> {
    let EventCommand::List {
        account,
        va,
        action,
        actor,
        since,
        until,
        after,
        limit,
        json,
        csv,
    } = cmd;
    let mut filter = EventFilter {
        va,
        action,
        actor,
        since,
        until,
        after,
        limit: Some(limit),
    };
    if csv {
        write_raw(&c.events_csv(&account, &filter).await?);
        return Ok(());
    }
    // One event more than the page tells whether there is a next page.
    filter.limit = Some((limit + 1).min(MAX_LIMIT));
    let mut events = c.events(&account, &filter).await?;
    let more = events.len() > limit as usize || (limit == MAX_LIMIT && events.len() == limit as usize);
    events.truncate(limit as usize);
    if json {
        return print_json(&events);
    }
    outln!("{}", event_table(&events, more));
    Ok(())
}

/// Writes `text` to stdout as it is (no line added); a closed pipe ends the process quietly.
pub(super) fn write_raw(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("smartlic: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// The event table; with `more`, a last line naming the cursor of the next page.
fn event_table(events: &[EventInfo], more: bool) -> String {
    if events.is_empty() {
        return "No events.".into();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                format_rfc3339(e.at),
                e.actor.clone(),
                e.action.clone(),
                e.object_id.clone().unwrap_or_else(|| "-".into()),
                e.source.clone().unwrap_or_else(|| "-".into()),
                e.detail.replace(['\n', '\r'], " "),
            ]
        })
        .collect();
    let mut out = table(&["ID", "TIME", "ACTOR", "ACTION", "OBJECT", "SOURCE", "DETAIL"], &rows);
    if let (true, Some(last)) = (more, events.last()) {
        out.push_str(&format!("\nNext page: --after {}", last.id));
    }
    out
}

/// `smartlic usage`.
pub(super) async fn usage(c: &AdminClient, account: &str, va: &str, days: Option<u32>, json: bool) -> Result<()> {
    let h = c.usage(account, va, days).await?;
    if json {
        return print_json(&h);
    }
    outln!("{}", usage_table(&h));
    Ok(())
}

/// The usage history: one row per day, one column of licences in use per SKU.
fn usage_table(h: &UsageHistory) -> String {
    let mut out = format!("Virtual Account: {}\n\n", h.virtual_account);
    if h.skus.is_empty() {
        out.push_str("No licenses purchased or in use.");
        return out;
    }
    let mut headers = vec!["DAY".to_string()];
    headers.extend(h.skus.iter().map(|s| s.sku.clone()));
    let days = h.skus.iter().map(|s| s.days.len()).max().unwrap_or(0);
    let mut rows = Vec::with_capacity(days + 1);
    for i in 0..days {
        let mut row = vec![
            h.skus
                .iter()
                .find_map(|s| s.days.get(i).map(|d| d.day.clone()))
                .unwrap_or_default(),
        ];
        row.extend(
            h.skus
                .iter()
                .map(|s| s.days.get(i).map(|d| d.in_use.to_string()).unwrap_or_default()),
        );
        rows.push(row);
    }
    let mut purchased = vec!["PURCHASED".to_string()];
    purchased.extend(h.skus.iter().map(|s| s.purchased.to_string()));
    rows.push(purchased);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    out.push_str(&table(&headers, &rows));
    out
}

/// `smartlic webhook …`
pub(super) async fn webhook(c: &AdminClient, cmd: WebhookCommand) -> Result<()> {
    match cmd {
        WebhookCommand::Add { account, url } => {
            let w = c.add_webhook(&account, &url).await?;
            outln!("webhook {}", w.info.id);
            outln!("secret {}", w.secret);
        }
        WebhookCommand::List { account, json } => {
            let list = c.webhooks(&account).await?;
            print_list(json, &list, &["ID", "URL", "CREATED", "CREATED BY"], |w| {
                vec![
                    w.id.clone(),
                    w.url.clone(),
                    format_rfc3339(w.created_at),
                    w.created_by.clone(),
                ]
            })?;
        }
        WebhookCommand::Remove { account, id } => {
            c.remove_webhook(&account, &id).await?;
            outln!("Removed webhook {id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartlic_protocol::admin::{SkuUsage, UsagePoint};

    fn event(id: i64) -> EventInfo {
        EventInfo {
            id,
            at: 1_800_000_000,
            actor: "operator".into(),
            action: "token.create".into(),
            virtual_account_id: None,
            object_id: None,
            detail: "two\nlines".into(),
            source: None,
        }
    }

    #[test]
    fn event_pages_end_with_their_cursor() {
        let t = event_table(&[event(9), event(8)], true);
        assert!(t.ends_with("\nNext page: --after 8"), "{t}");
        assert!(t.contains("two lines"), "{t}");
        let t = event_table(&[event(9)], false);
        assert!(!t.contains("Next page"), "{t}");
        assert_eq!(event_table(&[], false), "No events.");
    }

    #[test]
    fn usage_is_one_row_per_day() {
        let point = |day: &str, in_use| UsagePoint {
            day: day.into(),
            in_use,
        };
        let h = UsageHistory {
            virtual_account: "DEFAULT".into(),
            skus: vec![
                SkuUsage {
                    sku: "A".into(),
                    description: String::new(),
                    purchased: 10,
                    days: vec![point("2027-01-14", 1), point("2027-01-15", 3)],
                },
                SkuUsage {
                    sku: "BB".into(),
                    description: String::new(),
                    purchased: 2,
                    days: vec![point("2027-01-14", 0), point("2027-01-15", 2)],
                },
            ],
        };
        assert_eq!(
            usage_table(&h),
            "Virtual Account: DEFAULT\n\nDAY         A   BB\n2027-01-14  1   0\n2027-01-15  3   2\nPURCHASED   10  2"
        );
    }
}
