//! Portal sessions in the store (migration 0002; log-in attempts are counted by
//! [`crate::store::login_attempts`]). Nothing about a session lives only in memory, so any
//! manager of a shared database serves any session.

use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use crate::store::Store;

/// A live session with its user.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    /// The session's CSRF token.
    pub csrf_token: String,
    /// User id.
    pub user_id: String,
    /// Account id.
    pub account_id: AccountId,
    /// E-mail.
    pub email: String,
    /// Role name.
    pub role: String,
    /// Virtual account id (VA roles).
    pub va_id: Option<VirtualAccountId>,
}

type SessionTuple = (String, String, AccountId, String, String, Option<VirtualAccountId>);

/// The live session whose id hashes to `id_hash`, if its user is still enabled.
pub(crate) async fn find(store: &Store, id_hash: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
    let row: Option<SessionTuple> = sqlx::query_as(
        "SELECT s.csrf_token, u.id, u.account_id, u.email, u.role, u.va_id FROM portal_sessions s \
         JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    Ok(
        row.map(|(csrf_token, user_id, account_id, email, role, va_id)| SessionRow {
            csrf_token,
            user_id,
            account_id,
            email,
            role,
            va_id,
        }),
    )
}

/// Stores a new session (and forgets expired ones).
pub(crate) async fn create(
    store: &Store,
    id_hash: &str,
    user_id: &str,
    csrf_token: &str,
    source: Option<&str>,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM portal_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(store.pool())
        .await?;
    sqlx::query(
        "INSERT INTO portal_sessions (id_hash, user_id, csrf_token, source, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(csrf_token)
    .bind(source)
    .bind(now)
    .bind(expires_at)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Ends a session.
pub(crate) async fn delete(store: &Store, id_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM portal_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Number of stored sessions (tests).
#[cfg(test)]
pub(crate) async fn count(store: &Store) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM portal_sessions")
        .fetch_one(store.pool())
        .await?)
}

/// Enabled user by e-mail key: id, account id and password hash.
pub(crate) async fn user_for_login(
    store: &Store,
    email_key: &str,
) -> Result<Option<(String, AccountId, Option<String>)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, account_id, password_hash FROM users WHERE email_key = $1 AND disabled_at IS NULL")
            .bind(email_key)
            .fetch_optional(store.pool())
            .await?,
    )
}
