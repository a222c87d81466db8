//! What the `show license …` commands print, as pure functions of an agent snapshot. The layout
//! follows the screens of classic IOS-XE Smart Licensing (section order, field names, aligned
//! tables, `Reservation Info`) with the status
//! words of docs/interface.md §3.
//!
//! One module per screen: [`status`](fn@status) (with the sections `summary` and `all` share),
//! [`summary`](fn@summary), [`usage`](fn@usage), [`udi`](fn@udi), [`all`](fn@all), the legacy key
//! ([`information`], [`key_history`]), [`eval_period`], [`statistics`](fn@statistics),
//! [`smart_tags`], the enforcement views, [`trustpool`](fn@trustpool) and
//! [`tech_support`](fn@tech_support); `compliance` holds what the licensing state means per
//! entitlement and `table` the column layout. The insta snapshots of every view in eight
//! licensing states are in `src/snapshots/`, made by the tests at the end of this file.

mod all;
mod compliance;
mod enforcement;
mod eval;
mod legacy;
mod reservation;
mod statistics;
mod status;
mod summary;
mod table;
mod tags;
mod tech_support;
mod trustpool;
mod udi;
mod usage;

pub use all::all;
pub use enforcement::{enforcement_policy, enforcement_status};
pub use eval::eval_period;
pub use legacy::{information, key_history};
pub use reservation::{reservation, reservation_line};
pub use statistics::statistics;
pub use status::{enabled_line, status};
pub use summary::summary;
pub use tags::smart_tags;
pub use tech_support::{TechSupport, tech_support};
pub use trustpool::trustpool;
pub use udi::udi;
pub use usage::usage;

#[cfg(test)]
mod snapshot_tests {
    //! Every `show license …` view in the states a unit test can build without a network. The
    //! snapshots (`src/snapshots/`) were read against captures of classic IOS-XE Smart Licensing screens.

    use super::*;
    use smartlic_agent::Mode;
    use smartlic_agent::admission::CallPolicy;
    use smartlic_agent::agent::ServiceView;
    use smartlic_agent::reservation::{InstalledReservation, PendingRequest};
    use smartlic_agent::state::{Attempt, Registration};
    use smartlic_agent::state::{
        Authorization, FeatureGrace, Grant, InstalledKey, KeyHistoryEntry, PersistedState, Registered, ServiceStats,
    };
    use smartlic_agent::{AuthorizationStatus, RegistrationStatus, Snapshot};
    use smartlic_protocol::Catalog;
    use smartlic_protocol::legacy::LegacyKey;
    use smartlic_protocol::reservation::{ReservationAuthorization, ReservationKind};
    use smartlic_protocol::time::DAY;
    use smartlic_protocol::wire::Compliance;
    use smartlic_protocol::wire::{EntitlementStatus, Udi, Usage};

    /// Dec 01 12:00:00 2026 UTC.
    const NOW: i64 = 1_796_126_400;
    const EVAL: i64 = 90 * DAY;

    fn cat() -> Catalog {
        Catalog::staros()
    }

    fn services(policy: CallPolicy) -> Vec<ServiceView> {
        (0..cat().service.len())
            .map(|index| ServiceView {
                index,
                policy,
                cur_call_count: 0,
                peak: 0,
                rejected: 0,
            })
            .collect()
    }

    /// A node that was never enabled.
    fn base() -> Snapshot {
        let cat = cat();
        Snapshot {
            now: NOW,
            state: PersistedState::default(),
            registration_word: RegistrationStatus::Unregistered,
            authorization_word: AuthorizationStatus::NoLicensesInUse,
            eval_remaining: EVAL,
            eval_total: EVAL,
            in_use: false,
            mode: Mode::Evaluation,
            services: services(CallPolicy::Block),
            usage: Vec::new(),
            udi: Udi {
                pid: "ASR5500".into(),
                sn: "FOX1001".into(),
            },
            hostname: "pgw1".into(),
            software_tag: cat.software[0].tag.clone(),
            next_authorization_at: None,
            ha_udis: Vec::new(),
        }
    }

    fn stats(max_call_count: u64, last_lic_count: u64) -> ServiceStats {
        ServiceStats {
            max_call_count,
            last_lic_count,
            max_lic_count: last_lic_count,
            policy_change_block_calls: 1,
            policy_change_allow_calls: 1,
            report_success: 3,
            report_fail: 0,
        }
    }

