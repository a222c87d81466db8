//! Licence reservations (SLR/PLR): the reservation rows, their licences per SKU, and the VA's
//! totals in use. A RESERVED reservation's licences are part of `va_usage` — added, changed and
//! released in the same transaction as the reservation, after the balance check — so every
//! reader of the totals (licence list, compliance, alerts, instance removal, the usage history)
//! sees them without knowing about reservations.
//!
//! Creates and updates serialize on the virtual account's `version` row, like transfers, so two
//! concurrent reservations cannot together take more than the balance.

use super::instances::{add_va_usage, record_daily_many};
use super::licenses::{lock_va, sku_in_use, sku_lots};
use super::{Audit, Event, Store, WriteTx};
use crate::compliance;
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use crate::refusal::Refusal;
use std::collections::BTreeMap;

/// Status word of a reservation whose licences are in use.
pub(crate) const RESERVED: &str = "reserved";
/// Status word of a returned reservation.
pub(crate) const RETURNED: &str = "returned";

/// Columns of a [`ReservationRow`].
const COLUMNS: &str = "id, account_id, va_id, udi, kind, request_id, node_key, seq, confirmed_seq, status, \
                       expires_at, created_at, updated_at, returned_at, created_by";

/// A reservation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReservationRow {
    /// Id (named in every code of the reservation).
    pub id: String,
    /// Smart Account.
    pub account_id: AccountId,
    /// Virtual account whose licences it holds.
    pub va_id: VirtualAccountId,
    /// The node's UDI.
    pub udi: String,
    /// `specific` or `universal`.
    pub kind: String,
    /// The request code's digest (`reservation::request_id`).
    pub request_id: String,
    /// The node's reservation key (base64url), from its request.
    pub node_key: String,
    /// Sequence number of the latest authorization.
    pub seq: i64,
    /// Highest authorization the node confirmed.
    pub confirmed_seq: Option<i64>,
    /// `reserved` or `returned`.
    pub status: String,
    /// End of the reservation.
    pub expires_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Time of the last change.
    pub updated_at: i64,
    /// When it was returned.
    pub returned_at: Option<i64>,
    /// Who made it.
    pub created_by: String,
}

/// A reservation to create.
#[derive(Debug, Clone)]
pub struct NewReservation {
    /// Its id (the authorization code, signed before, names it).
    pub id: String,
    /// Smart Account.
    pub account_id: AccountId,
    /// Virtual account.
    pub va_id: VirtualAccountId,
    /// Virtual account name (for refusals and the event log).
    pub va_name: String,
    /// The node's UDI.
    pub udi: String,
    /// `specific` or `universal`.
    pub kind: String,
    /// The request code's digest.
    pub request_id: String,
    /// The node's reservation key.
    pub node_key: String,
    /// Licences per SKU (empty for universal).
    pub licenses: BTreeMap<String, i64>,
    /// End of the reservation.
    pub expires_at: Option<i64>,
}

