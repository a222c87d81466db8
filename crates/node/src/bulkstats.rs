//! Bulk statistics of the `smartlic` schema: the format language (`%variable%`), samples taken
//! from the Smart Agent's statistics at each sample-interval boundary of the agent clock, and
//! files written atomically into each receiver directory at each transfer-interval boundary.
//!
//! Clock rules (the clock may jump either way, CONTRACT.md §1):
//! - a boundary is crossed when `floor(now / interval)` grows; crossing several at once (the clock
//!   jumped) takes **one** sample, stamped with the time it was taken — the figures in between
//!   were never observed, so no rows are invented for them — and makes one transfer;
//! - when the clock moves back, nothing is sampled or transferred and the boundaries are counted
//!   again from the new time (so sampling resumes at the next boundary after it);
//! - a change of interval restarts the count from the current time.
//!
//! Samples wait in memory per file until a transfer writes them; a file whose receiver directory
//! is missing or unwritable keeps them for a later transfer, at most [`MAX_PENDING`] per file, the
//! oldest dropped first and counted.

use crate::config::{BulkFile, Bulkstats};
use smartlic_agent::{Mode, Snapshot};
use smartlic_protocol::Catalog;
use smartlic_protocol::time::format_cisco;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest format string, in characters. Like StarOS's schema formats it must fit a CLI line with
/// room to spare, and it keeps a row (one line per mode and service) short enough for line-based
/// collectors; 1000 characters hold every variable of the schema several times over.
pub const MAX_FORMAT_LEN: usize = 1000;
/// Most variables in one format. The schema has 17 variables: 30 allows each once plus repeats
/// (e.g. both `%epochtime%` and `%date% %time%`) while bounding the rendering work per sample
/// (14 rows × schemas × variables).
pub const MAX_VARIABLES: usize = 30;
/// Samples kept per file while they wait for a transfer (about 10 days at the default 15-minute
/// sample interval); beyond it the oldest are dropped and counted.
pub const MAX_PENDING: usize = 1000;

/// A variable of the `smartlic` schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    /// `current_sl_state`.
    CurrentSlState,
    /// `current_sl_mode`.
    CurrentSlMode,
    /// `total_sl_enabled`.
    TotalSlEnabled,
    /// `total_sl_disabled`.
    TotalSlDisabled,
    /// `mode`.
    Mode,
    /// `tagid`.
    TagId,
    /// `cur_call_policy`.
    CurCallPolicy,
    /// `cur_call_count`.
    CurCallCount,
    /// `max_call_count`.
    MaxCallCount,
    /// `last_lic_count`.
    LastLicCount,
    /// `max_lic_count`.
    MaxLicCount,
    /// `policy_change_block_calls`.
    PolicyChangeBlockCalls,
    /// `epochtime`.
    EpochTime,
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// `hostname`.
    Hostname,
    /// `service`.
    Service,
}

