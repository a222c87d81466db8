//! Loading product instances in bulk, for benchmarks of a large fleet (`smartlic bench fleet
//! --preload N`). Registering a million devices one HTTPS registration at a time takes the better
//! part of an hour on a 2-core machine; what a benchmark of a large *steady* fleet needs is the
//! rows a registration leaves behind: the instance (with the public key its renewals are checked
//! against), its licence usage, the virtual account's totals and the day's usage history, all in
//! one transaction per call, with one event naming how many were loaded.
//!
//! No registration token is taken and no ID certificate is issued: a loaded instance renews its
//! authorization (which checks the request's signature with the stored key) but its first ID
//! certificate renewal is refused, as for any instance without a certificate from this manager.

use super::instances::{add_va_usage, record_daily_many};
use super::{Audit, Event, Store, append_event};
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};

/// Most instances one call loads (each row binds four values; both engines take the statement).
pub const BULK_MAX: usize = 1_000;

/// A product instance to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkInstance {
    /// Id (a UUID, as registration makes).
    pub id: String,
    /// Serial number (unique in the account for the product id).
    pub udi_sn: String,
    /// Hostname.
    pub hostname: String,
    /// Ed25519 public key, base64 of the raw 32 bytes.
    pub public_key: String,
    /// Licences in use of the load's SKU (0: none).
    pub count: i64,
}

/// What the loaded instances have in common.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkLoad<'a> {
    /// Account id.
    pub account_id: &'a AccountId,
    /// Virtual account id (of that account).
    pub va_id: &'a VirtualAccountId,
    /// Product id of every instance.
    pub udi_pid: &'a str,
    /// Software tag.
    pub software_tag: &'a str,
    /// The SKU their usage counts.
    pub sku: &'a str,
    /// Registration and last-contact time.
    pub now: i64,
    /// ID certificate expiry recorded for them.
    pub id_cert_expires_at: i64,
}

