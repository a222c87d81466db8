//! Product instances and their licence usage. Every change of an instance's usage updates the
//! per-VA totals (`va_usage`) in the same transaction, so a report never scans the instances.

use super::{Audit, Event, Store, append_event, tokens};
use crate::compliance::{self, UsageChange};
use crate::error::StoreError;
use crate::ids::{AccountId, ProductInstanceId, TokenId, VirtualAccountId};
use crate::refusal::Refusal;
use sqlx::AnyConnection;

/// A product instance with the name of its virtual account.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct InstanceRow {
    /// Id.
    pub id: ProductInstanceId,
    /// Account id.
    pub account_id: AccountId,
    /// Virtual account id.
    pub va_id: VirtualAccountId,
    /// Virtual account name.
    pub va_name: String,
    /// Product id.
    pub udi_pid: String,
    /// Serial number.
    pub udi_sn: String,
    /// Hostname.
    pub hostname: String,
    /// Software tag.
    pub software_tag: String,
    /// Agent version.
    pub agent_version: String,
    /// Ed25519 public key, base64.
    pub public_key: String,
    /// Export-controlled functionality allowed.
    #[sqlx(try_from = "super::Flag")]
    pub export_controlled: bool,
    /// Registration time.
    pub registered_at: i64,
    /// Last contact.
    pub last_contact: i64,
    /// ID certificate expiry.
    pub id_cert_expires_at: i64,
    /// Last authorization.
    pub last_auth_at: Option<i64>,
    /// `AUTHORIZED` or `OUT OF COMPLIANCE` at the last authorization.
    pub last_auth_status: Option<String>,
    /// The HA UDI list as registered (JSON of `[HaUdi]`; empty for a single-chassis product).
    pub ha_udis: String,
}

/// A product instance to create at registration.
#[derive(Debug, Clone)]
pub struct NewInstance {
    /// Id (also the CN of its ID certificate).
    pub id: ProductInstanceId,
    /// Product id.
    pub udi_pid: String,
    /// Serial number.
    pub udi_sn: String,
    /// Hostname.
    pub hostname: String,
    /// Software tag.
    pub software_tag: String,
    /// Agent version.
    pub agent_version: String,
    /// Ed25519 public key, base64.
    pub public_key: String,
    /// ID certificate expiry.
    pub id_cert_expires_at: i64,
    /// The HA UDI list (JSON; empty for none).
    pub ha_udis: String,
}

/// A usage report of one product instance.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The instance.
    pub id: &'a ProductInstanceId,
    /// Its hostname now.
    pub hostname: &'a str,
    /// Licences in use per SKU (catalog spelling).
    pub usage: &'a [(String, i64)],
    /// The manager's clock.
    pub now: i64,
    /// The request's nonce and timestamp, recorded in the report's transaction (a replay is
    /// refused and changes nothing); `None` when the caller recorded it.
    pub nonce: Option<(&'a str, i64)>,
}

/// What a usage report leaves behind, per SKU reported: the instance's count, and the VA's
/// totals in use and purchased, read in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// One SKU's figures each, in report order.
    pub skus: Vec<SkuFigures>,
}

/// The figures of one SKU of a usage report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuFigures {
    /// The SKU (catalog spelling).
    pub sku: String,
    /// Licences this instance uses.
    pub count: i64,
    /// Licences the virtual account uses (all its instances, this report included).
    pub in_use: i64,
    /// Licences the virtual account holds at the report's time.
    pub purchased: i64,
}

impl SkuFigures {
    /// Whether this SKU is in compliance for the instance ([`compliance::compliance`]).
    pub fn compliance(&self) -> smartlic_protocol::wire::Compliance {
        compliance::compliance(self.count, self.in_use, self.purchased)
    }
}

const INSTANCE_SELECT: &str = "SELECT p.id, p.account_id, p.va_id, v.name AS va_name, p.udi_pid, p.udi_sn, p.hostname, \
     p.software_tag, p.agent_version, p.public_key, p.export_controlled, p.registered_at, p.last_contact, \
     p.id_cert_expires_at, p.last_auth_at, p.last_auth_status, p.ha_udis \
     FROM product_instances p JOIN virtual_accounts v ON v.id = p.va_id";

