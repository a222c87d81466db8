//! The licensing rules as a pure state machine: no I/O, no clock of its own. Every method takes
//! `now`; the async [`crate::agent`] feeds it the clock, the admission counters and the manager's
//! answers, and applies what it decides (policies, events, persistence).

use crate::admission::{CallPolicy, UNLIMITED};
use crate::events::Condition;
use crate::state::{Attempt, Authorization, FeatureGrace, Grant, PersistedState, Registered, Registration};
use smartlic_protocol::time::DAY;
use smartlic_protocol::wire::{AuthorizationResponse, Compliance, Usage};
use smartlic_protocol::{Catalog, Entitlement};
use std::collections::BTreeSet;

/// An enum of status words: each variant prints (`Display`, padding honoured) and
/// [`as_str`](Mode::as_str)s as exactly the word the seed shows.
macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $word:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The word as shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl From<$name> for String {
            fn from(w: $name) -> String {
                w.as_str().to_string()
            }
        }
    };
}

words! {
    /// The licensing mode, for statistics (and the key of [`PersistedState::stats`]).
    Mode {
        /// The evaluation rules apply.
        Evaluation => "Evaluation",
        /// Registered and running on an authorization.
        Registered => "Registered",
    }
}

words! {
    /// The registration status word of `show license status`.
    RegistrationStatus {
        /// Never registered, or deregistered.
        Unregistered => "UNREGISTERED",
        /// A registration is being attempted right now.
        Pending => "REGISTRATION PENDING",
        /// The last attempt failed.
        Failed => "REGISTRATION FAILED",
        /// Registered.
        Registered => "REGISTERED",
        /// The ID certificate expired.
        Expired => "REGISTRATION EXPIRED",
        /// A specific licence reservation (SLR) is installed.
        ReservedSpecific => "REGISTERED - SPECIFIC LICENSES RESERVED",
        /// The universal licence reservation (PLR) is installed.
        ReservedUniversal => "REGISTERED - UNIVERSAL LICENSE RESERVED",
    }
}

words! {
    /// The authorization status word of `show license status`.
    AuthorizationStatus {
        /// Registered and authorized.
        Authorized => "AUTHORIZED",
        /// Registered, authorized, but short of licences.
        OutOfCompliance => "OUT OF COMPLIANCE",
        /// Registered, and the authorization deadline has passed.
        AuthorizationExpired => "AUTHORIZATION EXPIRED",
        /// Licences in use in evaluation.
        EvalMode => "EVAL MODE",
        /// The evaluation period is used up.
        EvalExpired => "EVAL EXPIRED",
        /// Nothing to authorize.
        NoLicensesInUse => "No Licenses in Use",
        /// A licence reservation is installed (and, for an SLR, has not ended).
        AuthorizedReserved => "AUTHORIZED - RESERVED",
    }
}

/// The rules, over a persisted state.
#[derive(Debug, Clone)]
pub struct Licensing {
    /// The state (public so views can read it).
    pub state: PersistedState,
    catalog: Catalog,
    /// Release 21.3: with Smart Licensing enabled, on/off features follow the legacy key and are
    /// never reported (the mixed mode of the seed).
    mixed_mode: bool,
}

impl Licensing {
    /// Wraps a state (release 21.6 rules).
    pub fn new(state: PersistedState, catalog: Catalog) -> Licensing {
        Licensing {
            state,
            catalog,
            mixed_mode: false,
        }
    }

    /// The same rules in release 21.3's mixed mode (`on`) or 21.6's.
    pub fn with_mixed_mode(mut self, on: bool) -> Licensing {
        self.mixed_mode = on;
        self
    }

    /// Whether the 21.3 mixed mode applies.
    pub fn mixed_mode(&self) -> bool {
        self.mixed_mode
    }

    /// The installed legacy key, if it is still valid at `now`.
    pub fn legacy_key(&self, now: i64) -> Option<&smartlic_protocol::legacy::LegacyKey> {
        self.state
            .legacy_key
            .as_ref()
            .map(|k| &k.key)
            .filter(|k| !k.expired(now))
    }

