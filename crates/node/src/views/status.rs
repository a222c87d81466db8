//! `show license status` and the status sections `show license summary` and `show license all`
//! share: registration, authorization, utility, data privacy, transport and the export key.

use smartlic_agent::Snapshot;
use smartlic_agent::agent::format_opt;
use smartlic_agent::state::{Attempt, Registration};
use smartlic_agent::{AuthorizationStatus, Mode};
use smartlic_protocol::time::{format_cisco, split_duration};
use std::fmt::Write;

/// A renewal or communication attempt: `None`, `SUCCEEDED on …` or `FAILED on …`.
fn attempt(a: &Option<Attempt>) -> String {
    match a {
        None => "None".into(),
        Some(a) if a.ok => format!("SUCCEEDED on {}", format_cisco(a.at)),
        Some(a) => format!("FAILED on {}", format_cisco(a.at)),
    }
}

/// A duration as `D days, H hours, M minutes, S seconds`.
pub(super) fn duration_words(secs: i64) -> String {
    let (d, h, m, s) = split_duration(secs);
    format!("{d} days, {h} hours, {m} minutes, {s} seconds")
}

/// `Smart Licensing is ENABLED|DISABLED`.
pub fn enabled_line(s: &Snapshot) -> String {
    format!(
        "Smart Licensing is {}",
        if s.state.enabled { "ENABLED" } else { "DISABLED" }
    )
}

/// The `Registration:` section; `full` adds the product instance id.
pub(super) fn registration_section(s: &Snapshot, out: &mut String, full: bool) {
    let st = &s.state;
    let _ = writeln!(out, "Registration:");
    let _ = writeln!(out, "  Status: {}", s.registration_word);
    let reg = match &st.registration {
        Registration::Registered(r) | Registration::Expired(r) => Some(r),
        _ => None,
    };
    // A reserved node names the accounts its reservation came from.
    let reserved = st.reservation.installed.as_ref().map(|i| &i.auth);
    let _ = writeln!(
        out,
        "  Smart Account: {}",
        reg.map(|r| r.smart_account.as_str())
            .or(reserved.map(|a| a.account.as_str()))
            .unwrap_or("None")
    );
    let _ = writeln!(
        out,
        "  Virtual Account: {}",
        reg.map(|r| r.virtual_account.as_str())
            .or(reserved.map(|a| a.va.as_str()))
            .unwrap_or("None")
    );
    let _ = writeln!(
        out,
        "  Export-Controlled Functionality: {}",
        if reg.is_some_and(|r| r.export_controlled) {
            "ALLOWED"
        } else {
            "NOT ALLOWED"
        }
    );
    if let Registration::Failed {
        reason, at, retrying, ..
    } = &st.registration
    {
        let _ = writeln!(out, "  Initial Registration: FAILED on {}", format_cisco(*at));
        let _ = writeln!(out, "    Failure reason: {reason}");
        let _ = writeln!(out, "    Retrying: {}", if *retrying { "YES" } else { "NO" });
    } else {
        let _ = writeln!(
            out,
            "  Initial Registration: {}",
            reg.map(|r| format!("SUCCEEDED on {}", format_cisco(r.initial_registration_at)))
                .unwrap_or_else(|| "None".into())
        );
    }
    let _ = writeln!(
        out,
        "  Last Renewal Attempt: {}",
        attempt(&reg.and_then(|r| r.last_renewal.clone()))
    );
    if let Some(a) = reg.and_then(|r| r.last_renewal.as_ref()).filter(|a| !a.ok) {
        let _ = writeln!(out, "    Failure reason: {}", a.reason);
    }
    let next = match &st.registration {
        Registration::Registered(r) => Some(r.next_renewal_at),
        _ => None,
    };
    let _ = writeln!(out, "  Next Renewal Attempt: {}", format_opt(next));
    let _ = writeln!(
        out,
        "  Registration Expires: {}",
        format_opt(reg.map(|r| r.id_expires_at))
    );
    if full && let Some(r) = reg {
        let _ = writeln!(out, "  Product Instance ID: {}", r.instance_id);
    }
}

