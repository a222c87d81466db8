//! The agent's typed event stream. An event is emitted once per transition of a licensing
//! condition, never repeated while the condition holds (conditions are diffed, and the last set is
//! persisted so a restart does not repeat them). SNMP traps and bulk statistics subscribe to it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A licensing condition that can hold or not.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// Licences in use while unregistered, with evaluation time left (trap 1350).
    EvalMode,
    /// The evaluation period is used up while unregistered (trap 1351).
    EvalExpired,
    /// An entitlement (counting service or on/off feature) is out of compliance (trap 1349).
    ServiceOoc {
        /// SKU.
        sku: String,
    },
    /// The last communication with the license manager failed (trap 1352).
    ManagerConnectionFailed,
    /// The grace period of an out-of-compliance on/off feature is over (trap 1353).
    FeatureGraceExpired {
        /// SKU of the feature.
        sku: String,
    },
    /// No successful authorization for 90 days.
    AuthorizationExpired,
    /// The ID certificate expired.
    RegistrationExpired,
    /// A licence reservation is installed (set on install, cleared on return).
    Reserved,
}

/// A transition: a condition started (`set`) or ended (clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseEvent {
    /// When (agent clock, epoch seconds).
    pub at: i64,
    /// The condition.
    pub condition: Condition,
    /// `true` when it started, `false` when it cleared.
    pub set: bool,
    /// One line for a human (reason, service, …).
    pub detail: String,
}

/// Events between two condition sets, clears first, in a stable order.
pub fn diff(before: &BTreeSet<Condition>, after: &BTreeSet<Condition>, at: i64) -> Vec<LicenseEvent> {
    let mut out: Vec<LicenseEvent> = before
        .difference(after)
        .map(|c| LicenseEvent {
            at,
            condition: c.clone(),
            set: false,
            detail: String::new(),
        })
        .collect();
    out.extend(after.difference(before).map(|c| LicenseEvent {
        at,
        condition: c.clone(),
        set: true,
        detail: String::new(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_transition() {
        let a: BTreeSet<_> = [Condition::EvalMode].into();
        let b: BTreeSet<_> = [Condition::EvalExpired].into();
        let ev = diff(&a, &b, 5);
        assert_eq!(ev.len(), 2);
        assert!(!ev[0].set && ev[0].condition == Condition::EvalMode);
        assert!(ev[1].set && ev[1].condition == Condition::EvalExpired);
        assert!(diff(&b, &b, 6).is_empty());
    }
}
