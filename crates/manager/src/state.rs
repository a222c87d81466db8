//! What every request handler shares: the store, the clock, the catalog, the PKI and the
//! metrics. Nothing here is authoritative state — that is all in the store — so any number of
//! managers can serve one PostgreSQL database.

use crate::error::{ManagerError, StoreError};
use crate::instance_cache::InstanceCache;
use crate::metrics::Metrics;
use crate::pki::Pki;
use crate::store::{Audit, Store};
use crate::tokens;
use smartlic_clock::SharedClock;
use smartlic_protocol::Catalog;
use std::sync::Arc;

/// Shared state of the HTTP handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    clock: SharedClock,
    catalog: Catalog,
    pki: Pki,
    metrics: Metrics,
    instances: InstanceCache,
}

/// The PKI as set up on a store.
#[derive(Debug)]
pub struct PkiSetup {
    /// The PKI (from the store; the same for every server on it).
    pub pki: Pki,
    /// Whether this call created it.
    pub created: bool,
}

/// Loads the PKI from the store, creating it (with `operator_key` as the first operator key) if
/// no server did yet. Two servers racing on an empty database end up with the same PKI.
pub async fn setup_pki(store: &Store, now: i64, operator_key: &str) -> Result<PkiSetup, ManagerError> {
    if let Some(row) = store.load_pki().await? {
        let pki = Pki::from_row(&row).map_err(|e| ManagerError::Pki(e.to_string()))?;
        return Ok(PkiSetup { pki, created: false });
    }
    let candidate = Pki::generate(now).map_err(|e| ManagerError::Pki(e.to_string()))?;
    let created = store
        .insert_pki_if_absent(&candidate, &tokens::hash_secret(operator_key), &Audit::system())
        .await?;
    let row = store
        .load_pki()
        .await?
        .ok_or_else(|| ManagerError::Pki("PKI missing right after it was stored".into()))?;
    let pki = Pki::from_row(&row).map_err(|e| ManagerError::Pki(e.to_string()))?;
    Ok(PkiSetup { pki, created })
}

impl AppState {
    /// State over a store whose PKI is set up.
    pub fn new(store: Store, clock: SharedClock, catalog: Catalog, pki: Pki) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                instances: InstanceCache::new(store.clone()),
                store,
                clock,
                catalog,
                pki,
                metrics: Metrics::new(),
            }),
        }
    }

    /// State over `store` for tests and tools: sets the PKI up if needed and registers
    /// `operator_key` as an operator key.
    pub async fn with_store(
        store: Store,
        clock: SharedClock,
        catalog: Catalog,
        operator_key: &str,
    ) -> Result<AppState, ManagerError> {
        let now = clock.now();
        let setup = setup_pki(&store, now, operator_key).await?;
        store
            .add_operator_key(&tokens::hash_secret(operator_key), now)
            .await
            .map_err(|e: StoreError| ManagerError::Store(e))?;
        Ok(AppState::new(store, clock, catalog, setup.pki))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Now, by the manager's clock.
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The product catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The PKI.
    pub fn pki(&self) -> &Pki {
        &self.inner.pki
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Instances as last read (their keys, for opening renewals).
    pub fn instances(&self) -> &InstanceCache {
        &self.inner.instances
    }
}
