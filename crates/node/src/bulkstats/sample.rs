//! Samples: the figures of one sample-interval boundary, and the lines a schema renders from them.

use super::format::{Token, Variable, parse_format};
use crate::config::BulkFile;
use smartlic_agent::{Mode, Snapshot};
use smartlic_protocol::Catalog;
use std::fmt::Write as _;
use std::sync::Arc;

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

/// `YYYYMMDD` (UTC) of a time.
pub(super) fn date_of(at: i64) -> String {
    utc(at)
        .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|| "00000000".into())
}

/// `HHMMSS` (UTC) of a time.
pub(super) fn time_of(at: i64) -> String {
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
