//! Satellite managers of a virtual account, the parent's side (docs/satellite.md): the
//! satellites, the product instances each reported at its last exchange, and its licences in
//! use per SKU — its share of the VA's `va_usage` totals, changed by the difference in the same
//! transaction as the instances, so every reader of the totals (licence list, compliance,
//! alerts) sees the merged figures without knowing about satellites.
//!
//! An exchange serializes on the virtual account's `version` row, like transfers and
//! reservations, so the answer's figures are those of one moment.

use super::instances::{add_va_usage, record_daily_many};
use super::licenses::{lock_va, lots};
use super::{Audit, Event, Store, WriteTx, append_events, value_rows};
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use crate::refusal::Refusal;
use smartlic_protocol::satellite::{AnswerLot, SatelliteEvent, SatelliteInstance};
use std::collections::BTreeMap;

/// Columns of a [`SatelliteRow`].
const COLUMNS: &str = "id, account_id, va_id, name, secret, identity_key, last_seq, last_answer, last_exchange, \
                       events_acknowledged, created_at, created_by";

/// A satellite of a virtual account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SatelliteRow {
    /// Id (in its token and every exchange file).
    pub id: String,
    /// Smart Account.
    pub account_id: AccountId,
    /// Virtual account it serves.
    pub va_id: VirtualAccountId,
    /// Name (unique per account).
    pub name: String,
    /// The token's secret, sealed under the master key.
    pub secret: String,
    /// The bound identity key (base64url), once a request proved the token.
    pub identity_key: Option<String>,
    /// Sequence number of the last request applied (0: none yet).
    pub last_seq: i64,
    /// The answer to `last_seq`.
    pub last_answer: Option<String>,
    /// When it last exchanged.
    pub last_exchange: Option<i64>,
    /// Highest satellite event id stored.
    pub events_acknowledged: i64,
    /// Creation time.
    pub created_at: i64,
    /// Who made it.
    pub created_by: String,
}

/// A product instance a satellite reported, as the parent lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SatelliteInstanceRow {
    /// Id (derived from the satellite and the UDI: stable across exchanges).
    pub id: String,
    /// Satellite name.
    pub satellite: String,
    /// Virtual account id.
    pub va_id: VirtualAccountId,
    /// Virtual account name.
    pub va_name: String,
    /// `PID:…,SN:…`.
    pub udi: String,
    /// Hostname.
    pub hostname: String,
    /// Status on the satellite.
    pub status: String,
    /// Last contact with the satellite.
    pub last_contact: i64,
    /// Usage per SKU (JSON object).
    pub usage: String,
}

impl SatelliteInstanceRow {
    /// Licences in use per SKU.
    pub fn usage(&self) -> Vec<(String, i64)> {
        serde_json::from_str::<BTreeMap<String, i64>>(&self.usage)
            .map(|m| m.into_iter().collect())
            .unwrap_or_default()
    }
}

/// A request the caller has checked (signature, key or proof, figures), to apply.
#[derive(Debug, Clone)]
pub struct CheckedRequest<'a> {
    /// Its sequence number.
    pub seq: i64,
    /// The identity key that signed it.
    pub key: &'a str,
    /// The satellite's instances.
    pub instances: &'a [SatelliteInstance],
    /// The satellite's events.
    pub events: &'a [SatelliteEvent],
}

/// What the answer to an applied request says, read in the exchange's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerFigures {
    /// The VA's purchased lots (net quantity above zero).
    pub lots: Vec<AnswerLot>,
    /// Licences in use in the VA outside this satellite, per SKU.
    pub in_use_elsewhere: BTreeMap<String, i64>,
    /// Highest satellite event id stored.
    pub events_acknowledged: i64,
}

/// The outcome of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchanged {
    /// Applied now; the new answer.
    Applied(String),
    /// A repeat of the last request applied; its stored answer.
    Repeated(String),
}

/// The id a satellite's instance keeps from one exchange to the next.
fn instance_id(satellite: &str, udi: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{satellite}\n{udi}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sat-{hex}")
}

/// Rows per multi-row INSERT of instances (9 parameters each).
const INSERT_CHUNK: usize = 500;

