//! When to sample and transfer on a clock that may jump, and the samples waiting per file.

use super::files::{file_name, write_new_file};
use super::sample::{Sample, render_file};
use crate::config::{BulkFile, Bulkstats};
use smartlic_protocol::time::format_cisco;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Samples kept per file while they wait for a transfer (about 10 days at the default 15-minute
/// sample interval); beyond it the oldest are dropped and counted.
pub const MAX_PENDING: usize = 1000;

/// Counts crossings of interval boundaries on a clock that may jump either way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Boundary {
    anchor: Option<(u32, i64)>,
}

impl Boundary {
    /// Whether a boundary of `minutes` was crossed since the last call (see the module doc).
    pub fn crossed(&mut self, minutes: u32, now: i64) -> bool {
        let secs = i64::from(minutes.max(1)) * 60;
        let slot = now.div_euclid(secs);
        match self.anchor {
            Some((m, prev)) if m == minutes => {
                self.anchor = Some((minutes, slot));
                slot > prev
            }
            _ => {
                self.anchor = Some((minutes, slot));
                false
            }
        }
    }

    /// The next boundary after the last call, if known.
    pub fn next(&self) -> Option<i64> {
        self.anchor
            .map(|(m, slot)| (slot + 1).saturating_mul(i64::from(m.max(1)) * 60))
    }
}

/// Run-time state of one bulkstats file.
#[derive(Debug, Default)]
pub struct FileState {
    /// Samples waiting for a transfer, oldest first.
    pub pending: VecDeque<Arc<Sample>>,
    /// Samples dropped because more than [`MAX_PENDING`] waited.
    pub dropped: u64,
    /// Files written.
    pub files_written: u64,
    /// The last file written.
    pub last_file: Option<PathBuf>,
    /// When (agent clock) the last file was written.
    pub last_transfer_at: Option<i64>,
    /// Why the last transfer failed, if it did.
    pub last_error: Option<String>,
}

impl FileState {
    /// Queues a sample, dropping the oldest beyond [`MAX_PENDING`].
    pub fn push(&mut self, sample: Arc<Sample>) {
        while self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(sample);
    }
}

/// Run-time state of bulk statistics (in memory: samples not yet written are lost on a restart).
#[derive(Debug, Default)]
pub struct BulkState {
    sample_boundary: Boundary,
    transfer_boundary: Boundary,
    /// Samples taken since start.
    pub samples_taken: u64,
    /// Time of the last sample.
    pub last_sample_at: Option<i64>,
    /// Time of the last transfer (scheduled or forced).
    pub last_transfer_at: Option<i64>,
    /// Per file number.
    pub files: BTreeMap<u32, FileState>,
}

/// What one transfer of one file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// A file was written with this many samples.
    Written {
        /// File number.
        file: u32,
        /// The file.
        path: PathBuf,
        /// Samples in it.
        samples: usize,
    },
    /// Nothing was waiting.
    Nothing {
        /// File number.
        file: u32,
    },
    /// The receiver is unavailable; the samples are kept.
    Failed {
        /// File number.
        file: u32,
        /// Why.
        reason: String,
        /// Samples kept.
        kept: usize,
    },
}

fn active(f: &BulkFile) -> bool {
    !f.schemas.is_empty()
}

impl BulkState {
    /// Follows the clock: samples at each sample boundary crossed, transfers at each transfer
    /// boundary crossed (sample first, so a transfer includes the sample of the same boundary).
    pub fn tick(
        &mut self,
        cfg: &Bulkstats,
        now: i64,
        hostname: &str,
        sample: impl FnOnce() -> Sample,
    ) -> Vec<Transfer> {
        let sample_due = self.sample_boundary.crossed(cfg.sample_interval, now);
        let transfer_due = self.transfer_boundary.crossed(cfg.transfer_interval, now);
        if sample_due {
            self.record(cfg, sample());
        }
        if transfer_due {
            self.transfer(cfg, now, hostname)
        } else {
            Vec::new()
        }
    }

    /// Adds a sample to every file that has a schema.
    pub fn record(&mut self, cfg: &Bulkstats, sample: Sample) {
        self.files.retain(|n, _| cfg.files.contains_key(n));
        if !cfg.files.values().any(active) {
            return;
        }
        self.samples_taken += 1;
        self.last_sample_at = Some(sample.at);
        let sample = Arc::new(sample);
        for (n, f) in &cfg.files {
            if active(f) {
                self.files.entry(*n).or_default().push(sample.clone());
            }
        }
    }

