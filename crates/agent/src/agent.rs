//! The Smart Agent as a running component: it owns the licensing state machine, persists it,
//! drives its timers from the clock, talks to the license manager over Call Home, keeps the
//! admission gates' policies current and publishes licensing events.
//!
//! Locking: `core` (a std mutex) is held only for short, non-blocking work and never across an
//! `.await`; `comm` (an async mutex) serializes conversations with the manager, so a CLI command
//! and a timer never talk to it at the same time. The admission hot path takes neither.

use crate::admission::{Admission, CallPolicy, UNLIMITED};
use crate::events::{Condition, LicenseEvent, diff};
use crate::licensing::Licensing;
use crate::state::{
    Attempt, InstalledKey, KeyHistoryEntry, Loaded, PersistedState, Registered, Registration, ServiceStats, StateError,
    StateStore,
};
use crate::transport::{CallHome, TransportError};
use crate::trustpool::{TrustPool, TrustPoolError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use smartlic_clock::SharedClock;
use smartlic_protocol::envelope::Message;
use smartlic_protocol::legacy::LegacyKey;
use smartlic_protocol::time::{ID_RENEW_AFTER, format_cisco};
use smartlic_protocol::trust::{CertSummary, verify_signer};
use smartlic_protocol::wire::{
    AuthorizationRequest, AuthorizationResponse, DEVICE_API, DeregisterRequest, DeregisterResponse, HaUdi,
    RegisterRequest, RegisterResponse, RenewIdRequest, RenewIdResponse, Udi, Usage, codes,
};
use smartlic_protocol::{Catalog, SignedRequest};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Version string of this agent.
pub const AGENT_VERSION: &str = concat!("smartlic Smart Agent ", env!("CARGO_PKG_VERSION"));

/// Usage changes are reported once they have been stable this long (debounce).
const REPORT_DEBOUNCE: Duration = Duration::from_millis(1500);
/// While out of compliance, usage is re-reported at least this often (real time).
const OOC_REPORT_EVERY: Duration = Duration::from_secs(60);
/// Events kept for `show` commands.
const HISTORY: usize = 256;

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

/// The state the CLI shows, taken at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Clock time of the snapshot.
    pub now: i64,
    /// Persisted state.
    pub state: PersistedState,
    /// Registration word (`REGISTERED`, `REGISTRATION PENDING`, …).
    pub registration_word: &'static str,
    /// Authorization word (`AUTHORIZED`, `EVAL MODE`, …).
    pub authorization_word: &'static str,
    /// Evaluation seconds left.
    pub eval_remaining: i64,
    /// Evaluation length in seconds.
    pub eval_total: i64,
    /// Whether licences are in use.
    pub in_use: bool,
    /// `Evaluation` or `Registered`.
    pub mode: &'static str,
    /// Per service, in catalog order.
    pub services: Vec<ServiceView>,
    /// The usage that would be reported now.
    pub usage: Vec<Usage>,
    /// UDI.
    pub udi: Udi,
    /// Hostname.
    pub hostname: String,
    /// Software tag.
    pub software_tag: String,
    /// The next automatic authorization attempt.
    pub next_authorization_at: Option<i64>,
    /// The HA UDI list (VPC-DI); empty for a single-chassis product.
    pub ha_udis: Vec<HaUdi>,
}

/// One row of the seed's statistics: a licensing mode and a service tag.
#[derive(Debug, Clone)]
pub struct StatisticsRow<'a> {
    /// `Evaluation` or `Registered`.
    pub mode: &'static str,
    /// The service.
    pub service: &'a smartlic_protocol::ServiceEntitlement,
    /// The current policy in the mode in force; `None` for the other mode.
    pub policy: Option<CallPolicy>,
    /// Current sessions in the mode in force; 0 for the other mode.
    pub cur_call_count: u64,
    /// The counters kept for this mode and service.
    pub stats: ServiceStats,
}

impl Snapshot {
    /// The statistics rows, modes in order Evaluation then Registered, services in catalog order
    /// (what `show license statistics`, bulk statistics and metrics all report).
    pub fn statistics<'a>(&self, catalog: &'a Catalog) -> Vec<StatisticsRow<'a>> {
        let mut rows = Vec::with_capacity(catalog.service.len() * 2);
        for mode in [crate::licensing::MODE_EVALUATION, crate::licensing::MODE_REGISTERED] {
            let current = mode == self.mode;
            for (i, service) in catalog.service.iter().enumerate() {
                let view = self.services.get(i).filter(|_| current);
                rows.push(StatisticsRow {
                    mode,
                    service,
                    policy: view.map(|v| v.policy),
                    cur_call_count: view.map(|v| v.cur_call_count).unwrap_or(0),
                    stats: self
                        .state
                        .stats
                        .get(mode)
                        .and_then(|m| m.get(&service.service))
                        .cloned()
                        .unwrap_or_default(),
                });
            }
        }
        rows
    }
}

