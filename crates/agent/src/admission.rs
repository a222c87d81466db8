//! Call admission: the hot path a product calls for every new session.
//!
//! Each service has one [`Gate`]: a single `AtomicU64` packing the block flag, the session limit
//! and the current session count, so admitting a call is one `fetch_add` (plus a `fetch_sub` when
//! refused). The licensing logic changes the policy off the hot path with a CAS loop that keeps the
//! count. Peaks (`max_call_count`, the peak since the last usage report) are read with a plain load
//! first and written only when a new peak is reached. Nothing here locks, allocates or does I/O.

use std::sync::atomic::{AtomicU64, Ordering};

const COUNT_BITS: u32 = 32;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const LIMIT_MASK: u64 = (1 << 31) - 1;
const BLOCK_BIT: u64 = 1 << 63;

/// A limit meaning "no limit".
pub const UNLIMITED: u64 = LIMIT_MASK;

/// Admission policy of one service: `Allow` up to a session limit, or `Block` new calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPolicy {
    /// New calls are admitted while fewer than `limit` sessions exist.
    Allow {
        /// Session limit ([`UNLIMITED`] for none).
        limit: u64,
    },
    /// New calls are refused; existing calls stay.
    Block,
}

impl CallPolicy {
    /// `ALLOW` or `BLOCK`, as the statistics print it.
    pub fn word(&self) -> &'static str {
        match self {
            CallPolicy::Allow { .. } => "ALLOW",
            CallPolicy::Block => "BLOCK",
        }
    }
    fn bits(&self) -> u64 {
        match self {
            CallPolicy::Allow { limit } => (*limit).min(LIMIT_MASK) << COUNT_BITS,
            CallPolicy::Block => BLOCK_BIT,
        }
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    /// The service's policy is BLOCK.
    #[error("new calls of this service are blocked by the licensing policy")]
    Policy,
    /// The session limit (evaluation: one counting licence) is reached.
    #[error("session limit reached")]
    Limit,
    /// No such service.
    #[error("unknown service")]
    UnknownService,
}

/// The admission state of one service, on its own cache line.
#[derive(Debug)]
#[repr(align(64))]
pub struct Gate {
    word: AtomicU64,
    max: AtomicU64,
    peak: AtomicU64,
    rejected: AtomicU64,
}

impl Gate {
    fn new(policy: CallPolicy) -> Gate {
        Gate {
            word: AtomicU64::new(policy.bits()),
            max: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    #[inline]
    fn try_admit(&self) -> Result<(), Blocked> {
        let prev = self.word.fetch_add(1, Ordering::AcqRel);
        let count = prev & COUNT_MASK;
        if prev & BLOCK_BIT != 0 || count >= (prev >> COUNT_BITS) & LIMIT_MASK {
            self.word.fetch_sub(1, Ordering::AcqRel);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(if prev & BLOCK_BIT != 0 {
                Blocked::Policy
            } else {
                Blocked::Limit
            });
        }
        let now = count + 1;
        if now > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        if now > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(now, Ordering::Relaxed);
        }
        Ok(())
    }

    #[inline]
    fn release(&self) {
        self.word.fetch_sub(1, Ordering::AcqRel);
    }

    /// Current sessions.
    pub fn count(&self) -> u64 {
        self.word.load(Ordering::Acquire) & COUNT_MASK
    }

    /// Current policy.
    pub fn policy(&self) -> CallPolicy {
        let w = self.word.load(Ordering::Acquire);
        if w & BLOCK_BIT != 0 {
            CallPolicy::Block
        } else {
            CallPolicy::Allow {
                limit: (w >> COUNT_BITS) & LIMIT_MASK,
            }
        }
    }

    fn set_policy(&self, policy: CallPolicy) -> bool {
        let bits = policy.bits();
        let mut cur = self.word.load(Ordering::Acquire);
        loop {
            if cur & !COUNT_MASK == bits {
                return false;
            }
            let new = (cur & COUNT_MASK) | bits;
            match self
                .word
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(seen) => cur = seen,
            }
        }
    }
}

/// The gates of all services of a product, indexed like the catalog's `service` list.
#[derive(Debug)]
pub struct Admission {
    gates: Box<[Gate]>,
}

/// An admitted session; dropping it releases the session.
#[derive(Debug)]
#[must_use = "dropping a ticket releases the session at once"]
pub struct Ticket<'a> {
    gate: &'a Gate,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.gate.release();
    }
}

impl<'a> Ticket<'a> {
    /// Keeps the session without holding a borrow; give it back with [`Admission::release`].
    pub fn detach(self, service: usize) -> Session {
        std::mem::forget(self);
        Session { service }
    }
}

/// A session kept without a borrow of the [`Admission`] (see [`Ticket::detach`]).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a detached session must be released with Admission::release"]
pub struct Session {
    service: usize,
}

impl Admission {
    /// `services` gates, all with `policy`.
    pub fn new(services: usize, policy: CallPolicy) -> Admission {
        Admission {
            gates: (0..services).map(|_| Gate::new(policy)).collect(),
        }
    }