/// Every variable with its name and a one-line meaning, in the order `show bulkstats variables
/// smartlic` lists them.
pub const VARIABLES: &[(Variable, &str, &str)] = &[
    (
        Variable::CurrentSlState,
        "current_sl_state",
        "State of Smart Licensing: Enabled or Disabled",
    ),
    (
        Variable::CurrentSlMode,
        "current_sl_mode",
        "Current mode of Smart Licensing: Evaluation or Registered",
    ),
    (
        Variable::TotalSlEnabled,
        "total_sl_enabled",
        "Times Smart Licensing has been enabled",
    ),
    (
        Variable::TotalSlDisabled,
        "total_sl_disabled",
        "Times Smart Licensing has been disabled",
    ),
    (
        Variable::Mode,
        "mode",
        "Mode of the row's counters: Evaluation or Registered (one row per mode and service)",
    ),
    (
        Variable::TagId,
        "tagid",
        "Tag id of the row's service type (0 pgw ... 6 samog)",
    ),
    (
        Variable::CurCallPolicy,
        "cur_call_policy",
        "Policy for new sessions of the service: ALLOW or BLOCK (- for the mode not in force)",
    ),
    (
        Variable::CurCallCount,
        "cur_call_count",
        "Sessions of the service now (0 for the mode not in force)",
    ),
    (
        Variable::MaxCallCount,
        "max_call_count",
        "Most sessions of the service seen in this mode",
    ),
    (
        Variable::LastLicCount,
        "last_lic_count",
        "Licence count last reported to the license manager for the service",
    ),
    (
        Variable::MaxLicCount,
        "max_lic_count",
        "Highest licence count reported to the license manager for the service",
    ),
    (
        Variable::PolicyChangeBlockCalls,
        "policy_change_block_calls",
        "Times the service started blocking new sessions for want of licences",
    ),
    (
        Variable::EpochTime,
        "epochtime",
        "Time of the sample, seconds since 1970-01-01 UTC",
    ),
    (Variable::Date, "date", "Date of the sample, YYYYMMDD (UTC)"),
    (Variable::Time, "time", "Time of day of the sample, HHMMSS (UTC)"),
    (Variable::Hostname, "hostname", "Hostname of the product"),
    (
        Variable::Service,
        "service",
        "Service type of the row: pgw saegw ggsn sgw mme epdg samog",
    ),
];

impl Variable {
    /// Looks a variable up by name.
    pub fn from_name(name: &str) -> Option<Variable> {
        VARIABLES.iter().find(|(_, n, _)| *n == name).map(|(v, _, _)| *v)
    }
}

/// A piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Literal text.
    Text(String),
    /// A `%variable%`.
    Var(Variable),
}

/// Why a format is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Empty format.
    #[error("the format is empty")]
    Empty,
    /// Over [`MAX_FORMAT_LEN`].
    #[error("the format is {len} characters long; at most {MAX_FORMAT_LEN} are allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Over [`MAX_VARIABLES`].
    #[error("the format has {count} variables; at most {MAX_VARIABLES} are allowed")]
    TooManyVariables {
        /// How many it has.
        count: usize,
    },
    /// A name that is not a variable of the schema.
    #[error("unknown variable \"%{name}%\" at character {pos} (show bulkstats variables smartlic lists them)")]
    Unknown {
        /// The name.
        name: String,
        /// Character position (1-based) of its `%`.
        pos: usize,
    },
    /// A `%` without its closing `%`.
    #[error(
        "unterminated variable at character {pos}: a '%' opens a variable that must end with '%' (write %% for a percent sign)"
    )]
    Unterminated {
        /// Character position (1-based) of the `%`.
        pos: usize,
    },
    /// A control character (a format is one line).
    #[error("control character at character {pos}: a format is one line of text")]
    Control {
        /// Character position (1-based).
        pos: usize,
    },
}

/// Parses a format: literal text, `%variable%`, and `%%` for a percent sign.
pub fn parse_format(format: &str) -> Result<Vec<Token>, FormatError> {
    let chars: Vec<char> = format.chars().collect();
    if chars.is_empty() {
        return Err(FormatError::Empty);
    }
    if chars.len() > MAX_FORMAT_LEN {
        return Err(FormatError::TooLong { len: chars.len() });
    }
    if let Some(i) = chars.iter().position(|c| c.is_control() && *c != '\t') {
        return Err(FormatError::Control { pos: i + 1 });
    }
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut vars = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            text.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'%') {
            text.push('%');
            i += 2;
            continue;
        }
        let Some(len) = chars[i + 1..].iter().position(|c| *c == '%') else {
            return Err(FormatError::Unterminated { pos: i + 1 });
        };
        let name: String = chars[i + 1..i + 1 + len].iter().collect();
        let var = Variable::from_name(&name).ok_or(FormatError::Unknown { name, pos: i + 1 })?;
        vars += 1;
        if !text.is_empty() {
            tokens.push(Token::Text(std::mem::take(&mut text)));
        }
        tokens.push(Token::Var(var));
        i += len + 2;
    }
    if vars > MAX_VARIABLES {
        return Err(FormatError::TooManyVariables { count: vars });
    }
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
    Ok(tokens)
}

