//! Licence deposits, transfers and the per-VA totals in use.

use super::{Audit, Event, Store, new_id};
use crate::compliance::{self, Lot};
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use crate::refusal::Refusal;
use sqlx::AnyConnection;

/// Net licences of one SKU with one end date in a virtual account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LotRow {
    /// SKU.
    pub sku: String,
    /// End date (epoch seconds) or perpetual.
    pub end_date: Option<i64>,
    /// Net quantity.
    pub quantity: i64,
}

impl LotRow {
    /// As a [`Lot`] keyed by SKU.
    pub fn into_lot(self) -> (String, Lot) {
        (
            self.sku,
            Lot {
                end_date: self.end_date,
                quantity: self.quantity,
            },
        )
    }
}

impl Store {
    /// Deposits purchased licences into a virtual account.
    #[allow(clippy::too_many_arguments)]
    pub async fn deposit(
        &self,
        account_id: &AccountId,
        va_id: &VirtualAccountId,
        sku: &str,
        quantity: i64,
        end_date: Option<i64>,
        now: i64,
        audit: &Audit,
    ) -> Result<String, StoreError> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO license_deposits (id, va_id, sku, quantity, end_date, kind, transfer_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, 'deposit', NULL, $6, $7)",
        )
        .bind(&id)
        .bind(va_id)
        .bind(sku)
        .bind(quantity)
        .bind(end_date)
        .bind(now)
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await?;
        let until = end_date
            .map(|d| format!(" ending {}", smartlic_protocol::time::format_date(d)))
            .unwrap_or_default();
        tx.commit_with(
            now,
            audit,
            Event {
                action: "license.deposit",
                account_id: Some(account_id),
                va_id: Some(va_id),
                object_id: Some(&id),
                detail: format!("deposited {quantity} {sku}{until}"),
            },
        )
        .await?;
        Ok(id)
    }

    /// Net licences per SKU and end date of a virtual account (all end dates, past ones too).
    pub async fn license_lots(&self, va_id: &VirtualAccountId) -> Result<Vec<LotRow>, StoreError> {
        lots(&mut *self.pool.acquire().await?, va_id, None).await
    }

    /// Licences in use per SKU in a virtual account (the incrementally kept totals).
    pub async fn va_in_use(&self, va_id: &VirtualAccountId) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT sku, in_use FROM va_usage WHERE va_id = $1 AND in_use <> 0 ORDER BY sku")
                .bind(va_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Moves `quantity` licences of `sku` from one virtual account to another of the same
    /// account; refused (nothing changes) if the source would go below zero available.
    #[allow(clippy::too_many_arguments)]
    pub async fn transfer(
        &self,
        account_id: &AccountId,
        from_va: &VirtualAccountId,
        to_va: &VirtualAccountId,
        sku: &str,
        quantity: i64,
        now: i64,
        audit: &Audit,
    ) -> Result<String, StoreError> {
        let mut tx = self.write_tx().await?;
        // Serialize licence moves of both VAs (in id order, so two opposite transfers cannot
        // deadlock).
        let mut vas = [from_va, to_va];
        vas.sort();
        for va in vas {
            // A VA deleted meanwhile (`va delete` locks it too): refuse, nothing changes.
            if !lock_va(&mut tx, va).await? {
                return Err(Refusal::NotFound("the virtual account no longer exists".into()).into());
            }
        }
        let source = sku_lots(&mut tx, from_va, sku).await?;
        let in_use = sku_in_use(&mut tx, from_va, sku).await?;
        let plan = compliance::plan_transfer(&source, in_use, quantity, now).map_err(|s| {
            Refusal::Insufficient(format!(
                "cannot transfer {quantity} {sku}: only {} available in the source virtual account",
                s.available
            ))
        })?;
        let transfer_id = new_id();
        for lot in plan {
            for (va, q, kind) in [
                (from_va, -lot.quantity, "transfer-out"),
                (to_va, lot.quantity, "transfer-in"),
            ] {
                sqlx::query(
                    "INSERT INTO license_deposits (id, va_id, sku, quantity, end_date, kind, transfer_id, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(new_id())
                .bind(va)
                .bind(sku)
                .bind(q)
                .bind(lot.end_date)
                .bind(kind)
                .bind(&transfer_id)
                .bind(now)
                .bind(&audit.actor)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit_with(
            now,
            audit,
            Event {
                action: "license.transfer",
                account_id: Some(account_id),
                va_id: Some(from_va),
                object_id: Some(&transfer_id),
                detail: format!("transferred {quantity} {sku} to virtual account {to_va}"),
            },
        )
        .await?;
        Ok(transfer_id)
    }
}

/// Serializes licence moves of a virtual account (transfers, reservations): bumps its `version`
/// row inside the transaction; false if there is no such virtual account.
pub(crate) async fn lock_va(conn: &mut AnyConnection, va_id: &VirtualAccountId) -> Result<bool, StoreError> {
    let bumped = sqlx::query("UPDATE virtual_accounts SET version = version + 1 WHERE id = $1")
        .bind(va_id)
        .execute(&mut *conn)
        .await?;
    Ok(bumped.rows_affected() > 0)
}

/// The purchased lots of one SKU in a virtual account.
pub(crate) async fn sku_lots(
    conn: &mut AnyConnection,
    va_id: &VirtualAccountId,
    sku: &str,
) -> Result<Vec<Lot>, StoreError> {
    Ok(lots(conn, va_id, Some(sku))
        .await?
        .into_iter()
        .map(|r| r.into_lot().1)
        .collect())
}

/// The licences of one SKU in use in a virtual account (its `va_usage` total).
pub(crate) async fn sku_in_use(
    conn: &mut AnyConnection,
    va_id: &VirtualAccountId,
    sku: &str,
) -> Result<i64, StoreError> {
    let in_use: Option<i64> = sqlx::query_scalar("SELECT in_use FROM va_usage WHERE va_id = $1 AND sku = $2")
        .bind(va_id)
        .bind(sku)
        .fetch_optional(conn)
        .await?;
    Ok(in_use.unwrap_or(0))
}

/// Net lots of a virtual account (optionally of one SKU), grouped by SKU and end date.
pub(crate) async fn lots(
    conn: &mut AnyConnection,
    va_id: &VirtualAccountId,
    sku: Option<&str>,
) -> Result<Vec<LotRow>, StoreError> {
    let rows = match sku {
        Some(sku) => {
            sqlx::query_as(
                "SELECT sku, end_date, CAST(SUM(quantity) AS BIGINT) AS quantity FROM license_deposits \
                 WHERE va_id = $1 AND sku = $2 GROUP BY sku, end_date",
            )
            .bind(va_id)
            .bind(sku)
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT sku, end_date, CAST(SUM(quantity) AS BIGINT) AS quantity FROM license_deposits \
                 WHERE va_id = $1 GROUP BY sku, end_date",
            )
            .bind(va_id)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    Ok(rows)
}
