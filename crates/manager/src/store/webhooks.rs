//! Alert webhooks and their deliveries.

use super::Store;
use crate::error::StoreError;
use crate::ids::AccountId;

/// A webhook of an account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookRow {
    /// Id.
    pub id: String,
    /// Account.
    pub account_id: AccountId,
    /// Where alerts are POSTed.
    pub url: String,
    /// The HMAC-SHA256 key of its signatures.
    pub secret: String,
    /// When added.
    pub created_at: i64,
    /// By whom.
    pub created_by: String,
}

/// A delivery waiting (or retrying).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    /// Webhook.
    pub webhook_id: String,
    /// Which alert (kind, VA, subject, date).
    pub alert_key: String,
    /// The JSON body.
    pub payload: String,
    /// Tries so far.
    pub attempts: i64,
    /// Not before.
    pub next_at: i64,
}

impl Store {
    /// Adds a webhook unless its account has `max` already; false if it has. The account's row is
    /// locked first (PostgreSQL; SQLite writers take turns anyway), so concurrent adds cannot go
    /// past `max`.
    pub async fn add_webhook(&self, w: &WebhookRow, max: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        if self.engine() == super::Engine::Postgres {
            sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE")
                .bind(&w.account_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE account_id = $1")
            .bind(&w.account_id)
            .fetch_one(&mut *tx)
            .await?;
        if n >= max {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhooks (id, account_id, url, secret, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&w.id)
        .bind(&w.account_id)
        .bind(&w.url)
        .bind(&w.secret)
        .bind(w.created_at)
        .bind(&w.created_by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The webhooks of an account (all accounts with `None`).
    pub async fn list_webhooks(&self, account_id: Option<&AccountId>) -> Result<Vec<WebhookRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, account_id, url, secret, created_at, created_by FROM webhooks \
             WHERE ($1 IS NULL OR account_id = $1) ORDER BY created_at, id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Removes a webhook of an account (and its deliveries); false if there is none.
    pub async fn remove_webhook(&self, account_id: &AccountId, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM alert_deliveries WHERE webhook_id = $1 AND webhook_id IN (SELECT id FROM webhooks WHERE account_id = $2)")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Queues an alert for a webhook unless it was queued before (by this or another manager);
    /// true if this call queued it.
    pub async fn queue_delivery(
        &self,
        webhook_id: &str,
        alert_key: &str,
        payload: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO alert_deliveries (webhook_id, alert_key, payload, raised_at, attempts, next_at) \
             VALUES ($1, $2, $3, $4, 0, $4) ON CONFLICT (webhook_id, alert_key) DO NOTHING",
        )
        .bind(webhook_id)
        .bind(alert_key)
        .bind(payload)
        .bind(now)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deliveries due at `now`, oldest first.
    pub async fn due_deliveries(&self, now: i64, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT webhook_id, alert_key, payload, attempts, next_at FROM alert_deliveries \
             WHERE delivered_at IS NULL AND next_at <= $1 ORDER BY next_at, raised_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Takes a due delivery for one try: moves its `next_at` from what was read to `until`, so
    /// that another manager does not send it meanwhile. False if someone else took it.
    pub async fn claim_delivery(&self, d: &DeliveryRow, until: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE alert_deliveries SET next_at = $4 WHERE webhook_id = $1 AND alert_key = $2 \
             AND next_at = $3 AND delivered_at IS NULL",
        )
        .bind(&d.webhook_id)
        .bind(&d.alert_key)
        .bind(d.next_at)
        .bind(until)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a try: delivered at `now`, or failed with `error` and retried at `retry_at`.
    pub async fn record_attempt(
        &self,
        d: &DeliveryRow,
        now: i64,
        outcome: Result<(), (&str, i64)>,
    ) -> Result<(), StoreError> {
        let q = match outcome {
            Ok(()) => sqlx::query(
                "UPDATE alert_deliveries SET attempts = attempts + 1, delivered_at = $3, last_error = NULL \
                 WHERE webhook_id = $1 AND alert_key = $2",
            )
            .bind(&d.webhook_id)
            .bind(&d.alert_key)
            .bind(now),
            Err((error, retry_at)) => sqlx::query(
                "UPDATE alert_deliveries SET attempts = attempts + 1, last_error = $3, next_at = $4 \
                 WHERE webhook_id = $1 AND alert_key = $2",
            )
            .bind(&d.webhook_id)
            .bind(&d.alert_key)
            .bind(error.to_string())
            .bind(retry_at),
        };
        q.execute(&mut *self.write_conn().await?).await?;
        Ok(())
    }

    /// Forgets the deliveries of a webhook whose condition no longer holds (`current` keys hold),
    /// so that a condition that comes back is told again; one not yet delivered is not sent.
    pub async fn forget_cleared(
        &self,
        webhook_id: &str,
        current: &std::collections::HashSet<&str>,
    ) -> Result<(), StoreError> {
        let keys: Vec<String> = sqlx::query_scalar("SELECT alert_key FROM alert_deliveries WHERE webhook_id = $1")
            .bind(webhook_id)
            .fetch_all(&self.pool)
            .await?;
        for k in keys.iter().filter(|k| !current.contains(k.as_str())) {
            sqlx::query("DELETE FROM alert_deliveries WHERE webhook_id = $1 AND alert_key = $2")
                .bind(webhook_id)
                .bind(k)
                .execute(&mut *self.write_conn().await?)
                .await?;
        }
        Ok(())
    }

    /// (attempts, delivered_at, last_error) of a delivery, for the API and tests.
    pub async fn delivery_state(
        &self,
        webhook_id: &str,
        alert_key: &str,
    ) -> Result<Option<(i64, Option<i64>, Option<String>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT attempts, delivered_at, last_error FROM alert_deliveries WHERE webhook_id = $1 AND alert_key = $2",
        )
        .bind(webhook_id)
        .bind(alert_key)
        .fetch_optional(&self.pool)
        .await?)
    }
}
