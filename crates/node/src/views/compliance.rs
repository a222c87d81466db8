//! What the licensing state means for one entitlement: the status word the usage views print, and
//! whether an on/off feature's grace period is over.

use smartlic_agent::Snapshot;
use smartlic_agent::{AuthorizationStatus, Mode};
use smartlic_protocol::time::DAY;
use smartlic_protocol::wire::Compliance;
use smartlic_protocol::{Catalog, FeatureEntitlement};

/// Whether the agent is in registered mode (else evaluation).
pub(super) fn registered_mode(s: &Snapshot) -> bool {
    s.mode == Mode::Registered
}

/// The licensing word that applies to one entitlement: `NOT ENABLED`, `AUTHORIZATION EXPIRED`,
/// `OUT OF COMPLIANCE`, `AUTHORIZED`, `EVAL EXPIRED` or `EVAL MODE`.
pub(super) fn usage_status(s: &Snapshot, sku: &str) -> &'static str {
    if !s.state.enabled {
        return "NOT ENABLED";
    }
    if registered_mode(s) {
        if s.authorization_word == AuthorizationStatus::AuthorizationExpired {
            return "AUTHORIZATION EXPIRED";
        }
        let ooc = s.state.authorization.grant.as_ref().is_some_and(|g| {
            g.entitlements
                .iter()
                .any(|e| e.sku == sku && e.status == Compliance::OutOfCompliance)
        });
        return if ooc { "OUT OF COMPLIANCE" } else { "AUTHORIZED" };
    }
    if s.eval_remaining == 0 {
        "EVAL EXPIRED"
    } else {
        "EVAL MODE"
    }
}

/// What the usage table and `show license usage` print per entitlement: `IN USE` when nothing is
/// wrong with it (as the reference captures), else the licensing word that applies to it.
pub(super) fn in_use_status(s: &Snapshot, sku: &str) -> &'static str {
    match usage_status(s, sku) {
        "AUTHORIZED" => "IN USE",
        other => other,
    }
}

/// The grace period of an on/off feature out of compliance, in seconds.
pub(super) fn grace_secs(cat: &Catalog) -> i64 {
    i64::from(cat.feature_grace_days) * DAY
}

/// Whether the feature `sku` is out of compliance with its grace period over.
pub(super) fn grace_over(s: &Snapshot, cat: &Catalog, sku: &str) -> bool {
    s.state
        .feature_grace
        .get(sku)
        .is_some_and(|g| s.now >= g.since + grace_secs(cat))
}

/// Whether an on/off feature that is on blocks the calls of its services now: enforced, its grace
/// period over, and registered (in evaluation features are not enforced).
pub(super) fn feature_blocks(s: &Snapshot, cat: &Catalog, f: &FeatureEntitlement) -> bool {
    f.enforced && registered_mode(s) && s.state.features.contains(&f.sku) && grace_over(s, cat, &f.sku)
}
