//! Licence reservation (SLR: specific licences, PLR: the universal licence) for a node that never
//! reaches a license manager: what the agent keeps of it, and the rules over it as pure methods
//! of [`Licensing`] (no I/O, no clock, no randomness; the agent supplies codes and keys).
//!
//! The codes themselves (`RQ1`/`AU1`/`RT1`/`CF1`) are `smartlic_protocol::reservation`'s. A node
//! holds at most one pending request or one installed authorization; it remembers every
//! (id, seq) it installed and every id it returned, so that no code is ever installed twice.

use crate::licensing::Licensing;
use serde::{Deserialize, Serialize};
use smartlic_protocol::reservation::{ReservationAuthorization, ReservationKind, request_id};

/// Most installed (id, seq) pairs and returned ids remembered (oldest dropped first).
pub const RESERVATION_MEMORY: usize = 256;

/// Refusal of `register` and of disabling while a reservation is installed.
pub const RETURN_FIRST: &str = "a licence reservation is installed; return it first";

/// Everything the agent keeps about reservation (part of the MAC'd persisted state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ReservationState {
    /// `license smart reservation` is configured.
    pub enabled: bool,
    /// The request made and not yet answered.
    pub pending: Option<PendingRequest>,
    /// The authorization in force.
    pub installed: Option<InstalledReservation>,
    /// Every (id, seq) ever installed, oldest first.
    pub history: Vec<InstalledId>,
    /// Ids of the reservations returned, oldest first.
    pub returned: Vec<String>,
}

/// A request made by `license smart reservation request local`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// The request code (`RQ1…`) as printed.
    pub code: String,
    /// Seed of the reservation signing key (base64url), made for this request.
    pub key_seed: String,
    /// When it was made (clock).
    pub created_at: i64,
}

/// An installed authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledReservation {
    /// The authorization code (`AU1…`) as installed.
    pub code: String,
    /// What it says (checked against the trust pool when installed).
    pub auth: ReservationAuthorization,
    /// When it (or its last update) was installed (clock).
    pub installed_at: i64,
    /// Seed of the reservation signing key of the request it answers (base64url).
    pub key_seed: String,
    /// The confirmation code of the last update installed (`CF1…`), if any.
    pub confirmation: Option<String>,
}

/// One authorization installed once: never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledId {
    /// Reservation id.
    pub id: String,
    /// Sequence number.
    pub seq: u32,
}

/// How an accepted authorization applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallKind {
    /// It answers the pending request.
    New,
    /// It updates the installed reservation (same id, higher seq).
    Update,
}

fn push_bounded<T>(list: &mut Vec<T>, item: T) {
    if list.len() >= RESERVATION_MEMORY {
        list.remove(0);
    }
    list.push(item);
}

impl Licensing {
    /// The installed reservation, if any.
    pub fn reservation(&self) -> Option<&InstalledReservation> {
        self.state.reservation.installed.as_ref()
    }

    /// Whether an installed SLR's end date has passed at `now`.
    pub fn reservation_expired(&self, now: i64) -> bool {
        self.reservation().is_some_and(|r| r.auth.expired(now))
    }

