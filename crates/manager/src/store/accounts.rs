//! Smart Accounts and virtual accounts.

use super::{Audit, Event, Store, append_event, name_key, new_id};
use crate::error::StoreError;
use crate::refusal::Refusal;

/// Name of the virtual account every Smart Account gets.
pub(super) const DEFAULT_VA: &str = "DEFAULT";

/// A Smart Account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Domain identifier.
    pub domain: String,
    /// Creation time.
    pub created_at: i64,
    /// Which reservations the operator allows: `none`, `specific` or `universal`.
    pub reservation: String,
}

/// Columns of an [`AccountRow`].
const ACCOUNT_COLUMNS: &str = "id, name, domain, created_at, reservation";

/// A virtual account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VaRow {
    /// Id.
    pub id: String,
    /// Its Smart Account.
    pub account_id: String,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Creation time.
    pub created_at: i64,
}

const VA_COLUMNS: &str = "id, account_id, name, description, created_at";

impl Store {
    /// Creates a Smart Account and its `DEFAULT` virtual account.
    pub async fn create_account(
        &self,
        name: &str,
        domain: &str,
        now: i64,
        audit: &Audit,
    ) -> Result<(AccountRow, VaRow), StoreError> {
        let mut tx = self.write_tx().await?;
        let created = insert_account(&mut tx, name, domain, now, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Every Smart Account, by name.
    pub async fn list_accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name_key"
        )))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The account with this id, or else this name (case-insensitive).
    pub async fn find_account(&self, id_or_name: &str) -> Result<Option<AccountRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 OR name_key = $2 \
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1"
        )))
        .bind(id_or_name.trim())
        .bind(name_key(id_or_name))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Sets which reservations the account may make (logged as `account.reservation`).
    pub(crate) async fn set_account_reservation(
        &self,
        account: &AccountRow,
        policy: &str,
        now: i64,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let changed = sqlx::query("UPDATE accounts SET reservation = $1 WHERE id = $2")
            .bind(policy)
            .bind(&account.id)
            .execute(&mut *tx)
            .await?;
        if changed.rows_affected() == 0 {
            return Err(Refusal::NotFound(format!("no Smart Account {}", account.name)).into());
        }
        tx.commit_with(
            now,
            audit,
            Event {
                action: "account.reservation",
                account_id: Some(&account.id),
                object_id: Some(&account.id),
                detail: format!("reservation of Smart Account {} set to {policy}", account.name),
                ..Event::default()
            },
        )
        .await
    }

    /// Creates a virtual account.
    pub async fn create_va(
        &self,
        account_id: &str,
        name: &str,
        description: &str,
        now: i64,
        audit: &Audit,
    ) -> Result<VaRow, StoreError> {
        let va = VaRow {
            id: new_id(),
            account_id: account_id.into(),
            name: name.trim().into(),
            description: description.trim().into(),
            created_at: now,
        };
        let mut tx = self.write_tx().await?;
        if !insert_va(&mut tx, &va).await? {
            return Err(Refusal::Conflict(format!("a virtual account named {:?} already exists", va.name)).into());
        }
        tx.commit_with(
            now,
            audit,
            Event {
                action: "va.create",
                account_id: Some(account_id),
                va_id: Some(&va.id),
                object_id: Some(&va.id),
                detail: format!("created virtual account {}", va.name),
            },
        )
        .await?;
        Ok(va)
    }

    /// Virtual accounts of an account, by name.
    pub async fn list_vas(&self, account_id: &str) -> Result<Vec<VaRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VA_COLUMNS} FROM virtual_accounts WHERE account_id = $1 ORDER BY name_key"
        )))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The virtual account of `account_id` with this id, or else this name.
    pub async fn find_va(&self, account_id: &str, id_or_name: &str) -> Result<Option<VaRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VA_COLUMNS} FROM virtual_accounts WHERE account_id = $1 AND (id = $2 OR name_key = $3) \
             ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1"
        )))
        .bind(account_id)
        .bind(id_or_name.trim())
        .bind(name_key(id_or_name))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A virtual account by id.
    pub async fn va_by_id(&self, va_id: &str) -> Result<Option<VaRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VA_COLUMNS} FROM virtual_accounts WHERE id = $1"
        )))
        .bind(va_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// Inserts a virtual account; false if the name is taken in its account.
async fn insert_va(conn: &mut sqlx::AnyConnection, va: &VaRow) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO virtual_accounts (id, account_id, name, name_key, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, name_key) DO NOTHING",
    )
    .bind(&va.id)
    .bind(&va.account_id)
    .bind(&va.name)
    .bind(name_key(&va.name))
    .bind(&va.description)
    .bind(va.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Creates a Smart Account and its `DEFAULT` virtual account inside the caller's transaction
/// (logged as `account.create`); a taken name is a conflict, and the caller's transaction must
/// then be dropped.
pub(crate) async fn insert_account(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    domain: &str,
    now: i64,
    audit: &Audit,
) -> Result<(AccountRow, VaRow), StoreError> {
    let account = AccountRow {
        id: new_id(),
        name: name.trim().to_string(),
        domain: domain.trim().to_string(),
        created_at: now,
        reservation: "none".into(),
    };
    let va = VaRow {
        id: new_id(),
        account_id: account.id.clone(),
        name: DEFAULT_VA.into(),
        description: "Default virtual account".into(),
        created_at: now,
    };
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, name, name_key, domain, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name_key) DO NOTHING",
    )
    .bind(&account.id)
    .bind(&account.name)
    .bind(name_key(&account.name))
    .bind(&account.domain)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(Refusal::Conflict(format!("a Smart Account named {:?} already exists", account.name)).into());
    }
    insert_va(conn, &va).await?;
    append_event(
        conn,
        now,
        audit,
        Event {
            action: "account.create",
            account_id: Some(&account.id),
            object_id: Some(&account.id),
            detail: format!("created Smart Account {} ({})", account.name, account.domain),
            ..Event::default()
        },
    )
    .await?;
    Ok((account, va))
}
