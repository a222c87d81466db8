//! Group commit of usage reports (the renewal's write path), on both engines.
//!
//! SQLite lets one writer in at a time, so every statement a renewal runs inside its write
//! transaction is time the whole fleet waits. On a busy machine each statement also waits for
//! its thread to be scheduled again (measured: 1,100-1,300 renewals/s at 64 concurrent devices
//! with one transaction per report, on 2 cores shared with the client). On PostgreSQL writers
//! run side by side, but each statement is a round trip to a server process competing for the
//! same cores (measured: 1,370/s one by one, 1,970/s batched; docs/performance.md). Here one writer task on
//! its own thread takes every report waiting (up to [`MAX_BATCH`], one per instance) and applies
//! them in one transaction with a fixed number of multi-row statements, however many reports
//! change something: record the nonces, lock and stamp the instances, read their usage and their
//! VAs' totals and lots, then write the changed instance counts, add the changes to the VA totals
//! (one statement that returns the new totals), set changed statuses and append the events.
//! Measured on PostgreSQL: one statement per changed report (about one report in five) held the
//! writer to 1,580 renewals/s; one per batch gave 2,000/s on the same machine.
//!
//! The answers are the ones one report at a time would give: reports of one batch apply in
//! arrival order, each seeing the VA totals the previous ones left. If the batch fails as a
//! whole (a database error), each of its reports is retried alone — as a batch of one, the only
//! way a report is ever applied — so an error reaches only the report that caused it. With several managers on one PostgreSQL database each runs its own
//! batches; rows are locked instances first, then VA totals, as every other writer does.

use super::batch_db::{Arg, BatchTx, Stmt, WriterDb};
use super::instances::{DailyUsage, SkuFigures, UsageReport, daily_stmt, describe, unknown_instance};
use super::{Audit, Event, events_stmt, placeholders, value_rows};
use crate::compliance::{self, Lot};
use crate::error::StoreError;
use crate::ids::{AccountId, ProductInstanceId, VirtualAccountId};
use crate::refusal::Refusal;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use tokio::sync::{mpsc, oneshot};

/// Most reports in one transaction. Half the fleet's concurrency (64 in the benchmark) lets one
/// batch's requests be verified and answered while the other's are in the database; measured on
/// PostgreSQL, 2,000 devices: 64 gave 2,470-2,520/s p99 60-69 ms, 32 gave 2,610-2,700/s p99
/// 52-67 ms, 16 gave 2,230-2,280/s p99 68-74 ms.
pub(crate) const MAX_BATCH: usize = 32;

/// Decides the status recorded on an instance from its report's figures.
pub(crate) type StatusFn = Box<dyn Fn(&[SkuFigures]) -> &'static str + Send + Sync>;

/// What one report comes to: its figures, or why the store refused or failed it.
pub(crate) type Answer = Result<UsageReport, StoreError>;

/// One report waiting for the writer.
pub(crate) struct ReportJob {
    pub(crate) id: ProductInstanceId,
    pub(crate) hostname: String,
    pub(crate) usage: Vec<(String, i64)>,
    pub(crate) now: i64,
    pub(crate) nonce: Option<(String, i64)>,
    pub(crate) status_of: StatusFn,
    pub(crate) audit: Audit,
}

/// A report and where its answer goes.
pub(crate) type Queued = (ReportJob, oneshot::Sender<Answer>);

/// What the writer is sent.
pub(crate) enum Msg {
    /// A report to apply.
    Report(Queued),
    /// Apply what is waiting, close the connection, say so, and stop.
    Close(oneshot::Sender<()>),
}