fn describe(licenses: &BTreeMap<String, i64>) -> String {
    if licenses.is_empty() {
        return "the universal licence".into();
    }
    licenses
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ReservationRow {
    /// The event-log entry of `action` on this reservation.
    fn event(&self, action: &'static str, detail: String) -> Event<'_> {
        Event {
            action,
            account_id: Some(&self.account_id),
            va_id: Some(&self.va_id),
            object_id: Some(self.id.as_str()),
            detail,
        }
    }
}

impl Store {
    /// Creates a reservation, taking its licences from the VA's balance (refused, nothing
    /// changed, if a SKU is short, the request was answered already or the UDI holds a
    /// reservation).
    pub async fn create_reservation(
        &self,
        new: &NewReservation,
        now: i64,
        audit: &Audit,
    ) -> Result<ReservationRow, StoreError> {
        let mut tx = self.write_tx().await?;
        lock_existing_va(&mut tx, &new.va_id).await?;
        check_free(&mut tx, new).await?;
        let changes: Vec<(String, i64)> = new.licenses.iter().map(|(s, n)| (s.clone(), *n)).collect();
        take(&mut tx, &new.va_id, &new.va_name, &changes, now).await?;
        let row = ReservationRow {
            id: new.id.clone(),
            account_id: new.account_id.clone(),
            va_id: new.va_id.clone(),
            udi: new.udi.clone(),
            kind: new.kind.clone(),
            request_id: new.request_id.clone(),
            node_key: new.node_key.clone(),
            seq: 1,
            confirmed_seq: None,
            status: RESERVED.into(),
            expires_at: new.expires_at,
            created_at: now,
            updated_at: now,
            returned_at: None,
            created_by: audit.actor.clone(),
        };
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO reservations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )))
        .bind(&row.id)
        .bind(&row.account_id)
        .bind(&row.va_id)
        .bind(&row.udi)
        .bind(&row.kind)
        .bind(&row.request_id)
        .bind(&row.node_key)
        .bind(row.seq)
        .bind(row.confirmed_seq)
        .bind(&row.status)
        .bind(row.expires_at)
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(row.returned_at)
        .bind(&row.created_by)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            let e = StoreError::from(e);
            // A concurrent create of the same request or UDI committed first.
            return Err(if e.is_unique_violation() {
                Refusal::Conflict(format!(
                    "{} holds a licence reservation already, or this request code was answered already",
                    new.udi
                ))
                .into()
            } else {
                e
            });
        }
        set_licenses(&mut tx, &row.id, &new.licenses).await?;
        tx.commit_with(
            now,
            audit,
            row.event(
                "reservation.create",
                format!(
                    "reserved {} for {} in virtual account {} (reservation {})",
                    describe(&new.licenses),
                    row.udi,
                    new.va_name,
                    row.id
                ),
            ),
        )
        .await?;
        Ok(row)
    }

    /// Replaces a RESERVED reservation's licences (and kind) with `licenses`, as authorization
    /// `row.seq + 1`; the counts in use change by the difference, balance checked. Refused if
    /// it was returned or changed since `row` was read.
    pub async fn update_reservation(
        &self,
        row: &ReservationRow,
        va_name: &str,
        kind: &str,
        licenses: &BTreeMap<String, i64>,
        now: i64,
        audit: &Audit,
    ) -> Result<ReservationRow, StoreError> {
        let mut tx = self.write_tx().await?;
        lock_existing_va(&mut tx, &row.va_id).await?;
        let changed = sqlx::query(
            "UPDATE reservations SET seq = seq + 1, kind = $1, updated_at = $2 \
             WHERE id = $3 AND seq = $4 AND status = 'reserved'",
        )
        .bind(kind)
        .bind(now)
        .bind(&row.id)
        .bind(row.seq)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(not_current(&mut tx, &row.id).await?.into());
        }
        let old: BTreeMap<String, i64> = licenses_of(&mut tx, &row.id).await?.into_iter().collect();
        let mut diff: BTreeMap<String, i64> = BTreeMap::new();
        for (sku, n) in licenses {
            *diff.entry(sku.clone()).or_default() += n;
        }
        for (sku, n) in &old {
            *diff.entry(sku.clone()).or_default() -= n;
        }
        let changes: Vec<(String, i64)> = diff.into_iter().filter(|(_, d)| *d != 0).collect();
        take(&mut tx, &row.va_id, va_name, &changes, now).await?;
        sqlx::query("DELETE FROM reservation_licenses WHERE reservation_id = $1")
            .bind(&row.id)
            .execute(&mut *tx)
            .await?;
        set_licenses(&mut tx, &row.id, licenses).await?;
        let updated = ReservationRow {
            seq: row.seq + 1,
            kind: kind.to_string(),
            updated_at: now,
            ..row.clone()
        };
        tx.commit_with(
            now,
            audit,
            row.event(
                "reservation.update",
                format!(
                    "reservation {} of {} now holds {} (authorization {})",
                    row.id,
                    row.udi,
                    describe(licenses),
                    updated.seq
                ),
            ),
        )
        .await?;
        Ok(updated)
    }

    /// Marks a RESERVED reservation returned and releases its licences.
    pub async fn return_reservation(
        &self,
        row: &ReservationRow,
        now: i64,
        audit: &Audit,
    ) -> Result<ReservationRow, StoreError> {
        let mut tx = self.write_tx().await?;
        lock_existing_va(&mut tx, &row.va_id).await?;
        let changed = sqlx::query(
            "UPDATE reservations SET status = 'returned', returned_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = 'reserved'",
        )
        .bind(now)
        .bind(&row.id)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(not_current(&mut tx, &row.id).await?.into());
        }
        let released: Vec<(String, i64)> = licenses_of(&mut tx, &row.id)
            .await?
            .into_iter()
            .map(|(s, n)| (s, -n))
            .collect();
        take(&mut tx, &row.va_id, "", &released, now).await?;
        tx.commit_with(
            now,
            audit,
            row.event(
                "reservation.return",
                format!(
                    "reservation {} of {} returned; its licences are released",
                    row.id, row.udi
                ),
            ),
        )
        .await?;
        Ok(ReservationRow {
            status: RETURNED.into(),
            returned_at: Some(now),
            updated_at: now,
            ..row.clone()
        })
    }

    /// Records that the node installed authorization `seq` (the highest one confirmed stays).
    pub async fn confirm_reservation(
        &self,
        row: &ReservationRow,
        seq: i64,
        now: i64,
        audit: &Audit,
    ) -> Result<ReservationRow, StoreError> {
        let mut tx = self.write_tx().await?;
        let confirmed: Option<i64> = sqlx::query_scalar(
            "UPDATE reservations SET confirmed_seq = CASE WHEN confirmed_seq IS NULL OR confirmed_seq < $1 \
             THEN $1 ELSE confirmed_seq END, updated_at = $2 WHERE id = $3 RETURNING confirmed_seq",
        )
        .bind(seq)
        .bind(now)
        .bind(&row.id)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        let Some(confirmed) = confirmed else {
            return Err(StoreError::Inconsistent(format!("reservation {} vanished", row.id)));
        };
        tx.commit_with(
            now,
            audit,
            row.event(
                "reservation.confirm",
                format!("{} confirmed authorization {seq} of reservation {}", row.udi, row.id),
            ),
        )
        .await?;
        Ok(ReservationRow {
            confirmed_seq: Some(confirmed),
            updated_at: now,
            ..row.clone()
        })
    }

    /// The reservation `id` of an account.
    pub async fn find_reservation(
        &self,
        account_id: &AccountId,
        id: &str,
    ) -> Result<Option<ReservationRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM reservations WHERE id = $1 AND account_id = $2"
        )))
        .bind(id.trim())
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// An account's reservations (of one VA if given), newest first, each with its licences.
    pub async fn list_reservations(
        &self,
        account_id: &AccountId,
        va_id: Option<&VirtualAccountId>,
    ) -> Result<Vec<(ReservationRow, Vec<(String, i64)>)>, StoreError> {
        let (only_va, only_va_r) = match va_id {
            Some(_) => (" AND va_id = $2", " AND r.va_id = $2"),
            None => ("", ""),
        };
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM reservations WHERE account_id = $1{only_va} ORDER BY created_at DESC, id"
        )))
        .bind(account_id);
        if let Some(va) = va_id {
            q = q.bind(va);
        }
        let rows: Vec<ReservationRow> = q.fetch_all(&self.pool).await?;
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT l.reservation_id, l.sku, l.count FROM reservation_licenses l \
             JOIN reservations r ON r.id = l.reservation_id WHERE r.account_id = $1{only_va_r} ORDER BY l.sku"
        )))
        .bind(account_id);
        if let Some(va) = va_id {
            q = q.bind(va);
        }
        let lines: Vec<(String, String, i64)> = q.fetch_all(&self.pool).await?;
        let mut by_id: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
        for (id, sku, n) in lines {
            by_id.entry(id).or_default().push((sku, n));
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let l = by_id.remove(&r.id).unwrap_or_default();
                (r, l)
            })
            .collect())
    }

    /// The licences of a reservation per SKU.
    pub async fn reservation_licenses(&self, id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        licenses_of(&mut *self.pool.acquire().await?, id).await
    }
}