    /// Whether any file has samples waiting.
    pub fn has_pending(&self) -> bool {
        self.files.values().any(|f| !f.pending.is_empty())
    }

    /// Writes the waiting samples of every file into its receiver directory.
    pub fn transfer(&mut self, cfg: &Bulkstats, now: i64, hostname: &str) -> Vec<Transfer> {
        self.last_transfer_at = Some(now);
        let mut out = Vec::new();
        for (n, f) in &cfg.files {
            let Some(st) = self.files.get_mut(n) else {
                if active(f) {
                    out.push(Transfer::Nothing { file: *n });
                }
                continue;
            };
            if st.pending.is_empty() {
                out.push(Transfer::Nothing { file: *n });
                continue;
            }
            let samples: Vec<Arc<Sample>> = st.pending.iter().cloned().collect();
            let result = match &f.receiver_dir {
                None => Err("no receiver configured (receiver local-directory DIR)".to_string()),
                Some(dir) => {
                    let body = render_file(f, &samples);
                    write_new_file(Path::new(dir), &file_name(hostname, *n, now), body.as_bytes())
                        .map_err(|e| format!("receiver directory {dir} is unavailable: {e}"))
                }
            };
            match result {
                Ok(path) => {
                    st.pending.clear();
                    st.files_written += 1;
                    st.last_file = Some(path.clone());
                    st.last_transfer_at = Some(now);
                    st.last_error = None;
                    out.push(Transfer::Written {
                        file: *n,
                        path,
                        samples: samples.len(),
                    });
                }
                Err(reason) => {
                    tracing::warn!("bulkstats file {n}: {reason}; {} samples kept", st.pending.len());
                    st.last_error = Some(reason.clone());
                    out.push(Transfer::Failed {
                        file: *n,
                        reason,
                        kept: st.pending.len(),
                    });
                }
            }
        }
        out
    }

    /// `show bulkstats`.
    pub fn render(&self, cfg: &Bulkstats, now: i64) -> String {
        let when = |t: Option<i64>| t.map(format_cisco).unwrap_or_else(|| "never".into());
        let mut out = String::new();
        let _ = writeln!(out, "Bulk Statistics (schema smartlic)");
        let _ = writeln!(out, "=================================");
        let _ = writeln!(out, "Sample interval: {} minutes", cfg.sample_interval);
        let _ = writeln!(out, "Transfer interval: {} minutes", cfg.transfer_interval);
        let _ = writeln!(out, "Clock: {}", format_cisco(now));
        let _ = writeln!(out, "Samples taken: {}", self.samples_taken);
        let _ = writeln!(out, "Last sample: {}", when(self.last_sample_at));
        let _ = writeln!(out, "Next sample: {}", when(self.sample_boundary.next()));
        let _ = writeln!(out, "Last transfer: {}", when(self.last_transfer_at));
        let _ = writeln!(out, "Next transfer: {}", when(self.transfer_boundary.next()));
        let _ = writeln!(
            out,
            "Backlog limit: {MAX_PENDING} samples per file (oldest dropped first)"
        );
        if cfg.files.is_empty() {
            let _ = writeln!(out, "No bulkstats files configured");
        }
        let empty = FileState::default();
        for (n, f) in &cfg.files {
            let st = self.files.get(n).unwrap_or(&empty);
            let _ = writeln!(out);
            let _ = writeln!(out, "File {n}");
            let _ = writeln!(
                out,
                "  Receiver: {}",
                f.receiver_dir
                    .as_deref()
                    .map(|d| format!("local-directory {d}"))
                    .unwrap_or_else(|| "not configured".into())
            );
            if f.schemas.is_empty() {
                let _ = writeln!(out, "  Schemas: none (nothing is sampled for this file)");
            }
            for s in &f.schemas {
                let _ = writeln!(out, "  Schema {}: format \"{}\"", s.name, s.format);
            }
            let _ = writeln!(out, "  Pending samples: {}", st.pending.len());
            let _ = writeln!(out, "  Dropped samples: {}", st.dropped);
            let _ = writeln!(out, "  Files written: {}", st.files_written);
            let _ = writeln!(out, "  Last transfer: {}", when(st.last_transfer_at));
            if let Some(p) = &st.last_file {
                let _ = writeln!(out, "  Last file: {}", p.display());
            }
            let _ = writeln!(out, "  Last error: {}", st.last_error.as_deref().unwrap_or("none"));
        }
        out
    }
}
