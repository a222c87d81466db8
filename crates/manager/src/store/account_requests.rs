//! Smart Account requests: submitted by anyone (bounded), decided by the operator. Approval
//! creates the account, its `DEFAULT` virtual account and its SA administrator in the same
//! transaction as the decision, so a refused approval (name or e-mail taken) changes nothing.

use super::accounts::insert_account;
use super::users::insert_user;
use super::{AccountRow, Audit, Engine, Event, NewUser, Store, UserRow, append_event, new_id};
use crate::error::StoreError;
use crate::ids::AccountId;
use crate::refusal::Refusal;

/// Status of a request waiting for the operator.
pub(crate) const PENDING: &str = "PENDING";
/// Status of an approved request.
pub(crate) const APPROVED: &str = "APPROVED";
/// Status of a rejected request.
pub(crate) const REJECTED: &str = "REJECTED";

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRequestRow {
    /// Id.
    pub id: String,
    /// Who asked.
    pub requester_email: String,
    /// The person named to create the account, if the requester chose "No".
    pub on_behalf_email: Option<String>,
    /// Whether the requester claimed authority.
    #[sqlx(try_from = "super::Flag")]
    pub authority: bool,
    /// Account domain identifier.
    pub domain: String,
    /// Account name.
    pub name: String,
    /// argon2id PHC string of the future SA administrator's password.
    pub password_hash: String,
    /// Client address (IPv6: its /64).
    pub source: String,
    /// PENDING, APPROVED or REJECTED.
    pub status: String,
    /// Submission time.
    pub created_at: i64,
    /// Decision time.
    pub decided_at: Option<i64>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Why rejected.
    pub reason: Option<String>,
    /// The account created on approval.
    pub account_id: Option<AccountId>,
}

impl AccountRequestRow {
    /// The e-mail of the future SA administrator.
    pub fn admin_email(&self) -> &str {
        match (&self.on_behalf_email, self.authority) {
            (Some(other), false) => other,
            _ => &self.requester_email,
        }
    }
}

/// A request to store (already checked).
#[derive(Debug, Clone)]
pub struct NewAccountRequest<'a> {
    /// Who asks.
    pub requester_email: &'a str,
    /// The person named to create the account.
    pub on_behalf_email: Option<&'a str>,
    /// Whether the requester claims authority.
    pub authority: bool,
    /// Domain.
    pub domain: &'a str,
    /// Account name.
    pub name: &'a str,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Client address key.
    pub source: &'a str,
}

/// Bounds on pending requests.
#[derive(Debug, Clone, Copy)]
pub struct RequestBounds {
    /// Pending requests in all.
    pub max_pending: i64,
    /// Requests (of any status) from one source since `since`.
    pub max_per_source: i64,
    /// Start of the per-source window.
    pub since: i64,
}

const COLUMNS: &str = "id, requester_email, on_behalf_email, authority, domain, name, password_hash, source, status, \
     created_at, decided_at, decided_by, reason, account_id";

async fn over_bounds(
    conn: &mut sqlx::AnyConnection,
    source: &str,
    bounds: RequestBounds,
) -> Result<Option<Refusal>, StoreError> {
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_requests WHERE status = $1")
        .bind(PENDING)
        .fetch_one(&mut *conn)
        .await?;
    if pending >= bounds.max_pending {
        return Ok(Some(Refusal::TooMany(format!(
            "too many Smart Account requests are waiting for approval ({pending}); please try again later"
        ))));
    }
    let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_requests WHERE source = $1 AND created_at > $2")
        .bind(source)
        .bind(bounds.since)
        .fetch_one(&mut *conn)
        .await?;
    if recent >= bounds.max_per_source {
        return Ok(Some(Refusal::TooMany(format!(
            "at most {} Smart Account requests per day may come from one address; please try again tomorrow",
            bounds.max_per_source
        ))));
    }
    Ok(None)
}