/// Refuses a create whose request was answered already, or whose UDI holds a RESERVED
/// reservation (named only if it is of the same account).
async fn check_free(tx: &mut WriteTx, new: &NewReservation) -> Result<(), StoreError> {
    let answered: Option<String> = sqlx::query_scalar("SELECT id FROM reservations WHERE request_id = $1")
        .bind(&new.request_id)
        .fetch_optional(&mut **tx)
        .await?;
    if answered.is_some() {
        return Err(Refusal::Conflict(
            "this request code was answered already; the node must make a new request".into(),
        )
        .into());
    }
    let held: Option<(String, String)> =
        sqlx::query_as("SELECT id, account_id FROM reservations WHERE udi = $1 AND status = 'reserved'")
            .bind(&new.udi)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some((id, account)) = held {
        let which = if account == new.account_id {
            format!(" ({id}); return or update it")
        } else {
            String::new()
        };
        return Err(Refusal::Conflict(format!("{} holds a licence reservation already{which}", new.udi)).into());
    }
    Ok(())
}

/// Serializes licence moves of the virtual account (as transfers do); refused if it is gone.
async fn lock_existing_va(tx: &mut WriteTx, va_id: &VirtualAccountId) -> Result<(), StoreError> {
    if !lock_va(tx, va_id).await? {
        return Err(Refusal::NotFound(format!("no virtual account {va_id}")).into());
    }
    Ok(())
}

