//! The one clock of smartlic. Everything that asks "what time is it" asks a [`Clock`]: the system
//! clock in production, or [`FileClock`] — an RFC 3339 timestamp held in a file that a test moves
//! forward or back (docs/interface.md §1). Nothing may assume the clock only moves forward.
//!
//! ```
//! use smartlic_clock::{Clock, FixedClock};
//! let c = FixedClock::new(1_700_000_000);
//! assert_eq!(c.now(), 1_700_000_000);
//! c.set(1_700_000_100);
//! assert_eq!(c.now(), 1_700_000_100);
//! ```

#![warn(missing_docs, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of "now", in whole seconds since the Unix epoch (UTC).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> i64;
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that reads an RFC 3339 timestamp from a file, afresh on every call: a manager and a
/// node that share a clock file never disagree after it moves (reading a 25-byte file costs
/// microseconds). A missing or unreadable file keeps the last good value (or the system clock
/// before the first good read) and logs a warning once per change of error.
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    last_good: AtomicI64,
    last_error: Mutex<Option<String>>,
}

impl FileClock {
    /// A clock that follows `path`.
    pub fn new(path: impl AsRef<Path>) -> FileClock {
        FileClock {
            path: path.as_ref().to_path_buf(),
            last_good: AtomicI64::new(SystemClock.now()),
            last_error: Mutex::new(None),
        }
    }

    fn read(&self) -> Result<i64, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read clock file {}: {e}", self.path.display()))?;
        smartlic_protocol::time::parse_rfc3339(&text).ok_or_else(|| {
            format!(
                "clock file {} does not hold an RFC 3339 time: {:?}",
                self.path.display(),
                text.trim()
            )
        })
    }
}

impl Clock for FileClock {
    fn now(&self) -> i64 {
        let result = self.read();
        let mut last_error = match self.last_error.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match result {
            Ok(t) => {
                self.last_good.store(t, Ordering::Release);
                *last_error = None;
                t
            }
            Err(e) => {
                if last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!("{e}; keeping the last good time");
                    *last_error = Some(e);
                }
                self.last_good.load(Ordering::Acquire)
            }
        }
    }
}

/// A clock set by hand, for tests.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock standing at `t`.
    pub fn new(t: i64) -> FixedClock {
        FixedClock(AtomicI64::new(t))
    }
    /// Moves it to `t` (forward or back).
    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
    /// Moves it by `secs` (may be negative).
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The clock a long-running subcommand uses: the file clock with `--clock-file`, else the system clock.
pub fn from_option(path: Option<&Path>) -> SharedClock {
    match path {
        Some(p) => Arc::new(FileClock::new(p)),
        None => Arc::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        smartlic_protocol::time::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn file_clock_reads_the_file_at_every_call_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, "2026-01-01T00:00:00Z\n").unwrap();
        let c = FileClock::new(&path);
        assert_eq!(c.now(), at("2026-01-01T00:00:00Z"));
        std::fs::write(&path, "2026-04-01T00:00:00Z").unwrap();
        assert_eq!(c.now(), at("2026-04-01T00:00:00Z"), "no cached value is served");
        std::fs::write(&path, "2025-01-01T00:00:00Z").unwrap();
        assert_eq!(c.now(), at("2025-01-01T00:00:00Z"), "back in time is fine");
    }

    #[test]
    fn a_bad_or_missing_file_keeps_the_last_good_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, "2026-04-01T00:00:00Z").unwrap();
        let c = FileClock::new(&path);
        assert_eq!(c.now(), at("2026-04-01T00:00:00Z"));
        std::fs::write(&path, "yesterday").unwrap();
        assert_eq!(c.now(), at("2026-04-01T00:00:00Z"));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(c.now(), at("2026-04-01T00:00:00Z"));
        std::fs::write(&path, "2026-05-01T00:00:00Z").unwrap();
        assert_eq!(c.now(), at("2026-05-01T00:00:00Z"));
    }

    #[test]
    fn before_a_first_good_read_it_is_the_system_clock() {
        let dir = tempfile::tempdir().unwrap();
        let before = SystemClock.now();
        let c = FileClock::new(dir.path().join("missing"));
        let t = c.now();
        assert!(t >= before && t <= SystemClock.now());
    }
}