impl Store {
    /// Creates a satellite of a virtual account (refused if the account has one of that name).
    pub async fn create_satellite(&self, row: &SatelliteRow, va_name: &str, audit: &Audit) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO satellites ({COLUMNS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )))
        .bind(&row.id)
        .bind(&row.account_id)
        .bind(&row.va_id)
        .bind(&row.name)
        .bind(&row.secret)
        .bind(&row.identity_key)
        .bind(row.last_seq)
        .bind(&row.last_answer)
        .bind(row.last_exchange)
        .bind(row.events_acknowledged)
        .bind(row.created_at)
        .bind(&row.created_by)
        .bind(super::name_key(&row.name))
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            let e = StoreError::from(e);
            return Err(if e.is_unique_violation() {
                Refusal::Conflict(format!("this Smart Account has a satellite named {} already", row.name)).into()
            } else {
                e
            });
        }
        tx.commit_with(
            row.created_at,
            audit,
            Event {
                action: "satellite.create",
                account_id: Some(&row.account_id),
                va_id: Some(&row.va_id),
                object_id: Some(row.id.as_str()),
                detail: format!("created satellite {} of virtual account {va_name}", row.name),
            },
        )
        .await
    }

    /// The satellite `id` (of any account).
    pub async fn satellite(&self, id: &str) -> Result<Option<SatelliteRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM satellites WHERE id = $1"
        )))
        .bind(id.trim())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// An account's satellites by name, each with how many product instances it reported.
    pub async fn list_satellites(&self, account_id: &AccountId) -> Result<Vec<(SatelliteRow, i64)>, StoreError> {
        let rows: Vec<SatelliteRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM satellites WHERE account_id = $1 ORDER BY name_key"
        )))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        let counts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT satellite_id, COUNT(*) FROM satellite_instances WHERE account_id = $1 GROUP BY satellite_id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        let counts: BTreeMap<String, i64> = counts.into_iter().collect();
        Ok(rows
            .into_iter()
            .map(|r| {
                let n = counts.get(&r.id).copied().unwrap_or(0);
                (r, n)
            })
            .collect())
    }

    /// Applies a satellite's request in one transaction: binds its key (on first use), replaces
    /// its instances and usage (the VA's totals move by the difference), appends its new events,
    /// then asks `sign` for the answer to the figures and stores it. A repeat of the last
    /// sequence number gets the stored answer; a lower one is refused as replayed.
    // Long: the steps of one transaction, in the order docs/satellite.md gives them.
    pub async fn apply_satellite_request(
        &self,
        sat: &SatelliteRow,
        req: &CheckedRequest<'_>,
        now: i64,
        audit: &Audit,
        sign: impl FnOnce(&AnswerFigures) -> Result<String, StoreError>,
    ) -> Result<Exchanged, StoreError> {
        let mut tx = self.write_tx().await?;
        if !lock_va(&mut tx, &sat.va_id).await? {
            return Err(Refusal::NotFound(format!("no satellite {}", sat.id)).into());
        }
        let current: SatelliteRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM satellites WHERE id = $1"
        )))
        .bind(&sat.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("no satellite {}", sat.id)))?;
        if current.identity_key.as_deref().is_some_and(|k| k != req.key) {
            return Err(Refusal::Conflict(format!(
                "satellite {} bound another identity key meanwhile; this request is not signed by it",
                current.name
            ))
            .into());
        }
        if req.seq == current.last_seq
            && let Some(answer) = current.last_answer.clone()
        {
            return Ok(Exchanged::Repeated(answer));
        }
        if req.seq <= current.last_seq {
            return Err(Refusal::Conflict(format!(
                "request {} of satellite {} is replayed: request {} was applied already",
                req.seq, current.name, current.last_seq
            ))
            .into());
        }
        let contribution = replace_instances(&mut tx, &current, req.instances, now).await?;
        let new_events: Vec<&SatelliteEvent> = req
            .events
            .iter()
            .filter(|e| e.id > current.events_acknowledged)
            .collect();
        let actor = Audit::new(format!("satellite {}", current.name), audit.source.clone());
        let logged: Vec<(i64, &Audit, Event<'_>)> = new_events
            .iter()
            .map(|e| {
                (
                    e.at,
                    &actor,
                    Event {
                        action: &e.action,
                        account_id: Some(&current.account_id),
                        va_id: Some(&current.va_id),
                        object_id: Some(current.id.as_str()),
                        detail: e.detail.clone(),
                    },
                )
            })
            .collect();
        for chunk in logged.chunks(INSERT_CHUNK) {
            append_events(&mut tx, chunk).await?;
        }
        let acknowledged = new_events
            .iter()
            .map(|e| e.id)
            .max()
            .unwrap_or(0)
            .max(current.events_acknowledged);
        let figures = answer_figures(&mut tx, &current.va_id, &contribution, acknowledged).await?;
        let answer = sign(&figures)?;
        sqlx::query(
            "UPDATE satellites SET identity_key = $1, last_seq = $2, last_answer = $3, last_exchange = $4, \
             events_acknowledged = $5 WHERE id = $6",
        )
        .bind(req.key)
        .bind(req.seq)
        .bind(&answer)
        .bind(now)
        .bind(acknowledged)
        .bind(&current.id)
        .execute(&mut *tx)
        .await?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "satellite.exchange",
                account_id: Some(&current.account_id),
                va_id: Some(&current.va_id),
                object_id: Some(current.id.as_str()),
                detail: format!(
                    "satellite {}: request {} applied ({} product instances, {} new events)",
                    current.name,
                    req.seq,
                    req.instances.len(),
                    new_events.len()
                ),
            },
        )
        .await?;
        Ok(Exchanged::Applied(answer))
    }

    /// A page of the satellites' product instances of an account (or one VA), by hostname
    /// then id, after the `(hostname, id)` cursor.
    pub async fn satellite_instance_page(
        &self,
        account_id: &AccountId,
        va_id: Option<&VirtualAccountId>,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<SatelliteInstanceRow>, StoreError> {
        let sql = format!(
            "SELECT i.id, s.name AS satellite, i.va_id, v.name AS va_name, i.udi, i.hostname, i.status, \
             i.last_contact, i.usage FROM satellite_instances i JOIN satellites s ON s.id = i.satellite_id \
             JOIN virtual_accounts v ON v.id = i.va_id \
             WHERE i.account_id = $1 AND ($2 IS NULL OR i.va_id = $2){} ORDER BY i.hostname, i.id LIMIT ${}",
            if after.is_some() {
                " AND (i.hostname, i.id) > ($3, $4)"
            } else {
                ""
            },
            if after.is_some() { 5 } else { 3 }
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(va_id);
        if let Some((hostname, id)) = after {
            q = q.bind(hostname).bind(id);
        }
        Ok(q.bind(limit).fetch_all(&self.pool).await?)
    }

    /// How many product instances the satellites of an account (optionally one VA) reported.
    pub async fn count_satellite_instances(
        &self,
        account_id: &AccountId,
        va_id: Option<&VirtualAccountId>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM satellite_instances WHERE account_id = $1 AND ($2 IS NULL OR va_id = $2)",
        )
        .bind(account_id)
        .bind(va_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The satellite instance `id` of an account.
    pub async fn satellite_instance(
        &self,
        account_id: &AccountId,
        id: &str,
    ) -> Result<Option<SatelliteInstanceRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT i.id, s.name AS satellite, i.va_id, v.name AS va_name, i.udi, i.hostname, i.status, \
             i.last_contact, i.usage FROM satellite_instances i JOIN satellites s ON s.id = i.satellite_id \
             JOIN virtual_accounts v ON v.id = i.va_id WHERE i.account_id = $1 AND i.id = $2",
        )
        .bind(account_id)
        .bind(id.trim())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The licences in use at each satellite of a VA: (satellite name, SKU, in use), by name.
    pub async fn satellite_usage_of_va(
        &self,
        va_id: &VirtualAccountId,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT s.name, u.sku, u.in_use FROM satellite_usage u JOIN satellites s ON s.id = u.satellite_id \
             WHERE s.va_id = $1 AND u.in_use <> 0 ORDER BY s.name_key, u.sku",
        )
        .bind(va_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The satellites of an account that have not exchanged since `before` (counted from their
    /// creation when they never did): (VA id, name, last exchange or creation).
    pub async fn silent_satellites(
        &self,
        account_id: &AccountId,
        before: i64,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT va_id, name, COALESCE(last_exchange, created_at) FROM satellites \
             WHERE account_id = $1 AND COALESCE(last_exchange, created_at) <= $2 ORDER BY name_key",
        )
        .bind(account_id)
        .bind(before)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Replaces the satellite's instances and usage; the VA's totals move by the difference. Returns
/// the satellite's new usage per SKU.
async fn replace_instances(
    tx: &mut WriteTx,
    sat: &SatelliteRow,
    instances: &[SatelliteInstance],
    now: i64,
) -> Result<BTreeMap<String, i64>, StoreError> {
    sqlx::query("DELETE FROM satellite_instances WHERE satellite_id = $1")
        .bind(&sat.id)
        .execute(&mut **tx)
        .await?;
    for chunk in instances.chunks(INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO satellite_instances (id, satellite_id, account_id, va_id, udi, hostname, status, last_contact, usage) \
             VALUES {}",
            value_rows(chunk.len(), 9)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in chunk {
            q = q
                .bind(instance_id(&sat.id, &i.udi))
                .bind(&sat.id)
                .bind(&sat.account_id)
                .bind(&sat.va_id)
                .bind(&i.udi)
                .bind(&i.hostname)
                .bind(&i.status)
                .bind(i.last_contact)
                .bind(serde_json::to_string(&i.usage).unwrap_or_else(|_| "{}".into()));
        }
        q.execute(&mut **tx).await?;
    }
    let mut new: BTreeMap<String, i64> = BTreeMap::new();
    for i in instances {
        for (sku, n) in &i.usage {
            *new.entry(sku.clone()).or_default() += n;
        }
    }
    new.retain(|_, n| *n != 0);
    let old: Vec<(String, i64)> = sqlx::query_as("SELECT sku, in_use FROM satellite_usage WHERE satellite_id = $1")
        .bind(&sat.id)
        .fetch_all(&mut **tx)
        .await?;
    let mut diff: BTreeMap<String, i64> = new.clone();
    for (sku, n) in &old {
        *diff.entry(sku.clone()).or_default() -= n;
    }
    let mut daily = Vec::new();
    // SKU order (a BTreeMap), as every writer of va_usage locks its rows.
    for (sku, delta) in diff.iter().filter(|(_, d)| **d != 0) {
        daily.push(add_va_usage(tx, &sat.va_id, sku, *delta, now).await?);
    }
    record_daily_many(tx, &daily).await?;
    sqlx::query("DELETE FROM satellite_usage WHERE satellite_id = $1")
        .bind(&sat.id)
        .execute(&mut **tx)
        .await?;
    for (sku, n) in &new {
        sqlx::query("INSERT INTO satellite_usage (satellite_id, sku, in_use) VALUES ($1, $2, $3)")
            .bind(&sat.id)
            .bind(sku)
            .bind(*n)
            .execute(&mut **tx)
            .await?;
    }
    Ok(new)
}

/// The figures of the answer: the VA's lots, its totals in use less this satellite's share.
async fn answer_figures(
    tx: &mut WriteTx,
    va_id: &VirtualAccountId,
    contribution: &BTreeMap<String, i64>,
    events_acknowledged: i64,
) -> Result<AnswerFigures, StoreError> {
    let mut lots: Vec<AnswerLot> = lots(tx, va_id, None)
        .await?
        .into_iter()
        .filter(|l| l.quantity > 0)
        .map(|l| AnswerLot {
            sku: l.sku,
            quantity: l.quantity,
            end_date: l.end_date,
        })
        .collect();
    lots.sort_by(|a, b| (&a.sku, a.end_date).cmp(&(&b.sku, b.end_date)));
    let totals: Vec<(String, i64)> = sqlx::query_as("SELECT sku, in_use FROM va_usage WHERE va_id = $1")
        .bind(va_id)
        .fetch_all(&mut **tx)
        .await?;
    let in_use_elsewhere = totals
        .into_iter()
        .map(|(sku, n)| {
            let own = contribution.get(&sku).copied().unwrap_or(0);
            (sku, (n - own).max(0))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    Ok(AnswerFigures {
        lots,
        in_use_elsewhere,
        events_acknowledged,
    })
}