    /// Whether on/off features follow the legacy key rather than Smart Licensing: always when
    /// Smart Licensing is off, and in the 21.3 mixed mode.
    pub fn features_follow_legacy(&self) -> bool {
        !self.state.enabled || self.mixed_mode
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Length of the evaluation period in seconds.
    pub fn eval_total(&self) -> i64 {
        i64::from(self.catalog.evaluation_days) * DAY
    }

    /// Evaluation seconds left.
    pub fn eval_remaining(&self) -> i64 {
        (self.eval_total() - self.state.eval.used_secs).max(0)
    }

    /// The current registration, if registered.
    pub fn registered(&self) -> Option<&Registered> {
        match &self.state.registration {
            Registration::Registered(r) => Some(r),
            _ => None,
        }
    }

    /// Registered and holding an authorization, or holding a licence reservation: the product
    /// runs on purchased licences (and the evaluation clock stands still).
    pub fn authorized_mode(&self) -> bool {
        (self.registered().is_some() && self.state.authorization.grant.is_some()) || self.reservation().is_some()
    }

    /// Whether the evaluation rules apply (enabled and not running on an authorization).
    pub fn evaluating(&self) -> bool {
        self.state.enabled && !self.authorized_mode()
    }

    /// The statistics mode name.
    pub fn mode(&self) -> Mode {
        if self.authorized_mode() {
            Mode::Registered
        } else {
            Mode::Evaluation
        }
    }

    /// Whether the authorization deadline has passed (registered only).
    pub fn authorization_expired(&self, now: i64) -> bool {
        self.registered().is_some() && self.state.authorization.deadline.is_some_and(|d| now >= d)
    }

    /// Accounts evaluation time up to `now`. Time is consumed only while enabled, evaluating and
    /// licences are in use; a clock that moved back consumes nothing and never gives time back.
    pub fn account_eval(&mut self, now: i64, in_use: bool) {
        let total = self.eval_total();
        let consuming = self.evaluating() && in_use && self.state.eval.used_secs < total;
        let ev = &mut self.state.eval;
        if let Some(from) = ev.accounted_to
            && now > from
        {
            let before = ev.used_secs;
            ev.used_secs = (before + (now - from)).min(total);
            // It ran out when the last second was consumed, not when a jump was noticed.
            if ev.used_secs >= total && ev.expired_at.is_none() {
                ev.expired_at = Some(from + (total - before).max(0));
            }
        }
        if ev.used_secs >= total && ev.expired_at.is_none() {
            ev.expired_at = Some(now);
        }
        ev.accounted_to = if consuming { Some(now) } else { None };
    }

    /// Moves expired registrations to `Expired`. Returns whether anything changed.
    pub fn expire(&mut self, now: i64) -> bool {
        if let Registration::Registered(r) = &self.state.registration
            && now >= r.id_expires_at
        {
            let r = r.clone();
            self.state.registration = Registration::Expired(r);
            self.state.authorization = Authorization::default();
            return true;
        }
        false
    }

    fn feature_blocks(&self, now: i64, service: &str) -> bool {
        let grace = i64::from(self.catalog.feature_grace_days) * DAY;
        self.catalog.feature.iter().any(|f| {
            f.enforced
                && f.services.iter().any(|s| s == service)
                && self.state.features.contains(&f.sku)
                && self
                    .state
                    .feature_grace
                    .get(&f.sku)
                    .is_some_and(|g| now >= g.since + grace)
        })
    }

    fn sku_ooc(&self, sku: &str) -> bool {
        self.state.authorization.grant.as_ref().is_some_and(|g| {
            g.entitlements
                .iter()
                .any(|e| e.sku == sku && e.status == Compliance::OutOfCompliance)
        })
    }

    /// The call policy of every service, in catalog order.
    pub fn policies(&self, now: i64) -> Vec<CallPolicy> {
        let services = &self.catalog.service;
        if !self.state.enabled {
            // Turning Smart Licensing off never lifts a limit: the legacy key's sessions, or none.
            let key = self.legacy_key(now);
            return services
                .iter()
                .map(|s| match key.map(|k| k.sessions_for(&s.service)) {
                    Some(n) if n > 0 => CallPolicy::Allow { limit: n },
                    _ => CallPolicy::Block,
                })
                .collect();
        }
        if self.reservation().is_some() {
            return self.reserved_policies(now);
        }
        if self.registered().is_some() && self.authorization_expired(now) {
            return vec![CallPolicy::Block; services.len()];
        }
        if self.authorized_mode() {
            return services
                .iter()
                .map(|s| {
                    if self.sku_ooc(&s.sku) || self.feature_blocks(now, &s.service) {
                        CallPolicy::Block
                    } else {
                        CallPolicy::Allow { limit: UNLIMITED }
                    }
                })
                .collect();
        }
        if self.eval_remaining() == 0 {
            vec![CallPolicy::Block; services.len()]
        } else {
            vec![
                CallPolicy::Allow {
                    limit: self.catalog.sessions_per_counting_license
                };
                services.len()
            ]
        }
    }

    /// The call policies while a reservation is installed: an ended SLR blocks everything; a
    /// PLR allows everything; an SLR allows its reserved licences' sessions per service (none
    /// reserved: blocked), and blocks a service that an enforced on/off feature, turned on but
    /// not reserved, serves.
    fn reserved_policies(&self, now: i64) -> Vec<CallPolicy> {
        let services = &self.catalog.service;
        let Some(r) = self.reservation() else {
            return vec![CallPolicy::Block; services.len()];
        };
        if r.auth.expired(now) {
            return vec![CallPolicy::Block; services.len()];
        }
        if r.auth.kind == smartlic_protocol::reservation::ReservationKind::Universal {
            return vec![CallPolicy::Allow { limit: UNLIMITED }; services.len()];
        }
        let per = self.catalog.sessions_per_counting_license;
        services
            .iter()
            .map(|s| {
                let n = u64::from(self.reserved_count(&s.sku));
                let unreserved_feature = !self.mixed_mode
                    && self.catalog.feature.iter().any(|f| {
                        f.enforced
                            && f.services.contains(&s.service)
                            && self.state.features.contains(&f.sku)
                            && !self.feature_reserved(&f.sku)
                    });
                if n == 0 || unreserved_feature {
                    CallPolicy::Block
                } else {
                    CallPolicy::Allow {
                        limit: n.saturating_mul(per),
                    }
                }
            })
            .collect()
    }

    /// Conditions that hold now (diffed into events by the agent).
    pub fn conditions(&self, now: i64, in_use: bool) -> BTreeSet<Condition> {
        let mut c = BTreeSet::new();
        if !self.state.enabled {
            return c;
        }
        if self.reservation().is_some() {
            c.insert(Condition::Reserved);
            if self.reservation_expired(now) {
                c.insert(Condition::AuthorizationExpired);
            }
        }
        if self.evaluating() {
            if self.eval_remaining() == 0 {
                c.insert(Condition::EvalExpired);
            } else if in_use {
                c.insert(Condition::EvalMode);
            }
        }
        if self.registered().is_some() {
            if let Some(g) = &self.state.authorization.grant {
                for e in g
                    .entitlements
                    .iter()
                    .filter(|e| e.status == Compliance::OutOfCompliance)
                {
                    c.insert(Condition::ServiceOoc { sku: e.sku.clone() });
                }
            }
            let grace = i64::from(self.catalog.feature_grace_days) * DAY;
            for (sku, g) in &self.state.feature_grace {
                if self.state.features.contains(sku) && now >= g.since + grace {
                    c.insert(Condition::FeatureGraceExpired { sku: sku.clone() });
                }
            }
            if self.authorization_expired(now) {
                c.insert(Condition::AuthorizationExpired);
            }
        }
        if matches!(self.state.registration, Registration::Expired(_)) {
            c.insert(Condition::RegistrationExpired);
        }
        let comm_failed = match &self.state.registration {
            Registration::Failed { retrying, .. } => *retrying,
            Registration::Registered(_) => {
                self.state.authorization.last_attempt.as_ref().is_some_and(|a| !a.ok)
                    || self
                        .registered()
                        .and_then(|r| r.last_renewal.as_ref())
                        .is_some_and(|a| !a.ok)
            }
            _ => false,
        };
        if comm_failed {
            c.insert(Condition::ManagerConnectionFailed);
        }
        c
    }

    /// The registration status word.
    pub fn registration_word(&self) -> RegistrationStatus {
        if let Some(r) = self.reservation() {
            return match r.auth.kind {
                smartlic_protocol::reservation::ReservationKind::Specific => RegistrationStatus::ReservedSpecific,
                smartlic_protocol::reservation::ReservationKind::Universal => RegistrationStatus::ReservedUniversal,
            };
        }
        match &self.state.registration {
            Registration::Unregistered => RegistrationStatus::Unregistered,
            Registration::Failed { .. } => RegistrationStatus::Failed,
            Registration::Registered(_) => RegistrationStatus::Registered,
            Registration::Expired(_) => RegistrationStatus::Expired,
        }
    }

    /// The authorization status word.
    pub fn authorization_word(&self, now: i64, in_use: bool) -> AuthorizationStatus {
        if self.reservation().is_some() {
            return if self.reservation_expired(now) {
                AuthorizationStatus::AuthorizationExpired
            } else {
                AuthorizationStatus::AuthorizedReserved
            };
        }
        if self.registered().is_some() && self.authorization_expired(now) {
            return AuthorizationStatus::AuthorizationExpired;
        }
        if let (Some(_), Some(g)) = (self.registered(), &self.state.authorization.grant) {
            return match g.status {
                Compliance::OutOfCompliance => AuthorizationStatus::OutOfCompliance,
                Compliance::Authorized => AuthorizationStatus::Authorized,
            };
        }
        if self.state.enabled && self.eval_remaining() == 0 {
            AuthorizationStatus::EvalExpired
        } else if self.state.enabled && in_use {
            AuthorizationStatus::EvalMode
        } else {
            AuthorizationStatus::NoLicensesInUse
        }
    }

    /// The usage to report, from peak session counts per service (catalog order).
    pub fn usage(&self, peaks: &[u64]) -> Vec<Usage> {
        let mut out: Vec<Usage> = self
            .catalog
            .service
            .iter()
            .zip(peaks)
            .filter(|(_, p)| **p > 0)
            .map(|(s, p)| Usage {
                sku: s.sku.clone(),
                count: self.catalog.licenses_for_sessions(*p),
            })
            .collect();
        if !self.mixed_mode {
            out.extend(self.state.features.iter().map(|sku| Usage {
                sku: sku.clone(),
                count: 1,
            }));
        }
        out
    }

    /// Turns Smart Licensing on or off. Returns whether it changed.
    pub fn set_enabled(&mut self, now: i64, in_use: bool, on: bool) -> bool {
        if self.state.enabled == on {
            return false;
        }
        self.account_eval(now, in_use);
        self.state.enabled = on;
        if on {
            self.state.total_enabled += 1;
        } else {
            self.state.total_disabled += 1;
        }
        self.account_eval(now, in_use);
        true
    }

    /// Turns an on/off feature on or off. Unknown or counting SKUs are refused, and so is turning
    /// on a feature that follows the legacy key (Smart Licensing off, or the 21.3 mixed mode)
    /// when the key does not license it.
    pub fn set_feature(&mut self, now: i64, sku: &str, on: bool) -> Result<bool, String> {
        let canonical = match self.catalog.entitlement(sku) {
            Some(Entitlement::Feature(f)) => f.sku.clone(),
            Some(Entitlement::Service(s)) => {
                return Err(format!(
                    "{} is a counting licence of service {}, not an on/off feature",
                    s.sku, s.service
                ));
            }
            None => return Err(format!("unknown feature {sku}")),
        };
        if on && self.features_follow_legacy() && !self.state.features.contains(&canonical) {
            let why = if self.state.enabled {
                "in release 21.3 on/off features follow the legacy licence key"
            } else {
                "with Smart Licensing disabled on/off features follow the legacy licence key"
            };
            match &self.state.legacy_key {
                None => return Err(format!("{canonical} is not licensed: {why}, and none is installed")),
                Some(k) if k.key.expired(now) => {
                    return Err(format!("{canonical} is not licensed: {why}, and it has expired"));
                }
                Some(k) if !k.key.has_feature(&canonical) => {
                    return Err(format!(
                        "{canonical} is not licensed: {why}, and it does not include it"
                    ));
                }
                Some(_) => {}
            }
        }
        let changed = if on {
            self.state.features.insert(canonical.clone())
        } else {
            self.state.feature_grace.remove(&canonical);
            self.state.features.remove(&canonical)
        };
        Ok(changed)
    }

    /// Records a successful registration.
    pub fn registered_ok(&mut self, now: i64, in_use: bool, reg: Registered) {
        self.account_eval(now, in_use);
        self.state.authorization = Authorization {
            deadline: Some(now + smartlic_protocol::time::AUTH_VALIDITY),
            ..Default::default()
        };
        self.state.registration = Registration::Registered(reg);
        self.state.last_report.clear();
        self.account_eval(now, in_use);
    }

    /// Back to unregistered (deregistration, or the manager no longer knows the instance).
    pub fn unregister(&mut self, now: i64, in_use: bool) {
        self.account_eval(now, in_use);
        self.state.registration = Registration::Unregistered;
        self.state.authorization = Authorization::default();
        self.state.last_report.clear();
        self.account_eval(now, in_use);
    }

    /// Applies an authorization answer.
    pub fn authorized(&mut self, now: i64, in_use: bool, resp: &AuthorizationResponse, reported: &[Usage]) {
        self.account_eval(now, in_use);
        let renew_at = resp.renew_at;
        let ooc = resp.status == Compliance::OutOfCompliance;
        // While out of compliance, report daily (the seed's "OOC retry").
        let next = if ooc { (now + DAY).min(renew_at) } else { renew_at };
        self.state.authorization = Authorization {
            grant: Some(Grant {
                status: resp.status,
                entitlements: resp.entitlements.clone(),
                at: resp.authorized_at,
                expires_at: resp.expires_at,
                renew_at,
            }),
            last_attempt: Some(Attempt {
                at: now,
                ok: true,
                reason: String::new(),
            }),
            next_attempt_at: Some(next),
            failures: 0,
            deadline: Some(resp.expires_at),
        };
        // Feature grace periods start at the first OOC answer and end when authorized.
        for e in &resp.entitlements {
            let is_feature = matches!(self.catalog.entitlement(&e.sku), Some(Entitlement::Feature(_)));
            if !is_feature {
                continue;
            }
            if e.status == Compliance::OutOfCompliance {
                self.state
                    .feature_grace
                    .entry(e.sku.clone())
                    .or_insert(FeatureGrace { since: now });
            } else {
                self.state.feature_grace.remove(&e.sku);
            }
        }
        self.state.last_report = reported.iter().map(|u| (u.sku.clone(), u.count)).collect();
        self.account_eval(now, in_use);
    }

    /// Records a failed authorization attempt and schedules the next one with back-off
    /// (15 minutes doubling up to a day, by the licensing clock).
    pub fn authorization_failed(&mut self, now: i64, reason: String) {
        let a = &mut self.state.authorization;
        a.failures = a.failures.saturating_add(1);
        let backoff = (15 * 60_i64)
            .saturating_mul(1 << a.failures.min(7).saturating_sub(1))
            .min(DAY);
        a.last_attempt = Some(Attempt {
            at: now,
            ok: false,
            reason,
        });
        a.next_attempt_at = Some(now + backoff);
    }

    /// The next automatic authorization attempt (clock), if registered.
    pub fn next_authorization_at(&self) -> Option<i64> {
        self.registered()?;
        self.state.authorization.next_attempt_at.or(Some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use smartlic_protocol::wire::EntitlementStatus;

    fn lic() -> Licensing {
        let mut l = Licensing::new(PersistedState::default(), Catalog::staros());
        l.set_enabled(0, false, true);
        l
    }

    fn with_key(l: &mut Licensing, expires_at: Option<i64>) {
        l.state.legacy_key = Some(crate::state::InstalledKey {
            text: "LK1.test".into(),
            key: smartlic_protocol::legacy::LegacyKey {
                id: "k".into(),
                serial: "SN".into(),
                platform: "ASR5500".into(),
                sessions: [("sgw".to_string(), 20_000u64)].into_iter().collect(),
                features: vec!["ASR5K-00-GN01REC".into()],
                expires_at,
                issued_at: 0,
            },
            installed_at: 0,
        });
    }

    #[test]
    fn the_evaluation_expires_when_it_ran_out_not_when_a_jump_was_noticed() {
        let mut l = lic();
        l.account_eval(1000, true);
        l.account_eval(1000 + 10 * DAY, true);
        // One jump far past the end.
        l.account_eval(1000 + 400 * DAY, true);
        assert_eq!(l.eval_remaining(), 0);
        assert_eq!(l.state.eval.expired_at, Some(1000 + 90 * DAY));
    }

    #[test]
    fn smart_licensing_off_follows_the_legacy_key_and_never_lifts_a_limit() {
        let mut l = Licensing::new(PersistedState::default(), Catalog::staros());
        let sgw = Catalog::staros().service_index("sgw").unwrap();
        // No key: every service blocked, no feature.
        assert!(l.policies(0).iter().all(|p| *p == CallPolicy::Block));
        assert!(l.set_feature(0, "ASR5K-00-GN01REC", true).is_err());
        // A key: its sessions, its features, nothing else.
        with_key(&mut l, Some(100 * DAY));
        let p = l.policies(0);
        assert_eq!(p[sgw], CallPolicy::Allow { limit: 20_000 });
        assert_eq!(p.iter().filter(|p| **p == CallPolicy::Block).count(), p.len() - 1);
        assert!(l.set_feature(0, "ASR5K-00-GN01REC", true).unwrap());
        let e = l.set_feature(0, "ASR5K-00-EG01RS", true).unwrap_err();
        assert!(e.contains("does not include it"), "{e}");
        // Expired: nothing again (a feature already on stays configured; turning one on fails).
        assert!(l.policies(100 * DAY).iter().all(|p| *p == CallPolicy::Block));
        l.set_feature(0, "ASR5K-00-GN01REC", false).unwrap();
        assert!(
            l.set_feature(100 * DAY, "ASR5K-00-GN01REC", true)
                .unwrap_err()
                .contains("expired")
        );
        // Smart Licensing on (21.6): the key plays no part.
        l.set_enabled(0, false, true);
        assert!(l.set_feature(100 * DAY, "ASR5K-00-EG01RS", true).unwrap());
    }

    #[test]
    fn release_21_3_features_follow_the_key_and_are_not_reported() {
        let mut l = lic().with_mixed_mode(true);
        assert!(l.set_feature(0, "ASR5K-00-GN01REC", true).unwrap_err().contains("21.3"));
        with_key(&mut l, None);
        assert!(l.set_feature(0, "ASR5K-00-GN01REC", true).unwrap());
        let mut peaks = vec![0; Catalog::staros().service.len()];
        peaks[0] = 15_000;
        let usage = l.usage(&peaks);
        assert_eq!(usage.len(), 1, "{usage:?}");
        assert_eq!(usage[0].count, 2);
        // The counting services still follow Smart Licensing (evaluation: 10,000 each).
        assert!(l.policies(0).iter().all(|p| *p == CallPolicy::Allow { limit: 10_000 }));
    }

    fn reg(now: i64) -> Registered {
        Registered {
            instance_id: "i".into(),
            smart_account: "a".into(),
            virtual_account: "v".into(),
            export_controlled: false,
            initial_registration_at: now,
            id_certificate: String::new(),
            id_issued_at: now,
            id_expires_at: now + 365 * DAY,
            last_renewal: None,
            next_renewal_at: now + 180 * DAY,
            device_key: String::new(),
        }
    }

    fn answer(now: i64, ooc: &[&str], reported: &[&str]) -> AuthorizationResponse {
        let entitlements: Vec<_> = reported
            .iter()
            .map(|s| EntitlementStatus {
                sku: s.to_string(),
                count: 1,
                status: if ooc.contains(s) {
                    Compliance::OutOfCompliance
                } else {
                    Compliance::Authorized
                },
            })
            .collect();
        AuthorizationResponse {
            status: if ooc.is_empty() {
                Compliance::Authorized
            } else {
                Compliance::OutOfCompliance
            },
            entitlements,
            authorized_at: now,
            expires_at: now + 90 * DAY,
            renew_at: now + 30 * DAY,
        }
    }

    #[test]
    fn evaluation_consumed_only_in_use_and_runs_out() {
        let mut l = lic();
        l.account_eval(0, false);
        l.account_eval(10 * DAY, false);
        assert_eq!(l.eval_remaining(), 90 * DAY);
        l.account_eval(10 * DAY, true);
        l.account_eval(40 * DAY, true);
        assert_eq!(l.eval_remaining(), 60 * DAY);
        assert_eq!(l.authorization_word(40 * DAY, true).as_str(), "EVAL MODE");
        assert_eq!(l.policies(40 * DAY)[0], CallPolicy::Allow { limit: 10_000 });
        l.account_eval(200 * DAY, true);
        assert_eq!(l.eval_remaining(), 0);
        assert_eq!(l.authorization_word(200 * DAY, true).as_str(), "EVAL EXPIRED");
        assert!(l.policies(200 * DAY).iter().all(|p| *p == CallPolicy::Block));
        assert!(l.conditions(200 * DAY, true).contains(&Condition::EvalExpired));
    }

    #[test]
    fn clock_back_gives_nothing_back() {
        let mut l = lic();
        l.account_eval(100 * DAY, true);
        l.account_eval(110 * DAY, true);
        assert_eq!(l.eval_remaining(), 80 * DAY);
        l.account_eval(50 * DAY, true);
        assert_eq!(l.eval_remaining(), 80 * DAY);
        l.account_eval(55 * DAY, true);
        assert_eq!(l.eval_remaining(), 75 * DAY);
    }

    #[test]
    fn ooc_blocks_only_that_service_and_clears() {
        let mut l = lic();
        l.registered_ok(0, true, reg(0));
        let pgw = "ASR5K-00-PW10GTWY";
        l.authorized(1, true, &answer(1, &[pgw], &[pgw, "ASR5K-00-SW10LIC"]), &[]);
        let p = l.policies(2);
        assert_eq!(p[0], CallPolicy::Block);
        assert_eq!(p[3], CallPolicy::Allow { limit: UNLIMITED });
        assert_eq!(l.authorization_word(2, true).as_str(), "OUT OF COMPLIANCE");
        assert!(
            l.conditions(2, true)
                .contains(&Condition::ServiceOoc { sku: pgw.into() })
        );
        l.authorized(3, true, &answer(3, &[], &[pgw]), &[]);
        assert_eq!(l.policies(4)[0], CallPolicy::Allow { limit: UNLIMITED });
        assert_eq!(l.authorization_word(4, true).as_str(), "AUTHORIZED");
        // 90 days without a renewal: expired, everything blocked.
        assert_eq!(
            l.authorization_word(3 + 90 * DAY, true).as_str(),
            "AUTHORIZATION EXPIRED"
        );
        assert!(l.policies(3 + 90 * DAY).iter().all(|p| *p == CallPolicy::Block));
    }

    #[test]
    fn feature_grace_then_enforcement_by_policy() {
        let mut l = lic();
        l.set_feature(0, "ASR5K-00-EG01RS", true).unwrap();
        l.set_feature(0, "asr5k-00-cs01mpls", true).unwrap();
        assert!(l.set_feature(0, "ASR5K-00-PW10GTWY", true).is_err());
        assert!(l.set_feature(0, "NOPE", true).is_err());
        l.registered_ok(0, true, reg(0));
        let skus = ["ASR5K-00-EG01RS", "ASR5K-00-CS01MPLS"];
        l.authorized(0, true, &answer(0, &skus, &skus), &[]);
        let epdg = l.catalog().service_index("epdg").unwrap();
        let pgw = l.catalog().service_index("pgw").unwrap();
        // In grace: nothing blocked.
        assert_eq!(l.policies(89 * DAY)[epdg], CallPolicy::Allow { limit: UNLIMITED });
        // Renewals keep the grace start.
        l.authorized(30 * DAY, true, &answer(30 * DAY, &skus, &skus), &[]);
        l.authorized(60 * DAY, true, &answer(60 * DAY, &skus, &skus), &[]);
        let p = l.policies(90 * DAY);
        assert_eq!(p[epdg], CallPolicy::Block);
        assert_eq!(
            p[pgw],
            CallPolicy::Allow { limit: UNLIMITED },
            "CS01MPLS is never enforced"
        );
        assert!(
            l.conditions(90 * DAY, true)
                .contains(&Condition::FeatureGraceExpired { sku: skus[0].into() })
        );
        // Turning the feature off lifts the block.
        l.set_feature(0, "ASR5K-00-EG01RS", false).unwrap();
        assert_eq!(l.policies(90 * DAY)[epdg], CallPolicy::Allow { limit: UNLIMITED });
    }

    #[test]
    fn registration_stops_evaluation_and_deregistration_keeps_what_is_left() {
        let mut l = lic();
        l.account_eval(0, true);
        l.account_eval(10 * DAY, true);
        l.registered_ok(10 * DAY, true, reg(10 * DAY));
        l.authorized(10 * DAY, true, &answer(10 * DAY, &[], &[]), &[]);
        l.account_eval(50 * DAY, true);
        assert_eq!(l.eval_remaining(), 80 * DAY);
        l.unregister(50 * DAY, true);
        l.account_eval(51 * DAY, true);
        assert_eq!(l.eval_remaining(), 79 * DAY);
    }

    #[test]
    fn usage_is_ceiling_of_peaks_plus_features() {
        let mut l = lic();
        l.set_feature(0, "ASR5K-00-GN01REC", true).unwrap();
        let u = l.usage(&[15_000, 0, 0, 1, 0, 0, 0]);
        assert_eq!(
            u,
            vec![
                Usage {
                    sku: "ASR5K-00-PW10GTWY".into(),
                    count: 2
                },
                Usage {
                    sku: "ASR5K-00-SW10LIC".into(),
                    count: 1
                },
                Usage {
                    sku: "ASR5K-00-GN01REC".into(),
                    count: 1
                },
            ]
        );
    }

    proptest! {
        /// Evaluation time never grows, whatever the clock and the state do.
        #[test]
        fn evaluation_never_grows(steps in proptest::collection::vec((-100i64..100, any::<bool>(), 0u8..6), 1..80)) {
            let mut l = lic();
            let mut now = 1_000 * DAY;
            let mut remaining = l.eval_remaining();
            for (jump, in_use, op) in steps {
                now += jump * DAY / 3;
                match op {
                    0 => { l.set_enabled(now, in_use, false); }
                    1 => { l.set_enabled(now, in_use, true); }
                    2 => l.registered_ok(now, in_use, reg(now)),
                    3 => l.unregister(now, in_use),
                    4 => { l.expire(now); }
                    _ => l.account_eval(now, in_use),
                }
                let r = l.eval_remaining();
                prop_assert!(r <= remaining);
                remaining = r;
                // Never admit when the evaluation is used up and not authorized.
                if l.state.enabled && !l.authorized_mode() && r == 0 {
                    prop_assert!(l.policies(now).iter().all(|p| *p == CallPolicy::Block));
                }
            }
        }
    }
}
