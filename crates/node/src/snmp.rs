//! SNMPv2c notifications of the Smart Agent's licensing events (the seed's traps 1349–1353 and
//! their clears), laid out by `mibs/STARENT-SMARTLIC-MIB.my`, and the bounded history that
//! `show snmp trap history` prints.
//!
//! Encoding and sending is async-snmp's (`Client::send_trap` builds the SNMPv2-Trap PDU with
//! `sysUpTime.0` and `snmpTrapOID.0` first); this module only decides which notification an event
//! is and which objects it carries.

use crate::config::SnmpTarget;
use async_snmp::{Auth, Client, Oid, Value, VarBind};
use smartlic_agent::events::{Condition, LicenseEvent};
use smartlic_protocol::time::format_cisco;
use smartlic_protocol::{Catalog, Entitlement};
use std::collections::VecDeque;
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// `enterprises.8164`, the StarOS enterprise arc.
pub const STARENT: [u32; 7] = [1, 3, 6, 1, 4, 1, 8164];
/// `starentTraps`: set notification N is `1.3.6.1.4.1.8164.2.N` (docs/interface.md §4).
pub const STARENT_TRAPS: [u32; 8] = [1, 3, 6, 1, 4, 1, 8164, 2];
/// `starSmartLicMIB` (this project's module arc).
pub const SMARTLIC_MIB: [u32; 8] = [1, 3, 6, 1, 4, 1, 8164, 90];
/// `starSmartLicNotifications`: clear notification of trap N is `…8164.90.0.N`.
pub const SMARTLIC_NOTIFICATIONS: [u32; 9] = [1, 3, 6, 1, 4, 1, 8164, 90, 0];
/// `starSmartLicObjects`: the varbind objects, `…8164.90.1.x` (sent with instance `.0`).
pub const SMARTLIC_OBJECTS: [u32; 9] = [1, 3, 6, 1, 4, 1, 8164, 90, 1];

/// Traps kept for `show snmp trap history`.
pub const HISTORY: usize = 500;
/// Longest string put in a DisplayString varbind (the MIB says SIZE (0..255)).
const MAX_TEXT: usize = 255;
/// How long one send to one target may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);

/// `starSmartLicEntitlementKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntitlementKind {
    /// The product as a whole.
    Product = 1,
    /// A counting service licence.
    Service = 2,
    /// An on/off feature licence.
    Feature = 3,
}

/// `starSmartLicState`: the new state a notification reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapState {
    /// `outOfCompliance(1)`.
    OutOfCompliance = 1,
    /// `inCompliance(2)`.
    InCompliance = 2,
    /// `evalMode(3)`.
    EvalMode = 3,
    /// `evalModeEnded(4)`.
    EvalModeEnded = 4,
    /// `evalExpired(5)`.
    EvalExpired = 5,
    /// `evalExpiryCleared(6)`.
    EvalExpiryCleared = 6,
    /// `connectionFailed(7)`.
    ConnectionFailed = 7,
    /// `connectionRestored(8)`.
    ConnectionRestored = 8,
    /// `graceExpired(9)`.
    GraceExpired = 9,
    /// `graceExpiryCleared(10)`.
    GraceExpiryCleared = 10,
    /// `authorizationExpired(11)`.
    AuthorizationExpired = 11,
    /// `authorized(12)`.
    Authorized = 12,
    /// `registrationExpired(13)`.
    RegistrationExpired = 13,
    /// `registrationExpiryCleared(14)`.
    RegistrationExpiryCleared = 14,
    /// `reservationInstalled(15)`.
    ReservationInstalled = 15,
    /// `reservationReturned(16)`.
    ReservationReturned = 16,
}

