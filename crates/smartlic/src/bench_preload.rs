//! `bench fleet --preload N --database URL`: N product instances written straight into the
//! manager's database before the fleet registers, so that a run measures a manager holding a
//! large steady fleet (a million instances) without an hour of registrations first.
//!
//! Each preloaded device's key and id are derived from the run's stamp and its number (SHA-256),
//! so the renewal phase renews any of them without keeping a million keys: the manager checks a
//! renewal of a preloaded device exactly as one of a registered device, against the public key
//! stored for it. Each reports its steady licence count ([`renewal_usage`] without a change),
//! loaded with it, so the VA's totals are right from the start. The planner's statistics are
//! refreshed after the load, as an operator does after any bulk load.

use crate::bench_fleet::renewal_usage;
use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use smartlic_manager::{AccountId, Audit, BULK_MAX, BulkInstance, BulkLoad, Store};
use std::path::Path;
use std::time::Instant;

/// Most instances `--preload` writes.
pub const MAX_PRELOAD: usize = 2_000_000;

/// The preloaded devices of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preloaded {
    /// The run's stamp (keys and ids derive from it).
    pub stamp: u128,
    /// How many.
    pub count: usize,
}

/// What a preloaded device needs to renew.
pub struct PreloadedDevice {
    pub key: SigningKey,
    pub instance_id: String,
    pub hostname: String,
}

impl Preloaded {
    fn seed(&self, p: usize, what: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"smartlic bench preload\0");
        h.update(what);
        h.update(self.stamp.to_be_bytes());
        h.update((p as u64).to_be_bytes());
        h.finalize().into()
    }

    /// Device `p` (0-based) of the preload.
    pub fn device(&self, p: usize) -> PreloadedDevice {
        let key = SigningKey::from_bytes(&self.seed(p, b"key"));
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.seed(p, b"id")[..16]);
        PreloadedDevice {
            key,
            // A version-4 UUID, as registration's ids are.
            instance_id: uuid::Builder::from_random_bytes(id).into_uuid().to_string(),
            hostname: hostname(p),
        }
    }

    /// The rows of devices `from..to`.
    fn rows(&self, from: usize, to: usize) -> Vec<BulkInstance> {
        (from..to)
            .map(|p| {
                let d = self.device(p);
                BulkInstance {
                    id: d.instance_id,
                    udi_sn: format!("PL{}-{p}", self.stamp),
                    hostname: d.hostname,
                    public_key: smartlic_protocol::envelope::encode_public_key(&d.key.verifying_key()),
                    count: renewal_usage(p, 1.0) as i64,
                }
            })
            .collect()
    }
}

/// The hostname of preloaded device `p`: sorts after every `fleet-…` device, in number order.
fn hostname(p: usize) -> String {
    format!("preload-{p:07}")
}

/// The store `--database` names: a `postgres://` URL, or else the manager's SQLite file.
async fn open(database: &str) -> Result<Store> {
    let store = if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        Store::open_postgres(database).await
    } else {
        let path = Path::new(database);
        if !path.is_file() {
            bail!("--database {database}: not a postgres:// URL nor the manager's SQLite file");
        }
        Store::open_sqlite(path).await
    };
    store.with_context(|| format!("cannot open the database {database}"))
}

/// Writes `count` instances into the `DEFAULT` VA of `account_id`, keys derived on a blocking
/// thread while the previous batch is written; the preload and its length, s.
pub async fn preload(
    database: &str,
    account_id: &str,
    count: usize,
    stamp: u128,
    software_tag: &str,
    sku: &str,
) -> Result<(Preloaded, f64)> {
    let started = Instant::now();
    let store = open(database).await?;
    let account_id = AccountId::new(account_id);
    let va = store
        .find_va(&account_id, "DEFAULT")
        .await?
        .ok_or_else(|| anyhow!("the benchmark's account has no DEFAULT virtual account in {database}"))?;
    let preloaded = Preloaded { stamp, count };
    let now = crate::bench_fleet::now_s();
    let load = BulkLoad {
        account_id: &account_id,
        va_id: &va.id,
        udi_pid: "ASR5500",
        software_tag,
        sku,
        now,
        id_cert_expires_at: now + 365 * smartlic_protocol::time::DAY,
    };
    let audit = Audit::new("smartlic bench fleet --preload", None);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<BulkInstance>>(4);
    let maker = tokio::task::spawn_blocking(move || {
        for from in (0..count).step_by(BULK_MAX) {
            if tx
                .blocking_send(preloaded.rows(from, (from + BULK_MAX).min(count)))
                .is_err()
            {
                break;
            }
        }
    });
    let mut written = 0;
    while let Some(rows) = rx.recv().await {
        store
            .bulk_load_instances(&load, &rows, &audit)
            .await
            .with_context(|| format!("bulk load after {written} instances"))?;
        written += rows.len();
    }
    maker.await?;
    store.analyze_instances().await.context("ANALYZE after the bulk load")?;
    Ok((preloaded, started.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_derived_the_same_and_apart() {
        let a = Preloaded { stamp: 7, count: 10 };
        let (d1, d2) = (a.device(3), a.device(3));
        assert_eq!(d1.key.to_bytes(), d2.key.to_bytes());
        assert_eq!(d1.instance_id, d2.instance_id);
        assert_ne!(a.device(4).instance_id, d1.instance_id);
        let other = Preloaded { stamp: 8, count: 10 };
        assert_ne!(other.device(3).key.to_bytes(), d1.key.to_bytes());
        assert_eq!(d1.instance_id.len(), 36);
        assert_eq!(&d1.instance_id[14..15], "4");
        assert_eq!(d1.hostname, "preload-0000003");
        let rows = a.rows(0, 10);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[3].id, d1.instance_id);
        assert_eq!(rows[3].count, renewal_usage(3, 1.0) as i64);
    }
}