impl Store {
    /// Registers a product instance with a token: takes one use of the token (refused with the
    /// reason if it is expired, revoked or used up), replaces an instance with the same UDI in
    /// the same virtual account (releasing its licences; one registered in another VA of the
    /// account is refused, never taken over), and creates the new one in the token's VA.
    // Long: one transaction that takes a token use, replaces an instance of the same UDI and inserts the new one.
    pub async fn register_instance(
        &self,
        token_id: &TokenId,
        new: &NewInstance,
        now: i64,
        audit: &Audit,
    ) -> Result<(InstanceRow, tokens::TokenRow), StoreError> {
        let mut tx = self.write_tx().await?;
        if !tokens::take_use(&mut tx, token_id, now).await? {
            let t = tokens::token_by_id(&mut tx, token_id)
                .await?
                .ok_or_else(crate::tokens::unknown_token)?;
            crate::tokens::check_usable(&t, now)?;
            // Usable now but the update did not take: the token changed under us.
            return Err(Refusal::Conflict("registration token changed concurrently; retry".into()).into());
        }
        let token = tokens::token_by_id(&mut tx, token_id)
            .await?
            .ok_or_else(crate::tokens::unknown_token)?;
        let old: Option<(ProductInstanceId, VirtualAccountId)> = sqlx::query_as(
            "SELECT id, va_id FROM product_instances WHERE account_id = $1 AND udi_pid = $2 AND udi_sn = $3",
        )
        .bind(&token.account_id)
        .bind(&new.udi_pid)
        .bind(&new.udi_sn)
        .fetch_optional(&mut *tx)
        .await?;
        if old.as_ref().is_some_and(|(_, va)| *va != token.va_id) {
            // A token of one virtual account never takes a product instance from another: that
            // would let any holder of a token remove (and so unlicense) a node elsewhere in the
            // account just by naming its serial number.
            return Err(Refusal::Conflict(format!(
                "PID:{},SN:{} is registered in another virtual account of this Smart Account; \
                 remove that product instance there before registering it with a token of {}",
                new.udi_pid, new.udi_sn, token.va_name
            ))
            .into());
        }
        if let Some((old_id, old_va)) = old {
            let released = delete_instance(&mut tx, &old_id, &old_va, now).await?;
            append_event(
                &mut tx,
                now,
                audit,
                Event {
                    action: "instance.replace",
                    account_id: Some(&token.account_id),
                    va_id: Some(&old_va),
                    object_id: Some(&old_id),
                    detail: format!(
                        "product instance PID:{},SN:{} registered again; old instance removed, released {}",
                        new.udi_pid,
                        new.udi_sn,
                        describe(&released)
                    ),
                },
            )
            .await?;
        }
        sqlx::query(
            "INSERT INTO product_instances (id, account_id, va_id, udi_pid, udi_sn, hostname, software_tag, agent_version, \
             public_key, token_id, export_controlled, registered_at, last_contact, id_cert_expires_at, last_auth_at, \
             last_auth_status, ha_udis) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, NULL, NULL, $14)",
        )
        .bind(&new.id)
        .bind(&token.account_id)
        .bind(&token.va_id)
        .bind(&new.udi_pid)
        .bind(&new.udi_sn)
        .bind(&new.hostname)
        .bind(&new.software_tag)
        .bind(&new.agent_version)
        .bind(&new.public_key)
        .bind(&token.id)
        .bind(i64::from(token.export_controlled))
        .bind(now)
        .bind(new.id_cert_expires_at)
        .bind(&new.ha_udis)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            let e = StoreError::from(e);
            if e.is_unique_violation() {
                Refusal::Conflict(format!(
                    "PID:{},SN:{} is being registered concurrently; retry",
                    new.udi_pid, new.udi_sn
                ))
                .into()
            } else {
                e
            }
        })?;
        append_event(
            &mut tx,
            now,
            audit,
            Event {
                action: "device.register",
                account_id: Some(&token.account_id),
                va_id: Some(&token.va_id),
                object_id: Some(new.id.as_str()),
                detail: format!(
                    "registered PID:{},SN:{} ({}) with token {}",
                    new.udi_pid, new.udi_sn, new.hostname, token.id
                ),
            },
        )
        .await?;
        let row = instance_by_id(&mut tx, &new.id)
            .await?
            .ok_or_else(|| StoreError::Inconsistent("registered instance vanished".into()))?;
        tx.commit().await?;
        Ok((row, token))
    }

    /// A product instance by id.
    pub async fn instance(&self, id: &ProductInstanceId) -> Result<Option<InstanceRow>, StoreError> {
        instance_by_id(&mut *self.pool.acquire().await?, id).await
    }

    /// The instances among `ids` that exist, in no particular order (one query for all).
    pub async fn instances_by_ids(&self, ids: &[&ProductInstanceId]) -> Result<Vec<InstanceRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{INSTANCE_SELECT} WHERE p.id IN ({})",
            super::placeholders(1, ids.len())
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// One page of an account's product instances (optionally one VA's), by hostname then id:
    /// at most `limit`, starting after the instance with hostname and id `after`.
    pub async fn instance_page(
        &self,
        account_id: &AccountId,
        va_id: Option<&VirtualAccountId>,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<InstanceRow>, StoreError> {
        // One text per case, so that each reads its index in order from the cursor on (a row
        // value comparison is a range of the (…, hostname, id) index on both engines).
        let (owner, owner_value) = match va_id {
            Some(va) => ("p.va_id = $1", va.as_str()),
            None => ("p.account_id = $1", account_id.as_str()),
        };
        let from = if after.is_some() {
            " AND (p.hostname, p.id) > ($3, $4)"
        } else {
            ""
        };
        let sql = format!(
            "{INSTANCE_SELECT} WHERE {owner} AND p.account_id = $2{from} ORDER BY p.hostname, p.id LIMIT ${}",
            if after.is_some() { 5 } else { 3 }
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(owner_value)
            .bind(account_id);
        if let Some((hostname, id)) = after {
            q = q.bind(hostname).bind(id);
        }
        Ok(q.bind(limit).fetch_all(&self.pool).await?)
    }

    /// The instances of an account last heard from at or before `before`: (VA id, hostname,
    /// last contact). Read for alerts, which need only these, not the whole fleet.
    pub async fn silent_instances(
        &self,
        account_id: &AccountId,
        before: i64,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT va_id, hostname, last_contact FROM product_instances \
             WHERE account_id = $1 AND last_contact <= $2 ORDER BY hostname, id",
        )
        .bind(account_id)
        .bind(before)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many product instances an account (optionally one VA) has: the per-VA counts the
    /// database's triggers keep (migration 0014), one row a VA, never a count of the instances.
    pub async fn count_instances(
        &self,
        account_id: &AccountId,
        va_id: Option<&VirtualAccountId>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM va_instance_counts c \
             JOIN virtual_accounts v ON v.id = c.va_id WHERE v.account_id = $1 AND ($2 IS NULL OR c.va_id = $2)",
        )
        .bind(account_id)
        .bind(va_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Licences an instance uses, by SKU.
    pub async fn instance_usage(&self, id: &ProductInstanceId) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT sku, count FROM instance_usage WHERE instance_id = $1 ORDER BY sku")
                .bind(id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Records a new ID certificate expiry (and the contact).
    pub async fn renew_instance_id(
        &self,
        id: &ProductInstanceId,
        id_cert_expires_at: i64,
        now: i64,
        audit: &Audit,
    ) -> Result<InstanceRow, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("UPDATE product_instances SET id_cert_expires_at = $2, last_contact = $3 WHERE id = $1")
            .bind(id)
            .bind(id_cert_expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(unknown_instance(id).into());
        }
        let row = instance_by_id(&mut tx, id).await?.ok_or_else(|| unknown_instance(id))?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "device.renew_id",
                account_id: Some(&row.account_id),
                va_id: Some(&row.va_id),
                object_id: Some(id),
                detail: format!(
                    "renewed ID certificate until {}",
                    smartlic_protocol::time::format_rfc3339(id_cert_expires_at)
                ),
            },
        )
        .await?;
        Ok(row)
    }

    /// Replaces the usage of an instance with `usage` (SKU, count; validated by the caller),
    /// keeps the VA totals in step, and returns per reported SKU the VA totals in use and
    /// purchased at `now`, from the same transaction. `status_of` decides the status recorded on
    /// the instance from those figures.
    pub async fn report_usage(
        &self,
        report: Report<'_>,
        status_of: impl Fn(&[SkuFigures]) -> &'static str + Send + Sync + 'static,
        audit: &Audit,
    ) -> Result<UsageReport, StoreError> {
        let job = super::batch::ReportJob {
            id: report.id.clone(),
            hostname: report.hostname.to_string(),
            usage: report.usage.to_vec(),
            now: report.now,
            nonce: report.nonce.map(|(n, t)| (n.to_string(), t)),
            status_of: Box::new(status_of),
            audit: audit.clone(),
        };
        let Some(writer) = &self.writer else {
            let mut db = super::batch_db::WriterDb::Sqlx(self.clone());
            return super::batch::apply_alone(&mut db, &job).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || StoreError::Db(sqlx::Error::Configuration("the database writer has stopped".into()));
        writer
            .jobs
            .send(super::batch::Msg::Report((job, reply)))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Removes a product instance and releases its licences; `None` if there is no such
    /// instance (in `account_id`, when given).
    pub async fn remove_instance(
        &self,
        id: &ProductInstanceId,
        account_id: Option<&AccountId>,
        now: i64,
        audit: &Audit,
    ) -> Result<Option<(InstanceRow, Vec<(String, i64)>)>, StoreError> {
        self.remove_instance_when(id, account_id, now, audit, false).await
    }

    /// Removes an instance whose ID certificate expired before `now` (it failed to renew),
    /// checked in the same transaction; `None` if there is no such instance or it renewed.
    pub async fn expire_instance(
        &self,
        id: &ProductInstanceId,
        now: i64,
        audit: &Audit,
    ) -> Result<Option<(InstanceRow, Vec<(String, i64)>)>, StoreError> {
        self.remove_instance_when(id, None, now, audit, true).await
    }

    /// Ids of the instances whose ID certificate expired before `now`.
    pub async fn expired_instances(&self, now: i64) -> Result<Vec<ProductInstanceId>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM product_instances WHERE id_cert_expires_at < $1 ORDER BY id")
                .bind(now)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn remove_instance_when(
        &self,
        id: &ProductInstanceId,
        account_id: Option<&AccountId>,
        now: i64,
        audit: &Audit,
        only_if_expired: bool,
    ) -> Result<Option<(InstanceRow, Vec<(String, i64)>)>, StoreError> {
        let mut tx = self.write_tx().await?;
        let Some(row) = instance_by_id(&mut tx, id).await? else {
            return Ok(None);
        };
        if account_id.is_some_and(|a| *a != row.account_id) {
            return Ok(None);
        }
        if only_if_expired && row.id_cert_expires_at >= now {
            return Ok(None);
        }
        let released = delete_instance(&mut tx, id, &row.va_id, now).await?;
        let action = if only_if_expired {
            "instance.expire"
        } else if audit.actor.starts_with("device:") {
            "device.deregister"
        } else {
            "instance.remove"
        };
        tx.commit_with(
            now,
            audit,
            Event {
                action,
                account_id: Some(&row.account_id),
                va_id: Some(&row.va_id),
                object_id: Some(id),
                detail: format!(
                    "removed product instance PID:{},SN:{} ({}); released {}",
                    row.udi_pid,
                    row.udi_sn,
                    row.hostname,
                    describe(&released)
                ),
            },
        )
        .await?;
        Ok(Some((row, released)))
    }
}

pub(super) fn unknown_instance(id: &ProductInstanceId) -> Refusal {
    Refusal::UnknownInstance(format!(
        "product instance {id} is not registered with this license manager"
    ))
}

pub(super) fn describe(usage: &[(String, i64)]) -> String {
    if usage.is_empty() {
        return "no licences".into();
    }
    usage
        .iter()
        .map(|(s, c)| format!("{c} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) async fn instance_by_id(
    conn: &mut AnyConnection,
    id: &ProductInstanceId,
) -> Result<Option<InstanceRow>, StoreError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{INSTANCE_SELECT} WHERE p.id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Applies usage changes of one instance outside a batch (its removal): its rows, the VA
/// totals and the day's history, one change at a time.
async fn apply_changes(
    conn: &mut AnyConnection,
    instance_id: &ProductInstanceId,
    va_id: &VirtualAccountId,
    changes: &[UsageChange],
    now: i64,
) -> Result<(), StoreError> {
    for ch in changes {
        if ch.new_count == 0 {
            sqlx::query("DELETE FROM instance_usage WHERE instance_id = $1 AND sku = $2")
                .bind(instance_id)
                .bind(&ch.sku)
                .execute(&mut *conn)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO instance_usage (instance_id, sku, count) VALUES ($1, $2, $3) \
                 ON CONFLICT (instance_id, sku) DO UPDATE SET count = excluded.count",
            )
            .bind(instance_id)
            .bind(&ch.sku)
            .bind(ch.new_count)
            .execute(&mut *conn)
            .await?;
        }
        let day = add_va_usage(conn, va_id, &ch.sku, ch.delta, now).await?;
        record_daily_many(conn, &[day]).await?;
    }
    Ok(())
}

/// One SKU's usage in a virtual account on one day (a row of the usage history).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageDay {
    /// The SKU.
    pub sku: String,
    /// 00:00 UTC of the day.
    pub day: i64,
    /// The most in use that day.
    pub peak: i64,
    /// In use after the day's last change.
    pub last: i64,
}

/// One VA and SKU's usage on one day, as a change left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DailyUsage {
    pub(super) va_id: VirtualAccountId,
    pub(super) sku: String,
    /// 00:00 UTC of the day.
    pub(super) day: i64,
    /// The most in use that day (before or after a change).
    pub(super) peak: i64,
    /// In use after the day's last change.
    pub(super) last: i64,
}

impl DailyUsage {
    /// A change from `before` to `total` at `now`: both were in use that day.
    pub(super) fn new(va_id: &VirtualAccountId, sku: &str, now: i64, before: i64, total: i64) -> DailyUsage {
        DailyUsage {
            va_id: va_id.clone(),
            sku: sku.to_string(),
            day: now - now.rem_euclid(smartlic_protocol::time::DAY),
            peak: before.max(total),
            last: total,
        }
    }
}

/// Adds `delta` to the VA's total in use of `sku` (`va_usage`); the day's change it makes, for
/// [`record_daily_many`]. Callers lock the VA's rows in SKU order.
pub(super) async fn add_va_usage(
    conn: &mut AnyConnection,
    va_id: &VirtualAccountId,
    sku: &str,
    delta: i64,
    now: i64,
) -> Result<DailyUsage, StoreError> {
    let total: i64 = sqlx::query_scalar(
        "INSERT INTO va_usage (va_id, sku, in_use) VALUES ($1, $2, $3) \
         ON CONFLICT (va_id, sku) DO UPDATE SET in_use = va_usage.in_use + excluded.in_use RETURNING in_use",
    )
    .bind(va_id)
    .bind(sku)
    .bind(delta)
    .fetch_one(&mut *conn)
    .await?;
    Ok(DailyUsage::new(va_id, sku, now, total - delta, total))
}

/// Keeps the days' peaks and last totals (`usage_daily`) in one statement; `rows` must not
/// repeat a (VA, SKU, day).
pub(super) async fn record_daily_many(conn: &mut AnyConnection, rows: &[DailyUsage]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    daily_stmt(rows).execute_sqlx(conn).await?;
    Ok(())
}

/// The statement of [`record_daily_many`] (`rows` not empty).
pub(super) fn daily_stmt(rows: &[DailyUsage]) -> super::batch_db::Stmt<'_> {
    use super::batch_db::Arg;
    let mut q = super::batch_db::Stmt::new(format!(
        "INSERT INTO usage_daily (va_id, sku, day, peak, last) VALUES {} \
         ON CONFLICT (va_id, sku, day) DO UPDATE SET last = excluded.last, \
         peak = CASE WHEN excluded.peak > usage_daily.peak THEN excluded.peak ELSE usage_daily.peak END",
        super::value_rows(rows.len(), 5)
    ));
    for r in rows {
        q.arg(Arg::Text(&r.va_id))
            .arg(Arg::Text(&r.sku))
            .arg(Arg::Int(r.day))
            .arg(Arg::Int(r.peak))
            .arg(Arg::Int(r.last));
    }
    q
}