/// One row of a sample: one mode and one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `Evaluation` or `Registered`.
    pub mode: Mode,
    /// Tag id.
    pub tagid: u32,
    /// Service name.
    pub service: String,
    /// `ALLOW`, `BLOCK`, or `-` for the mode not in force.
    pub cur_call_policy: &'static str,
    /// Current sessions (0 for the mode not in force).
    pub cur_call_count: u64,
    /// Peak sessions in this mode.
    pub max_call_count: u64,
    /// Licences last reported.
    pub last_lic_count: u64,
    /// Most licences reported.
    pub max_lic_count: u64,
    /// Changes to BLOCK.
    pub policy_change_block_calls: u64,
}

/// The figures read at one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Agent clock time of the sample.
    pub at: i64,
    /// Hostname.
    pub hostname: String,
    /// `Enabled` or `Disabled`.
    pub sl_state: &'static str,
    /// `Evaluation` or `Registered`.
    pub sl_mode: String,
    /// Times enabled.
    pub total_sl_enabled: u64,
    /// Times disabled.
    pub total_sl_disabled: u64,
    /// One per mode and service, modes in order Evaluation, Registered, services in catalog order.
    pub rows: Vec<Row>,
}

impl Sample {
    /// Reads a sample from an agent snapshot (the figures `show license statistics` prints).
    pub fn from_snapshot(s: &Snapshot, cat: &Catalog, hostname: &str) -> Sample {
        let st = &s.state;
        let rows = s
            .statistics(cat)
            .into_iter()
            .map(|r| Row {
                mode: r.mode,
                tagid: r.service.tag_id,
                service: r.service.service.clone(),
                cur_call_policy: r.policy.map(|p| p.word()).unwrap_or("-"),
                cur_call_count: r.cur_call_count,
                max_call_count: r.stats.max_call_count,
                last_lic_count: r.stats.last_lic_count,
                max_lic_count: r.stats.max_lic_count,
                policy_change_block_calls: r.stats.policy_change_block_calls,
            })
            .collect();
        Sample {
            at: s.now,
            hostname: hostname.to_string(),
            sl_state: if st.enabled { "Enabled" } else { "Disabled" },
            sl_mode: s.mode.to_string(),
            total_sl_enabled: st.total_enabled,
            total_sl_disabled: st.total_disabled,
            rows,
        }
    }
}

fn utc(at: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(at).ok()
}

fn date_of(at: i64) -> String {
    utc(at)
        .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|| "00000000".into())
}

fn time_of(at: i64) -> String {
    utc(at)
        .map(|t| format!("{:02}{:02}{:02}", t.hour(), t.minute(), t.second()))
        .unwrap_or_else(|| "000000".into())
}

/// Renders one row of a sample with a parsed format.
pub fn render_row(tokens: &[Token], sample: &Sample, row: &Row) -> String {
    let mut out = String::new();
    for t in tokens {
        let _ = match t {
            Token::Text(s) => write!(out, "{s}"),
            Token::Var(v) => match v {
                Variable::CurrentSlState => write!(out, "{}", sample.sl_state),
                Variable::CurrentSlMode => write!(out, "{}", sample.sl_mode),
                Variable::TotalSlEnabled => write!(out, "{}", sample.total_sl_enabled),
                Variable::TotalSlDisabled => write!(out, "{}", sample.total_sl_disabled),
                Variable::Mode => write!(out, "{}", row.mode),
                Variable::TagId => write!(out, "{}", row.tagid),
                Variable::CurCallPolicy => write!(out, "{}", row.cur_call_policy),
                Variable::CurCallCount => write!(out, "{}", row.cur_call_count),
                Variable::MaxCallCount => write!(out, "{}", row.max_call_count),
                Variable::LastLicCount => write!(out, "{}", row.last_lic_count),
                Variable::MaxLicCount => write!(out, "{}", row.max_lic_count),
                Variable::PolicyChangeBlockCalls => write!(out, "{}", row.policy_change_block_calls),
                Variable::EpochTime => write!(out, "{}", sample.at),
                Variable::Date => write!(out, "{}", date_of(sample.at)),
                Variable::Time => write!(out, "{}", time_of(sample.at)),
                Variable::Hostname => write!(out, "{}", sample.hostname),
                Variable::Service => write!(out, "{}", row.service),
            },
        };
    }
    out
}