impl TrapState {
    /// The MIB's enumeration label.
    pub fn label(self) -> &'static str {
        match self {
            TrapState::OutOfCompliance => "outOfCompliance",
            TrapState::InCompliance => "inCompliance",
            TrapState::EvalMode => "evalMode",
            TrapState::EvalModeEnded => "evalModeEnded",
            TrapState::EvalExpired => "evalExpired",
            TrapState::EvalExpiryCleared => "evalExpiryCleared",
            TrapState::ConnectionFailed => "connectionFailed",
            TrapState::ConnectionRestored => "connectionRestored",
            TrapState::GraceExpired => "graceExpired",
            TrapState::GraceExpiryCleared => "graceExpiryCleared",
            TrapState::AuthorizationExpired => "authorizationExpired",
            TrapState::Authorized => "authorized",
            TrapState::RegistrationExpired => "registrationExpired",
            TrapState::RegistrationExpiryCleared => "registrationExpiryCleared",
            TrapState::ReservationInstalled => "reservationInstalled",
            TrapState::ReservationReturned => "reservationReturned",
        }
    }
}

/// Which notification an event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapKind {
    /// The StarOS trap number (1349–1353), or this module's number for the expiry notifications.
    pub number: u32,
    /// The MIB name of the notification.
    pub name: &'static str,
    /// `snmpTrapOID.0`.
    pub oid: Vec<u32>,
    /// The new state.
    pub state: TrapState,
}

fn oid_of(base: &[u32], n: u32) -> Vec<u32> {
    let mut v = base.to_vec();
    v.push(n);
    v
}

/// Maps a condition transition to its notification. Every transition has one: the seed's five
/// pairs, plus authorization and registration expiry (this project's addition, under the module's
/// own arc, so that an operator hears that calls are blocked).
pub fn trap_kind(condition: &Condition, set: bool) -> TrapKind {
    let (number, set_name, clear_name, set_state, clear_state) = match condition {
        Condition::ServiceOoc { .. } => (
            1349,
            "starSmartLicenseServiceOOC",
            "starSmartLicenseServiceOOClear",
            TrapState::OutOfCompliance,
            TrapState::InCompliance,
        ),
        Condition::EvalMode => (
            1350,
            "starSmartLicenseEvalMode",
            "starSmartLicenseEvalModeClear",
            TrapState::EvalMode,
            TrapState::EvalModeEnded,
        ),
        Condition::EvalExpired => (
            1351,
            "starSmartLicenseEvalModeExpire",
            "starSmartLicenseEvalModeExpireClear",
            TrapState::EvalExpired,
            TrapState::EvalExpiryCleared,
        ),
        Condition::ManagerConnectionFailed => (
            1352,
            "starSmartLicenseCSSMConntectionFail",
            "starSmartLicenseCSSMConnectionFailClear",
            TrapState::ConnectionFailed,
            TrapState::ConnectionRestored,
        ),
        Condition::FeatureGraceExpired { .. } => (
            1353,
            "starSmartLicenseServiceEvalExpiry",
            "starSmartLicenseServiceEvalExpiryClear",
            TrapState::GraceExpired,
            TrapState::GraceExpiryCleared,
        ),
        // This project's own pairs: set and clear are numbered apart, both under the module's arc.
        Condition::AuthorizationExpired => {
            return if set {
                own_notification(1, "starSmartLicAuthorizationExpired", TrapState::AuthorizationExpired)
            } else {
                own_notification(2, "starSmartLicAuthorizationExpiredClear", TrapState::Authorized)
            };
        }
        Condition::RegistrationExpired => {
            return if set {
                own_notification(3, "starSmartLicRegistrationExpired", TrapState::RegistrationExpired)
            } else {
                own_notification(
                    4,
                    "starSmartLicRegistrationExpiredClear",
                    TrapState::RegistrationExpiryCleared,
                )
            };
        }
        Condition::Reserved => {
            return if set {
                own_notification(5, "starSmartLicReservationInstalled", TrapState::ReservationInstalled)
            } else {
                own_notification(6, "starSmartLicReservationReturned", TrapState::ReservationReturned)
            };
        }
    };
    if set {
        TrapKind {
            number,
            name: set_name,
            oid: oid_of(&STARENT_TRAPS, number),
            state: set_state,
        }
    } else {
        own_notification(number, clear_name, clear_state)
    }
}

/// A notification under this module's own arc (`SMARTLIC_NOTIFICATIONS.number`).
fn own_notification(number: u32, name: &'static str, state: TrapState) -> TrapKind {
    TrapKind {
        number,
        name,
        oid: oid_of(&SMARTLIC_NOTIFICATIONS, number),
        state,
    }
}

