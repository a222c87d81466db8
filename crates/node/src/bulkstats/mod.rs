//! Bulk statistics of the `smartlic` schema: the format language (`%variable%`), samples taken
//! from the Smart Agent's statistics at each sample-interval boundary of the agent clock, and
//! files written atomically into each receiver directory at each transfer-interval boundary.
//!
//! Clock rules (the clock may jump either way, docs/interface.md §1):
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
//!
//! `format` is the format language, `sample` the figures and the lines they render as,
//! `schedule` the boundaries and the per-file backlog, `files` the names and atomic writes.

mod files;
mod format;
mod sample;
mod schedule;

#[cfg(test)]
mod tests;

pub use files::{file_name, write_new_file};
pub use format::{
    FormatError, MAX_FORMAT_LEN, MAX_VARIABLES, Token, VARIABLES, Variable, parse_format, show_variables, write_format,
};
pub use sample::{Row, Sample, render_file, render_row};
pub use schedule::{Boundary, BulkState, FileState, MAX_PENDING, Transfer};