impl Store {
    /// Whether a request from `source` would be over `bounds` now (a cheap check before the
    /// password is hashed; [`Store::insert_account_request`] checks again atomically).
    pub async fn account_request_refusal(
        &self,
        source: &str,
        bounds: RequestBounds,
    ) -> Result<Option<Refusal>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        over_bounds(&mut conn, source, bounds).await
    }

    /// Stores a pending request, unless it is over `bounds` (429). The count and the insert are
    /// one transaction holding the table (PostgreSQL: `LOCK TABLE`; SQLite: `BEGIN IMMEDIATE`),
    /// so parallel submissions cannot pass the bounds.
    pub async fn insert_account_request(
        &self,
        r: NewAccountRequest<'_>,
        bounds: RequestBounds,
        now: i64,
        audit: &Audit,
    ) -> Result<AccountRequestRow, StoreError> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        if self.engine == Engine::Postgres {
            sqlx::query("LOCK TABLE account_requests IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        if let Some(refusal) = over_bounds(&mut tx, r.source, bounds).await? {
            return Err(refusal.into());
        }
        sqlx::query(
            "INSERT INTO account_requests (id, requester_email, on_behalf_email, authority, domain, name, \
             password_hash, source, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(r.requester_email)
        .bind(r.on_behalf_email)
        .bind(i64::from(r.authority))
        .bind(r.domain)
        .bind(r.name)
        .bind(r.password_hash)
        .bind(r.source)
        .bind(PENDING)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append_event(
            &mut tx,
            now,
            audit,
            Event {
                action: "account_request.create",
                object_id: Some(&id),
                detail: format!(
                    "requested Smart Account {} ({}) for {}",
                    r.name,
                    r.domain,
                    r.on_behalf_email.filter(|_| !r.authority).unwrap_or(r.requester_email)
                ),
                ..Event::default()
            },
        )
        .await?;
        let row = fetch(&mut tx, &id)
            .await?
            .ok_or_else(|| StoreError::Inconsistent("request vanished".into()))?;
        tx.commit().await?;
        Ok(row)
    }

    /// Requests (only those of `status` if given), newest first, at most `limit`.
    pub async fn list_account_requests(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AccountRequestRow>, StoreError> {
        let q = match status {
            Some(status) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM account_requests WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2"
            )))
            .bind(status),
            None => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM account_requests ORDER BY created_at DESC, id LIMIT $1"
            ))),
        };
        Ok(q.bind(limit).fetch_all(&self.pool).await?)
    }

    /// One request.
    pub async fn account_request(&self, id: &str) -> Result<Option<AccountRequestRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, id).await
    }

    /// Approves a pending request: in one transaction the request is decided, the Smart
    /// Account with its `DEFAULT` virtual account and its SA administrator (the stored password
    /// hash, the API key with hash `api_key_hash`) are created. A decided request, a taken name or
    /// a taken e-mail is 409 and nothing changes.
    pub async fn approve_account_request(
        &self,
        id: &str,
        api_key_hash: &str,
        now: i64,
        audit: &Audit,
    ) -> Result<(AccountRequestRow, AccountRow, UserRow), StoreError> {
        let mut tx = self.write_tx().await?;
        let mut req = decide(&mut tx, id, APPROVED, None, now, audit).await?;
        let (account, _va) = insert_account(&mut tx, &req.name, &req.domain, now, audit).await?;
        let user = insert_user(
            &mut tx,
            NewUser {
                account_id: &account.id,
                email: req.admin_email(),
                role: "sa-admin",
                va_id: None,
                api_key_hash,
                password_hash: Some(&req.password_hash),
            },
            now,
            audit,
        )
        .await?;
        sqlx::query("UPDATE account_requests SET account_id = $1 WHERE id = $2")
            .bind(&account.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        req.account_id = Some(account.id.clone());
        tx.commit_with(
            now,
            audit,
            Event {
                action: "account_request.approve",
                account_id: Some(&account.id),
                object_id: Some(id),
                detail: format!(
                    "approved the request for Smart Account {} ({}); SA administrator {}",
                    account.name, account.domain, user.email
                ),
                ..Event::default()
            },
        )
        .await?;
        Ok((req, account, user))
    }

    /// Rejects a pending request (409 if already decided).
    pub async fn reject_account_request(
        &self,
        id: &str,
        reason: &str,
        now: i64,
        audit: &Audit,
    ) -> Result<AccountRequestRow, StoreError> {
        let mut tx = self.write_tx().await?;
        let req = decide(&mut tx, id, REJECTED, Some(reason), now, audit).await?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "account_request.reject",
                object_id: Some(id),
                detail: format!(
                    "rejected the request for Smart Account {} ({}) by {}: {reason}",
                    req.name, req.domain, req.requester_email
                ),
                ..Event::default()
            },
        )
        .await?;
        Ok(req)
    }
}

async fn fetch(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<AccountRequestRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM account_requests WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Moves a pending request to `status` (one conditional UPDATE, so two deciders cannot both
/// win) and returns it as decided; 404 if there is no such request, 409 if it is decided already.
async fn decide(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    status: &str,
    reason: Option<&str>,
    now: i64,
    audit: &Audit,
) -> Result<AccountRequestRow, StoreError> {
    let r = sqlx::query(
        "UPDATE account_requests SET status = $1, decided_at = $2, decided_by = $3, reason = $4 \
         WHERE id = $5 AND status = $6",
    )
    .bind(status)
    .bind(now)
    .bind(audit.actor.as_str())
    .bind(reason)
    .bind(id)
    .bind(PENDING)
    .execute(&mut *conn)
    .await?;
    let found = fetch(conn, id).await?;
    match found {
        Some(req) if r.rows_affected() == 1 => Ok(req),
        None => Err(Refusal::NotFound(format!("no Smart Account request {id}")).into()),
        Some(req) => Err(Refusal::Conflict(format!(
            "the Smart Account request {id} was already {} by {}",
            req.status.to_lowercase(),
            req.decided_by.as_deref().unwrap_or("someone")
        ))
        .into()),
    }
}