/// One service's live admission state.
#[derive(Debug, Clone)]
pub struct ServiceView {
    /// Index in the catalog.
    pub index: usize,
    /// Current policy.
    pub policy: CallPolicy,
    /// Current sessions.
    pub cur_call_count: u64,
    /// Peak sessions since the last report.
    pub peak: u64,
    /// Calls refused so far.
    pub rejected: u64,
}

/// The result of a deregistration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deregistered {
    /// Why the manager could not be told, if it could not.
    pub manager_not_told: Option<String>,
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
    last_mode: &'static str,
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

enum Work {
    RetryRegister(String),
    RenewId,
    Authorize,
}

fn nonce() -> String {
    B64.encode(rand::random::<[u8; 16]>())
}

fn backoff(step: u32) -> Duration {
    // 2 s doubling to 5 minutes, with ±20 % jitter.
    let base = 2u64.saturating_pow(step.saturating_add(1).min(9)).min(300) as f64;
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_secs_f64(base * jitter)
}

/// The wait before the next try after `e`: the back-off, but never sooner than the manager's
/// Retry-After (capped at an hour) spread by +0-50 % jitter, so that devices refused together
/// during a storm do not all come back in the same second.
fn retry_delay(step: u32, e: &TransportError) -> Duration {
    let b = backoff(step);
    match e {
        TransportError::Busy {
            retry_after: Some(secs),
        } => {
            let asked = (*secs).clamp(1, 3600) as f64 * (1.0 + rand::random::<f64>() * 0.5);
            b.max(Duration::from_secs_f64(asked))
        }
        _ => b,
    }
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

    fn stats_mut<'c>(core: &'c mut Core, mode: &str, service: &str) -> &'c mut ServiceStats {
        core.lic
            .state
            .stats
            .entry(mode.to_string())
            .or_default()
            .entry(service.to_string())
            .or_default()
    }

    /// Applies the rules at `now`: evaluation accounting, expiries, policies, events, persistence.
    fn settle(&self, core: &mut Core) -> Result<(), AgentError> {
        let now = self.now();
        let in_use = self.in_use(core);
        // A jump may cross the authorization deadline and the ID certificate's expiry at once:
        // pass through AUTHORIZATION EXPIRED first (its events at the deadline), as a clock
        // running normally would, before the registration expires.
        if let (Some(r), Some(deadline)) = (core.lic.registered(), core.lic.state.authorization.deadline)
            && deadline < r.id_expires_at
            && r.id_expires_at <= now
        {
            self.emit_conditions(core, deadline, in_use);
        }
        core.lic.expire(now);
        core.lic.account_eval(now, in_use);
        let adm = &self.inner.admission;
        let mode = core.lic.mode();
        if mode != core.last_mode {
            for i in 0..adm.len() {
                adm.reset_max(i);
            }
            core.last_mode = mode;
        }
        let services: Vec<String> = self
            .inner
            .cfg
            .catalog
            .service
            .iter()
            .map(|s| s.service.clone())
            .collect();
        for (i, p) in core.lic.policies(now).into_iter().enumerate() {
            let old = adm.gate(i).map(|g| g.policy());
            if adm.set_policy(i, p) && old.map(|o| o.word()) != Some(p.word()) {
                let st = Self::stats_mut(core, mode, &services[i]);
                match p {
                    CallPolicy::Block => st.policy_change_block_calls += 1,
                    CallPolicy::Allow { .. } => st.policy_change_allow_calls += 1,
                }
            }
            let max = adm.max_calls(i);
            let st = Self::stats_mut(core, mode, &services[i]);
            st.max_call_count = st.max_call_count.max(max);
        }
        self.emit_conditions(core, now, in_use);
        if core.lic.state != core.saved {
            self.inner.store.save(&core.lic.state)?;
            core.saved = core.lic.state.clone();
        }
        Ok(())
    }

    /// Diffs the conditions that hold at `at` against the last ones and sends each transition
    /// once, as an event stamped `at`.
    fn emit_conditions(&self, core: &mut Core, at: i64, in_use: bool) {
        let conds = core.lic.conditions(at, in_use);
        if conds == core.lic.state.conditions {
            return;
        }
        let mut events = diff(&core.lic.state.conditions, &conds, at);
        for e in &mut events {
            e.detail = self.describe(core, &e.condition, e.set);
        }
        core.lic.state.conditions = conds;
        for e in events {
            tracing::info!(set = e.set, "licensing event: {:?} {}", e.condition, e.detail);
            if core.history.len() == HISTORY {
                core.history.pop_front();
            }
            core.history.push_back(e.clone());
            let _ = self.inner.events.send(e);
        }
    }

    fn describe(&self, core: &Core, c: &Condition, set: bool) -> String {
        let cat = &self.inner.cfg.catalog;
        let sku_text = |sku: &str| match cat.entitlement(sku) {
            Some(smartlic_protocol::Entitlement::Service(s)) => format!("{sku} (service {})", s.service),
            Some(smartlic_protocol::Entitlement::Feature(f)) => format!("{sku} (feature {})", f.description),
            None => sku.to_string(),
        };
        match (c, set) {
            (Condition::EvalMode, true) => "licences in use in evaluation mode".into(),
            (Condition::EvalMode, false) => "left evaluation mode".into(),
            (Condition::EvalExpired, true) => "evaluation period expired; new calls are blocked".into(),
            (Condition::EvalExpired, false) => "evaluation expiry cleared".into(),
            (Condition::ServiceOoc { sku }, true) => format!("{} is out of compliance", sku_text(sku)),
            (Condition::ServiceOoc { sku }, false) => format!("{} is back in compliance", sku_text(sku)),
            (Condition::ManagerConnectionFailed, true) => {
                let why = match &core.lic.state.registration {
                    Registration::Failed { reason, .. } => reason.clone(),
                    _ => core
                        .lic
                        .state
                        .authorization
                        .last_attempt
                        .as_ref()
                        .map(|a| a.reason.clone())
                        .unwrap_or_default(),
                };
                format!("communication with the license manager failed: {why}")
            }
            (Condition::ManagerConnectionFailed, false) => "communication with the license manager restored".into(),
            (Condition::FeatureGraceExpired { sku }, true) => {
                format!("grace period of {} expired", sku_text(sku))
            }
            (Condition::FeatureGraceExpired { sku }, false) => format!("grace expiry of {} cleared", sku_text(sku)),
            (Condition::AuthorizationExpired, true) => "authorization expired; new calls are blocked".into(),
            (Condition::AuthorizationExpired, false) => "authorization restored".into(),
            (Condition::RegistrationExpired, true) => "ID certificate expired; registration must be redone".into(),
            (Condition::RegistrationExpired, false) => "registration expiry cleared".into(),
        }
    }

    /// Takes a consistent snapshot for display.
    pub fn snapshot(&self) -> Snapshot {
        let mut core = self.lock();
        if let Err(e) = self.settle(&mut core) {
            tracing::error!("cannot save licensing state: {e}");
        }
        let now = self.now();
        let in_use = self.in_use(&core);
        let adm = &self.inner.admission;
        let services: Vec<ServiceView> = (0..adm.len())
            .filter_map(|i| {
                adm.gate(i).map(|g| ServiceView {
                    index: i,
                    policy: g.policy(),
                    cur_call_count: g.count(),
                    peak: adm.peek_peak(i).max(core.pending_peaks.get(i).copied().unwrap_or(0)),
                    rejected: adm.rejected(i),
                })
            })
            .collect();
        let peaks: Vec<u64> = services.iter().map(|s| s.peak).collect();
        Snapshot {
            now,
            registration_word: if core.registering {
                "REGISTRATION PENDING"
            } else {
                core.lic.registration_word()
            },
            authorization_word: core.lic.authorization_word(now, in_use),
            eval_remaining: core.lic.eval_remaining(),
            eval_total: core.lic.eval_total(),
            in_use,
            mode: core.lic.mode(),
            usage: core.lic.usage(&peaks),
            services,
            udi: self.inner.cfg.udi.clone(),
            hostname: self.inner.cfg.hostname.clone(),
            software_tag: self.inner.cfg.software_tag.clone(),
            next_authorization_at: core.lic.next_authorization_at(),
            ha_udis: self.ha_udis(),
            state: core.lic.state.clone(),
        }
    }

    /// `license smart enable` / `no license smart enable`.
    pub fn set_enabled(&self, on: bool) -> Result<(), AgentError> {
        self.with_core(|a, core| {
            let now = a.now();
            let in_use = a.in_use(core);
            core.lic.set_enabled(now, in_use, on);
            a.settle(core)
        })
    }

    /// `license smart url URL` (None removes it).
    pub fn set_url(&self, url: Option<String>) -> Result<(), AgentError> {
        if let Some(u) = &url
            && !(u.starts_with("https://") && u.len() > "https://".len())
        {
            return Err(AgentError::Invalid(format!(
                "license smart url must be an https:// URL, not {u}"
            )));
        }
        self.with_core(|a, core| {
            core.lic.state.url = url;
            core.callhome = None;
            a.settle(core)
        })
    }

    /// `feature SKU` / `no feature SKU`.
    pub fn set_feature(&self, sku: &str, on: bool) -> Result<bool, AgentError> {
        self.with_core(|a, core| {
            let changed = core.lic.set_feature(a.now(), sku, on).map_err(AgentError::Invalid)?;
            a.settle(core)?;
            Ok(changed)
        })
    }

    /// The HA UDI list as it is now (empty for a single-chassis product).
    pub fn ha_udis(&self) -> Vec<HaUdi> {
        match self.inner.ha_udis.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces the HA UDI list (a control-function switchover swaps Active and Standby). The
    /// chassis UDI, and so the registration, is unchanged.
    pub fn set_ha_udis(&self, list: Vec<HaUdi>) {
        match self.inner.ha_udis.lock() {
            Ok(mut g) => *g = list,
            Err(p) => *p.into_inner() = list,
        }
    }

    /// `license key "KEY"`: installs a legacy licence key after checking that a manager of the
    /// trust pool signed it, that it is this chassis' (serial and platform) and that it has not
    /// expired; a refused key changes nothing. Replaces an installed key.
    pub fn install_legacy_key(&self, text: &str) -> Result<LegacyKey, AgentError> {
        self.with_core(|a, core| {
            let key =
                LegacyKey::verify(text, core.trust.certificates()).map_err(|e| AgentError::Invalid(e.to_string()))?;
            let udi = &a.inner.cfg.udi;
            if key.serial != udi.sn {
                return Err(AgentError::Invalid(format!(
                    "the licence key is for chassis serial {}, not this chassis ({})",
                    key.serial, udi.sn
                )));
            }
            if !key.platform.eq_ignore_ascii_case(&udi.pid) {
                return Err(AgentError::Invalid(format!(
                    "the licence key is for platform {}, not this {}",
                    key.platform, udi.pid
                )));
            }
            let now = a.now();
            if key.expired(now) {
                return Err(AgentError::Invalid(format!(
                    "the licence key expired on {}",
                    smartlic_protocol::time::format_date(key.expires_at.unwrap_or(now))
                )));
            }
            let replaced = core.lic.state.legacy_key.take();
            let action = if replaced.is_some() { "replaced" } else { "installed" };
            core.lic.state.legacy_key = Some(InstalledKey {
                text: text.trim().to_string(),
                key: key.clone(),
                installed_at: now,
            });
            push_key_history(&mut core.lic.state, now, action, &key);
            a.settle(core)?;
            Ok(key)
        })
    }

    /// `no license key`: removes the legacy key; false if none was installed.
    pub fn remove_legacy_key(&self) -> Result<bool, AgentError> {
        self.with_core(|a, core| {
            let Some(old) = core.lic.state.legacy_key.take() else {
                return Ok(false);
            };
            push_key_history(&mut core.lic.state, a.now(), "removed", &old.key);
            a.settle(core)?;
            Ok(true)
        })
    }

    /// `crypto pki trustpool import file PATH`: returns how many certificates were added.
    ///
    /// The file is read first, with no lock held, bounded in size and time (a FIFO, a device or a
    /// file over 1 MiB is refused at once), then checked (CA certificates only), and only then is
    /// the pool locked to add them.
    pub async fn import_trust(&self, file: &Path) -> Result<usize, AgentError> {
        let bytes = crate::trustpool::read_import(
            file,
            crate::trustpool::MAX_IMPORT_BYTES,
            crate::trustpool::IMPORT_TIMEOUT,
        )
        .await?;
        let certs = crate::trustpool::parse_ca_certificates(file, &bytes)?;
        self.with_core(|_, core| {
            let n = core.trust.add(certs)?;
            if n > 0 {
                core.callhome = None;
            }
            Ok(n)
        })
    }

    /// The trust pool's certificates.
    pub fn trust_summaries(&self) -> Vec<CertSummary> {
        self.lock().trust.summaries()
    }

    fn callhome(&self, core: &mut Core) -> Result<CallHome, TransportError> {
        let url = core.lic.state.url.clone().ok_or(TransportError::NoUrl)?;
        let n = core.trust.certificates().len();
        if let Some((u, k, c)) = &core.callhome
            && *u == url
            && *k == n
        {
            return Ok(c.clone());
        }
        let c = CallHome::new(&url, core.trust.certificates(), None)?;
        core.callhome = Some((url, n, c.clone()));
        Ok(c)
    }

    async fn exchange<B: Serialize + Message, R: DeserializeOwned + Message>(
        &self,
        callhome: &CallHome,
        anchors: &[Vec<u8>],
        path: &str,
        key: &SigningKey,
        instance_id: Option<String>,
        body: B,
    ) -> Result<R, TransportError> {
        let n = nonce();
        let req = SignedRequest::sign(key, instance_id, n.clone(), self.now(), body)
            .map_err(|e| TransportError::BadAnswer(e.to_string()))?;
        let resp = callhome.post(&format!("{DEVICE_API}{path}"), &req).await?;
        let signer = verify_signer(&resp.signer_certificate, anchors, self.now())
            .map_err(|e| TransportError::BadAnswer(format!("response signer: {e}")))?;
        let payload = resp
            .open::<R>(&signer, &n)
            .map_err(|e| TransportError::BadAnswer(format!("response: {e}")))?;
        Ok(payload.body)
    }

    fn schedule_retry(core: &mut Core, e: &TransportError) {
        core.retry_at = Some(Instant::now() + retry_delay(core.retry_step, e));
        core.retry_step = core.retry_step.saturating_add(1);
    }

    fn reset_retry(core: &mut Core) {
        core.retry_at = None;
        core.retry_step = 0;
    }

    /// `license smart register idtoken TOKEN`. On success the first authorization follows at once.
    pub async fn register(&self, token: &str) -> Result<Registered, AgentError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 512 {
            return Err(AgentError::Invalid(
                "the registration token must be 1 to 512 characters".into(),
            ));
        }
        let _comm = self.inner.comm.lock().await;
        let reg = self.register_locked(token).await?;
        // First authorization and usage report right away; a failure here is retried by the timers.
        let _ = self.authorize_locked().await;
        Ok(reg)
    }

    async fn register_locked(&self, token: &str) -> Result<Registered, AgentError> {
        let (callhome, anchors) = self.with_core(|a, core| {
            if !core.lic.state.enabled {
                return Err(AgentError::Disabled);
            }
            if let Some(r) = core.lic.registered() {
                return Err(AgentError::AlreadyRegistered(r.smart_account.clone()));
            }
            let c = a.callhome(core);
            core.registering = c.is_ok();
            Ok((c, core.trust.certificates().to_vec()))
        })?;
        let result = match callhome {
            Ok(c) => {
                let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                let body = RegisterRequest {
                    token: token.to_string(),
                    udi: self.inner.cfg.udi.clone(),
                    hostname: self.inner.cfg.hostname.clone(),
                    software_tag: self.inner.cfg.software_tag.clone(),
                    public_key: smartlic_protocol::envelope::encode_public_key(&key.verifying_key()),
                    agent_version: AGENT_VERSION.to_string(),
                    ha_udis: self.ha_udis(),
                };
                self.exchange::<_, RegisterResponse>(&c, &anchors, "/register", &key, None, body)
                    .await
                    .map(|r| (r, key))
            }
            Err(e) => Err(e),
        };
        self.with_core(|a, core| {
            core.registering = false;
            let now = a.now();
            let in_use = a.in_use(core);
            match result {
                Ok((resp, key)) => {
                    let reg = Registered {
                        instance_id: resp.instance_id,
                        smart_account: resp.smart_account,
                        virtual_account: resp.virtual_account,
                        export_controlled: resp.export_controlled,
                        initial_registration_at: now,
                        id_certificate: resp.id_certificate,
                        id_issued_at: now,
                        id_expires_at: resp.id_expires_at,
                        last_renewal: None,
                        next_renewal_at: now + ID_RENEW_AFTER,
                        device_key: B64.encode(key.to_bytes()),
                    };
                    core.lic.registered_ok(now, in_use, reg.clone());
                    Self::reset_retry(core);
                    a.settle(core)?;
                    Ok(reg)
                }
                Err(e) if e.is_refusal() => {
                    // A definitive refusal changes nothing, except that a background retry of
                    // the same token stops.
                    if let Registration::Failed {
                        token: t,
                        retrying,
                        reason,
                        ..
                    } = &mut core.lic.state.registration
                        && t == token
                    {
                        *retrying = false;
                        *reason = e.to_string();
                    }
                    a.settle(core)?;
                    Err(AgentError::Refused(format!("registration refused: {e}")))
                }
                Err(e @ (TransportError::NoUrl | TransportError::EmptyTrustPool)) => Err(AgentError::Transport(e)),
                Err(e) => {
                    core.lic.state.registration = Registration::Failed {
                        token: token.to_string(),
                        reason: e.to_string(),
                        at: now,
                        retrying: true,
                    };
                    Self::schedule_retry(core, &e);
                    a.settle(core)?;
                    Err(AgentError::RegistrationFailed(e))
                }
            }
        })
    }

    fn device_key(r: &Registered) -> Result<SigningKey, TransportError> {
        let bytes = B64
            .decode(&r.device_key)
            .map_err(|_| TransportError::BadAnswer("stored device key is unreadable".into()))?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| TransportError::BadAnswer("stored device key has the wrong length".into()))?;
        Ok(SigningKey::from_bytes(&arr))
    }

    /// Handles "the manager no longer knows this instance": back to unregistered.
    fn forget_if_unknown(&self, core: &mut Core, e: &TransportError) -> bool {
        if let TransportError::Refused { code, .. } = e
            && code == codes::UNKNOWN_INSTANCE
        {
            let now = self.now();
            let in_use = self.in_use(core);
            tracing::warn!("the license manager no longer knows this product instance; now unregistered");
            core.lic.unregister(now, in_use);
            return true;
        }
        false
    }

    /// `license smart renew auth`: reports usage and renews the authorization now.
    pub async fn renew_auth(&self) -> Result<AuthorizationResponse, AgentError> {
        let _comm = self.inner.comm.lock().await;
        self.authorize_locked().await
    }

    async fn authorize_locked(&self) -> Result<AuthorizationResponse, AgentError> {
        let prepared = self.with_core(|a, core| {
            let r = core.lic.registered().cloned().ok_or(AgentError::NotRegistered)?;
            let c = a.callhome(core)?;
            let adm = &a.inner.admission;
            let peaks: Vec<u64> = (0..adm.len())
                .map(|i| adm.take_peak(i).max(core.pending_peaks.get(i).copied().unwrap_or(0)))
                .collect();
            core.pending_peaks = peaks.clone();
            core.usage_changed_at = None;
            core.last_report_at = Some(Instant::now());
            let usage = core.lic.usage(&peaks);
            Ok::<_, AgentError>((r, c, core.trust.certificates().to_vec(), peaks, usage))
        })?;
        let (r, c, anchors, peaks, usage) = prepared;
        let key = Self::device_key(&r)?;
        let body = AuthorizationRequest {
            hostname: self.inner.cfg.hostname.clone(),
            usage: usage.clone(),
        };
        let result = self
            .exchange::<_, AuthorizationResponse>(&c, &anchors, "/authorize", &key, Some(r.instance_id.clone()), body)
            .await;
        self.with_core(|a, core| {
            let now = a.now();
            let in_use = a.in_use(core);
            let cat = a.inner.cfg.catalog.clone();
            match result {
                Ok(resp) => {
                    core.lic.authorized(now, in_use, &resp, &usage);
                    for (i, s) in cat.service.iter().enumerate() {
                        let n = cat.licenses_for_sessions(peaks.get(i).copied().unwrap_or(0));
                        let st = Self::stats_mut(core, smartlic_protocol_mode(&core.lic), &s.service);
                        st.last_lic_count = n;
                        st.max_lic_count = st.max_lic_count.max(n);
                        st.report_success += 1;
                    }
                    core.pending_peaks = vec![0; cat.service.len()];
                    Self::reset_retry(core);
                    a.settle(core)?;
                    Ok(resp)
                }
                Err(e) => {
                    if !a.forget_if_unknown(core, &e) {
                        core.lic.authorization_failed(now, e.to_string());
                        let mode = core.lic.mode();
                        for s in &cat.service {
                            Self::stats_mut(core, mode, &s.service).report_fail += 1;
                        }
                        Self::schedule_retry(core, &e);
                    }
                    a.settle(core)?;
                    Err(AgentError::Transport(e))
                }
            }
        })
    }

    /// `license smart renew id`: renews the ID certificate now.
    pub async fn renew_id(&self) -> Result<Registered, AgentError> {
        let _comm = self.inner.comm.lock().await;
        self.renew_id_locked().await
    }

    async fn renew_id_locked(&self) -> Result<Registered, AgentError> {
        let (r, c, anchors) = self.with_core(|a, core| {
            let r = core.lic.registered().cloned().ok_or(AgentError::NotRegistered)?;
            let c = a.callhome(core)?;
            Ok::<_, AgentError>((r, c, core.trust.certificates().to_vec()))
        })?;
        let key = Self::device_key(&r)?;
        let result = self
            .exchange::<_, RenewIdResponse>(
                &c,
                &anchors,
                "/renew-id",
                &key,
                Some(r.instance_id.clone()),
                RenewIdRequest {},
            )
            .await;
        self.with_core(|a, core| {
            let now = a.now();
            let out = match (&result, &mut core.lic.state.registration) {
                (Ok(resp), Registration::Registered(reg)) => {
                    reg.id_certificate = resp.id_certificate.clone();
                    reg.id_issued_at = now;
                    reg.id_expires_at = resp.id_expires_at;
                    reg.next_renewal_at = now + ID_RENEW_AFTER;
                    reg.last_renewal = Some(Attempt {
                        at: now,
                        ok: true,
                        reason: String::new(),
                    });
                    Ok(reg.clone())
                }
                (Err(e), Registration::Registered(reg)) => {
                    let e = e.clone();
                    reg.last_renewal = Some(Attempt {
                        at: now,
                        ok: false,
                        reason: e.to_string(),
                    });
                    // By the licensing clock, try again in 15 minutes; the real-time back-off
                    // (schedule_retry) retries sooner while the clock stands still.
                    reg.next_renewal_at = now + 15 * 60;
                    Err(e)
                }
                _ => Err(TransportError::BadAnswer("registration changed during renewal".into())),
            };
            match out {
                Ok(reg) => {
                    Self::reset_retry(core);
                    a.settle(core)?;
                    Ok(reg)
                }
                Err(e) => {
                    if !a.forget_if_unknown(core, &e) {
                        Self::schedule_retry(core, &e);
                    }
                    a.settle(core)?;
                    Err(AgentError::Transport(e))
                }
            }
        })
    }

    /// `license smart deregister`: tells the manager (best effort) and returns to unregistered
    /// with whatever evaluation time is left.
    pub async fn deregister(&self) -> Result<Deregistered, AgentError> {
        let _comm = self.inner.comm.lock().await;
        let prepared = self.with_core(|a, core| match &core.lic.state.registration {
            Registration::Registered(r) | Registration::Expired(r) => {
                Ok(Some((r.clone(), a.callhome(core), core.trust.certificates().to_vec())))
            }
            Registration::Failed { .. } => Ok(None),
            Registration::Unregistered => Err(AgentError::NotRegistered),
        })?;
        let mut not_told = None;
        if let Some((r, c, anchors)) = prepared {
            let told = match (c, Self::device_key(&r)) {
                (Ok(c), Ok(key)) => self
                    .exchange::<_, DeregisterResponse>(
                        &c,
                        &anchors,
                        "/deregister",
                        &key,
                        Some(r.instance_id.clone()),
                        DeregisterRequest {},
                    )
                    .await
                    .map(|_| ()),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            match told {
                Ok(()) => {}
                Err(TransportError::Refused { code, .. }) if code == codes::UNKNOWN_INSTANCE => {}
                Err(e) => not_told = Some(e.to_string()),
            }
        }
        self.with_core(|a, core| {
            let now = a.now();
            let in_use = a.in_use(core);
            core.lic.unregister(now, in_use);
            Self::reset_retry(core);
            a.settle(core)
        })?;
        Ok(Deregistered {
            manager_not_told: not_told,
        })
    }

    fn due_work(&self, core: &mut Core) -> Option<Work> {
        if core.registering {
            return None;
        }
        let now = self.now();
        let real_now = Instant::now();
        let retry_due = core.retry_at.is_none_or(|t| real_now >= t);
        match &core.lic.state.registration {
            Registration::Failed {
                token, retrying: true, ..
            } if retry_due => {
                return Some(Work::RetryRegister(token.clone()));
            }
            Registration::Registered(r) => {
                if now >= r.next_renewal_at && retry_due {
                    return Some(Work::RenewId);
                }
            }
            _ => return None,
        }
        let auth = &core.lic.state.authorization;
        if core.lic.next_authorization_at().is_some_and(|t| now >= t) && (auth.failures == 0 || retry_due) {
            return Some(Work::Authorize);
        }
        if auth.failures > 0 && core.retry_at.is_some() && retry_due {
            return Some(Work::Authorize);
        }
        // Usage changed: report once it has been stable for a moment.
        let adm = &self.inner.admission;
        let peaks: Vec<u64> = (0..adm.len())
            .map(|i| adm.peek_peak(i).max(core.pending_peaks.get(i).copied().unwrap_or(0)))
            .collect();
        let usage: BTreeMap<String, u64> = core.lic.usage(&peaks).into_iter().map(|u| (u.sku, u.count)).collect();
        if usage != core.lic.state.last_report {
            match core.usage_changed_at {
                None => core.usage_changed_at = Some(real_now),
                Some(t) if real_now.duration_since(t) >= REPORT_DEBOUNCE && retry_due => return Some(Work::Authorize),
                Some(_) => {}
            }
        } else {
            core.usage_changed_at = None;
        }
        let ooc = auth
            .grant
            .as_ref()
            .is_some_and(|g| g.status == smartlic_protocol::wire::Compliance::OutOfCompliance);
        if ooc
            && core
                .last_report_at
                .is_none_or(|t| real_now.duration_since(t) >= OOC_REPORT_EVERY)
            && retry_due
        {
            return Some(Work::Authorize);
        }
        None
    }

    /// One pass of the timers: apply the rules, then do whatever conversation is due.
    pub async fn tick(&self) {
        let work = self.with_core(|a, core| {
            if let Err(e) = a.settle(core) {
                tracing::error!("cannot save licensing state: {e}");
            }
            a.due_work(core)
        });
        let Some(work) = work else { return };
        let Ok(_comm) = self.inner.comm.try_lock() else { return };
        let result = match work {
            Work::RetryRegister(token) => self.register_locked(&token).await.map(|_| ()),
            Work::RenewId => self.renew_id_locked().await.map(|_| ()),
            Work::Authorize => self.authorize_locked().await.map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!("licensing timer: {e}");
            return;
        }
        // Right after a retried registration (or an ID renewal that found no authorization),
        // authorize at once.
        let needs_authorization = {
            let core = self.lock();
            core.lic.registered().is_some() && core.lic.state.authorization.grant.is_none()
        };
        if needs_authorization && let Err(e) = self.authorize_locked().await {
            tracing::warn!("licensing timer: {e}");
        }
    }

    /// Runs the timers until the task is dropped: a pass every 250 ms, so that a clock moved
    /// forward takes effect within a second.
    pub fn spawn_timers(&self) -> tokio::task::JoinHandle<()> {
        let agent = self.clone();
        tokio::spawn(async move {
            loop {
                agent.tick().await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
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

fn smartlic_protocol_mode(l: &Licensing) -> &'static str {
    l.mode()
}

/// Records a legacy key event in the state's bounded history.
fn push_key_history(state: &mut crate::state::PersistedState, at: i64, action: &str, key: &LegacyKey) {
    if state.legacy_history.len() >= crate::state::LEGACY_HISTORY {
        state.legacy_history.remove(0);
    }
    state.legacy_history.push(KeyHistoryEntry {
        at,
        action: action.to_string(),
        key_id: key.id.clone(),
        detail: legacy_key_summary(key),
    });
}

/// What a legacy key licenses, in one line: `sgw 20000 sessions, ASR5K-00-GN01REC, expires …`.
pub fn legacy_key_summary(key: &LegacyKey) -> String {
    let mut parts: Vec<String> = key.sessions.iter().map(|(s, n)| format!("{s} {n} sessions")).collect();
    parts.extend(key.features.iter().cloned());
    parts.push(match key.expires_at {
        Some(e) => format!("expires {}", smartlic_protocol::time::format_date(e)),
        None => "never expires".to_string(),
    });
    parts.join(", ")
}

/// Formats an optional time like IOS (`None` when absent).
pub fn format_opt(t: Option<i64>) -> String {
    t.map(format_cisco).unwrap_or_else(|| "None".into())
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn busy_with_retry_after_waits_at_least_that_long_with_jitter() {
        let busy = TransportError::Busy { retry_after: Some(30) };
        for _ in 0..50 {
            let d = retry_delay(0, &busy);
            assert!(d >= Duration::from_secs(30) && d <= Duration::from_secs(45), "{d:?}");
        }
        // Without Retry-After (or another failure): the back-off, 2 s ± 20 %.
        for e in [TransportError::Busy { retry_after: None }, TransportError::Server(500)] {
            let d = retry_delay(0, &e);
            assert!(
                d >= Duration::from_millis(1600) && d <= Duration::from_millis(2400),
                "{d:?}"
            );
        }
        // The back-off still applies when it is longer than Retry-After.
        let short = TransportError::Busy { retry_after: Some(1) };
        assert!(retry_delay(9, &short) >= Duration::from_secs(240));
    }
}