/// The product a node is, for product-wide notifications.
#[derive(Debug, Clone)]
pub struct Product {
    /// Platform (`ASR5500`, …).
    pub platform: String,
    /// Software tag.
    pub software_tag: String,
}

/// A notification ready to send: what it is and the objects it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// Agent clock time of the transition.
    pub at: i64,
    /// Which notification.
    pub kind: TrapKind,
    /// `starSmartLicEntitlementKind`.
    pub entitlement_kind: EntitlementKind,
    /// `starSmartLicEntitlementName`.
    pub name: String,
    /// `starSmartLicSku`.
    pub sku: String,
    /// `starSmartLicEntitlementTag`.
    pub tag: String,
    /// `starSmartLicDetail`.
    pub detail: String,
}

/// Builds the notification of one licensing event.
pub fn trap_for(event: &LicenseEvent, catalog: &Catalog, product: &Product) -> Trap {
    let kind = trap_kind(&event.condition, event.set);
    let sku = match &event.condition {
        Condition::ServiceOoc { sku } | Condition::FeatureGraceExpired { sku } => Some(sku.as_str()),
        _ => None,
    };
    let (entitlement_kind, name, sku, tag) = match sku {
        None => (
            EntitlementKind::Product,
            product.platform.clone(),
            String::new(),
            product.software_tag.clone(),
        ),
        Some(sku) => match catalog.entitlement(sku) {
            Some(Entitlement::Service(s)) => (
                EntitlementKind::Service,
                s.service.clone(),
                sku.to_string(),
                s.tag.clone(),
            ),
            Some(Entitlement::Feature(f)) => (
                EntitlementKind::Feature,
                f.description.clone(),
                sku.to_string(),
                f.tag.clone(),
            ),
            None => (
                EntitlementKind::Service,
                sku.to_string(),
                sku.to_string(),
                String::new(),
            ),
        },
    };
    Trap {
        at: event.at,
        kind,
        entitlement_kind,
        name,
        sku,
        tag,
        detail: event.detail.clone(),
    }
}

fn text(s: &str) -> Value {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Value::from(&s[..end])
}

fn object(n: u32) -> Oid {
    Oid::new(SMARTLIC_OBJECTS.iter().copied().chain([n, 0]))
}

impl Trap {
    /// `snmpTrapOID.0`.
    pub fn trap_oid(&self) -> Oid {
        Oid::from_slice(&self.kind.oid)
    }

    /// The objects after `sysUpTime.0` and `snmpTrapOID.0`, in the MIB's OBJECTS order.
    pub fn varbinds(&self) -> Vec<VarBind> {
        vec![
            VarBind::new(object(1), Value::Integer(self.entitlement_kind as i32)),
            VarBind::new(object(2), text(&self.name)),
            VarBind::new(object(3), text(&self.sku)),
            VarBind::new(object(4), text(&self.tag)),
            VarBind::new(object(5), Value::Integer(self.kind.state as i32)),
            VarBind::new(object(6), text(&self.detail)),
        ]
    }

    /// One line for the history: what it concerns and why.
    pub fn summary(&self) -> String {
        let what = match self.entitlement_kind {
            EntitlementKind::Product => String::new(),
            EntitlementKind::Service => format!("service {} ({}) ", self.name, self.sku),
            EntitlementKind::Feature => format!("feature {} ({}) ", self.sku, self.name),
        };
        format!("{what}state {}: {}", self.kind.state.label(), self.detail)
    }
}

/// Sends one notification to one target (SNMPv2c trap, fire and forget).
pub async fn send_to(target: &SnmpTarget, trap: &Trap, uptime: u32) -> Result<(), String> {
    let ip: IpAddr = target
        .ip
        .parse()
        .map_err(|_| format!("{}: bad address {}", target.name, target.ip))?;
    let addr = SocketAddr::new(ip, target.port);
    let client = Client::builder(addr, Auth::v2c(target.community.as_str()))
        .send_timeout(SEND_TIMEOUT)
        .construction_timeout(SEND_TIMEOUT)
        .connect()
        .await
        .map_err(|e| format!("{}: {e}", target.name))?;
    client
        .send_trap(&trap.trap_oid(), uptime, trap.varbinds())
        .await
        .map_err(|e| format!("{}: {e}", target.name))
}