/// Renders every sample of a file: for each sample, each schema, each row, one line.
pub fn render_file(file: &BulkFile, samples: &[Arc<Sample>]) -> String {
    let schemas: Vec<Vec<Token>> = file
        .schemas
        .iter()
        .filter_map(|s| parse_format(&s.format).ok())
        .collect();
    let mut out = String::new();
    for sample in samples {
        for tokens in &schemas {
            for row in &sample.rows {
                out.push_str(&render_row(tokens, sample, row));
                out.push('\n');
            }
        }
    }
    out
}

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

/// `HOSTNAME_fileN_YYYYMMDD_HHMMSS.bulkstats` (UTC; characters outside `[A-Za-z0-9._-]` in the
/// hostname become `_`).
pub fn file_name(hostname: &str, file: u32, at: i64) -> String {
    let host: String = hostname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let host = if host.is_empty() || host.starts_with('.') {
        format!("node{host}")
    } else {
        host
    };
    format!("{host}_file{file}_{}_{}.bulkstats", date_of(at), time_of(at))
}

/// Writes `bytes` as a new file named `name` in `dir`: a temporary file in the same directory,
/// fsynced, given mode 0644 and linked under its final name only if that name is free (a
/// suffix `-1`, `-2`, … otherwise), then the directory is fsynced. A reader never sees a
/// half-written file, and an existing file is never replaced.
pub fn write_new_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    if !dir.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".bulkstats-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let mut attempt = 0u32;
    loop {
        let candidate = if attempt == 0 {
            name.to_string()
        } else if ext.is_empty() {
            format!("{stem}-{attempt}")
        } else {
            format!("{stem}-{attempt}.{ext}")
        };
        let path = dir.join(&candidate);
        match tmp.persist_noclobber(&path) {
            Ok(_) => {
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                return Ok(path);
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => {
                tmp = e.file;
                attempt += 1;
            }
            Err(e) => return Err(e.error),
        }
    }
}

