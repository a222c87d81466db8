//! The Smart Agent as a running component: it owns the licensing state machine, persists it,
//! drives its timers from the clock, talks to the license manager over Call Home, keeps the
//! admission gates' policies current and publishes licensing events.
//!
//! Locking: `core` (a std mutex) is held only for short, non-blocking work and never across an
//! `.await`; `comm` (an async mutex) serializes conversations with the manager, so a CLI command
//! and a timer never talk to it at the same time. The admission hot path takes neither.
//!
//! The code is split by concern: `snapshot` (what the CLI shows), `settle` (applying the rules at
//! the clock's now: accounting, policies, events, persistence), `settings` (configuration
//! commands), `conversations` (register, authorize, renew the ID, deregister) and `timers` (what
//! is due when, retries and back-off).

mod conversations;
mod reservation;
mod settings;
mod settle;
mod snapshot;
mod timers;

pub use conversations::Deregistered;
pub use reservation::Installed;
pub use settings::legacy_key_summary;
pub use snapshot::{ServiceView, Snapshot, StatisticsRow};
pub use timers::{AUTH_JITTER, ID_JITTER, TickReport};

use crate::admission::{Admission, CallPolicy, UNLIMITED};
use crate::events::{Condition, LicenseEvent};
use crate::licensing::{Licensing, Mode};
use crate::state::{Loaded, PersistedState, ServiceStats, StateError, StateStore};
use crate::transport::{CallHome, TransportError};
use crate::trustpool::{TrustPool, TrustPoolError};
use smartlic_clock::SharedClock;
use smartlic_protocol::Catalog;
use smartlic_protocol::time::format_cisco;
use smartlic_protocol::wire::{HaUdi, Udi};
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::broadcast;

/// Version string of this agent.
pub const AGENT_VERSION: &str = concat!("smartlic Smart Agent ", env!("CARGO_PKG_VERSION"));

/// What the agent needs to know about its product.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Directory of the persisted state and trust pool.
    pub dir: PathBuf,
    /// The product catalog.
    pub catalog: Catalog,
    /// The clock.
    pub clock: SharedClock,
    /// The product's UDI.
    pub udi: Udi,
    /// The product's hostname.
    pub hostname: String,
    /// The product's `regid…` software tag.
    pub software_tag: String,
    /// The StarOS release whose rules apply.
    pub release: Release,
    /// The HA UDI list of a distributed product (VPC-DI), sent with the registration; empty for
    /// a single-chassis one. [`SmartAgent::set_ha_udis`] changes it (a switchover).
    pub ha_udis: Vec<HaUdi>,
}

/// The StarOS release whose licensing rules the product follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// 21.3: Smart Licensing for the counting services only; on/off features follow the legacy
    /// key (mixed mode).
    R21_3,
    /// 21.6: Smart Licensing for the counting services and the on/off features.
    #[default]
    R21_6,
}

impl Release {
    /// `21.3` or `21.6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Release::R21_3 => "21.3",
            Release::R21_6 => "21.6",
        }
    }
}

impl std::str::FromStr for Release {
    type Err = String;
    fn from_str(s: &str) -> Result<Release, String> {
        match s.trim() {
            "21.3" => Ok(Release::R21_3),
            "21.6" => Ok(Release::R21_6),
            other => Err(format!("release must be 21.3 or 21.6, not {other:?}")),
        }
    }
}

