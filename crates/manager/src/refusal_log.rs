//! How refused device requests reach the event log without letting anyone grow it at will.
//!
//! A refusal that nobody authenticated (a bad signature under a known instance id, a replay, an
//! unknown or revoked token) costs its sender nothing, so each one cannot be an event of its own:
//! 200 bad requests would add 200 rows to an account's log. Refusals are grouped by a key (what
//! was refused, for which instance or token, why); the first of a key is logged at once, the
//! following ones within [`WINDOW`] are only counted, and the next one logged after the window
//! says how many were folded into it. The table of keys is bounded ([`MAX_KEYS`]): when it is
//! full, keys whose window has passed are dropped, and a refusal of a new key is counted as
//! folded (never logged) until room comes back, so a flood of distinct keys cannot grow it.
//!
//! Each manager keeps its own table (several managers on one database may each log one event per
//! key and window: bounded all the same).

use std::collections::HashMap;
use std::sync::Mutex;

/// Refusals of one key within this many seconds fold into one event.
pub(crate) const WINDOW: i64 = 600;
/// Most keys held at once.
pub(crate) const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// When the last logged refusal of the key was (manager clock).
    logged_at: i64,
    /// Refusals folded since then.
    folded: u64,
}

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `folded` earlier refusals of the same key were not logged.
    Log {
        /// Refusals folded into this one.
        folded: u64,
    },
    /// Count it only.
    Fold,
}

/// The refusal table of one manager.
#[derive(Debug, Default)]
pub struct RefusalLog {
    slots: Mutex<HashMap<String, Slot>>,
    /// Refusals folded because the table was full.
    overflow: std::sync::atomic::AtomicU64,
}

impl RefusalLog {
    /// Decides about one refusal of `key` at `now`.
    pub fn admit(&self, key: &str, now: i64) -> Verdict {
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(slot) = slots.get_mut(key) {
            // The clock may move back: a window "in the future" has passed too.
            if (0..WINDOW).contains(&now.saturating_sub(slot.logged_at)) {
                slot.folded = slot.folded.saturating_add(1);
                return Verdict::Fold;
            }
            let folded = slot.folded;
            *slot = Slot {
                logged_at: now,
                folded: 0,
            };
            return Verdict::Log { folded };
        }
        if slots.len() >= MAX_KEYS {
            slots.retain(|_, s| (0..WINDOW).contains(&now.saturating_sub(s.logged_at)));
            if slots.len() >= MAX_KEYS {
                self.overflow.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Verdict::Fold;
            }
        }
        slots.insert(
            key.to_string(),
            Slot {
                logged_at: now,
                folded: 0,
            },
        );
        Verdict::Log { folded: 0 }
    }

    /// Refusals folded because the table was full.
    pub fn overflow(&self) -> u64 {
        self.overflow.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_key_and_window_saying_how_many_were_folded() {
        let log = RefusalLog::default();
        assert_eq!(log.admit("a", 1000), Verdict::Log { folded: 0 });
        for t in 1001..1200 {
            assert_eq!(log.admit("a", t), Verdict::Fold);
        }
        assert_eq!(log.admit("b", 1200), Verdict::Log { folded: 0 });
        assert_eq!(log.admit("a", 1000 + WINDOW), Verdict::Log { folded: 199 });
        assert_eq!(log.admit("a", 1001 + WINDOW), Verdict::Fold);
        // The clock moved back an hour: the window is over, not endless.
        assert_eq!(log.admit("a", 1000 + WINDOW - 3600), Verdict::Log { folded: 1 });
    }

    #[test]
    fn the_table_is_bounded() {
        let log = RefusalLog::default();
        for i in 0..MAX_KEYS {
            assert_eq!(log.admit(&format!("k{i}"), 0), Verdict::Log { folded: 0 });
        }
        assert_eq!(log.admit("one too many", 1), Verdict::Fold);
        assert_eq!(log.overflow(), 1);
        // Once the windows pass, room comes back.
        assert_eq!(log.admit("later", WINDOW), Verdict::Log { folded: 0 });
        assert!(log.slots.lock().unwrap().len() <= 1);
    }
}