/// The `License Authorization:` section.
pub(super) fn authorization_section(s: &Snapshot, out: &mut String) {
    let a = &s.state.authorization;
    let _ = writeln!(out, "License Authorization:");
    let status = s.authorization_word;
    match (&a.grant, status) {
        (Some(g), AuthorizationStatus::Authorized | AuthorizationStatus::OutOfCompliance) => {
            let _ = writeln!(out, "  Status: {status} on {}", format_cisco(g.at));
        }
        _ => {
            let _ = writeln!(out, "  Status: {status}");
        }
    }
    let evaluating = s.state.enabled && s.mode == Mode::Evaluation;
    if matches!(status, AuthorizationStatus::EvalMode | AuthorizationStatus::EvalExpired) || evaluating {
        let _ = writeln!(
            out,
            "  Evaluation Period Remaining: {}",
            duration_words(s.eval_remaining)
        );
    }
    let _ = writeln!(out, "  Last Communication Attempt: {}", attempt(&a.last_attempt));
    if let Some(at) = a.last_attempt.as_ref().filter(|x| !x.ok) {
        let _ = writeln!(out, "    Failure reason: {}", at.reason);
    }
    let _ = writeln!(
        out,
        "  Next Communication Attempt: {}",
        format_opt(s.next_authorization_at)
    );
    let _ = writeln!(
        out,
        "  Communication Deadline: {}",
        format_opt(if matches!(s.state.registration, Registration::Registered(_)) {
            a.deadline
        } else {
            None
        })
    );
}

fn utility_section(out: &mut String) {
    let _ = writeln!(out, "Utility:");
    let _ = writeln!(out, "  Status: DISABLED");
}

fn privacy_section(out: &mut String) {
    let _ = writeln!(out, "Data Privacy:");
    let _ = writeln!(out, "  Sending Hostname: yes");
    let _ = writeln!(out, "    Callhome hostname privacy: DISABLED");
    let _ = writeln!(out, "    Smart Licensing hostname privacy: DISABLED");
    let _ = writeln!(out, "  Version privacy: DISABLED");
}

fn transport_section(s: &Snapshot, out: &mut String) {
    let _ = writeln!(out, "Transport:");
    let _ = writeln!(out, "  Type: Callhome");
    let _ = writeln!(out, "  URL: {}", s.state.url.as_deref().unwrap_or("None"));
}

fn export_key_section(out: &mut String) {
    let _ = writeln!(out, "Export Authorization Key:");
    let _ = writeln!(out, "  Features Authorized:");
    let _ = writeln!(out, "    <none>");
}

/// `Smart Licensing is …`, in `show license all` `License Reservation is …`, and the integrity
/// alert if any.
fn enabled_and_alert(s: &Snapshot, out: &mut String, with_reservation: bool) {
    let _ = writeln!(out, "{}", enabled_line(s));
    if with_reservation {
        let _ = writeln!(out, "{}", super::reservation::reservation_line(s));
    }
    if let Some(alert) = &s.state.integrity_alert {
        let _ = writeln!(out);
        let _ = writeln!(out, "WARNING: {alert}");
    }
}

/// `show license status`, in the order of `iosxe-show-license-status-registered.txt`.
pub fn status(s: &Snapshot) -> String {
    let mut out = String::new();
    enabled_and_alert(s, &mut out, false);
    let _ = writeln!(out);
    utility_section(&mut out);
    let _ = writeln!(out);
    privacy_section(&mut out);
    let _ = writeln!(out);
    transport_section(s, &mut out);
    let _ = writeln!(out);
    registration_section(s, &mut out, false);
    let _ = writeln!(out);
    authorization_section(s, &mut out);
    let _ = writeln!(out);
    export_key_section(&mut out);
    out
}

/// The status part of `show license all`, in the order of `iosxe-show-license-all-classic.txt`.
pub(super) fn all_status(s: &Snapshot, out: &mut String) {
    let _ = writeln!(out, "Smart Licensing Status");
    let _ = writeln!(out, "======================");
    let _ = writeln!(out);
    enabled_and_alert(s, out, true);
    let _ = writeln!(out);
    registration_section(s, out, false);
    let _ = writeln!(out);
    authorization_section(s, out);
    let _ = writeln!(out);
    export_key_section(out);
    let _ = writeln!(out);
    utility_section(out);
    let _ = writeln!(out);
    privacy_section(out);
    let _ = writeln!(out);
    transport_section(s, out);
}
