use super::*;
use crate::admission::{CallPolicy, UNLIMITED};
use crate::events::Condition;
use crate::licensing::{AuthorizationStatus, RegistrationStatus};
use crate::state::PersistedState;
use proptest::prelude::*;
use smartlic_protocol::Catalog;
use smartlic_protocol::time::DAY;
use std::collections::BTreeMap;

const UDI: &str = "PID:ASR5500,SN:FOX1001";
const PGW: &str = "ASR5K-00-PW10GTWY";

fn lic() -> Licensing {
    let mut l = Licensing::new(PersistedState::default(), Catalog::staros());
    l.set_enabled(0, false, true);
    l.set_reservation_enabled(true).unwrap();
    l
}

fn pending(code: &str) -> PendingRequest {
    PendingRequest {
        code: code.into(),
        key_seed: "seed".into(),
        created_at: 0,
    }
}

fn auth(code: &str, id: &str, seq: u32, kind: ReservationKind, expires_at: Option<i64>) -> ReservationAuthorization {
    ReservationAuthorization {
        id: id.into(),
        seq,
        request: request_id(code),
        udi: UDI.into(),
        kind,
        licenses: match kind {
            ReservationKind::Specific => BTreeMap::from([(PGW.to_string(), 2)]),
            ReservationKind::Universal => BTreeMap::new(),
        },
        expires_at,
        issued_at: 0,
        account: "Acme".into(),
        va: "DEFAULT".into(),
    }
}

/// Requests with `code` and installs the answer `a`.
fn install(l: &mut Licensing, now: i64, code: &str, a: ReservationAuthorization) -> Result<InstallKind, String> {
    if l.state.reservation.pending.is_none() && l.reservation().is_none() {
        l.reservation_requested(pending(code));
    }
    let kind = l.check_authorization(&a, UDI, now)?;
    l.install_reservation(now, true, "AU1.x", a, kind, None);
    Ok(kind)
}

/// A licensing state with reservation `r1` (of request `RQ1.a`) installed at time 0.
fn reserved(kind: ReservationKind, expires_at: Option<i64>) -> Licensing {
    let mut l = lic();
    install(&mut l, 0, "RQ1.a", auth("RQ1.a", "r1", 1, kind, expires_at)).unwrap();
    l
}

#[test]
fn an_slr_admits_its_reserved_sessions_and_blocks_the_rest() {
    let l = reserved(ReservationKind::Specific, None);
    let p = l.policies(0);
    let pgw = l.catalog().service_index("pgw").unwrap();
    assert_eq!(p[pgw], CallPolicy::Allow { limit: 20_000 });
    assert_eq!(p.iter().filter(|p| **p == CallPolicy::Block).count(), p.len() - 1);
    assert_eq!(l.registration_word(), RegistrationStatus::ReservedSpecific);
    assert_eq!(l.authorization_word(0, true).as_str(), "AUTHORIZED - RESERVED");
    assert!(l.conditions(0, true).contains(&Condition::Reserved));
    assert_eq!(l.next_authorization_at(), None, "no Call Home timer while reserved");
}

#[test]
fn a_plr_admits_everything_and_never_ends() {
    let l = reserved(ReservationKind::Universal, None);
    let later = 5000 * DAY;
    assert!(
        l.policies(later)
            .iter()
            .all(|p| *p == CallPolicy::Allow { limit: UNLIMITED })
    );
    assert_eq!(
        l.registration_word().as_str(),
        "REGISTERED - UNIVERSAL LICENSE RESERVED"
    );
    assert!(l.feature_reserved("ASR5K-00-EG01RS"));
}

#[test]
fn an_ended_slr_blocks_everything() {
    let l = reserved(ReservationKind::Specific, Some(10 * DAY));
    assert_eq!(
        l.authorization_word(10 * DAY, true),
        AuthorizationStatus::AuthorizationExpired
    );
    assert!(l.policies(10 * DAY).iter().all(|p| *p == CallPolicy::Block));
    assert!(l.conditions(10 * DAY, true).contains(&Condition::AuthorizationExpired));
}

#[test]
fn an_unreserved_enforced_feature_blocks_its_services_under_slr() {
    let mut l = lic();
    l.set_feature(0, "ASR5K-00-EG01RS", true).unwrap();
    let mut a = auth("RQ1.a", "r1", 1, ReservationKind::Specific, None);
    a.licenses.insert("ASR5K-00-EP10GTWY".into(), 1);
    install(&mut l, 0, "RQ1.a", a).unwrap();
    let epdg = l.catalog().service_index("epdg").unwrap();
    assert_eq!(l.policies(0)[epdg], CallPolicy::Block);
}

#[test]
fn refusals_change_nothing() {
    let mut l = lic();
    l.reservation_requested(pending("RQ1.a"));
    let before = l.state.clone();
    let mut other = auth("RQ1.a", "r1", 1, ReservationKind::Specific, None);
    other.udi = "PID:ASR5500,SN:OTHER".into();
    assert!(
        l.check_authorization(&other, UDI, 0)
            .unwrap_err()
            .contains("not this product")
    );
    let wrong = auth("RQ1.b", "r1", 1, ReservationKind::Specific, None);
    assert!(
        l.check_authorization(&wrong, UDI, 0)
            .unwrap_err()
            .contains("does not answer")
    );
    let ended = auth("RQ1.a", "r1", 1, ReservationKind::Specific, Some(5));
    assert!(l.check_authorization(&ended, UDI, 5).is_err());
    assert_eq!(l.state, before);
}

