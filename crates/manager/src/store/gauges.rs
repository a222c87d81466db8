//! Figures read at each `/metrics` scrape: licences per account, VA and SKU, and product
//! instances by their last authorization status. Read from the store, so every manager of one
//! database reports the same figures.

use super::Store;
use crate::error::StoreError;

/// Most (account, VA, SKU) rows a scrape reports, so the label set stays bounded; past it the
/// rows with the largest shortfall come first and [`LicenceGauges::dropped`] says how many more
/// there were.
pub(crate) const MAX_LICENCE_SERIES: usize = 2_000;

/// Licences of one SKU in one virtual account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LicenceGauge {
    /// Smart Account name.
    pub account: String,
    /// Virtual account name.
    pub va: String,
    /// SKU.
    pub sku: String,
    /// Purchased and not ended.
    pub purchased: i64,
    /// In use (instances' usage and reservations).
    pub in_use: i64,
}

impl LicenceGauge {
    /// In use beyond purchased (0 when compliant).
    pub fn short(&self) -> i64 {
        (self.in_use - self.purchased).max(0)
    }
}

/// What a scrape reports of licences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceGauges {
    /// At most [`MAX_LICENCE_SERIES`] rows.
    pub rows: Vec<LicenceGauge>,
    /// Rows left out.
    pub dropped: usize,
}

impl Store {
    /// Licences per account, VA and SKU at `now` (rows with nothing purchased and nothing in use
    /// left out), the largest shortfall first, bounded by [`MAX_LICENCE_SERIES`].
    pub async fn licence_gauges(&self, now: i64) -> Result<LicenceGauges, StoreError> {
        let mut rows: Vec<LicenceGauge> = sqlx::query_as(
            "SELECT a.name AS account, v.name AS va, f.sku AS sku, \
                    CAST(SUM(f.purchased) AS BIGINT) AS purchased, CAST(SUM(f.in_use) AS BIGINT) AS in_use \
             FROM (SELECT va_id, sku, quantity AS purchased, 0 AS in_use FROM license_deposits \
                   WHERE end_date IS NULL OR end_date > $1 \
                   UNION ALL SELECT va_id, sku, 0 AS purchased, in_use FROM va_usage) f \
             JOIN virtual_accounts v ON v.id = f.va_id JOIN accounts a ON a.id = v.account_id \
             GROUP BY a.name, v.name, f.sku",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.retain(|r| r.purchased != 0 || r.in_use != 0);
        rows.sort_by(|a, b| {
            b.short()
                .cmp(&a.short())
                .then_with(|| (&a.account, &a.va, &a.sku).cmp(&(&b.account, &b.va, &b.sku)))
        });
        let dropped = rows.len().saturating_sub(MAX_LICENCE_SERIES);
        rows.truncate(MAX_LICENCE_SERIES);
        Ok(LicenceGauges { rows, dropped })
    }

    /// Product instances by last authorization status (`AUTHORIZED`, `OUT_OF_COMPLIANCE`, …;
    /// `NONE` for an instance never authorized), statuses no instance has left out. Read from the
    /// per-VA counts the database's triggers keep (migration 0017): a few rows a VA, never a count
    /// of the instances, so a scrape costs the same with a million of them.
    pub async fn instances_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM va_status_counts \
             GROUP BY status HAVING SUM(n) <> 0 ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
