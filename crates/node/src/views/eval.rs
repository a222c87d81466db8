//! `show license eval-period`.

use super::status::duration_words;
use smartlic_agent::Snapshot;
use smartlic_agent::agent::format_opt;
use std::fmt::Write;

/// `show license eval-period`.
pub fn eval_period(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Evaluation Period Remaining: {}", duration_words(s.eval_remaining));
    let _ = writeln!(
        out,
        "Evaluation Period Used: {}",
        duration_words(s.eval_total - s.eval_remaining)
    );
    let state = if s.eval_remaining == 0 {
        format!("EXPIRED on {}", format_opt(s.state.eval.expired_at))
    } else if s.state.eval.accounted_to.is_some() {
        "IN USE".into()
    } else {
        "NOT IN USE".into()
    };
    let _ = writeln!(out, "Evaluation Period State: {state}");
    out
}