#[test]
fn updates_are_accepted_once_and_returned_ids_never_again() {
    let mut l = lic();
    let first = auth("RQ1.a", "r1", 1, ReservationKind::Specific, None);
    assert_eq!(install(&mut l, 0, "RQ1.a", first.clone()), Ok(InstallKind::New));
    assert!(
        l.check_authorization(&first, UDI, 1)
            .unwrap_err()
            .contains("installed already")
    );
    let second = auth("RQ1.a", "r1", 2, ReservationKind::Universal, None);
    assert_eq!(install(&mut l, 1, "RQ1.a", second.clone()), Ok(InstallKind::Update));
    assert!(l.check_authorization(&second, UDI, 2).is_err());
    assert!(l.return_reservation(3, true).is_some());
    assert_eq!(l.registration_word(), RegistrationStatus::Unregistered);
    let third = auth("RQ1.a", "r1", 3, ReservationKind::Specific, None);
    l.reservation_requested(pending("RQ1.a"));
    assert!(l.check_authorization(&third, UDI, 4).unwrap_err().contains("returned"));
    assert!(l.return_reservation(4, true).is_none());
}

#[test]
fn reservation_needs_smart_licensing_and_blocks_disabling_while_installed() {
    let mut l = Licensing::new(PersistedState::default(), Catalog::staros());
    assert_eq!(
        l.set_reservation_enabled(true).unwrap_err(),
        "Smart Licensing is disabled"
    );
    let mut l = reserved(ReservationKind::Specific, None);
    assert_eq!(l.set_reservation_enabled(false).unwrap_err(), RETURN_FIRST);
    assert_eq!(l.request_refusal().as_deref(), Some(RETURN_FIRST));
}

#[test]
fn old_state_files_load_without_reservation() {
    let mut v = serde_json::to_value(PersistedState::default()).unwrap();
    v.as_object_mut().unwrap().remove("reservation");
    let s: PersistedState = serde_json::from_value(v).unwrap();
    assert_eq!(s.reservation, ReservationState::default());
}

proptest! {
    /// Random requests, installs, updates, returns and clock jumps: the evaluation never grows
    /// (and stands still while reserved), a reserved node is always in a consistent state, and
    /// nothing installed once is installed again.
    #[test]
    fn reservation_sequences_stay_consistent(steps in proptest::collection::vec((0u8..6, -50i64..400, any::<bool>()), 1..60)) {
        let mut l = lic();
        let mut now = 1_000 * DAY;
        l.account_eval(now, true);
        let mut remaining = l.eval_remaining();
        let mut n = 0u32;
        let mut installed: Vec<(String, u32)> = Vec::new();
        for (op, jump, plr) in steps {
            let was_reserved = l.reservation().is_some();
            now += jump * DAY / 4;
            n += 1;
            let kind = if plr { ReservationKind::Universal } else { ReservationKind::Specific };
            match op {
                0 => if l.request_refusal().is_none() && l.state.reservation.pending.is_none() {
                    l.reservation_requested(pending(&format!("RQ1.{n}")));
                },
                1 => if let Some(p) = l.state.reservation.pending.clone() {
                    let a = auth(&p.code, &format!("r{n}"), 1, kind, if plr { None } else { Some(now + 100 * DAY) });
                    if let Ok(k) = l.check_authorization(&a, UDI, now) {
                        prop_assert!(!installed.contains(&(a.id.clone(), a.seq)));
                        installed.push((a.id.clone(), a.seq));
                        l.install_reservation(now, true, "AU1.x", a, k, None);
                    }
                },
                2 => if let Some(cur) = l.reservation().cloned() {
                    let mut a = cur.auth.clone();
                    a.seq += 1;
                    a.kind = kind;
                    let k = l.check_authorization(&a, UDI, now);
                    if let Ok(k) = k {
                        prop_assert_eq!(k, InstallKind::Update);
                        installed.push((a.id.clone(), a.seq));
                        l.install_reservation(now, true, "AU1.x", a, k, None);
                    }
                },
                3 => { l.return_reservation(now, true); },
                4 => { l.cancel_reservation_request(); },
                _ => l.account_eval(now, true),
            }
            l.account_eval(now, true);
            let r = l.eval_remaining();
            prop_assert!(r <= remaining, "evaluation grew");
            if was_reserved && l.reservation().is_some() {
                prop_assert_eq!(r, remaining, "evaluation ran while reserved");
            }
            if l.reservation().is_some() {
                prop_assert!(l.state.reservation.pending.is_none());
                prop_assert!(l.next_authorization_at().is_none());
                prop_assert!(l.conditions(now, true).contains(&Condition::Reserved));
                let expired = l.reservation_expired(now);
                prop_assert_eq!(expired, l.authorization_word(now, true) == AuthorizationStatus::AuthorizationExpired);
                if expired {
                    prop_assert!(l.policies(now).iter().all(|p| *p == CallPolicy::Block));
                }
            } else {
                prop_assert!(matches!(l.registration_word(), RegistrationStatus::Unregistered));
            }
            remaining = r;
        }
    }
}