/// `show bulkstats variables smartlic`.
pub fn show_variables() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Bulk statistics variables of the smartlic schema (write them as %name% in a format;"
    );
    let _ = writeln!(
        out,
        "%% is a percent sign; at most {MAX_VARIABLES} variables and {MAX_FORMAT_LEN} characters; one row per mode and service):"
    );
    let _ = writeln!(out);
    for (_, name, meaning) in VARIABLES {
        let _ = writeln!(out, "  {name:<27} {meaning}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Schema;
    use proptest::prelude::*;
    use smartlic_agent::licensing::{MODE_EVALUATION, MODE_REGISTERED};

    fn sample(at: i64, cur: u64) -> Sample {
        let row = |mode, service: &str, tagid, cur| Row {
            mode,
            tagid,
            service: service.into(),
            cur_call_policy: if mode == MODE_EVALUATION { "ALLOW" } else { "-" },
            cur_call_count: cur,
            max_call_count: cur,
            last_lic_count: 1,
            max_lic_count: 2,
            policy_change_block_calls: 3,
        };
        Sample {
            at,
            hostname: "asr1".into(),
            sl_state: "Enabled",
            sl_mode: MODE_EVALUATION.into(),
            total_sl_enabled: 1,
            total_sl_disabled: 0,
            rows: vec![row(MODE_EVALUATION, "pgw", 0, cur), row(MODE_REGISTERED, "pgw", 0, 0)],
        }
    }

    fn cfg(dir: Option<&Path>, format: &str) -> Bulkstats {
        let mut b = Bulkstats {
            sample_interval: 15,
            transfer_interval: 60,
            files: BTreeMap::new(),
        };
        b.files.insert(
            1,
            BulkFile {
                receiver_dir: dir.map(|d| d.to_string_lossy().to_string()),
                schemas: vec![Schema {
                    name: "s1".into(),
                    format: format.into(),
                }],
            },
        );
        b
    }

    #[test]
    fn parses_variables_text_and_percent() {
        let t = parse_format("%hostname%,%mode% 100%% %epochtime%").unwrap_or_default();
        assert_eq!(
            t,
            vec![
                Token::Var(Variable::Hostname),
                Token::Text(",".into()),
                Token::Var(Variable::Mode),
                Token::Text(" 100% ".into()),
                Token::Var(Variable::EpochTime),
            ]
        );
        assert!(
            VARIABLES
                .iter()
                .all(|(v, n, _)| parse_format(&format!("%{n}%")) == Ok(vec![Token::Var(*v)]))
        );
    }

    #[test]
    fn refuses_bad_formats_clearly() {
        assert_eq!(
            parse_format("%hostname% %bogus%"),
            Err(FormatError::Unknown {
                name: "bogus".into(),
                pos: 12
            })
        );
        assert_eq!(
            parse_format("%mode% %service"),
            Err(FormatError::Unterminated { pos: 8 })
        );
        assert_eq!(parse_format(""), Err(FormatError::Empty));
        assert_eq!(parse_format("a\nb"), Err(FormatError::Control { pos: 2 }));
        assert_eq!(parse_format(&"x".repeat(1001)), Err(FormatError::TooLong { len: 1001 }));
        assert!(parse_format(&"x".repeat(1000)).is_ok());
        assert_eq!(
            parse_format(&"%mode%".repeat(31)),
            Err(FormatError::TooManyVariables { count: 31 })
        );
        assert!(parse_format(&"%mode%".repeat(30)).is_ok());
        let msg = parse_format("%bogus%").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("unknown variable \"%bogus%\""), "{msg}");
    }

    #[test]
    fn renders_rows() {
        let s = sample(1_798_762_500, 100);
        let t = parse_format("%hostname% %date% %time% %mode% %tagid% %service% %cur_call_policy% %cur_call_count% %max_call_count% %last_lic_count% %max_lic_count% %policy_change_block_calls% %current_sl_state% %current_sl_mode% %total_sl_enabled% %total_sl_disabled% %epochtime%").unwrap_or_default();
        assert_eq!(
            render_row(&t, &s, &s.rows[0]),
            "asr1 20270101 001500 Evaluation 0 pgw ALLOW 100 100 1 2 3 Enabled Evaluation 1 0 1798762500"
        );
        assert_eq!(render_row(&t, &s, &s.rows[1]).split(' ').nth(6), Some("-"));
        let f = BulkFile {
            receiver_dir: None,
            schemas: vec![Schema {
                name: "a".into(),
                format: "%mode%".into(),
            }],
        };
        assert_eq!(
            render_file(&f, &[Arc::new(s.clone()), Arc::new(s)]),
            "Evaluation\nRegistered\nEvaluation\nRegistered\n"
        );
    }

    #[test]
    fn boundaries_follow_a_clock_that_jumps() {
        let mut b = Boundary::default();
        let t0 = 1_798_761_600; // a multiple of 15 minutes
        assert!(!b.crossed(15, t0), "the first look only anchors");
        assert!(!b.crossed(15, t0 + 899));
        assert!(b.crossed(15, t0 + 900));
        assert!(!b.crossed(15, t0 + 901));
        assert!(b.crossed(15, t0 + 100 * 900), "many intervals at once: one crossing");
        assert!(!b.crossed(15, t0), "backwards: none");
        assert!(b.crossed(15, t0 + 900), "counting resumes from the new time");
        assert!(!b.crossed(60, t0 + 3600), "a new interval re-anchors");
        assert_eq!(b.next(), Some(t0 + 7200));
    }

    #[test]
    fn backlog_is_bounded_and_counts_drops() {
        let mut f = FileState::default();
        for i in 0..(MAX_PENDING as i64 + 5) {
            f.push(Arc::new(sample(i, 0)));
        }
        assert_eq!(f.pending.len(), MAX_PENDING);
        assert_eq!(f.dropped, 5);
        assert_eq!(f.pending.front().map(|s| s.at), Some(5), "the oldest go first");
    }

    #[test]
    fn unavailable_receiver_keeps_samples_for_a_later_transfer() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("later");
        let cfg = cfg(Some(&dir), "%hostname% %mode% %service% %cur_call_count%");
        let t0 = 1_798_761_600;
        let mut st = BulkState::default();
        assert!(st.tick(&cfg, t0, "asr1", || sample(t0, 1)).is_empty());
        for k in 1..=4 {
            let now = t0 + k * 900;
            let out = st.tick(&cfg, now, "asr1", || sample(now, k as u64));
            if k < 4 {
                assert!(out.is_empty());
            } else {
                assert!(
                    matches!(&out[..], [Transfer::Failed { file: 1, kept: 4, .. }]),
                    "{out:?}"
                );
            }
        }
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let now = t0 + 8 * 900;
        let out = st.tick(&cfg, now, "asr1", || sample(now, 8));
        let Some(Transfer::Written { path, samples: 5, .. }) = out.first() else {
            panic!("{out:?}")
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let rows: Vec<&str> = text.lines().filter(|l| l.contains("Evaluation")).collect();
        assert_eq!(
            rows,
            [
                "asr1 Evaluation pgw 1",
                "asr1 Evaluation pgw 2",
                "asr1 Evaluation pgw 3",
                "asr1 Evaluation pgw 4",
                "asr1 Evaluation pgw 8"
            ]
        );
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some("asr1_file1_20270101_020000.bulkstats")
        );
        // A second transfer in the same second gets its own file; nothing is replaced.
        st.record(&cfg, sample(now, 9));
        let out = st.transfer(&cfg, now, "asr1");
        let Some(Transfer::Written { path: p2, .. }) = out.first() else {
            panic!("{out:?}")
        };
        assert_ne!(p2, path);
        assert_eq!(
            std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0),
            2,
            "no temporary file left"
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in any::<String>()) {
            if let Ok(tokens) = parse_format(&s) {
                let vars = tokens.iter().filter(|t| matches!(t, Token::Var(_))).count();
                prop_assert!(vars <= MAX_VARIABLES);
                let smp = sample(0, 0);
                let _ = render_row(&tokens, &smp, &smp.rows[0]);
            }
        }

        #[test]
        fn plain_text_renders_as_itself(s in "[a-zA-Z0-9 ,;:._-]{1,200}") {
            let tokens = parse_format(&s);
            prop_assert!(tokens.is_ok());
            let tokens = tokens.unwrap_or_default();
            let smp = sample(0, 0);
            prop_assert_eq!(render_row(&tokens, &smp, &smp.rows[0]), s);
        }

        #[test]
        fn percent_soup_never_panics(s in "[%a-z_ ]{0,80}") {
            let _ = parse_format(&s);
        }

        /// Any bytes (as the CLI decodes them): accepted formats obey every limit and round-trip
        /// through their written form; refused ones are refused for the first rule they break.
        #[test]
        fn any_bytes_round_trip_or_are_refused_for_a_reason(bytes in format_bytes()) {
            let s = String::from_utf8_lossy(&bytes).into_owned();
            let chars: Vec<char> = s.chars().collect();
            let control = chars.iter().position(|c| c.is_control() && *c != '\t');
            match parse_format(&s) {
                Ok(tokens) => {
                    prop_assert!(!chars.is_empty() && chars.len() <= MAX_FORMAT_LEN && control.is_none());
                    prop_assert!(!tokens.is_empty());
                    let vars = tokens.iter().filter(|t| matches!(t, Token::Var(_))).count();
                    prop_assert!(vars <= MAX_VARIABLES);
                    // Text is merged: never empty, never two pieces in a row.
                    prop_assert!(tokens.iter().all(|t| !matches!(t, Token::Text(x) if x.is_empty())));
                    prop_assert!(tokens.windows(2).all(|w| !matches!(w, [Token::Text(_), Token::Text(_)])));
                    prop_assert_eq!(parse_format(&unparse(&tokens)), Ok(tokens.clone()));
                    let smp = sample(0, 0);
                    let _ = render_row(&tokens, &smp, &smp.rows[0]);
                }
                Err(FormatError::Empty) => prop_assert!(chars.is_empty()),
                Err(FormatError::TooLong { len }) => prop_assert!(len == chars.len() && len > MAX_FORMAT_LEN),
                Err(FormatError::Control { pos }) => {
                    prop_assert!(chars.len() <= MAX_FORMAT_LEN);
                    prop_assert_eq!(Some(pos - 1), control);
                }
                Err(FormatError::Unknown { name, pos }) => {
                    prop_assert!(control.is_none() && Variable::from_name(&name).is_none());
                    prop_assert_eq!(chars.get(pos - 1), Some(&'%'));
                }
                Err(FormatError::Unterminated { pos }) => {
                    prop_assert!(control.is_none());
                    prop_assert_eq!(chars.get(pos - 1), Some(&'%'));
                    prop_assert!(!chars[pos..].contains(&'%'));
                }
                Err(FormatError::TooManyVariables { count }) => prop_assert!(count > MAX_VARIABLES),
            }
        }

        /// Formats written from known variables, `%%` and plain text are always accepted, with
        /// one variable token per `%name%`.
        #[test]
        fn formats_built_from_the_variables_are_accepted(
            pieces in proptest::collection::vec(
                prop_oneof![
                    "[^%\\p{Cc}]{1,12}",
                    Just("%%".to_string()),
                    proptest::sample::select(VARIABLES.iter().map(|(_, n, _)| format!("%{n}%")).collect::<Vec<_>>()),
                ],
                1..MAX_VARIABLES,
            )
        ) {
            let format: String = pieces.concat();
            prop_assume!(format.chars().count() <= MAX_FORMAT_LEN);
            let tokens = parse_format(&format);
            prop_assert!(tokens.is_ok(), "{format:?}: {tokens:?}");
            let vars = pieces.iter().filter(|p| p.len() > 2 && p.starts_with('%') && p.ends_with('%')).count();
            let got = tokens.map(|t| t.iter().filter(|t| matches!(t, Token::Var(_))).count()).unwrap_or(0);
            prop_assert_eq!(got, vars);
        }
    }

    /// Bytes of formats: any byte, more often `%`, letters of variable names and whole names.
    fn format_bytes() -> impl Strategy<Value = Vec<u8>> {
        let names: Vec<Vec<u8>> = VARIABLES.iter().map(|(_, n, _)| n.as_bytes().to_vec()).collect();
        proptest::collection::vec(
            prop_oneof![
                3 => any::<u8>().prop_map(|b| vec![b]),
                3 => proptest::sample::select(b"%%%_ \t\nabcdehilmnoprstuy".to_vec()).prop_map(|b| vec![b]),
                2 => proptest::sample::select(names),
            ],
            0..120,
        )
        .prop_map(|parts| parts.concat())
    }

    /// The written form of parsed tokens: `%%` for a percent sign, `%name%` for a variable.
    fn unparse(tokens: &[Token]) -> String {
        tokens
            .iter()
            .map(|t| match t {
                Token::Text(s) => s.replace('%', "%%"),
                Token::Var(v) => VARIABLES
                    .iter()
                    .find(|(x, _, _)| x == v)
                    .map(|(_, n, _)| format!("%{n}%"))
                    .unwrap_or_default(),
            })
            .collect()
    }

    #[test]
    fn long_formats_of_any_bytes_are_refused_by_length() {
        let s = "%".repeat(MAX_FORMAT_LEN + 1);
        assert_eq!(
            parse_format(&s),
            Err(FormatError::TooLong {
                len: MAX_FORMAT_LEN + 1
            })
        );
    }
}