    /// The reserved licences of `sku` (0 when none or no SLR is installed).
    pub fn reserved_count(&self, sku: &str) -> u32 {
        self.reservation()
            .and_then(|r| {
                r.auth
                    .licenses
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(sku))
                    .map(|(_, n)| *n)
            })
            .unwrap_or(0)
    }

    /// Whether an on/off feature is licensed by the installed reservation (PLR: all).
    pub fn feature_reserved(&self, sku: &str) -> bool {
        match self.reservation().map(|r| r.auth.kind) {
            Some(ReservationKind::Universal) => true,
            Some(ReservationKind::Specific) => self.reserved_count(sku) > 0,
            None => false,
        }
    }

    /// `[no] license smart reservation`. Enabling needs Smart Licensing on; disabling is refused
    /// while a reservation is installed and drops a pending request.
    pub fn set_reservation_enabled(&mut self, on: bool) -> Result<(), String> {
        let r = &mut self.state.reservation;
        if on {
            if !self.state.enabled {
                return Err("Smart Licensing is disabled".into());
            }
            r.enabled = true;
        } else {
            if r.installed.is_some() {
                return Err(RETURN_FIRST.into());
            }
            r.enabled = false;
            r.pending = None;
        }
        Ok(())
    }

    /// Why a reservation request cannot be made now (`None`: it can).
    pub fn request_refusal(&self) -> Option<String> {
        if !self.state.enabled {
            return Some("Smart Licensing is disabled".into());
        }
        if !self.state.reservation.enabled {
            return Some("licence reservation is not enabled (config: license smart reservation)".into());
        }
        if self.reservation().is_some() {
            return Some(RETURN_FIRST.into());
        }
        if !matches!(self.state.registration, crate::state::Registration::Unregistered) {
            return Some("this product is registered to a license manager; deregister first".into());
        }
        None
    }

    /// Records a new pending request (replacing none: the caller reuses a pending one).
    pub fn reservation_requested(&mut self, pending: PendingRequest) {
        self.state.reservation.pending = Some(pending);
    }

    /// `license smart reservation cancel`: false when nothing was pending.
    pub fn cancel_reservation_request(&mut self) -> bool {
        self.state.reservation.pending.take().is_some()
    }

    /// Checks an authorization (its signature already verified) against this node: its UDI, the
    /// pending request or the installed reservation, and what was installed or returned before.
    pub fn check_authorization(
        &self,
        auth: &ReservationAuthorization,
        udi: &str,
        now: i64,
    ) -> Result<InstallKind, String> {
        let r = &self.state.reservation;
        if !self.state.enabled {
            return Err("Smart Licensing is disabled".into());
        }
        if !r.enabled {
            return Err("licence reservation is not enabled (config: license smart reservation)".into());
        }
        if auth.udi != udi {
            return Err(format!(
                "the authorization code is for {}, not this product ({udi})",
                auth.udi
            ));
        }
        if r.returned.contains(&auth.id) {
            return Err(format!(
                "reservation {} was returned; its codes cannot be installed again",
                auth.id
            ));
        }
        if r.history.iter().any(|h| h.id == auth.id && h.seq == auth.seq) {
            return Err(format!(
                "this authorization code (reservation {}, authorization {}) was installed already",
                auth.id, auth.seq
            ));
        }
        if auth.expired(now) {
            return Err(format!("reservation {} has already ended", auth.id));
        }
        if let Some(cur) = &r.installed {
            if cur.auth.id == auth.id && auth.seq > cur.auth.seq {
                return Ok(InstallKind::Update);
            }
            if cur.auth.id == auth.id {
                return Err(format!(
                    "authorization {} is older than the installed one ({})",
                    auth.seq, cur.auth.seq
                ));
            }
            return Err(format!(
                "the authorization code is for reservation {}, not the installed reservation {}",
                auth.id, cur.auth.id
            ));
        }
        match &r.pending {
            Some(p) if request_id(&p.code) == auth.request => Ok(InstallKind::New),
            Some(_) => Err("the authorization code does not answer the pending reservation request".into()),
            None => Err("no reservation request is pending".into()),
        }
    }

    /// Installs an authorization that [`check_authorization`](Self::check_authorization) accepted
    /// as `kind`. The evaluation accounting stops (it does not run while reserved).
    pub fn install_reservation(
        &mut self,
        now: i64,
        in_use: bool,
        code: &str,
        auth: ReservationAuthorization,
        kind: InstallKind,
        confirmation: Option<String>,
    ) {
        self.account_eval(now, in_use);
        let r = &mut self.state.reservation;
        let key_seed = match kind {
            InstallKind::New => r.pending.take().map(|p| p.key_seed),
            InstallKind::Update => r.installed.as_ref().map(|i| i.key_seed.clone()),
        }
        .unwrap_or_default();
        push_bounded(
            &mut r.history,
            InstalledId {
                id: auth.id.clone(),
                seq: auth.seq,
            },
        );
        r.installed = Some(InstalledReservation {
            code: code.trim().to_string(),
            auth,
            installed_at: now,
            key_seed,
            confirmation,
        });
        self.account_eval(now, in_use);
    }

    /// `license smart reservation return local`: drops the installed reservation (its id is
    /// never installed again) and returns it; the node is unregistered again with the
    /// evaluation time it had.
    pub fn return_reservation(&mut self, now: i64, in_use: bool) -> Option<InstalledReservation> {
        self.account_eval(now, in_use);
        let r = &mut self.state.reservation;
        let gone = r.installed.take()?;
        push_bounded(&mut r.returned, gone.auth.id.clone());
        r.pending = None;
        self.account_eval(now, in_use);
        Some(gone)
    }
}

#[cfg(test)]
mod tests;
