//! The timers: what conversation is due when (renewals, retries, usage reports after a debounce
//! or while out of compliance), the back-off between failed tries, and the jitter of the
//! scheduled renewals.
//!
//! Jitter: a fleet registered in one morning must not renew in one morning 30 days later. Each
//! scheduled renewal (authorization: the manager's renew-at, 30 days; ID certificate: 180 days)
//! is brought forward by an offset of up to [`AUTH_JITTER`] / [`ID_JITTER`], never pushed back,
//! so a clock moved forward by the full interval still finds it due. The offset is drawn from a
//! hash of the UDI and the time of the success that set the schedule, and the result is stored in
//! the existing schedule fields: a restart does not redraw, and the persisted format is unchanged.

use super::{Core, SmartAgent};
use crate::state::Registration;
use crate::transport::TransportError;
use sha2::{Digest, Sha256};
use smartlic_protocol::time::DAY;
use smartlic_protocol::wire::Udi;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Most an authorization renewal comes before the manager's renew-at (30 days after the last
/// success): renewals fall between 18 and 30 days. Chosen with `smartlic bench year`: a fleet
/// registered at once then renews on no day more than about 2 × the mean (docs/performance.md).
pub const AUTH_JITTER: i64 = 12 * DAY;
/// Most an ID certificate renewal comes before its 180 days: between 150 and 180 days.
pub const ID_JITTER: i64 = 30 * DAY;

/// Usage changes are reported once they have been stable this long (debounce).
const REPORT_DEBOUNCE: Duration = Duration::from_millis(1500);
/// While out of compliance, usage is re-reported at least this often (real time).
const OOC_REPORT_EVERY: Duration = Duration::from_secs(60);

enum Work {
    RetryRegister(String),
    RenewId,
    Authorize,
}

fn backoff(step: u32) -> Duration {
    // 2 s doubling to 5 minutes, with ±20 % jitter.
    let base = 2u64.saturating_pow(step.saturating_add(1).min(9)).min(300) as f64;
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_secs_f64(base * jitter)
}

/// The wait before the next try after `e`: the back-off, but never sooner than the manager's
/// Retry-After (capped at an hour) spread by +0-50 % jitter, so that devices refused together
/// during a storm do not all come back in the same second.
fn retry_delay(step: u32, e: &TransportError) -> Duration {
    let b = backoff(step);
    match e {
        TransportError::Busy {
            retry_after: Some(secs),
        } => {
            let asked = (*secs).clamp(1, 3600) as f64 * (1.0 + rand::random::<f64>() * 0.5);
            b.max(Duration::from_secs_f64(asked))
        }
        _ => b,
    }
}

/// When a renewal scheduled at `due` by a success at `last` is actually made: `due` brought
/// forward by an offset drawn from `udi` and `last`, of at most `window` and at most half the
/// interval `due - last`. Never later than `due`, never earlier than `last`.
pub(super) fn jittered(udi: &Udi, last: i64, due: i64, window: i64) -> i64 {
    let span = window.min(due.saturating_sub(last) / 2);
    if span <= 0 {
        return due;
    }
    let mut h = Sha256::new();
    h.update(udi.pid.as_bytes());
    h.update([0]);
    h.update(udi.sn.as_bytes());
    h.update(last.to_be_bytes());
    let d = h.finalize();
    let mut x = [0u8; 8];
    x.copy_from_slice(&d[..8]);
    let offset = u64::from_be_bytes(x) % (span as u64 + 1);
    due - offset as i64
}

/// What one pass of the timers did (for a caller that drives them, e.g. `smartlic bench year`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Registrations retried successfully.
    pub registrations: u32,
    /// ID certificate renewals that succeeded.
    pub id_renewals: u32,
    /// Authorizations (renewals and usage reports) that succeeded.
    pub authorizations: u32,
    /// Conversations that failed (each is retried with back-off).
    pub failures: u32,
}

