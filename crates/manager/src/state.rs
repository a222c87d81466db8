//! What every request handler shares: the store, the clock, the catalog, the PKI and the
//! metrics. Nothing here is authoritative state — that is all in the store — so any number of
//! managers can serve one PostgreSQL database.

use crate::error::{ManagerError, StoreError};
use crate::instance_cache::InstanceCache;
use crate::metrics::Metrics;
use crate::pki::Pki;
use crate::secrets::{self, MasterKey};
use crate::store::{Audit, PkiRow, Store};
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
    master: MasterKey,
    refusals: crate::refusal_log::RefusalLog,
    metrics: Metrics,
    instances: InstanceCache,
    webhooks: crate::webhooks::Deliveries,
    logins: crate::portal::LoginGate,
    /// Held for the whole of one exchange with the parent (`satellite sync` and the schedule):
    /// two at once would race on the sequence number and one would be refused.
    satellite_sync: tokio::sync::Mutex<()>,
}

/// The PKI as set up on a store.
#[derive(Debug)]
pub(crate) struct PkiSetup {
    /// The PKI (from the store; the same for every server on it).
    pub pki: Pki,
    /// Whether this call created it.
    pub created: bool,
}

/// What the private keys of the PKI are called when sealed (the associated data).
const CA_KEY: &str = "pki.ca_key";
const SIGNING_KEY: &str = "pki.signing_key";

/// Opens the sealed private keys of a stored PKI row.
fn open_row(row: &PkiRow, master: &MasterKey) -> Result<PkiRow, ManagerError> {
    let open = |what: &str, value: &str| {
        master.open_text(what, value).map_err(|e| {
            ManagerError::MasterKey(format!(
                "{e}: this store was set up with another master key; copy master.key of the manager that set it up \
                 into the data directory (or name it with --master-key)"
            ))
        })
    };
    Ok(PkiRow {
        ca_key_pem: open(CA_KEY, &row.ca_key_pem)?,
        signing_key: open(SIGNING_KEY, &row.signing_key)?,
        ..row.clone()
    })
}

/// Loads the PKI from the store, creating it (with `operator_key` as the first operator key) if
/// no server did yet. Two servers racing on an empty database end up with the same PKI. Private
/// keys are stored sealed under `master`; a store set up before keys were sealed has them sealed
/// now.
pub(crate) async fn setup_pki(
    store: &Store,
    now: i64,
    operator_key: &str,
    master: &MasterKey,
) -> Result<PkiSetup, ManagerError> {
    let seal = |what: &str, plain: &str| {
        master
            .seal(what, plain.as_bytes())
            .map_err(|e| ManagerError::MasterKey(e.to_string()))
    };
    let created = match store.load_pki().await? {
        Some(row) if !secrets::is_sealed(&row.ca_key_pem) || !secrets::is_sealed(&row.signing_key) => {
            let sealed_ca = seal(CA_KEY, &row.ca_key_pem)?;
            let sealed_signing = seal(SIGNING_KEY, &row.signing_key)?;
            if store.seal_pki_keys(&row, &sealed_ca, &sealed_signing).await? {
                tracing::info!("sealed the PKI's private keys in the store under the master key");
            }
            false
        }
        Some(_) => false,
        None => {
            let mut candidate = Pki::generate(now).map_err(|e| ManagerError::Pki(e.to_string()))?;
            candidate.ca_key_pem = seal(CA_KEY, &candidate.ca_key_pem)?;
            candidate.signing_key = seal(SIGNING_KEY, &candidate.signing_key)?;
            store
                .insert_pki_if_absent(&candidate, &tokens::hash_secret(operator_key), &Audit::system())
                .await?
        }
    };
    let row = store
        .load_pki()
        .await?
        .ok_or_else(|| ManagerError::Pki("PKI missing right after it was stored".into()))?;
    let pki = Pki::from_row(&open_row(&row, master)?).map_err(|e| ManagerError::Pki(e.to_string()))?;
    Ok(PkiSetup { pki, created })
}

/// The master key of [`AppState::with_store`] (tests and tools that make their own store).
pub(crate) fn tool_master_key() -> MasterKey {
    match MasterKey::parse(&"5a".repeat(32)) {
        Ok(k) => k,
        Err(_) => unreachable!("a constant 64-digit hex key parses"),
    }
}

impl AppState {
    /// State over a store whose PKI is set up.
    pub fn new(store: Store, clock: SharedClock, catalog: Catalog, pki: Pki, master: MasterKey) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                instances: InstanceCache::new(store.clone()),
                store,
                clock,
                catalog,
                pki,
                master,
                refusals: crate::refusal_log::RefusalLog::default(),
                metrics: Metrics::new(),
                webhooks: crate::webhooks::Deliveries::default(),
                logins: crate::portal::LoginGate::default(),
                satellite_sync: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// State over `store` for tests and tools: sets the PKI up if needed (sealed under
    /// [`tool_master_key`]) and registers `operator_key` as an operator key.
    pub async fn with_store(
        store: Store,
        clock: SharedClock,
        catalog: Catalog,
        operator_key: &str,
    ) -> Result<AppState, ManagerError> {
        let now = clock.now();
        let master = tool_master_key();
        let setup = setup_pki(&store, now, operator_key, &master).await?;
        store
            .add_operator_key(&tokens::hash_secret(operator_key), now)
            .await
            .map_err(|e: StoreError| ManagerError::Store(e))?;
        Ok(AppState::new(store, clock, catalog, setup.pki, master))
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

    /// The master key that seals secrets kept in the store.
    pub fn master_key(&self) -> &MasterKey {
        &self.inner.master
    }

    /// The table that folds repeated refused device requests into one event.
    pub fn refusals(&self) -> &crate::refusal_log::RefusalLog {
        &self.inner.refusals
    }

    /// The webhook deliveries: the allow list, the client and the bounds on sends in flight.
    pub fn webhooks(&self) -> &crate::webhooks::Deliveries {
        &self.inner.webhooks
    }

    /// The bound on concurrent portal password checks.
    pub fn logins(&self) -> &crate::portal::LoginGate {
        &self.inner.logins
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Instances as last read (their keys, for opening renewals).
    pub fn instances(&self) -> &InstanceCache {
        &self.inner.instances
    }

    /// The lock one exchange with the parent holds from request to import.
    pub(crate) fn satellite_sync(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.satellite_sync
    }
}