    /// pgw with `calls` sessions (its peak too) and its statistics in `mode`: `calls` at most,
    /// `licences` last reported.
    fn pgw_calls(s: &mut Snapshot, mode: impl std::fmt::Display, calls: u64, licences: u64) {
        s.services[0].cur_call_count = calls;
        s.services[0].peak = calls;
        s.state
            .stats
            .entry(mode.to_string())
            .or_default()
            .insert("pgw".into(), stats(calls, licences));
    }

    /// Enabled, unregistered, 30 days of evaluation used, 15000 pgw calls tried (10000 admitted).
    fn eval_mode() -> Snapshot {
        let mut s = base();
        s.state.enabled = true;
        s.state.total_enabled = 1;
        s.state.url = Some("https://licensing.example.net:8443".into());
        s.state.eval.used_secs = 30 * DAY;
        s.state.eval.accounted_to = Some(NOW);
        s.eval_remaining = EVAL - 30 * DAY;
        s.authorization_word = AuthorizationStatus::EvalMode;
        s.in_use = true;
        s.services = services(CallPolicy::Allow { limit: 10_000 });
        pgw_calls(&mut s, Mode::Evaluation, 10_000, 1);
        s.services[0].rejected = 5_000;
        s.services[3].cur_call_count = 3;
        s.services[3].peak = 3;
        s.usage = vec![
            Usage {
                sku: cat().service[0].sku.clone(),
                count: 1,
            },
            Usage {
                sku: cat().service[3].sku.clone(),
                count: 1,
            },
        ];
        s
    }

    /// The evaluation is used up; the state file had failed its integrity check.
    fn eval_expired() -> Snapshot {
        let mut s = eval_mode();
        s.state.eval.used_secs = EVAL;
        s.state.eval.accounted_to = None;
        s.state.eval.expired_at = Some(NOW - 2 * DAY);
        s.eval_remaining = 0;
        s.authorization_word = AuthorizationStatus::EvalExpired;
        s.services = services(CallPolicy::Block);
        s.services[0].rejected = 12;
        s.state.integrity_alert = Some(
            "licensing state failed its integrity check (licensing.json); the evaluation period is used up".into(),
        );
        s
    }

    fn registration() -> Registered {
        Registered {
            instance_id: "5f0c7a4e-8d5b-4a43-9d0e-0c6f3f4f1a01".into(),
            smart_account: "Acme".into(),
            virtual_account: "DEFAULT".into(),
            export_controlled: false,
            initial_registration_at: NOW - 10 * DAY,
            id_certificate: String::new(),
            id_issued_at: NOW - 10 * DAY,
            id_expires_at: NOW + 355 * DAY,
            last_renewal: None,
            next_renewal_at: NOW + 170 * DAY,
            device_key: String::new(),
        }
    }

    /// Registered and authorized: 2 pgw licences and Session Recovery in use.
    fn registered() -> Snapshot {
        let cat = cat();
        let mut s = eval_mode();
        s.state.eval.accounted_to = None;
        s.state.registration = Registration::Registered(registration());
        s.registration_word = RegistrationStatus::Registered;
        let pgw = cat.service[0].sku.clone();
        let rec = "ASR5K-00-GN01REC".to_string();
        s.state.features.insert(rec.clone());
        s.state.authorization = Authorization {
            grant: Some(Grant {
                status: Compliance::Authorized,
                entitlements: vec![
                    EntitlementStatus {
                        sku: pgw.clone(),
                        count: 2,
                        status: Compliance::Authorized,
                    },
                    EntitlementStatus {
                        sku: rec.clone(),
                        count: 1,
                        status: Compliance::Authorized,
                    },
                ],
                at: NOW - DAY,
                expires_at: NOW + 89 * DAY,
                renew_at: NOW + 29 * DAY,
            }),
            last_attempt: Some(Attempt {
                at: NOW - DAY,
                ok: true,
                reason: String::new(),
            }),
            next_attempt_at: Some(NOW + 29 * DAY),
            failures: 0,
            deadline: Some(NOW + 89 * DAY),
        };
        s.next_authorization_at = Some(NOW + 29 * DAY);
        s.authorization_word = AuthorizationStatus::Authorized;
        s.mode = Mode::Registered;
        s.services = services(CallPolicy::Allow {
            limit: smartlic_agent::admission::UNLIMITED,
        });
        pgw_calls(&mut s, Mode::Registered, 15_000, 2);
        s.usage = vec![Usage { sku: pgw, count: 2 }, Usage { sku: rec, count: 1 }];
        s
    }