/// The writer: applies waiting reports in batches on `db` until every sender is gone or it is
/// told to close. `db`'s store must not itself send to this writer (it is the plain store the
/// batches run on).
pub(crate) async fn run(mut db: WriterDb, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut waiting: VecDeque<Queued> = VecDeque::new();
    let mut closing = None;
    loop {
        if waiting.is_empty() && closing.is_none() {
            match rx.recv().await {
                Some(Msg::Report(job)) => waiting.push_back(job),
                Some(Msg::Close(done)) => closing = Some(done),
                None => break,
            }
        }
        while waiting.len() < MAX_BATCH * 4 && closing.is_none() {
            match rx.try_recv() {
                Ok(Msg::Report(job)) => waiting.push_back(job),
                Ok(Msg::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if waiting.is_empty() {
            break;
        }
        // One report per instance per batch: a second one waits for the next batch, so that
        // reports of one instance apply in order, each over the last.
        let mut batch = Vec::new();
        let mut replies = Vec::new();
        let mut later = VecDeque::new();
        let mut ids = HashSet::new();
        while let Some((job, reply)) = waiting.pop_front() {
            if batch.len() < MAX_BATCH && ids.insert(job.id.clone()) {
                batch.push(job);
                replies.push(reply);
            } else {
                later.push_back((job, reply));
            }
        }
        waiting = later;
        match apply(&mut db, &batch).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                tracing::debug!(
                    "a batch of {} usage reports failed ({e}); applying them one by one",
                    batch.len()
                );
                for (job, reply) in batch.iter().zip(replies) {
                    let _ = reply.send(apply_alone(&mut db, job).await);
                }
            }
        }
    }
    // Reports sent from now on find the channel closed: "the database writer has stopped".
    rx.close();
    db.close().await;
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// Applies one report on its own: a batch of one, so that a failure reaches only this report.
pub(crate) async fn apply_alone(db: &mut WriterDb, job: &ReportJob) -> Answer {
    let mut answers = apply(db, std::slice::from_ref(job)).await?;
    answers.pop().unwrap_or_else(|| Err(left_out()))
}

/// Applies `batch` in one transaction; per report its answer or the rule that refused it.
// Long: the six steps of one batch share its maps (found, totals, lots); apart, each would take them all as arguments.
async fn apply(db: &mut WriterDb, batch: &[ReportJob]) -> Result<Vec<Answer>, StoreError> {
    let mut results: Vec<Option<Result<UsageReport, Refusal>>> = batch.iter().map(|_| None).collect();
    let mut tx = db.begin().await?;

    // 1. Nonces (with their requests' timestamps): a replay is refused, the rest recorded.
    let with_nonce: Vec<(usize, &(String, i64))> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, j)| j.nonce.as_ref().map(|n| (i, n)))
        .collect();
    if !with_nonce.is_empty() {
        let mut q = Stmt::new(format!(
            "INSERT INTO seen_nonces (nonce, seen_at) VALUES {} ON CONFLICT (seen_at, nonce) DO NOTHING \
             RETURNING nonce, seen_at",
            value_rows(with_nonce.len(), 2)
        ));
        for (_, (nonce, at)) in &with_nonce {
            q.arg(Arg::Text(nonce)).arg(Arg::Int(*at));
        }
        let accepted: HashSet<(String, i64)> = tx.fetch(q).await?.into_iter().collect();
        let mut first_use = HashSet::new();
        for (i, seen) in &with_nonce {
            // The same request twice in one batch: only the first one is new.
            if !accepted.contains(*seen) || !first_use.insert(*seen) {
                results[*i] = Some(Err(Refusal::Replayed));
            }
        }
    }

    // 2. Lock and stamp the instances; read their VA and last status.
    let live: Vec<usize> = (0..batch.len()).filter(|i| results[*i].is_none()).collect();
    let mut found: HashMap<String, (AccountId, VirtualAccountId, Option<String>)> = HashMap::new();
    if !live.is_empty() {
        let mut when_now = String::new();
        let mut id_params = Vec::new();
        for (k, _) in live.iter().enumerate() {
            let (id, now) = (2 * k + 1, 2 * k + 2);
            when_now.push_str(&format!(" WHEN ${id} THEN ${now}"));
            id_params.push(format!("${id}"));
        }
        let mut q = Stmt::new(format!(
            "UPDATE product_instances SET last_contact = CASE id{when_now} END, last_auth_at = CASE id{when_now} END \
             WHERE id IN ({}) RETURNING id, account_id, va_id, last_auth_status, hostname",
            id_params.join(", ")
        ));
        for &i in &live {
            let j = &batch[i];
            q.arg(Arg::Text(&j.id)).arg(Arg::Int(j.now));
        }
        let mut hostnames = HashMap::new();
        let stamped: Vec<(String, AccountId, VirtualAccountId, Option<String>, String)> = tx.fetch(q).await?;
        for (id, account, va, status, hostname) in stamped {
            hostnames.insert(id.clone(), hostname);
            found.insert(id, (account, va, status));
        }
        for &i in &live {
            if !found.contains_key(batch[i].id.as_str()) {
                results[i] = Some(Err(unknown_instance(&batch[i].id)));
            }
        }
        // The hostname is indexed (instance pages are by hostname): written only where it changed.
        let renamed: Vec<(&str, &str)> = live
            .iter()
            .map(|&i| &batch[i])
            .filter(|j| hostnames.get(j.id.as_str()).is_some_and(|h| *h != j.hostname))
            .map(|j| (j.id.as_str(), j.hostname.as_str()))
            .collect();
        set_text_by_id(&mut tx, "hostname", &renamed).await?;
    }
    let live: Vec<usize> = (0..batch.len()).filter(|i| results[*i].is_none()).collect();
    if live.is_empty() {
        tx.commit().await?;
        return Ok(finish(results));
    }

    // 3. Their usage, their VAs' totals and licence lots.
    let ids: Vec<&str> = live.iter().map(|&i| batch[i].id.as_str()).collect();
    let mut vas: Vec<&str> = live
        .iter()
        .filter_map(|&i| found.get(batch[i].id.as_str()).map(|f| f.1.as_str()))
        .collect();
    vas.sort_unstable();
    vas.dedup();
    let mut q = Stmt::new(format!(
        "SELECT 0 AS which, instance_id, sku, count FROM instance_usage WHERE instance_id IN ({}) \
         UNION ALL SELECT 1 AS which, va_id, sku, in_use FROM va_usage WHERE va_id IN ({})",
        placeholders(1, ids.len()),
        placeholders(ids.len() + 1, vas.len())
    ));
    for id in ids.iter().chain(&vas) {
        q.arg(Arg::Text(id));
    }
    let mut old_usage: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    let mut va_totals: HashMap<(String, String), i64> = HashMap::new();
    let usage_rows: Vec<(i64, String, String, i64)> = tx.fetch(q).await?;
    for (which, key, sku, n) in usage_rows {
        if which == 0 {
            old_usage.entry(key).or_default().push((sku, n));
        } else {
            va_totals.insert((key, sku), n);
        }
    }
    let mut q = Stmt::new(format!(
        "SELECT va_id, sku, end_date, CAST(SUM(quantity) AS BIGINT) AS quantity FROM license_deposits \
         WHERE va_id IN ({}) GROUP BY va_id, sku, end_date",
        placeholders(1, vas.len())
    ));
    for va in &vas {
        q.arg(Arg::Text(va));
    }
    let mut lots: HashMap<(String, String), Vec<Lot>> = HashMap::new();
    let lot_rows: Vec<(String, String, Option<i64>, i64)> = tx.fetch(q).await?;
    for (va, sku, end_date, quantity) in lot_rows {
        lots.entry((va, sku)).or_default().push(Lot { end_date, quantity });
    }
    // 4. What each report changes, VA by VA (the lock order of the VA totals) and in arrival
    //    order within a VA, worked out in memory.
    let mut live = live;
    live.sort_by(|a, b| {
        let va = |i: &usize| found.get(batch[*i].id.as_str()).map(|f| f.1.as_str());
        va(a).cmp(&va(b))
    });
    let mut plans: Vec<(usize, Vec<compliance::UsageChange>)> = Vec::with_capacity(live.len());
    let mut deltas: BTreeMap<(String, String), i64> = BTreeMap::new();
    for &i in &live {
        let job = &batch[i];
        let Some((_, va_id, _)) = found.get(job.id.as_str()) else {
            continue;
        };
        let old = old_usage.remove(job.id.as_str()).unwrap_or_default();
        let changes = compliance::usage_changes(&old, &job.usage);
        for c in &changes {
            *deltas.entry((va_id.to_string(), c.sku.clone())).or_default() += c.delta;
        }
        plans.push((i, changes));
    }

    // 5. Write every change at once: the instances' rows, then the VA totals. The totals are
    //    added to, not overwritten (another manager may have changed them since step 3); what
    //    they come to tells what they were before this batch.
    write_instance_usage(&mut tx, batch, &plans).await?;
    deltas.retain(|_, d| *d != 0);
    for ((va, sku), total) in add_to_va_totals(&mut tx, &deltas).await? {
        let before = total - deltas.get(&(va.clone(), sku.clone())).copied().unwrap_or(0);
        va_totals.insert((va, sku), before);
    }

    // 6. Each report in turn: the totals it leaves, its answer, its status and what the log keeps.
    let mut daily: Vec<DailyUsage> = Vec::new();
    let mut new_status: Vec<(&str, &'static str)> = Vec::new();
    let mut events = Vec::new();
    for (i, changes) in &plans {
        let job = &batch[*i];
        let Some((account_id, va_id, old_status)) = found.get(job.id.as_str()) else {
            continue;
        };
        for c in changes {
            let total = va_totals.entry((va_id.to_string(), c.sku.clone())).or_insert(0);
            let before = *total;
            *total += c.delta;
            let d = DailyUsage::new(va_id, &c.sku, job.now, before, *total);
            match daily
                .iter_mut()
                .find(|x| x.va_id == d.va_id && x.sku == d.sku && x.day == d.day)
            {
                Some(x) => {
                    x.peak = x.peak.max(d.peak);
                    x.last = d.last;
                }
                None => daily.push(d),
            }
        }
        let skus: Vec<SkuFigures> = job
            .usage
            .iter()
            .map(|(sku, count)| {
                let key = (va_id.to_string(), sku.clone());
                SkuFigures {
                    sku: sku.clone(),
                    count: *count,
                    in_use: va_totals.get(&key).copied().unwrap_or(0),
                    purchased: lots.get(&key).map(|l| compliance::purchased(l, job.now)).unwrap_or(0),
                }
            })
            .collect();
        let status = (job.status_of)(&skus);
        let status_changed = old_status.as_deref() != Some(status);
        if status_changed {
            new_status.push((job.id.as_str(), status));
        }
        if !changes.is_empty() || status_changed {
            let new_usage: Vec<(String, i64)> = job.usage.iter().filter(|(_, c)| *c > 0).cloned().collect();
            events.push((
                job.now,
                &job.audit,
                Event {
                    action: "device.usage",
                    account_id: Some(account_id),
                    va_id: Some(va_id),
                    object_id: Some(job.id.as_str()),
                    detail: format!("usage now {}; {status}", describe(&new_usage)),
                },
            ));
        }
        results[*i] = Some(Ok(UsageReport { skus }));
    }
    set_text_by_id(&mut tx, "last_auth_status", &new_status).await?;
    if !events.is_empty() {
        tx.execute(events_stmt(&events)).await?;
    }
    // In key order, as the VA totals: writers of several managers lock these rows alike.
    daily.sort_by(|a, b| (&a.va_id, &a.sku, a.day).cmp(&(&b.va_id, &b.sku, b.day)));
    if !daily.is_empty() {
        tx.execute(daily_stmt(&daily)).await?;
    }
    tx.commit().await?;
    Ok(finish(results))
}

/// Sets one text column of product instances, each to its own value: one statement for all
/// `(id, value)` pairs, none for an empty list.
async fn set_text_by_id(tx: &mut BatchTx<'_>, column: &'static str, values: &[(&str, &str)]) -> Result<(), StoreError> {
    if values.is_empty() {
        return Ok(());
    }
    let mut when = String::new();
    let mut ids = Vec::with_capacity(values.len());
    for k in 0..values.len() {
        when.push_str(&format!(" WHEN ${} THEN ${}", 2 * k + 1, 2 * k + 2));
        ids.push(format!("${}", 2 * k + 1));
    }
    let mut q = Stmt::new(format!(
        "UPDATE product_instances SET {column} = CASE id{when} END WHERE id IN ({})",
        ids.join(", ")
    ));
    for (id, value) in values {
        q.arg(Arg::Text(id)).arg(Arg::Text(value));
    }
    tx.execute(q).await?;
    Ok(())
}

/// Sets the instances' new counts and removes the rows that fell to zero: one statement each.
async fn write_instance_usage(
    tx: &mut BatchTx<'_>,
    batch: &[ReportJob],
    plans: &[(usize, Vec<compliance::UsageChange>)],
) -> Result<(), StoreError> {
    let mut set: Vec<(&str, &str, i64)> = Vec::new();
    let mut gone: Vec<(&str, &str)> = Vec::new();
    for (i, changes) in plans {
        for c in changes {
            if c.new_count == 0 {
                gone.push((batch[*i].id.as_str(), c.sku.as_str()));
            } else {
                set.push((batch[*i].id.as_str(), c.sku.as_str(), c.new_count));
            }
        }
    }
    if !set.is_empty() {
        let mut q = Stmt::new(format!(
            "INSERT INTO instance_usage (instance_id, sku, count) VALUES {} \
             ON CONFLICT (instance_id, sku) DO UPDATE SET count = excluded.count",
            value_rows(set.len(), 3)
        ));
        for (id, sku, n) in &set {
            q.arg(Arg::Text(id)).arg(Arg::Text(sku)).arg(Arg::Int(*n));
        }
        tx.execute(q).await?;
    }
    if !gone.is_empty() {
        let cond: Vec<String> = (0..gone.len())
            .map(|k| format!("(instance_id = ${} AND sku = ${})", 2 * k + 1, 2 * k + 2))
            .collect();
        let mut q = Stmt::new(format!("DELETE FROM instance_usage WHERE {}", cond.join(" OR ")));
        for (id, sku) in &gone {
            q.arg(Arg::Text(id)).arg(Arg::Text(sku));
        }
        tx.execute(q).await?;
    }
    Ok(())
}

/// Adds each (VA, SKU)'s delta to its total, in key order (the lock order); returns the totals.
async fn add_to_va_totals(
    tx: &mut BatchTx<'_>,
    deltas: &BTreeMap<(String, String), i64>,
) -> Result<Vec<((String, String), i64)>, StoreError> {
    if deltas.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Stmt::new(format!(
        "INSERT INTO va_usage (va_id, sku, in_use) VALUES {} \
         ON CONFLICT (va_id, sku) DO UPDATE SET in_use = va_usage.in_use + excluded.in_use \
         RETURNING va_id, sku, in_use",
        value_rows(deltas.len(), 3)
    ));
    for ((va, sku), d) in deltas {
        q.arg(Arg::Text(va)).arg(Arg::Text(sku)).arg(Arg::Int(*d));
    }
    let totals: Vec<(String, String, i64)> = tx.fetch(q).await?;
    Ok(totals.into_iter().map(|(va, sku, n)| ((va, sku), n)).collect())
}

/// Every report's answer; one left without an answer is a bug, reported as such.
fn finish(results: Vec<Option<Result<UsageReport, Refusal>>>) -> Vec<Answer> {
    results
        .into_iter()
        .map(|r| match r {
            Some(r) => r.map_err(StoreError::from),
            None => Err(left_out()),
        })
        .collect()
}

fn left_out() -> StoreError {
    StoreError::Inconsistent("a usage report was left out of its batch".into())
}
