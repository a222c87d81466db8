//! Applying the rules at the clock's now: evaluation accounting, expiries, admission policies,
//! licensing events (each transition once, described for the operator) and persistence.

use super::{AgentError, Core, SmartAgent};
use crate::admission::CallPolicy;
use crate::events::{Condition, diff};
use crate::state::Registration;

/// Events kept for `show` commands.
const HISTORY: usize = 256;

impl SmartAgent {
    /// Applies the rules at `now`: evaluation accounting, expiries, policies, events, persistence.
    pub(super) fn settle(&self, core: &mut Core) -> Result<(), AgentError> {
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
    pub(super) fn emit_conditions(&self, core: &mut Core, at: i64, in_use: bool) {
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

    pub(super) fn describe(&self, core: &Core, c: &Condition, set: bool) -> String {
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
            (Condition::Reserved, true) => match core.lic.reservation() {
                Some(r) => format!(
                    "licence reservation {} installed: {} (authorization {})",
                    r.auth.id, r.auth.kind, r.auth.seq
                ),
                None => "licence reservation installed".into(),
            },
            (Condition::Reserved, false) => "licence reservation returned".into(),
        }
    }
}
