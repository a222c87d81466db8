//! Smart Accounts and virtual accounts.

use super::{Audit, Event, Store, append_event, licenses, name_key};
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use crate::refusal::Refusal;

/// Name of the virtual account every Smart Account gets.
pub(super) const DEFAULT_VA: &str = "DEFAULT";

/// A Smart Account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    /// Id.
    pub id: AccountId,
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
    pub id: VirtualAccountId,
    /// Its Smart Account.
    pub account_id: AccountId,
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
                object_id: Some(account.id.as_str()),
                detail: format!("reservation of Smart Account {} set to {policy}", account.name),
                ..Event::default()
            },
        )
        .await
    }

    /// Creates a virtual account.
    pub async fn create_va(
        &self,
        account_id: &AccountId,
        name: &str,
        description: &str,
        now: i64,
        audit: &Audit,
    ) -> Result<VaRow, StoreError> {
        let va = VaRow {
            id: VirtualAccountId::fresh(),
            account_id: account_id.clone(),
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
                object_id: Some(va.id.as_str()),
                detail: format!("created virtual account {}", va.name),
            },
        )
        .await?;
        Ok(va)
    }

    /// Virtual accounts of an account, by name.
    pub async fn list_vas(&self, account_id: &AccountId) -> Result<Vec<VaRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VA_COLUMNS} FROM virtual_accounts WHERE account_id = $1 ORDER BY name_key"
        )))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The virtual account of `account_id` with this id, or else this name.
    pub async fn find_va(&self, account_id: &AccountId, id_or_name: &str) -> Result<Option<VaRow>, StoreError> {
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
    pub async fn va_by_id(&self, va_id: &VirtualAccountId) -> Result<Option<VaRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VA_COLUMNS} FROM virtual_accounts WHERE id = $1"
        )))
        .bind(va_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// What a virtual account still holds, counted when it is to be deleted: anything but zero
/// keeps it (see [`VaHoldings::refusal`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VaHoldings {
    /// Licences that still count (net, unexpired), all SKUs.
    pub licences: i64,
    /// Licences in use (the VA's `va_usage` totals).
    pub in_use: i64,
    /// Product instances.
    pub instances: i64,
    /// RESERVED licence reservations.
    pub reservations: i64,
    /// Registration tokens neither expired nor revoked.
    pub tokens: i64,
    /// Users with a VA role bound to it.
    pub users: i64,
    /// Satellite managers serving it (docs/satellite.md).
    pub satellites: i64,
}

impl VaHoldings {
    /// Why the virtual account `name` cannot be deleted, in one line; `None` when it holds
    /// nothing.
    pub(crate) fn refusal(&self, name: &str) -> Option<String> {
        let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let why = if self.licences != 0 {
            format!(
                "it holds {}; transfer them to another virtual account first",
                plural(self.licences, "licence", "licences")
            )
        } else if self.instances != 0 {
            format!(
                "it has {}; move or remove them first",
                plural(self.instances, "product instance", "product instances")
            )
        } else if self.reservations != 0 {
            format!(
                "it has {}; return them first",
                plural(self.reservations, "licence reservation", "licence reservations")
            )
        } else if self.in_use != 0 {
            format!("it still counts licences in use ({})", self.in_use)
        } else if self.tokens != 0 {
            format!(
                "it has {} not expired or revoked; revoke them first",
                plural(self.tokens, "registration token", "registration tokens")
            )
        } else if self.users != 0 {
            format!(
                "{} bound to it; remove them first",
                plural(self.users, "user is", "users are")
            )
        } else if self.satellites != 0 {
            format!(
                "{} serving it",
                plural(self.satellites, "satellite manager is", "satellite managers are")
            )
        } else {
            return None;
        };
        Some(format!("cannot delete virtual account {name}: {why}"))
    }
}

