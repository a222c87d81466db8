//! Users of Smart Accounts and the operator's API keys.

use super::{Audit, Event, Store, append_event, name_key, new_id};
use crate::error::{ApiError, StoreError};

/// A user with the name of their virtual account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    /// Id.
    pub id: String,
    /// Account id.
    pub account_id: String,
    /// E-mail address.
    pub email: String,
    /// Role name (`sa-admin`, …).
    pub role: String,
    /// Virtual account id for VA roles.
    pub va_id: Option<String>,
    /// Virtual account name for VA roles.
    pub va_name: Option<String>,
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    /// Creation time.
    pub created_at: i64,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Account id.
    pub account_id: &'a str,
    /// E-mail.
    pub email: &'a str,
    /// Role name.
    pub role: &'a str,
    /// Virtual account id (VA roles).
    pub va_id: Option<&'a str>,
    /// SHA-256 of the API key.
    pub api_key_hash: &'a str,
    /// argon2id PHC string.
    pub password_hash: Option<&'a str>,
}

const USER_SELECT: &str = "SELECT u.id, u.account_id, u.email, u.role, u.va_id, v.name AS va_name, u.password_hash, \
     u.created_at FROM users u LEFT JOIN virtual_accounts v ON v.id = u.va_id";

impl Store {
    /// Creates a user; e-mail addresses are unique across the manager.
    pub async fn create_user(&self, u: NewUser<'_>, now: i64, audit: &Audit) -> Result<UserRow, StoreError> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        let r = sqlx::query(
            "INSERT INTO users (id, account_id, email, email_key, role, va_id, api_key_hash, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (email_key) DO NOTHING",
        )
        .bind(&id)
        .bind(u.account_id)
        .bind(u.email.trim())
        .bind(name_key(u.email))
        .bind(u.role)
        .bind(u.va_id)
        .bind(u.api_key_hash)
        .bind(u.password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(ApiError::Conflict(format!("a user with e-mail {} already exists", u.email.trim())).into());
        }
        append_event(
            &mut tx,
            now,
            audit,
            Event {
                action: "user.create",
                account_id: Some(u.account_id),
                va_id: u.va_id,
                object_id: Some(&id),
                detail: format!("created user {} with role {}", u.email.trim(), u.role),
            },
        )
        .await?;
        let row = sqlx::query_as(sqlx::AssertSqlSafe(format!("{USER_SELECT} WHERE u.id = $1")))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// The enabled user holding the API key with this hash.
    pub async fn user_by_key_hash(&self, key_hash: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{USER_SELECT} WHERE u.api_key_hash = $1 AND u.disabled_at IS NULL"
        )))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Users of an account, by e-mail.
    pub async fn list_users(&self, account_id: &str) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{USER_SELECT} WHERE u.account_id = $1 AND u.disabled_at IS NULL ORDER BY u.email_key"
        )))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether this is the hash of an operator key.
    pub async fn is_operator_key(&self, key_hash: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM operator_keys WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Adds an operator key (idempotent).
    pub async fn add_operator_key(&self, key_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator_keys (key_hash, created_at) VALUES ($1, $2) ON CONFLICT (key_hash) DO NOTHING",
        )
        .bind(key_hash)
        .bind(now)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(())
    }
}
