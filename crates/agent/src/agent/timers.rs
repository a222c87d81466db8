//! The timers: what conversation is due when (renewals, retries, usage reports after a debounce
//! or while out of compliance), and the back-off between failed tries.

use super::{Core, SmartAgent};
use crate::state::Registration;
use crate::transport::TransportError;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    pub async fn tick(&self) {
        let work = self.with_core(|a, core| {
            if let Err(e) = a.settle(core) {
                tracing::error!("cannot save licensing state: {e}");
            }
            a.due_work(core)
        });
        let Some(work) = work else { return };
        let Ok(_comm) = self.inner.comm.try_lock() else { return };
        let result = match work {
            Work::RetryRegister(token) => self.register_locked(&token).await.map(|_| ()),
            Work::RenewId => self.renew_id_locked().await.map(|_| ()),
            Work::Authorize => self.authorize_locked().await.map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!("licensing timer: {e}");
            return;
        }
        // Right after a retried registration (or an ID renewal that found no authorization),
        // authorize at once.
        let needs_authorization = {
            let core = self.lock();
            core.lic.registered().is_some() && core.lic.state.authorization.grant.is_none()
        };
        if needs_authorization && let Err(e) = self.authorize_locked().await {
            tracing::warn!("licensing timer: {e}");
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
