//! Users of Smart Accounts and the operator's API keys.

use super::{Audit, Event, Store, append_event, name_key, new_id};
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use crate::refusal::Refusal;
use sqlx::AnyConnection;

/// A user with the name of their virtual account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    /// Id.
    pub id: String,
    /// Account id.
    pub account_id: AccountId,
    /// E-mail address.
    pub email: String,
    /// Role name (`sa-admin`, …).
    pub role: String,
    /// Virtual account id for VA roles.
    pub va_id: Option<VirtualAccountId>,
    /// Virtual account name for VA roles.
    pub va_name: Option<String>,
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// When the user was disabled (`None`: enabled).
    pub disabled_at: Option<i64>,
}

/// A change to an existing user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange<'a> {
    /// Disable: API key and portal sessions stop at once; nothing else is lost.
    Disable,
    /// Enable again.
    Enable,
    /// Replace the API key (the old one stops at once) by the key with this hash.
    RotateKey(&'a str),
    /// Remove the user (and their portal sessions).
    Remove,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Account id.
    pub account_id: &'a AccountId,
    /// E-mail.
    pub email: &'a str,
    /// Role name.
    pub role: &'a str,
    /// Virtual account id (VA roles).
    pub va_id: Option<&'a VirtualAccountId>,
    /// SHA-256 of the API key.
    pub api_key_hash: &'a str,
    /// argon2id PHC string.
    pub password_hash: Option<&'a str>,
}

const USER_SELECT: &str = "SELECT u.id, u.account_id, u.email, u.role, u.va_id, v.name AS va_name, u.password_hash, \
     u.created_at, u.disabled_at FROM users u LEFT JOIN virtual_accounts v ON v.id = u.va_id";

impl Store {
    /// Creates a user; e-mail addresses are unique across the manager.
    pub async fn create_user(&self, u: NewUser<'_>, now: i64, audit: &Audit) -> Result<UserRow, StoreError> {
        let mut tx = self.write_tx().await?;
        let row = insert_user(&mut tx, u, now, audit).await?;
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

    /// Users of an account (disabled ones too), by e-mail.
    pub async fn list_users(&self, account_id: &AccountId) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{USER_SELECT} WHERE u.account_id = $1 ORDER BY u.email_key"
        )))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A user of an account by id or e-mail (disabled ones too).
    pub async fn find_user(&self, account_id: &AccountId, id_or_email: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{USER_SELECT} WHERE u.account_id = $1 AND (u.id = $2 OR u.email_key = $3)"
        )))
        .bind(account_id)
        .bind(id_or_email.trim())
        .bind(name_key(id_or_email))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Changes a user (see [`UserChange`]); a disabled or removed user's portal sessions are
    /// ended in the same transaction. Returns the user as it is afterwards (`None` if removed).
    pub async fn change_user(
        &self,
        user: &UserRow,
        change: UserChange<'_>,
        now: i64,
        audit: &Audit,
    ) -> Result<Option<UserRow>, StoreError> {
        let mut tx = self.write_tx().await?;
        let (action, detail) = match change {
            UserChange::Disable => {
                sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                    .bind(now)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                end_sessions(&mut tx, &user.id).await?;
                (
                    "user.disable",
                    format!("disabled user {}: API key and portal sessions stopped", user.email),
                )
            }
            UserChange::Enable => {
                sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                ("user.enable", format!("enabled user {}", user.email))
            }
            UserChange::RotateKey(hash) => {
                sqlx::query("UPDATE users SET api_key_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                (
                    "user.rotate_key",
                    format!("replaced the API key of user {}; the old key stopped", user.email),
                )
            }
            UserChange::Remove => {
                end_sessions(&mut tx, &user.id).await?;
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                (
                    "user.remove",
                    format!("removed user {} (role {})", user.email, user.role),
                )
            }
        };
        append_event(
            &mut tx,
            now,
            audit,
            Event {
                action,
                account_id: Some(&user.account_id),
                va_id: user.va_id.as_ref(),
                object_id: Some(user.id.as_str()),
                detail,
            },
        )
        .await?;
        let row = sqlx::query_as(sqlx::AssertSqlSafe(format!("{USER_SELECT} WHERE u.id = $1")))
            .bind(&user.id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Replaces the operator key with hash `old` by the one with hash `new`; false (nothing
    /// changed) if `old` is not an operator key.
    pub async fn rotate_operator_key(&self, old: &str, new: &str, now: i64, audit: &Audit) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("DELETE FROM operator_keys WHERE key_hash = $1")
            .bind(old)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO operator_keys (key_hash, created_at) VALUES ($1, $2)")
            .bind(new)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "operator.rotate_key",
                detail: "replaced the operator API key; the old key stopped".into(),
                ..Event::default()
            },
        )
        .await?;
        Ok(true)
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

/// Creates a user inside the caller's transaction (logged as `user.create`); a taken e-mail is a
/// conflict, and the caller's transaction must then be dropped.
pub(crate) async fn insert_user(
    conn: &mut sqlx::AnyConnection,
    u: NewUser<'_>,
    now: i64,
    audit: &Audit,
) -> Result<UserRow, StoreError> {
    let id = new_id();
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
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Err(Refusal::Conflict(format!("a user with e-mail {} already exists", u.email.trim())).into());
    }
    append_event(
        conn,
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
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{USER_SELECT} WHERE u.id = $1")))
            .bind(&id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Ends the portal sessions of the user `user_id` (when it is disabled or removed).
async fn end_sessions(c: &mut AnyConnection, user_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM portal_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(())
}