impl Store {
    /// Loads up to [`BULK_MAX`] instances into one virtual account in one transaction: the
    /// instances, their usage, the VA's totals and usage history, and one `instance.bulk_load`
    /// event. A duplicate id or serial number refuses the whole call with nothing written.
    pub async fn bulk_load_instances(
        &self,
        load: &BulkLoad<'_>,
        rows: &[BulkInstance],
        audit: &Audit,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        if rows.len() > BULK_MAX {
            return Err(StoreError::Inconsistent(format!(
                "a bulk load takes at most {BULK_MAX} instances (got {})",
                rows.len()
            )));
        }
        let mut tx = self.write_tx().await?;
        // $1-$6 are shared; each row binds id, serial number, hostname and key.
        let values: Vec<String> = (0..rows.len())
            .map(|i| {
                let p = 7 + 4 * i;
                format!(
                    "(${p}, $1, $2, $3, ${}, ${}, $4, 'bench-preload', ${}, NULL, 0, $5, $5, $6, NULL, NULL, '')",
                    p + 1,
                    p + 2,
                    p + 3
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO product_instances (id, account_id, va_id, udi_pid, udi_sn, hostname, software_tag, \
             agent_version, public_key, token_id, export_controlled, registered_at, last_contact, \
             id_cert_expires_at, last_auth_at, last_auth_status, ha_udis) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(load.account_id)
            .bind(load.va_id)
            .bind(load.udi_pid)
            .bind(load.software_tag)
            .bind(load.now)
            .bind(load.id_cert_expires_at);
        for r in rows {
            q = q.bind(&r.id).bind(&r.udi_sn).bind(&r.hostname).bind(&r.public_key);
        }
        q.execute(&mut *tx).await?;

        let used: Vec<&BulkInstance> = rows.iter().filter(|r| r.count > 0).collect();
        if !used.is_empty() {
            let sql = format!(
                "INSERT INTO instance_usage (instance_id, sku, count) VALUES {}",
                super::value_rows(used.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in &used {
                q = q.bind(&r.id).bind(load.sku).bind(r.count);
            }
            q.execute(&mut *tx).await?;
            let added: i64 = used.iter().map(|r| r.count).sum();
            let day = add_va_usage(&mut tx, load.va_id, load.sku, added, load.now).await?;
            record_daily_many(&mut tx, &[day]).await?;
        }
        append_event(
            &mut tx,
            load.now,
            audit,
            Event {
                action: "instance.bulk_load",
                account_id: Some(load.account_id),
                va_id: Some(load.va_id),
                object_id: None,
                detail: format!(
                    "{} product instances loaded in bulk ({} … {})",
                    rows.len(),
                    rows[0].hostname,
                    rows[rows.len() - 1].hostname
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Refreshes the planner's statistics of the instance tables, as after any bulk load: until
    /// the database's own auto-analyze runs, a planner that still believes the VA small sorts a
    /// million rows for an instance page (measured on PostgreSQL: 1.7 s before, 2.6 ms after).
    pub async fn analyze_instances(&self) -> Result<(), StoreError> {
        let sql = match self.engine {
            super::Engine::Postgres => {
                "ANALYZE product_instances, instance_usage, va_instance_counts, va_status_counts"
            }
            super::Engine::Sqlite => "ANALYZE",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::on_both_engines;

    on_both_engines!(loads_instances_usage_and_totals_whole_or_nothing);

    fn rows(from: usize, n: usize) -> Vec<BulkInstance> {
        (from..from + n)
            .map(|i| BulkInstance {
                id: crate::store::new_id(),
                udi_sn: format!("BULK-{i}"),
                hostname: format!("bulk-{i:07}"),
                public_key: format!("key-{i}"),
                count: (i % 3) as i64,
            })
            .collect()
    }

    async fn in_use(store: &Store, va_id: &VirtualAccountId) -> i64 {
        let totals = store.va_in_use(va_id).await.unwrap();
        totals.iter().filter(|(sku, _)| sku == "SKU-A").map(|(_, n)| n).sum()
    }

    async fn loads_instances_usage_and_totals_whole_or_nothing(store: Store) {
        let audit = Audit::new("operator", None);
        let (account, va) = store.create_account("Bulk", "bulk.example", 1, &audit).await.unwrap();
        let load = BulkLoad {
            account_id: &account.id,
            va_id: &va.id,
            udi_pid: "ASR5500",
            software_tag: "tag",
            sku: "SKU-A",
            now: 1_000_000,
            id_cert_expires_at: 2_000_000,
        };
        let first = rows(0, BULK_MAX);
        store.bulk_load_instances(&load, &first, &audit).await.unwrap();
        store
            .bulk_load_instances(&load, &rows(BULK_MAX, 10), &audit)
            .await
            .unwrap();
        assert_eq!(store.count_instances(&account.id, Some(&va.id)).await.unwrap(), 1_010);
        crate::store::tests::assert_instance_counts_exact(&store).await;
        let expected: i64 = (0..1_010).map(|i| (i % 3) as i64).sum();
        assert_eq!(in_use(&store, &va.id).await, expected);
        let id = crate::ids::ProductInstanceId::new(first[5].id.clone());
        let one = store.instance(&id).await.unwrap().unwrap();
        assert_eq!(
            (one.hostname.as_str(), one.public_key.as_str()),
            ("bulk-0000005", "key-5")
        );
        assert_eq!(store.instance_usage(&id).await.unwrap(), vec![("SKU-A".to_string(), 2)]);

        // A serial number loaded already: nothing of the call is written.
        let mut again = rows(2_000, 5);
        again[4].udi_sn = "BULK-7".into();
        assert!(store.bulk_load_instances(&load, &again, &audit).await.is_err());
        assert_eq!(store.count_instances(&account.id, Some(&va.id)).await.unwrap(), 1_010);
        assert_eq!(in_use(&store, &va.id).await, expected);

        assert!(
            store
                .bulk_load_instances(&load, &rows(0, BULK_MAX + 1), &audit)
                .await
                .is_err()
        );
    }
}
