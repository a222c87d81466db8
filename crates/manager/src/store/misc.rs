//! The PKI row, seen nonces and the event log.

use super::{Audit, Event, Store, append_event};
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use sqlx::AnyConnection;

/// The installation's PKI as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PkiRow {
    /// Root CA certificate (PEM).
    pub ca_cert_pem: String,
    /// Root CA key (PKCS#8 PEM).
    pub ca_key_pem: String,
    /// Response-signing certificate (PEM).
    pub signing_cert_pem: String,
    /// Response-signing Ed25519 seed (base64).
    pub signing_key: String,
    /// Creation time.
    pub created_at: i64,
}

/// An entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Account.
    pub account_id: Option<AccountId>,
    /// Virtual account.
    pub va_id: Option<VirtualAccountId>,
    /// Object.
    pub object_id: Option<String>,
    /// Detail.
    pub detail: String,
    /// From where.
    pub source: Option<String>,
}

/// Which events to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Actions starting with this (`token.` for every token event).
    pub action_prefix: Option<String>,
    /// Exactly this actor (`operator`, an e-mail, `device:<id>`).
    pub actor: Option<String>,
    /// Events of this virtual account.
    pub va_id: Option<VirtualAccountId>,
    /// At or after (epoch seconds).
    pub since: Option<i64>,
    /// Before (epoch seconds).
    pub until: Option<i64>,
    /// Older than this event (its id): the cursor of the next page.
    pub before_id: Option<i64>,
}

impl Store {
    /// The PKI, if some server set it up.
    pub async fn load_pki(&self) -> Result<Option<PkiRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT ca_cert_pem, ca_key_pem, signing_cert_pem, signing_key, created_at FROM pki WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stores `pki` (and the operator key hash) unless another server stored one first; returns
    /// whether ours was stored. Either way the caller then uses [`Store::load_pki`].
    pub async fn insert_pki_if_absent(
        &self,
        pki: &PkiRow,
        operator_key_hash: &str,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query(
            "INSERT INTO pki (id, ca_cert_pem, ca_key_pem, signing_cert_pem, signing_key, created_at) \
             VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&pki.ca_cert_pem)
        .bind(&pki.ca_key_pem)
        .bind(&pki.signing_cert_pem)
        .bind(&pki.signing_key)
        .bind(pki.created_at)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO operator_keys (key_hash, created_at) VALUES ($1, $2) ON CONFLICT (key_hash) DO NOTHING",
        )
        .bind(operator_key_hash)
        .bind(pki.created_at)
        .execute(&mut *tx)
        .await?;
        append_event(
            &mut tx,
            pki.created_at,
            audit,
            Event {
                action: "pki.create",
                detail: "created the root CA, the response-signing key and the operator key".into(),
                ..Event::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces the PKI's private keys by their sealed form, if they are still `plain` (a store
    /// set up before keys were sealed). Returns whether this call changed them.
    pub async fn seal_pki_keys(
        &self,
        plain: &PkiRow,
        sealed_ca_key: &str,
        sealed_signing_key: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE pki SET ca_key_pem = $1, signing_key = $2 WHERE id = 1 AND ca_key_pem = $3 AND signing_key = $4",
        )
        .bind(sealed_ca_key)
        .bind(sealed_signing_key)
        .bind(&plain.ca_key_pem)
        .bind(&plain.signing_key)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a device request's nonce with its timestamp; false if that pair was seen before (a
    /// replay: both are signed, so a captured request sent again carries the same two).
    pub async fn record_nonce(&self, nonce: &str, request_time: i64) -> Result<bool, StoreError> {
        insert_nonce(&mut *self.write_conn().await?, nonce, request_time).await
    }

    /// Forgets nonces of requests older than `before` (they fail the timestamp check anyway).
    pub async fn prune_nonces(&self, before: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM seen_nonces WHERE seen_at < $1")
            .bind(before)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(r.rows_affected())
    }

    /// Removes events from before `before` (the event log's retention); at most `limit` a call,
    /// oldest first, so that one round never holds the writer long.
    pub async fn prune_events(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let r =
            sqlx::query("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 ORDER BY at LIMIT $2)")
                .bind(before)
                .bind(limit)
                .execute(&mut *self.write_conn().await?)
                .await?;
        Ok(r.rows_affected())
    }

    /// Appends an event outside any other change (e.g. a refused request).
    pub async fn log_event(&self, at: i64, audit: &Audit, e: Event<'_>) -> Result<(), StoreError> {
        let mut conn = self.write_conn().await?;
        append_event(&mut conn, at, audit, e).await
    }

    /// The newest `limit` events of an account (all accounts with `None`), newest first.
    pub async fn list_events(&self, account_id: Option<&AccountId>, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        self.find_events(account_id, &EventQuery::default(), limit).await
    }

    /// The newest `limit` events of an account (all with `None`) that pass `q`, newest first.
    pub async fn find_events(
        &self,
        account_id: Option<&AccountId>,
        q: &EventQuery,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        // Only the filters given become conditions (placeholders only; never the values).
        let mut sql = String::from(
            "SELECT id, at, actor, action, account_id, va_id, object_id, detail, source FROM events WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if account_id.is_some() {
            sql.push_str(&format!(" AND account_id = {}", next()));
        }
        if q.action_prefix.is_some() {
            sql.push_str(&format!(" AND action LIKE {} ESCAPE '!'", next()));
        }
        if q.actor.is_some() {
            sql.push_str(&format!(" AND actor = {}", next()));
        }
        if q.va_id.is_some() {
            sql.push_str(&format!(" AND va_id = {}", next()));
        }
        if q.since.is_some() {
            sql.push_str(&format!(" AND at >= {}", next()));
        }
        if q.until.is_some() {
            sql.push_str(&format!(" AND at < {}", next()));
        }
        if q.before_id.is_some() {
            sql.push_str(&format!(" AND id < {}", next()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", next()));
        let mut query = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql));
        if let Some(a) = account_id {
            query = query.bind(a);
        }
        if let Some(p) = &q.action_prefix {
            let escaped: String = p
                .chars()
                .flat_map(|c| match c {
                    '!' | '%' | '_' => vec!['!', c],
                    c => vec![c],
                })
                .collect();
            query = query.bind(format!("{escaped}%"));
        }
        if let Some(a) = &q.actor {
            query = query.bind(a.as_str());
        }
        if let Some(v) = &q.va_id {
            query = query.bind(v.as_str());
        }
        if let Some(t) = q.since {
            query = query.bind(t);
        }
        if let Some(t) = q.until {
            query = query.bind(t);
        }
        if let Some(id) = q.before_id {
            query = query.bind(id);
        }
        Ok(query.bind(limit).fetch_all(&self.pool).await?)
    }
}

/// Records a nonce and its request's timestamp on `conn` (in the caller's transaction, if any);
/// false if the pair was seen before.
pub(crate) async fn insert_nonce(conn: &mut AnyConnection, nonce: &str, request_time: i64) -> Result<bool, StoreError> {
    let r =
        sqlx::query("INSERT INTO seen_nonces (nonce, seen_at) VALUES ($1, $2) ON CONFLICT (seen_at, nonce) DO NOTHING")
            .bind(nonce)
            .bind(request_time)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}
