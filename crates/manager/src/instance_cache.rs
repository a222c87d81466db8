//! Registered instances as this manager last read them, so that an authorization renewal — the
//! fleet's steady traffic — is opened without a database round trip of its own.
//!
//! Only what cannot go stale decides anything here: an instance's id and public key never
//! change (a re-registration is a new instance with a new id), so a cached row is used to check
//! a request's signature and nothing else. Whether the instance still exists, its virtual
//! account and its usage are read and written in the renewal's own transaction (the batch
//! writer's), which refuses an instance another manager removed meanwhile. A cached row can
//! only make the event log of a refused request name a virtual account the instance has since
//! left.
//!
//! Rows not cached are read together: a miss joins the queue of misses, and one reader task at
//! a time reads everything queued with one query (as the batch writer commits every report
//! waiting in one transaction). A fleet whose devices each renew for the first time since the
//! manager started — every renewal a miss — costs one query per batch of misses, not one per
//! request.
//!
//! The cache is bounded: past [`CAPACITY`] rows it starts again empty (a fleet larger than that
//! pays a share of one read per instance per refill, as without the cache).
//!
//! Each row is kept with its public key already decoded (a point on the curve, checked once): the
//! decompression is a field square root, 3 % of the manager's CPU a renewal in a profile
//! (docs/performance.md step 20). A hit hands out a shared reference to the row, not a copy.

use crate::api::ApiError;
use crate::ids::ProductInstanceId;
use crate::store::{InstanceRow, Store};
use ed25519_dalek::VerifyingKey;
use smartlic_protocol::envelope::decode_public_key;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::oneshot;

/// Most rows kept.
pub(crate) const CAPACITY: usize = 262_144;
/// Most instances read by one query.
const MAX_READ: usize = 256;

/// What a queued miss is answered: the row (`None`: no such instance) or why it could not be read.
type Lookup = Result<Option<CachedInstance>, String>;

/// A kept row and its decoded public key (cheap to clone: the row is shared).
#[derive(Debug, Clone)]
pub struct CachedInstance {
    /// The row as read.
    pub row: Arc<InstanceRow>,
    /// `row.public_key` decoded; `None` if it does not decode (a request of this instance is
    /// then refused as it would be without the cache).
    pub key: Option<VerifyingKey>,
}

impl CachedInstance {
    fn new(row: InstanceRow) -> CachedInstance {
        let key = decode_public_key(&row.public_key).ok();
        CachedInstance {
            row: Arc::new(row),
            key,
        }
    }
}

/// Instance rows by id, and the misses waiting to be read; cheap to clone.
#[derive(Debug, Clone)]
pub struct InstanceCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    rows: RwLock<HashMap<ProductInstanceId, CachedInstance>>,
    misses: Mutex<Misses>,
}

#[derive(Debug, Default)]
struct Misses {
    waiting: Vec<(ProductInstanceId, oneshot::Sender<Lookup>)>,
    /// Whether a reader task is running (it reads until `waiting` is empty).
    reading: bool,
}

impl InstanceCache {
    /// An empty cache that reads misses from `store`.
    pub fn new(store: Store) -> InstanceCache {
        InstanceCache {
            inner: Arc::new(Inner {
                store,
                rows: RwLock::default(),
                misses: Mutex::default(),
            }),
        }
    }