impl SmartAgent {
    pub(super) fn schedule_retry(core: &mut Core, e: &TransportError) {
        core.retry_at = Some(Instant::now() + retry_delay(core.retry_step, e));
        core.retry_step = core.retry_step.saturating_add(1);
    }

    pub(super) fn reset_retry(core: &mut Core) {
        core.retry_at = None;
        core.retry_step = 0;
    }

    fn due_work(&self, core: &mut Core) -> Option<Work> {
        if core.registering {
            return None;
        }
        let now = self.now();
        let real_now = Instant::now();
        let retry_due = core.retry_at.is_none_or(|t| real_now >= t);
        match &core.lic.state.registration {
            Registration::Failed {
                token, retrying: true, ..
            } if retry_due => {
                return Some(Work::RetryRegister(token.clone()));
            }
            Registration::Registered(r) => {
                if now >= r.next_renewal_at && retry_due {
                    return Some(Work::RenewId);
                }
            }
            _ => return None,
        }
        let auth = &core.lic.state.authorization;
        if core.lic.next_authorization_at().is_some_and(|t| now >= t) && (auth.failures == 0 || retry_due) {
            return Some(Work::Authorize);
        }
        if auth.failures > 0 && core.retry_at.is_some() && retry_due {
            return Some(Work::Authorize);
        }
        // Usage changed: report once it has been stable for a moment.
        let adm = &self.inner.admission;
        let peaks: Vec<u64> = (0..adm.len())
            .map(|i| adm.peek_peak(i).max(core.pending_peaks.get(i).copied().unwrap_or(0)))
            .collect();
        let usage: BTreeMap<String, u64> = core.lic.usage(&peaks).into_iter().map(|u| (u.sku, u.count)).collect();
        if usage != core.lic.state.last_report {
            match core.usage_changed_at {
                None => core.usage_changed_at = Some(real_now),
                Some(t) if real_now.duration_since(t) >= REPORT_DEBOUNCE && retry_due => return Some(Work::Authorize),
                Some(_) => {}
            }
        } else {
            core.usage_changed_at = None;
        }
        let ooc = auth
            .grant
            .as_ref()
            .is_some_and(|g| g.status == smartlic_protocol::wire::Compliance::OutOfCompliance);
        if ooc
            && core
                .last_report_at
                .is_none_or(|t| real_now.duration_since(t) >= OOC_REPORT_EVERY)
            && retry_due
        {
            return Some(Work::Authorize);
        }
        None
    }

    /// One pass of the timers: apply the rules, then do whatever conversation is due.
    pub async fn tick(&self) -> TickReport {
        let mut report = TickReport::default();
        let work = self.with_core(|a, core| {
            if let Err(e) = a.settle(core) {
                tracing::error!("cannot save licensing state: {e}");
            }
            a.due_work(core)
        });
        let Some(work) = work else { return report };
        let Ok(_comm) = self.inner.comm.try_lock() else {
            return report;
        };
        let result = match work {
            Work::RetryRegister(token) => self.register_locked(&token).await.map(|_| report.registrations += 1),
            Work::RenewId => self.renew_id_locked().await.map(|_| report.id_renewals += 1),
            Work::Authorize => self.authorize_locked().await.map(|_| report.authorizations += 1),
        };
        if let Err(e) = result {
            tracing::warn!("licensing timer: {e}");
            report.failures += 1;
            return report;
        }
        // Right after a retried registration (or an ID renewal that found no authorization),
        // authorize at once.
        let needs_authorization = {
            let core = self.lock();
            core.lic.registered().is_some() && core.lic.state.authorization.grant.is_none()
        };
        if needs_authorization {
            match self.authorize_locked().await {
                Ok(_) => report.authorizations += 1,
                Err(e) => {
                    tracing::warn!("licensing timer: {e}");
                    report.failures += 1;
                }
            }
        }
        report
    }