/// One notification as `show snmp trap history` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapRecord {
    /// The notification.
    pub trap: Trap,
    /// Targets it was sent to.
    pub sent: Vec<String>,
    /// Targets it could not be sent to, with why.
    pub failed: Vec<String>,
}

/// The bounded trap history.
#[derive(Debug, Default)]
pub struct TrapLog {
    entries: VecDeque<TrapRecord>,
    /// Traps generated since the node started.
    pub total: u64,
    /// Events lost because the event stream lagged (should stay 0).
    pub lost_events: u64,
}

impl TrapLog {
    /// Adds a record, dropping the oldest beyond [`HISTORY`].
    pub fn push(&mut self, rec: TrapRecord) {
        if self.entries.len() >= HISTORY {
            self.entries.pop_front();
        }
        self.entries.push_back(rec);
        self.total += 1;
    }

    /// Records, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &TrapRecord> {
        self.entries.iter()
    }

    /// `show snmp trap history`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.entries.is_empty() {
            out.push_str("No traps sent\n");
            return out;
        }
        let _ = writeln!(
            out,
            "There are {} historical trap records ({} traps since start, at most {HISTORY} kept)",
            self.entries.len(),
            self.total
        );
        if self.lost_events > 0 {
            let _ = writeln!(
                out,
                "Licensing events lost before a trap could be made: {}",
                self.lost_events
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{:<25} {:>6}  {:<40} Details", "Timestamp", "Trap", "Name");
        for r in &self.entries {
            let targets = if r.sent.is_empty() && r.failed.is_empty() {
                "no trap targets configured".to_string()
            } else {
                let mut t = format!(
                    "sent to {}",
                    if r.sent.is_empty() {
                        "none".into()
                    } else {
                        r.sent.join(",")
                    }
                );
                if !r.failed.is_empty() {
                    let _ = write!(t, "; failed: {}", r.failed.join("; "));
                }
                t
            };
            let _ = writeln!(
                out,
                "{:<25} {:>6}  {:<40} {} [{targets}]",
                format_cisco(r.trap.at),
                r.trap.kind.number,
                r.trap.kind.name,
                r.trap.summary()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        Product {
            platform: "ASR5500".into(),
            software_tag: "regid.2017-02.com.cisco.ASR5500,1.0_x".into(),
        }
    }

    #[test]
    fn set_traps_use_the_contract_oids_and_clears_are_distinct() {
        let conds = [
            Condition::ServiceOoc {
                sku: "ASR5K-00-PW10GTWY".into(),
            },
            Condition::EvalMode,
            Condition::EvalExpired,
            Condition::ManagerConnectionFailed,
            Condition::FeatureGraceExpired {
                sku: "ASR5K-00-EG01RS".into(),
            },
            Condition::AuthorizationExpired,
            Condition::RegistrationExpired,
            Condition::Reserved,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in conds.iter().enumerate() {
            let set = trap_kind(c, true);
            let clear = trap_kind(c, false);
            if i < 5 {
                let n = 1349 + i as u32;
                assert_eq!(set.number, n);
                assert_eq!(set.oid, vec![1, 3, 6, 1, 4, 1, 8164, 2, n]);
                assert_eq!(clear.oid, vec![1, 3, 6, 1, 4, 1, 8164, 90, 0, n]);
            }
            assert!(seen.insert(set.oid.clone()) && seen.insert(clear.oid.clone()), "{c:?}");
            // Install and return are a pair of their own, not a condition and its clear.
            assert!(
                clear.name.ends_with("Clear") || *c == Condition::Reserved,
                "{}",
                clear.name
            );
        }
    }

    #[test]
    fn varbinds_name_the_service_its_tag_and_state() {
        let cat = Catalog::staros();
        let ev = LicenseEvent {
            at: 1_798_761_600,
            condition: Condition::ServiceOoc {
                sku: "ASR5K-00-PW10GTWY".into(),
            },
            set: true,
            detail: "ASR5K-00-PW10GTWY (service pgw) is out of compliance".into(),
        };
        let t = trap_for(&ev, &cat, &product());
        assert_eq!(t.entitlement_kind, EntitlementKind::Service);
        assert_eq!(t.name, "pgw");
        assert!(t.tag.contains("ASR5K-00-PW10GTWY"), "{}", t.tag);
        let vb = t.varbinds();
        assert_eq!(vb.len(), 6);
        assert_eq!(vb[0].oid.arcs(), &[1, 3, 6, 1, 4, 1, 8164, 90, 1, 1, 0]);
        assert_eq!(vb[1].value.as_str(), Some("pgw"));
        assert_eq!(vb[4].value.as_i32(), Some(TrapState::OutOfCompliance as i32));

        let ev = LicenseEvent {
            at: 1,
            condition: Condition::EvalMode,
            set: false,
            detail: "x".repeat(400),
        };
        let t = trap_for(&ev, &cat, &product());
        assert_eq!(t.entitlement_kind, EntitlementKind::Product);
        assert_eq!(t.name, "ASR5500");
        assert_eq!(t.varbinds()[5].value.as_str().map(str::len), Some(MAX_TEXT));
    }

    #[test]
    fn history_is_bounded() {
        let mut log = TrapLog::default();
        assert_eq!(log.render(), "No traps sent\n");
        let t = trap_for(
            &LicenseEvent {
                at: 0,
                condition: Condition::EvalMode,
                set: true,
                detail: String::new(),
            },
            &Catalog::staros(),
            &product(),
        );
        for _ in 0..HISTORY + 7 {
            log.push(TrapRecord {
                trap: t.clone(),
                sent: vec!["t1".into()],
                failed: vec![],
            });
        }
        assert_eq!(log.entries().count(), HISTORY);
        assert_eq!(log.total, HISTORY as u64 + 7);
        assert!(log.render().contains("starSmartLicenseEvalMode"));
    }

    #[tokio::test]
    async fn a_trap_decodes_as_snmpv2c_with_its_oid_and_objects() {
        use async_snmp::notification::{Notification, NotificationReceiver};
        let rx = match NotificationReceiver::bind("127.0.0.1:0").await {
            Ok(r) => r,
            Err(e) => panic!("cannot bind a receiver: {e}"),
        };
        let addr = rx.local_addr();
        let target = SnmpTarget {
            name: "t1".into(),
            ip: "127.0.0.1".into(),
            port: addr.port(),
            community: "private".into(),
        };
        let ev = LicenseEvent {
            at: 5,
            condition: Condition::FeatureGraceExpired {
                sku: "ASR5K-00-EG01RS".into(),
            },
            set: true,
            detail: "grace period expired".into(),
        };
        let t = trap_for(&ev, &Catalog::staros(), &product());
        send_to(&target, &t, 4242)
            .await
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        let Ok(Ok(got)) = got else { panic!("no trap received") };
        match got.notification {
            Notification::TrapV2c {
                community,
                uptime,
                trap_oid,
                varbinds,
                ..
            } => {
                assert_eq!(community.as_bytes(), b"private");
                assert_eq!(uptime, 4242);
                assert_eq!(trap_oid.arcs(), &[1, 3, 6, 1, 4, 1, 8164, 2, 1353]);
                assert_eq!(varbinds.len(), 6);
                assert_eq!(varbinds[0].value.as_i32(), Some(EntitlementKind::Feature as i32));
                assert_eq!(varbinds[2].value.as_str(), Some("ASR5K-00-EG01RS"));
                assert_eq!(varbinds[4].value.as_i32(), Some(TrapState::GraceExpired as i32));
            }
            other => panic!("not a v2c trap: {other:?}"),
        }
        assert!(
            send_to(
                &SnmpTarget {
                    ip: "not-an-ip".into(),
                    ..target
                },
                &t,
                1
            )
            .await
            .is_err()
        );
    }
}