    /// pgw out of compliance in the virtual account: its new calls are blocked.
    fn out_of_compliance() -> Snapshot {
        let mut s = registered();
        if let Some(g) = s.state.authorization.grant.as_mut() {
            g.status = Compliance::OutOfCompliance;
            g.entitlements[0].status = Compliance::OutOfCompliance;
        }
        s.authorization_word = AuthorizationStatus::OutOfCompliance;
        s.services[0].policy = CallPolicy::Block;
        s.services[0].rejected = 7;
        s
    }

    /// Two features out of compliance: ePDG (enforced) in grace, VoLTE (enforced) past it.
    fn feature_grace() -> Snapshot {
        let mut s = registered();
        let eg = "ASR5K-00-EG01RS".to_string();
        let vle = "ASR5K-00-EP01VLE".to_string();
        s.state.features.insert(eg.clone());
        s.state.features.insert(vle.clone());
        s.state
            .feature_grace
            .insert(eg.clone(), FeatureGrace { since: NOW - 30 * DAY });
        s.state
            .feature_grace
            .insert(vle.clone(), FeatureGrace { since: NOW - 91 * DAY });
        if let Some(g) = s.state.authorization.grant.as_mut() {
            g.status = Compliance::OutOfCompliance;
            for sku in [&eg, &vle] {
                g.entitlements.push(EntitlementStatus {
                    sku: sku.clone(),
                    count: 1,
                    status: Compliance::OutOfCompliance,
                });
            }
        }
        s.authorization_word = AuthorizationStatus::OutOfCompliance;
        s.services[0].policy = CallPolicy::Block;
        s.services[0].rejected = 4;
        s.services[1].policy = CallPolicy::Block;
        s.usage.push(Usage { sku: eg, count: 1 });
        s.usage.push(Usage { sku: vle, count: 1 });
        s
    }

    /// No successful authorization for 90 days; the last attempt failed.
    fn authorization_expired() -> Snapshot {
        let mut s = registered();
        s.state.authorization.last_attempt = Some(Attempt {
            at: NOW - 3600,
            ok: false,
            reason: "cannot reach the license manager".into(),
        });
        s.state.authorization.failures = 12;
        s.state.authorization.deadline = Some(NOW - DAY);
        s.state.authorization.next_attempt_at = Some(NOW + 3600);
        s.next_authorization_at = Some(NOW + 3600);
        s.authorization_word = AuthorizationStatus::AuthorizationExpired;
        s.services = services(CallPolicy::Block);
        s
    }

    /// Smart Licensing off, a legacy key licensing 50000 pgw sessions and Session Recovery.
    fn legacy_key() -> Snapshot {
        let mut s = base();
        let key = LegacyKey {
            id: "LK-0001".into(),
            serial: "FOX1001".into(),
            platform: "ASR5500".into(),
            sessions: [("pgw".to_string(), 50_000)].into(),
            features: vec!["ASR5K-00-GN01REC".into()],
            expires_at: Some(NOW + 365 * DAY),
            issued_at: NOW - 20 * DAY,
        };
        s.state.legacy_key = Some(InstalledKey {
            text: "LK1.example".into(),
            key,
            installed_at: NOW - 19 * DAY,
        });
        s.state.legacy_history.push(KeyHistoryEntry {
            at: NOW - 19 * DAY,
            action: "installed".into(),
            key_id: "LK-0001".into(),
            detail: "pgw 50000, ASR5K-00-GN01REC".into(),
        });
        s.state.features.insert("ASR5K-00-GN01REC".into());
        s.services = services(CallPolicy::Block);
        s.services[0].policy = CallPolicy::Allow { limit: 50_000 };
        s.services[0].cur_call_count = 120;
        s
    }

    /// Reservation enabled, a request pending (evaluation as in `eval_mode`).
    fn reservation_pending() -> Snapshot {
        let mut s = eval_mode();
        s.state.reservation.enabled = true;
        s.state.reservation.pending = Some(PendingRequest {
            code: "RQ1.example".into(),
            key_seed: String::new(),
            created_at: NOW - 3600,
        });
        s
    }

