//! What the CLI shows: a consistent [`Snapshot`] of the agent at one instant, and the seed's
//! statistics rows read from it.

use super::SmartAgent;
use crate::admission::CallPolicy;
use crate::licensing::{AuthorizationStatus, Mode, RegistrationStatus};
use crate::state::{PersistedState, ServiceStats};
use smartlic_protocol::Catalog;
use smartlic_protocol::wire::{HaUdi, Udi, Usage};

/// The state the CLI shows, taken at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Clock time of the snapshot.
    pub now: i64,
    /// Persisted state.
    pub state: PersistedState,
    /// Registration word (`REGISTERED`, `REGISTRATION PENDING`, …).
    pub registration_word: RegistrationStatus,
    /// Authorization word (`AUTHORIZED`, `EVAL MODE`, …).
    pub authorization_word: AuthorizationStatus,
    /// Evaluation seconds left.
    pub eval_remaining: i64,
    /// Evaluation length in seconds.
    pub eval_total: i64,
    /// Whether licences are in use.
    pub in_use: bool,
    /// `Evaluation` or `Registered`.
    pub mode: Mode,
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
    pub mode: Mode,
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
        for mode in [Mode::Evaluation, Mode::Registered] {
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
                        .get(mode.as_str())
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

impl SmartAgent {
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
                RegistrationStatus::Pending
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
}