    /// Tries to admit one new session of `service`. One atomic add on success.
    #[inline]
    pub fn try_admit(&self, service: usize) -> Result<Ticket<'_>, Blocked> {
        let gate = self.gates.get(service).ok_or(Blocked::UnknownService)?;
        gate.try_admit()?;
        Ok(Ticket { gate })
    }

    /// Releases a detached session.
    pub fn release(&self, session: Session) {
        if let Some(g) = self.gates.get(session.service) {
            g.release();
        }
    }

    /// The gate of a service.
    pub fn gate(&self, service: usize) -> Option<&Gate> {
        self.gates.get(service)
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.gates.len()
    }

    /// Whether there are no services.
    pub fn is_empty(&self) -> bool {
        self.gates.is_empty()
    }

    /// Sets a service's policy; returns whether it changed. Existing sessions stay.
    pub fn set_policy(&self, service: usize, policy: CallPolicy) -> bool {
        self.gates.get(service).map(|g| g.set_policy(policy)).unwrap_or(false)
    }

    /// Peak sessions since the last call, restarting the peak at the current count.
    pub fn take_peak(&self, service: usize) -> u64 {
        self.gates
            .get(service)
            .map(|g| {
                let cur = g.count();
                g.peak.swap(cur, Ordering::AcqRel).max(cur)
            })
            .unwrap_or(0)
    }

    /// Peak sessions since the last [`Admission::take_peak`], without resetting it.
    pub fn peek_peak(&self, service: usize) -> u64 {
        self.gates
            .get(service)
            .map(|g| g.peak.load(Ordering::Acquire).max(g.count()))
            .unwrap_or(0)
    }

    /// Highest session count seen since the last [`Admission::reset_max`].
    pub fn max_calls(&self, service: usize) -> u64 {
        self.gates
            .get(service)
            .map(|g| g.max.load(Ordering::Acquire))
            .unwrap_or(0)
    }

    /// Restarts `max_call_count` at the current count (on a change of licensing mode).
    pub fn reset_max(&self, service: usize) {
        if let Some(g) = self.gates.get(service) {
            g.max.store(g.count(), Ordering::Release);
        }
    }

    /// Calls refused so far.
    pub fn rejected(&self, service: usize) -> u64 {
        self.gates
            .get(service)
            .map(|g| g.rejected.load(Ordering::Relaxed))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limit_and_block() {
        let a = Admission::new(2, CallPolicy::Allow { limit: 2 });
        let t1 = a.try_admit(0).unwrap();
        let t2 = a.try_admit(0).unwrap();
        assert_eq!(a.try_admit(0).err(), Some(Blocked::Limit));
        assert_eq!(a.gate(0).unwrap().count(), 2);
        drop(t1);
        let s = a.try_admit(0).unwrap().detach(0);
        assert_eq!(a.gate(0).unwrap().count(), 2);
        assert!(a.set_policy(0, CallPolicy::Block));
        assert!(!a.set_policy(0, CallPolicy::Block));
        assert_eq!(a.try_admit(0).err(), Some(Blocked::Policy));
        // Existing calls stay.
        assert_eq!(a.gate(0).unwrap().count(), 2);
        a.release(s);
        drop(t2);
        assert_eq!(a.gate(0).unwrap().count(), 0);
        assert_eq!(a.max_calls(0), 2);
        assert_eq!(a.rejected(0), 2);
        assert_eq!(a.try_admit(7).err(), Some(Blocked::UnknownService));
        // The other service is independent.
        assert!(a.try_admit(1).is_ok());
    }

    #[test]
    fn peak_since_report() {
        let a = Admission::new(1, CallPolicy::Allow { limit: UNLIMITED });
        let v: Vec<_> = (0..5).map(|_| a.try_admit(0).unwrap().detach(0)).collect();
        for s in v.into_iter().take(3) {
            a.release(s);
        }
        assert_eq!(a.take_peak(0), 5);
        assert_eq!(a.take_peak(0), 2);
    }

    #[test]
    fn exact_under_threads() {
        let a = Admission::new(1, CallPolicy::Allow { limit: 1000 });
        let admitted = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        if let Ok(t) = a.try_admit(0) {
                            admitted.fetch_add(1, Ordering::Relaxed);
                            let _kept = t.detach(0);
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.load(Ordering::Relaxed), 1000);
        assert_eq!(a.gate(0).unwrap().count(), 1000);
        assert_eq!(a.max_calls(0), 1000);
    }

    proptest! {
        /// Never admits when blocked or at the limit; the count equals admitted − released and is
        /// never negative.
        #[test]
        fn gate_model(ops in proptest::collection::vec((0u8..4, 0u64..5), 0..200)) {
            let a = Admission::new(1, CallPolicy::Allow { limit: 3 });
            let mut held = Vec::new();
            let mut policy = CallPolicy::Allow { limit: 3 };
            for (op, arg) in ops {
                match op {
                    0 => {
                        let before = held.len() as u64;
                        let r = a.try_admit(0);
                        let allowed = match policy { CallPolicy::Block => false, CallPolicy::Allow { limit } => before < limit };
                        prop_assert_eq!(r.is_ok(), allowed);
                        if let Ok(t) = r { held.push(t.detach(0)); }
                    }
                    1 => { if let Some(s) = held.pop() { a.release(s); } }
                    2 => { policy = CallPolicy::Block; a.set_policy(0, policy); }
                    _ => { policy = CallPolicy::Allow { limit: arg }; a.set_policy(0, policy); }
                }
                prop_assert_eq!(a.gate(0).unwrap().count(), held.len() as u64);
                prop_assert_eq!(a.gate(0).unwrap().policy(), policy);
            }
        }
    }
}