    /// An SLR of 2 pgw licences and Session Recovery, installed and updated once; 15000 pgw
    /// calls admitted of 20000.
    fn reserved_slr() -> Snapshot {
        let cat = cat();
        let mut s = eval_mode();
        s.state.eval.accounted_to = None;
        s.state.reservation.enabled = true;
        let pgw = cat.service[0].sku.clone();
        let rec = "ASR5K-00-GN01REC".to_string();
        s.state.features.insert(rec.clone());
        s.state.reservation.installed = Some(InstalledReservation {
            code: "AU1.example".into(),
            auth: ReservationAuthorization {
                id: "7d3c9e1a-0b2f-4c61-9a57-3e8f2d1c0b4a".into(),
                seq: 2,
                request: "00".repeat(16),
                udi: "PID:ASR5500,SN:FOX1001".into(),
                kind: ReservationKind::Specific,
                licenses: [(pgw.clone(), 2), (rec.clone(), 1)].into(),
                expires_at: Some(NOW + 365 * DAY),
                issued_at: NOW - 2 * DAY,
                account: "Acme".into(),
                va: "DEFAULT".into(),
            },
            installed_at: NOW - DAY,
            key_seed: String::new(),
            confirmation: Some("CF1.example".into()),
        });
        s.registration_word = RegistrationStatus::ReservedSpecific;
        s.authorization_word = AuthorizationStatus::AuthorizedReserved;
        s.mode = Mode::Registered;
        s.services = services(CallPolicy::Block);
        s.services[0].policy = CallPolicy::Allow { limit: 20_000 };
        pgw_calls(&mut s, Mode::Registered, 15_000, 0);
        s.usage = vec![Usage { sku: pgw, count: 2 }, Usage { sku: rec, count: 1 }];
        s
    }

    /// The universal licence reserved (PLR), never ending.
    fn reserved_plr() -> Snapshot {
        let mut s = reserved_slr();
        if let Some(i) = s.state.reservation.installed.as_mut() {
            i.auth.kind = ReservationKind::Universal;
            i.auth.licenses.clear();
            i.auth.expires_at = None;
            i.auth.seq = 1;
            i.confirmation = None;
        }
        s.registration_word = RegistrationStatus::ReservedUniversal;
        s.services = services(CallPolicy::Allow {
            limit: smartlic_agent::admission::UNLIMITED,
        });
        pgw_calls(&mut s, Mode::Registered, 15_000, 0);
        s
    }

    fn states() -> Vec<(&'static str, Snapshot)> {
        vec![
            ("unregistered", base()),
            ("eval_mode", eval_mode()),
            ("eval_expired", eval_expired()),
            ("registered", registered()),
            ("out_of_compliance", out_of_compliance()),
            ("feature_grace", feature_grace()),
            ("authorization_expired", authorization_expired()),
            ("legacy_key", legacy_key()),
            ("reservation_pending", reservation_pending()),
            ("reserved_slr", reserved_slr()),
            ("reserved_plr", reserved_plr()),
        ]
    }

    #[test]
    fn views_in_every_state() {
        let cat = cat();
        for (name, s) in states() {
            let views = [
                ("status", status(&s)),
                ("summary", summary(&s, &cat)),
                ("usage", usage(&s, &cat)),
                ("all", all(&s, &cat)),
                ("statistics", statistics(&s, &cat)),
                ("eval_period", eval_period(&s)),
                (
                    "enforcement_status",
                    enforcement_status(&s, &cat, true, true, true, true),
                ),
                ("information", information(&s, &cat)),
                ("history", key_history(&s)),
                ("reservation", reservation(&s)),
            ];
            for (view, text) in views {
                insta::assert_snapshot!(format!("{name}__{view}"), text);
            }
        }
    }

    #[test]
    fn catalog_views() {
        let cat = cat();
        let s = base();
        insta::assert_snapshot!("smart_tags", smart_tags(&s, &cat, true, true));
        insta::assert_snapshot!("enforcement_policy", enforcement_policy(&cat));
    }

    #[test]
    fn contract_words_stay() {
        let cat = cat();
        for (name, s) in states() {
            let st = status(&s);
            assert!(st.lines().any(|l| l == enabled_line(&s)), "{name}");
            assert!(
                st.contains(&format!("  Status: {}\n", s.registration_word)),
                "{name}: {st}"
            );
            assert!(st.contains(&format!("  Status: {}", s.authorization_word)), "{name}");
            let a = all(&s, &cat);
            assert!(a.contains(&format!("  Status: {}", s.authorization_word)), "{name}");
            assert!(
                a.contains(&format!("{}\n{}\n", enabled_line(&s), reservation_line(&s))),
                "{name}"
            );
            let reserved = if s.state.reservation.enabled {
                "ENABLED"
            } else {
                "DISABLED"
            };
            assert!(
                a.contains(&format!(
                    "Reservation Info\n================\nLicense reservation: {reserved}\n"
                )),
                "{name}"
            );
        }
    }
}