    /// The earliest licensing-clock time at which a scheduled conversation (authorization, ID
    /// renewal, registration retry) is due; `None` when nothing is scheduled (not registered, or
    /// a reservation replaces Call Home). A failed try is also retried sooner in real time.
    pub fn next_timer_at(&self) -> Option<i64> {
        let core = self.lock();
        match &core.lic.state.registration {
            Registration::Failed { retrying: true, at, .. } => Some(*at),
            Registration::Registered(r) => Some(match core.lic.next_authorization_at() {
                Some(a) => a.min(r.next_renewal_at),
                None => r.next_renewal_at,
            }),
            _ => None,
        }
    }

    /// Runs the timers until the task is dropped: a pass every 250 ms, so that a clock moved
    /// forward takes effect within a second.
    pub fn spawn_timers(&self) -> tokio::task::JoinHandle<()> {
        let agent = self.clone();
        tokio::spawn(async move {
            loop {
                agent.tick().await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    }
}

#[cfg(test)]
mod jitter_tests {
    use super::*;
    use proptest::prelude::*;
    use smartlic_protocol::time::{AUTH_RENEW_AFTER, ID_RENEW_AFTER};

    fn udi(sn: &str) -> Udi {
        Udi {
            pid: "ASR5500".into(),
            sn: sn.into(),
        }
    }

    proptest! {
        #[test]
        fn renewals_come_within_the_window_never_later(
            sn in "[A-Z0-9]{1,20}",
            last in 1_500_000_000i64..2_500_000_000,
        ) {
            let u = udi(&sn);
            let auth = jittered(&u, last, last + AUTH_RENEW_AFTER, AUTH_JITTER);
            prop_assert!(auth >= last + 18 * DAY && auth <= last + 30 * DAY, "{auth}");
            let id = jittered(&u, last, last + ID_RENEW_AFTER, ID_JITTER);
            prop_assert!(id >= last + 150 * DAY && id <= last + 180 * DAY, "{id}");
            // Drawn, not random: the same inputs give the same time (a restart does not redraw).
            prop_assert_eq!(auth, jittered(&u, last, last + AUTH_RENEW_AFTER, AUTH_JITTER));
        }

        #[test]
        fn a_short_interval_is_brought_forward_by_at_most_half(
            last in 0i64..1_000_000, gap in -100i64..(4 * DAY),
        ) {
            let due = last + gap;
            let t = jittered(&udi("S"), last, due, AUTH_JITTER);
            prop_assert!(t <= due);
            prop_assert!(gap <= 0 && t == due || t >= last + gap / 2, "{t}");
        }
    }

    #[test]
    fn a_fleet_registered_at_once_is_spread_over_the_window() {
        let last = 1_800_000_000;
        let mut per_day = [0u32; 13];
        for i in 0..12_000 {
            let t = jittered(&udi(&format!("FLEET{i}")), last, last + AUTH_RENEW_AFTER, AUTH_JITTER);
            per_day[((last + AUTH_RENEW_AFTER - t) / DAY) as usize] += 1;
        }
        // 12 days of ~1,000 each (the 13th bucket holds only the exact end of the window).
        for (d, n) in per_day.iter().take(12).enumerate() {
            assert!((850..=1150).contains(n), "day {d}: {n}");
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn busy_with_retry_after_waits_at_least_that_long_with_jitter() {
        let busy = TransportError::Busy { retry_after: Some(30) };
        for _ in 0..50 {
            let d = retry_delay(0, &busy);
            assert!(d >= Duration::from_secs(30) && d <= Duration::from_secs(45), "{d:?}");
        }
        // Without Retry-After (or another failure): the back-off, 2 s ± 20 %.
        for e in [TransportError::Busy { retry_after: None }, TransportError::Server(500)] {
            let d = retry_delay(0, &e);
            assert!(
                d >= Duration::from_millis(1600) && d <= Duration::from_millis(2400),
                "{d:?}"
            );
        }
        // The back-off still applies when it is longer than Retry-After.
        let short = TransportError::Busy { retry_after: Some(1) };
        assert!(retry_delay(9, &short) >= Duration::from_secs(240));
    }
}
