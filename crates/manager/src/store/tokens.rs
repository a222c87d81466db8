//! Registration tokens. The only token arithmetic in SQL is the one conditional `UPDATE` that
//! takes a use, so that exactly max-uses registrations succeed across any number of servers.

use super::{Audit, Event, Store};
use crate::error::StoreError;
use crate::ids::{AccountId, TokenId, VirtualAccountId};
use crate::refusal::Refusal;
use sqlx::AnyConnection;

/// A registration token with the names of its virtual account and account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    /// Id.
    pub id: TokenId,
    /// Virtual account id.
    pub va_id: VirtualAccountId,
    /// Virtual account name.
    pub va_name: String,
    /// Account id.
    pub account_id: AccountId,
    /// Account name.
    pub account_name: String,
    /// Free text.
    pub description: String,
    /// Creation time.
    pub created_at: i64,
    /// Creator.
    pub created_by: String,
    /// Expiry time.
    pub expires_at: i64,
    /// Maximum uses (None: unlimited).
    pub max_uses: Option<i64>,
    /// Uses so far.
    pub uses: i64,
    /// Revocation time.
    pub revoked_at: Option<i64>,
    /// Export-controlled functionality allowed.
    #[sqlx(try_from = "super::Flag")]
    pub export_controlled: bool,
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// Virtual account id.
    pub va_id: &'a VirtualAccountId,
    /// SHA-256 of the secret.
    pub secret_hash: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Expiry time.
    pub expires_at: i64,
    /// Maximum uses.
    pub max_uses: Option<i64>,
    /// Export-controlled flag.
    pub export_controlled: bool,
}

const TOKEN_SELECT: &str = "SELECT t.id, t.va_id, v.name AS va_name, v.account_id, a.name AS account_name, \
     t.description, t.created_at, t.created_by, t.expires_at, t.max_uses, t.uses, t.revoked_at, t.export_controlled \
     FROM registration_tokens t JOIN virtual_accounts v ON v.id = t.va_id JOIN accounts a ON a.id = v.account_id";

impl Store {
    /// Creates a token.
    pub async fn create_token(&self, t: NewToken<'_>, now: i64, audit: &Audit) -> Result<TokenRow, StoreError> {
        let id = TokenId::fresh();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO registration_tokens (id, va_id, secret_hash, description, created_at, created_by, expires_at, \
             max_uses, uses, revoked_at, export_controlled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, NULL, $9)",
        )
        .bind(&id)
        .bind(t.va_id)
        .bind(t.secret_hash)
        .bind(t.description)
        .bind(now)
        .bind(&audit.actor)
        .bind(t.expires_at)
        .bind(t.max_uses)
        .bind(i64::from(t.export_controlled))
        .execute(&mut *tx)
        .await?;
        let row = token_by_id(&mut tx, &id)
            .await?
            .ok_or_else(|| StoreError::Inconsistent("created token vanished".into()))?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "token.create",
                account_id: Some(&row.account_id),
                va_id: Some(t.va_id),
                object_id: Some(&id),
                detail: format!(
                    "created registration token expiring {} (max uses {})",
                    smartlic_protocol::time::format_date(t.expires_at),
                    t.max_uses.map(|m| m.to_string()).unwrap_or_else(|| "unlimited".into())
                ),
            },
        )
        .await?;
        Ok(row)
    }

    /// Tokens of an account, optionally of one virtual account, newest first.
    pub async fn list_tokens(
        &self,
        account_id: &AccountId,
        va_id: Option<&VirtualAccountId>,
    ) -> Result<Vec<TokenRow>, StoreError> {
        let sql = format!(
            "{TOKEN_SELECT} WHERE v.account_id = $1 AND ($2 IS NULL OR t.va_id = $2) ORDER BY t.created_at DESC, t.id"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(va_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A token of an account by id.
    pub async fn find_token(&self, account_id: &AccountId, token_id: &TokenId) -> Result<Option<TokenRow>, StoreError> {
        let t = token_by_id(&mut *self.pool.acquire().await?, token_id).await?;
        Ok(t.filter(|t| t.account_id == *account_id))
    }

    /// The token whose secret has this hash.
    pub async fn token_by_secret_hash(&self, secret_hash: &str) -> Result<Option<TokenRow>, StoreError> {
        Ok(
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{TOKEN_SELECT} WHERE t.secret_hash = $1")))
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Revokes a token (at once; revoking twice keeps the first time).
    pub async fn revoke_token(&self, token: &TokenRow, now: i64, audit: &Audit) -> Result<TokenRow, StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE registration_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(&token.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let row = token_by_id(&mut tx, &token.id)
            .await?
            .ok_or_else(|| Refusal::NotFound(format!("no registration token {}", token.id)))?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "token.revoke",
                account_id: Some(&row.account_id),
                va_id: Some(&row.va_id),
                object_id: Some(row.id.as_str()),
                detail: "revoked registration token".into(),
            },
        )
        .await?;
        Ok(row)
    }
}

pub(crate) async fn token_by_id(conn: &mut AnyConnection, id: &TokenId) -> Result<Option<TokenRow>, StoreError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{TOKEN_SELECT} WHERE t.id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Takes one use of a token if it is usable at `now`: one conditional UPDATE, so concurrent
/// registrations (on any number of servers) never take more than `max_uses`. False if the token
/// was not usable (the caller re-reads it to say why).
pub(crate) async fn take_use(conn: &mut AnyConnection, token_id: &TokenId, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE registration_tokens SET uses = uses + 1 \
         WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)",
    )
    .bind(token_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
