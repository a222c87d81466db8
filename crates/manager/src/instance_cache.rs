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
//! The cache is bounded: past [`CAPACITY`] rows it starts again empty (a fleet larger than that
//! pays one read per instance per refill, as without the cache).

use crate::store::InstanceRow;
use std::collections::HashMap;
use std::sync::RwLock;

/// Most rows kept.
pub const CAPACITY: usize = 262_144;

/// Instance rows by id.
#[derive(Debug, Default)]
pub struct InstanceCache {
    rows: RwLock<HashMap<String, InstanceRow>>,
}

impl InstanceCache {
    /// The row of `id`, if cached.
    pub fn get(&self, id: &str) -> Option<InstanceRow> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is still whole.
        let rows = self.rows.read().unwrap_or_else(|e| e.into_inner());
        rows.get(id).cloned()
    }

    /// Keeps `row`.
    pub fn insert(&self, row: InstanceRow) {
        let mut rows = self.rows.write().unwrap_or_else(|e| e.into_inner());
        if rows.len() >= CAPACITY {
            rows.clear();
        }
        rows.insert(row.id.clone(), row);
    }

    /// Forgets `id` (the instance was removed).
    pub fn remove(&self, id: &str) {
        let mut rows = self.rows.write().unwrap_or_else(|e| e.into_inner());
        rows.remove(id);
    }

    /// How many rows are kept.
    pub fn len(&self) -> usize {
        self.rows.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no row is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> InstanceRow {
        InstanceRow {
            id: id.into(),
            ..InstanceRow::default()
        }
    }

    #[test]
    fn keeps_forgets_and_stays_bounded() {
        let c = InstanceCache::default();
        c.insert(row("a"));
        assert_eq!(c.get("a").map(|r| r.id.clone()), Some("a".into()));
        c.remove("a");
        assert!(c.get("a").is_none());
        for n in 0..CAPACITY {
            c.insert(row(&n.to_string()));
        }
        assert_eq!(c.len(), CAPACITY);
        c.insert(row("one more"));
        assert_eq!(c.len(), 1, "a full cache starts again");
        assert!(c.get("one more").is_some());
    }
}
