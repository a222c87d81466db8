//! The one clock of smartlic. Everything that asks "what time is it" asks a [`Clock`]: the system
//! clock in production, or [`FileClock`] — an RFC 3339 timestamp held in a file that a test moves
//! forward or back (CONTRACT.md §1). Nothing may assume the clock only moves forward.
//!
//! ```
//! use smartlic_clock::{Clock, FixedClock};
//! let c = FixedClock::new(1_700_000_000);
//! assert_eq!(c.now(), 1_700_000_000);
//! c.set(1_700_000_100);
//! assert_eq!(c.now(), 1_700_000_100);
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// A clock that reads an RFC 3339 timestamp from a file, re-reading it on every call. A missing or unreadable file keeps the last good value (or the
/// system clock before the first good read) and logs a warning once per change of error.
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    cached: AtomicI64,
    state: Mutex<FileClockState>,
}

#[derive(Debug)]
struct FileClockState {
    read_at: Option<Instant>,
    last_error: Option<String>,
}

/// How long a value read from the clock file is reused. Zero: every reader sees the file as it
/// is now, so a manager and a node that share a clock file never disagree after it moves (reading
/// a 25-byte file costs microseconds).
const REREAD_AFTER: Duration = Duration::ZERO;

impl FileClock {
    /// A clock that follows `path`.
    pub fn new(path: impl AsRef<Path>) -> FileClock {
        let c = FileClock {
            path: path.as_ref().to_path_buf(),
            cached: AtomicI64::new(SystemClock.now()),
            state: Mutex::new(FileClockState {
                read_at: None,
                last_error: None,
            }),
        };
        c.refresh();
        c
    }

    fn refresh(&self) {
        let result = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read clock file {}: {e}", self.path.display()))
            .and_then(|text| {
                smartlic_protocol::time::parse_rfc3339(&text).ok_or_else(|| {
                    format!(
                        "clock file {} does not hold an RFC 3339 time: {:?}",
                        self.path.display(),
                        text.trim()
                    )
                })
            });
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        st.read_at = Some(Instant::now());
        match result {
            Ok(t) => {
                self.cached.store(t, Ordering::Release);
                st.last_error = None;
            }
            Err(e) => {
                if st.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!("{e}; keeping the last good time");
                    st.last_error = Some(e);
                }
            }
        }
    }
}

impl Clock for FileClock {
    fn now(&self) -> i64 {
        let stale = {
            let st = match self.state.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            st.read_at.is_none_or(|t| t.elapsed() >= REREAD_AFTER)
        };
        if stale {
            self.refresh();
        }
        self.cached.load(Ordering::Acquire)
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

    #[test]
    fn file_clock_follows_the_file_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, "2026-01-01T00:00:00Z\n").unwrap();
        let c = FileClock::new(&path);
        assert_eq!(
            c.now(),
            smartlic_protocol::time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
        );
        std::fs::write(&path, "2026-04-01T00:00:00Z").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let want = smartlic_protocol::time::parse_rfc3339("2026-04-01T00:00:00Z").unwrap();
        while c.now() != want {
            assert!(Instant::now() < deadline, "clock did not follow the file");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Garbage keeps the last good value.
        std::fs::write(&path, "yesterday").unwrap();
        std::thread::sleep(REREAD_AFTER + Duration::from_millis(20));
        assert_eq!(c.now(), want);
        // Back in time is fine.
        std::fs::write(&path, "2025-01-01T00:00:00Z").unwrap();
        let want = smartlic_protocol::time::parse_rfc3339("2025-01-01T00:00:00Z").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while c.now() != want {
            assert!(Instant::now() < deadline, "clock did not go back");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