impl Store {
    /// Renames a virtual account (logged as `va.rename`); the new name must be free in its
    /// account, and `DEFAULT` keeps its name.
    pub(crate) async fn rename_va(&self, va: &VaRow, name: &str, now: i64, audit: &Audit) -> Result<VaRow, StoreError> {
        let name = name.trim();
        if name_key(&va.name) == name_key(DEFAULT_VA) {
            return Err(Refusal::Conflict(format!(
                "the {DEFAULT_VA} virtual account keeps its name (every Smart Account has one)"
            ))
            .into());
        }
        let mut tx = self.write_tx().await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM virtual_accounts WHERE account_id = $1 AND name_key = $2 AND id <> $3")
                .bind(&va.account_id)
                .bind(name_key(name))
                .bind(&va.id)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(Refusal::Conflict(format!("a virtual account named {name:?} already exists")).into());
        }
        let changed = sqlx::query("UPDATE virtual_accounts SET name = $1, name_key = $2 WHERE id = $3")
            .bind(name)
            .bind(name_key(name))
            .bind(&va.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                e if e.is_unique_violation() => StoreError::from(Refusal::Conflict(format!(
                    "a virtual account named {name:?} already exists"
                ))),
                e => e,
            })?;
        if changed.rows_affected() == 0 {
            return Err(Refusal::NotFound(format!("no virtual account {}", va.name)).into());
        }
        tx.commit_with(
            now,
            audit,
            Event {
                action: "va.rename",
                account_id: Some(&va.account_id),
                va_id: Some(&va.id),
                object_id: Some(va.id.as_str()),
                detail: format!("renamed virtual account {} to {name}", va.name),
            },
        )
        .await?;
        Ok(VaRow {
            name: name.to_string(),
            ..va.clone()
        })
    }

    /// Deletes a virtual account that holds nothing ([`VaHoldings`]); `DEFAULT` is never
    /// deleted. Its expired and revoked tokens, returned reservations, spent licence rows and
    /// usage history go with it; the event log keeps what happened (`va.delete`).
    pub(crate) async fn delete_va(&self, va: &VaRow, now: i64, audit: &Audit) -> Result<(), StoreError> {
        if name_key(&va.name) == name_key(DEFAULT_VA) {
            return Err(Refusal::Conflict(format!(
                "the {DEFAULT_VA} virtual account cannot be deleted (every Smart Account keeps one)"
            ))
            .into());
        }
        let mut tx = self.write_tx().await?;
        // Licence moves (transfers, reservations, instance moves) into it wait for this.
        if !licenses::lock_va(&mut tx, &va.id).await? {
            return Err(Refusal::NotFound(format!("no virtual account {}", va.name)).into());
        }
        let holdings = va_holdings(&mut tx, &va.id, now).await?;
        if let Some(why) = holdings.refusal(&va.name) {
            return Err(Refusal::Conflict(why).into());
        }
        for sql in [
            "DELETE FROM reservation_licenses WHERE reservation_id IN (SELECT id FROM reservations WHERE va_id = $1)",
            "DELETE FROM reservations WHERE va_id = $1",
            "DELETE FROM registration_tokens WHERE va_id = $1",
            "DELETE FROM license_deposits WHERE va_id = $1",
            "DELETE FROM usage_daily WHERE va_id = $1",
            "DELETE FROM va_usage WHERE va_id = $1",
            "DELETE FROM virtual_accounts WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(&va.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    // Something took a reference to it meanwhile (PostgreSQL: a token or user
                    // created while this transaction ran).
                    sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                        StoreError::from(Refusal::Conflict(format!(
                            "virtual account {} changed while it was being deleted; try again",
                            va.name
                        )))
                    }
                    e => StoreError::from(e),
                })?;
        }
        tx.commit_with(
            now,
            audit,
            Event {
                action: "va.delete",
                account_id: Some(&va.account_id),
                va_id: Some(&va.id),
                object_id: Some(va.id.as_str()),
                detail: format!("deleted virtual account {}", va.name),
            },
        )
        .await
    }
}

/// What the virtual account `va_id` holds at `now` (read inside the deleting transaction).
async fn va_holdings(
    conn: &mut sqlx::AnyConnection,
    va_id: &VirtualAccountId,
    now: i64,
) -> Result<VaHoldings, StoreError> {
    let licences = licenses::lots(conn, va_id, None)
        .await?
        .into_iter()
        .filter(|l| l.end_date.is_none_or(|end| now < end))
        .map(|l| l.quantity)
        .sum();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).bind(va_id);
    let in_use = count("SELECT CAST(COALESCE(SUM(ABS(in_use)), 0) AS BIGINT) FROM va_usage WHERE va_id = $1")
        .fetch_one(&mut *conn)
        .await?;
    // The kept count (migration 0014's triggers), not a count of a VA's possibly million rows.
    let instances = count("SELECT COALESCE(MAX(n), 0) FROM va_instance_counts WHERE va_id = $1")
        .fetch_one(&mut *conn)
        .await?;
    let reservations = count("SELECT COUNT(*) FROM reservations WHERE va_id = $1 AND status = 'reserved'")
        .fetch_one(&mut *conn)
        .await?;
    let users = count("SELECT COUNT(*) FROM users WHERE va_id = $1")
        .fetch_one(&mut *conn)
        .await?;
    let satellites = count("SELECT COUNT(*) FROM satellites WHERE va_id = $1")
        .fetch_one(&mut *conn)
        .await?;
    let tokens: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registration_tokens WHERE va_id = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(va_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(VaHoldings {
        licences,
        in_use,
        instances,
        reservations,
        tokens,
        users,
        satellites,
    })
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
        id: AccountId::fresh(),
        name: name.trim().to_string(),
        domain: domain.trim().to_string(),
        created_at: now,
        reservation: "none".into(),
    };
    let va = VaRow {
        id: VirtualAccountId::fresh(),
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
            object_id: Some(account.id.as_str()),
            detail: format!("created Smart Account {} ({})", account.name, account.domain),
            ..Event::default()
        },
    )
    .await?;
    Ok((account, va))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_va_that_holds_anything_says_what_first() {
        assert_eq!(VaHoldings::default().refusal("East"), None);
        let all = VaHoldings {
            licences: 5,
            in_use: 2,
            instances: 1,
            reservations: 1,
            tokens: 3,
            users: 1,
            satellites: 1,
        };
        assert_eq!(
            all.refusal("East").as_deref(),
            Some(
                "cannot delete virtual account East: it holds 5 licences; transfer them to another virtual account first"
            )
        );
        let one = |h: VaHoldings| h.refusal("East").unwrap_or_default();
        assert!(
            one(VaHoldings {
                instances: 1,
                ..VaHoldings::default()
            })
            .ends_with("it has 1 product instance; move or remove them first")
        );
        assert!(
            one(VaHoldings {
                reservations: 2,
                ..VaHoldings::default()
            })
            .contains("2 licence reservations; return them")
        );
        assert!(
            one(VaHoldings {
                tokens: 1,
                ..VaHoldings::default()
            })
            .contains("1 registration token not expired or revoked")
        );
        assert!(
            one(VaHoldings {
                users: 2,
                ..VaHoldings::default()
            })
            .contains("2 users are bound to it")
        );
        assert!(
            one(VaHoldings {
                in_use: 1,
                ..VaHoldings::default()
            })
            .contains("it still counts licences in use (1)")
        );
        assert_eq!(
            one(VaHoldings {
                satellites: 1,
                ..VaHoldings::default()
            }),
            "cannot delete virtual account East: 1 satellite manager is serving it"
        );
    }
}