/// Deletes an instance after releasing its licences from the VA totals; returns what it used.
async fn delete_instance(
    conn: &mut AnyConnection,
    id: &ProductInstanceId,
    va_id: &VirtualAccountId,
    now: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    // Lock the instance row before the VA totals (the order every writer uses).
    sqlx::query("UPDATE product_instances SET last_contact = last_contact WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let old: Vec<(String, i64)> =
        sqlx::query_as("SELECT sku, count FROM instance_usage WHERE instance_id = $1 ORDER BY sku")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let changes = compliance::usage_changes(&old, &[]);
    apply_changes(conn, id, va_id, &changes, now).await?;
    sqlx::query("DELETE FROM product_instances WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(old)
}

impl Store {
    /// The daily usage history of a VA from `since` (epoch seconds) on, by SKU and day; plus, per
    /// SKU, the last day before `since` (to carry its total forward).
    pub async fn usage_history(&self, va_id: &VirtualAccountId, since: i64) -> Result<Vec<UsageDay>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT sku, day, peak, last FROM usage_daily WHERE va_id = $1 AND day >= $2 \
             UNION ALL SELECT d.sku, d.day, d.peak, d.last FROM usage_daily d \
             WHERE d.va_id = $1 AND d.day = (SELECT MAX(e.day) FROM usage_daily e \
             WHERE e.va_id = d.va_id AND e.sku = d.sku AND e.day < $2) \
             ORDER BY 1, 2",
        )
        .bind(va_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }
}