    /// The row of `id`, if cached.
    pub fn get(&self, id: &str) -> Option<CachedInstance> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is still whole.
        let rows = self.inner.rows.read().unwrap_or_else(|e| e.into_inner());
        rows.get(id).cloned()
    }

    /// The row of `id` (`None`: not registered): cached, or read from the store with the other
    /// misses queued meanwhile, and then kept. Needs a tokio runtime (the reader is a task).
    pub async fn get_or_read(&self, id: &ProductInstanceId) -> Result<Option<CachedInstance>, ApiError> {
        if let Some(row) = self.get(id) {
            return Ok(Some(row));
        }
        let (tx, rx) = oneshot::channel();
        let start_reader = {
            let mut m = self.inner.misses.lock().unwrap_or_else(|e| e.into_inner());
            m.waiting.push((id.clone(), tx));
            !std::mem::replace(&mut m.reading, true)
        };
        if start_reader {
            let cache = self.clone();
            tokio::spawn(async move { cache.read_misses().await });
        }
        match rx.await {
            Ok(found) => found.map_err(|e| ApiError::Internal(format!("reading product instance {id}: {e}"))),
            Err(_) => Err(ApiError::Internal(format!(
                "reading product instance {id}: the reader stopped"
            ))),
        }
    }

    /// Reads queued misses, at most [`MAX_READ`] per query, until none is left.
    async fn read_misses(&self) {
        // Should a query panic, the guard lets the next miss start a new reader.
        let mut guard = ReadingFlag {
            inner: &self.inner,
            armed: true,
        };
        loop {
            let batch: Vec<(ProductInstanceId, oneshot::Sender<Lookup>)> = {
                let mut m = self.inner.misses.lock().unwrap_or_else(|e| e.into_inner());
                if m.waiting.is_empty() {
                    m.reading = false;
                    guard.armed = false;
                    return;
                }
                let n = m.waiting.len().min(MAX_READ);
                m.waiting.drain(..n).collect()
            };
            let mut ids: Vec<&ProductInstanceId> = batch.iter().map(|(id, _)| id).collect();
            ids.sort_unstable();
            ids.dedup();
            match self.inner.store.instances_by_ids(&ids).await {
                Ok(rows) => {
                    let found: HashMap<ProductInstanceId, CachedInstance> = rows
                        .into_iter()
                        .map(|r| (r.id.clone(), CachedInstance::new(r)))
                        .collect();
                    for cached in found.values() {
                        self.keep(cached.clone());
                    }
                    for (id, tx) in batch {
                        // The request may have gone meanwhile (client disconnected): nothing to do.
                        let _ = tx.send(Ok(found.get(&id).cloned()));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for (_, tx) in batch {
                        let _ = tx.send(Err(msg.clone()));
                    }
                }
            }
        }
    }

    /// Keeps `row` (and its decoded key).
    pub fn insert(&self, row: InstanceRow) {
        self.keep(CachedInstance::new(row));
    }

    fn keep(&self, cached: CachedInstance) {
        let mut rows = self.inner.rows.write().unwrap_or_else(|e| e.into_inner());
        if rows.len() >= CAPACITY {
            rows.clear();
        }
        rows.insert(cached.row.id.clone(), cached);
    }

    /// Forgets `id` (the instance was removed).
    pub fn remove(&self, id: &str) {
        let mut rows = self.inner.rows.write().unwrap_or_else(|e| e.into_inner());
        rows.remove(id);
    }

    /// How many rows are kept.
    pub fn len(&self) -> usize {
        self.inner.rows.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no row is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Clears [`Misses::reading`] if the reader ends without doing so itself.
struct ReadingFlag<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Drop for ReadingFlag<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.misses.lock().unwrap_or_else(|e| e.into_inner()).reading = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::on_both_engines;

    fn row(id: &str) -> InstanceRow {
        InstanceRow {
            id: id.into(),
            ..InstanceRow::default()
        }
    }

    #[tokio::test]
    async fn keeps_forgets_and_stays_bounded() {
        let db = crate::testutil::TestDb::sqlite().await;
        let c = InstanceCache::new(db.store.clone());
        c.insert(row("a"));
        assert_eq!(c.get("a").map(|r| r.row.id.clone()), Some("a".into()));
        c.remove("a");
        assert!(c.get("a").is_none());
        for n in 0..CAPACITY {
            c.insert(row(&n.to_string()));
        }
        assert_eq!(c.len(), CAPACITY);
        c.insert(row("one more"));
        assert_eq!(c.len(), 1, "a full cache starts again");
        assert!(c.get("one more").is_some());
        db.finish().await;
    }

    /// A row whose stored key does not decode is kept without a key; one that does, with it.
    #[tokio::test]
    async fn keys_are_kept_decoded_or_not_at_all() {
        let db = crate::testutil::TestDb::sqlite().await;
        let c = InstanceCache::new(db.store.clone());
        let good = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        c.insert(InstanceRow {
            public_key: smartlic_protocol::envelope::encode_public_key(&good),
            ..row("good")
        });
        c.insert(InstanceRow {
            public_key: "not base64 of a point".into(),
            ..row("bad")
        });
        assert_eq!(c.get("good").and_then(|r| r.key), Some(good));
        assert!(c.get("bad").is_some_and(|r| r.key.is_none()));
        db.finish().await;
    }

    on_both_engines!(misses_are_read_together_and_kept);

    /// Many concurrent misses — registered ids, unknown ids, one id twice — each get their own
    /// answer, and the rows read are kept.
    async fn misses_are_read_together_and_kept(store: Store) {
        let ids = crate::store::tests::register_some(&store, 300).await;
        let cache = InstanceCache::new(store);
        let mut asks: Vec<ProductInstanceId> = ids.clone();
        asks.push(ids[0].clone());
        asks.extend((0..20).map(|n| ProductInstanceId::new(format!("unknown-{n}"))));
        let tasks: Vec<_> = asks
            .iter()
            .map(|id| {
                let (cache, id) = (cache.clone(), id.clone());
                tokio::spawn(async move { (id.clone(), cache.get_or_read(&id).await) })
            })
            .collect();
        for t in tasks {
            let (id, got) = t.await.expect("task");
            let got = got.expect("read");
            if id.starts_with("unknown-") {
                assert!(got.is_none(), "{id} is not registered");
            } else {
                let got = got.expect("a registered row");
                assert_eq!(got.row.id, id);
                let key = decode_public_key(&got.row.public_key).ok();
                assert_eq!(got.key, key, "kept with its key as it decodes");
            }
        }
        assert_eq!(cache.len(), ids.len(), "every registered row read is kept");
        // The reader may still be between its last answer and finding the queue empty.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cache.inner.misses.lock().map(|m| m.reading).unwrap_or(true) {
            assert!(
                std::time::Instant::now() < deadline,
                "the reader stops when no miss is left"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(
            cache
                .get_or_read(&ProductInstanceId::new("unknown-again"))
                .await
                .expect("read")
                .is_none()
        );
    }
}