/// Why a reservation could not be changed: returned, or changed by someone else meanwhile.
async fn not_current(tx: &mut WriteTx, id: &str) -> Result<Refusal, StoreError> {
    let status: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT status, returned_at FROM reservations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(match status {
        None => Refusal::NotFound(format!("no reservation {id}")),
        Some((s, at)) if s == RETURNED => Refusal::Conflict(format!(
            "reservation {id} was returned already{}",
            at.map(|t| format!(" on {}", smartlic_protocol::time::format_date(t)))
                .unwrap_or_default()
        )),
        Some(_) => Refusal::Conflict(format!("reservation {id} changed concurrently; retry")),
    })
}

/// Changes the VA's totals in use by `changes` (SKU, delta), SKU order; a positive delta must
/// fit in the balance (purchased − in use), else nothing changes.
async fn take(
    tx: &mut WriteTx,
    va_id: &VirtualAccountId,
    va_name: &str,
    changes: &[(String, i64)],
    now: i64,
) -> Result<(), StoreError> {
    let mut sorted = changes.to_vec();
    sorted.sort();
    for (sku, delta) in sorted {
        let in_use = sku_in_use(tx, va_id, &sku).await?;
        if delta > 0 {
            let bought = sku_lots(tx, va_id, &sku).await?;
            let available = (compliance::purchased(&bought, now) - in_use).max(0);
            if delta > available {
                return Err(Refusal::Insufficient(format!(
                    "insufficient licences of {sku} in virtual account {va_name}: {available} available, {delta} requested"
                ))
                .into());
            }
        }
        let day = add_va_usage(tx, va_id, &sku, delta, now).await?;
        record_daily_many(tx, &[day]).await?;
    }
    Ok(())
}

async fn set_licenses(tx: &mut WriteTx, id: &str, licenses: &BTreeMap<String, i64>) -> Result<(), StoreError> {
    for (sku, n) in licenses {
        sqlx::query("INSERT INTO reservation_licenses (reservation_id, sku, count) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(sku)
            .bind(*n)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn licenses_of(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT sku, count FROM reservation_licenses WHERE reservation_id = $1 ORDER BY sku")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?,
    )
}