/// Failures of agent operations, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Smart Licensing is off.
    #[error("Smart Licensing is not enabled (config: license smart enable)")]
    Disabled,
    /// Already registered.
    #[error("this product is already registered to Smart Account \"{0}\"; deregister it first")]
    AlreadyRegistered(String),
    /// Not registered.
    #[error("this product is not registered")]
    NotRegistered,
    /// The manager refused the request.
    #[error("{0}")]
    Refused(String),
    /// A registration attempt failed to reach the manager; retried in the background.
    #[error("registration failed: {0}; retrying in the background")]
    RegistrationFailed(TransportError),
    /// A conversation with the manager failed.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The state could not be saved.
    #[error("{0}")]
    State(#[from] StateError),
    /// The trust pool could not be changed.
    #[error("{0}")]
    Trust(#[from] TrustPoolError),
    /// Invalid input.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug)]
struct Core {
    lic: Licensing,
    saved: PersistedState,
    trust: TrustPool,
    callhome: Option<(String, usize, CallHome)>,
    registering: bool,
    usage_changed_at: Option<Instant>,
    retry_at: Option<Instant>,
    retry_step: u32,
    pending_peaks: Vec<u64>,
    last_report_at: Option<Instant>,
    last_mode: Mode,
    history: VecDeque<LicenseEvent>,
}

#[derive(Debug)]
struct Inner {
    cfg: AgentConfig,
    store: StateStore,
    admission: Admission,
    core: Mutex<Core>,
    comm: tokio::sync::Mutex<()>,
    events: broadcast::Sender<LicenseEvent>,
    /// The HA UDI list as it is now (roles change on a switchover).
    ha_udis: Mutex<Vec<HaUdi>>,
}

/// The Smart Agent. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct SmartAgent {
    inner: Arc<Inner>,
}

impl SmartAgent {
    /// Opens the agent's state in `cfg.dir` (creating it) and applies it once.
    pub fn open(cfg: AgentConfig) -> Result<SmartAgent, AgentError> {
        // The MAC keys are bound to the serial number: a state copied from another product fails.
        let mut store = StateStore::open(&cfg.dir, &cfg.udi.sn)?;
        let now = cfg.clock.now();
        let eval_secs = i64::from(cfg.catalog.evaluation_days) * smartlic_protocol::time::DAY;
        let state = match store.load(now, eval_secs)? {
            Loaded::Fresh(s) | Loaded::Good(s) => s,
            Loaded::Tampered { state, reason } => {
                tracing::error!("{reason}");
                state
            }
        };
        let trust = TrustPool::load(&cfg.dir)?;
        let services = cfg.catalog.service.len();
        let lic = Licensing::new(state.clone(), cfg.catalog.clone()).with_mixed_mode(cfg.release == Release::R21_3);
        let initial = lic.policies(now);
        let admission = Admission::new(services, CallPolicy::Allow { limit: UNLIMITED });
        for (i, p) in initial.iter().enumerate() {
            admission.set_policy(i, *p);
        }
        let mode = lic.mode();
        let (events, _) = broadcast::channel(1024);
        let agent = SmartAgent {
            inner: Arc::new(Inner {
                store,
                admission,
                core: Mutex::new(Core {
                    lic,
                    saved: state,
                    trust,
                    callhome: None,
                    registering: false,
                    usage_changed_at: None,
                    retry_at: None,
                    retry_step: 0,
                    pending_peaks: vec![0; services],
                    last_report_at: None,
                    last_mode: mode,
                    history: VecDeque::new(),
                }),
                comm: tokio::sync::Mutex::new(()),
                events,
                ha_udis: Mutex::new(cfg.ha_udis.clone()),
                cfg,
            }),
        };
        agent.with_core(|a, core| a.settle(core))?;
        Ok(agent)
    }

    /// The admission gates (the hot path).
    pub fn admission(&self) -> &Admission {
        &self.inner.admission
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.cfg.catalog
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.inner.cfg
    }

    /// Subscribes to licensing events.
    pub fn subscribe(&self) -> broadcast::Receiver<LicenseEvent> {
        self.inner.events.subscribe()
    }

    /// Recent events, oldest first.
    pub fn history(&self) -> Vec<LicenseEvent> {
        self.lock().history.iter().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        match self.inner.core.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn with_core<R>(&self, f: impl FnOnce(&Self, &mut Core) -> R) -> R {
        let mut core = self.lock();
        f(self, &mut core)
    }

    fn now(&self) -> i64 {
        self.inner.cfg.clock.now()
    }

    fn in_use(&self, core: &Core) -> bool {
        let a = &self.inner.admission;
        // Features that follow the legacy key are not Smart Licensing's to count.
        (0..a.len()).any(|i| a.gate(i).is_some_and(|g| g.count() > 0))
            || (!core.lic.state.features.is_empty() && !core.lic.mixed_mode())
    }

    fn stats_mut<'c>(core: &'c mut Core, mode: Mode, service: &str) -> &'c mut ServiceStats {
        core.lic
            .state
            .stats
            .entry(mode.to_string())
            .or_default()
            .entry(service.to_string())
            .or_default()
    }

    /// Re-applies the rules now (after admitting or releasing calls, say).
    pub fn refresh(&self) -> Result<(), AgentError> {
        self.with_core(|a, core| a.settle(core))
    }

    /// Conditions currently holding.
    pub fn conditions(&self) -> BTreeSet<Condition> {
        self.lock().lic.state.conditions.clone()
    }

    /// Where the state lives.
    pub fn dir(&self) -> &Path {
        &self.inner.cfg.dir
    }
}

/// Formats an optional time like IOS (`None` when absent).
pub fn format_opt(t: Option<i64>) -> String {
    t.map(format_cisco).unwrap_or_else(|| "None".into())
}
