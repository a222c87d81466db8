//! `show license reservation` and the `Reservation Info` section of `show license all`, modelled
//! on IOS-XE's `show license reservation`.

use smartlic_agent::Snapshot;
use smartlic_protocol::reservation::ReservationKind;
use smartlic_protocol::time::format_cisco;
use std::fmt::Write;

/// `License Reservation is ENABLED|DISABLED` (under `Smart Licensing is …` in `show license all`).
pub fn reservation_line(s: &Snapshot) -> String {
    format!(
        "License Reservation is {}",
        if s.state.reservation.enabled {
            "ENABLED"
        } else {
            "DISABLED"
        }
    )
}

/// `show license reservation`.
pub fn reservation(s: &Snapshot) -> String {
    let r = &s.state.reservation;
    let mut out = String::new();
    if !r.enabled {
        let _ = writeln!(out, "License reservation: DISABLED");
        return out;
    }
    let _ = writeln!(out, "License reservation: ENABLED");
    let _ = writeln!(out);
    let _ = writeln!(out, "Overall status:");
    let active = s
        .ha_udis
        .iter()
        .find(|h| h.role.eq_ignore_ascii_case("active"))
        .map(|h| h.udi.to_string())
        .unwrap_or_else(|| s.udi.to_string());
    let _ = writeln!(out, "  Active: {active}");
    match (&r.installed, &r.pending) {
        (Some(i), _) => {
            let _ = writeln!(
                out,
                "      Reservation status: {} INSTALLED on {}",
                i.auth.kind,
                format_cisco(i.installed_at)
            );
            let _ = writeln!(out, "      Reservation id: {}", i.auth.id);
            let _ = writeln!(
                out,
                "      Expires: {}",
                i.auth.expires_at.map(format_cisco).unwrap_or_else(|| "Never".into())
            );
            let _ = writeln!(
                out,
                "      Last Confirmation code: {}",
                i.confirmation.as_deref().unwrap_or("None")
            );
        }
        (None, Some(p)) => {
            let _ = writeln!(
                out,
                "      Reservation status: REQUEST PENDING since {}",
                format_cisco(p.created_at)
            );
        }
        (None, None) => {
            let _ = writeln!(out, "      Reservation status: NOT INSTALLED");
        }
    }
    for h in s.ha_udis.iter().filter(|h| !h.role.eq_ignore_ascii_case("active")) {
        let _ = writeln!(out, "  {}: {}", h.role, h.udi);
    }
    if let Some(i) = r
        .installed
        .as_ref()
        .filter(|i| i.auth.kind == ReservationKind::Specific)
    {
        let _ = writeln!(out, "Specified license reservations:");
        for (sku, n) in &i.auth.licenses {
            let _ = writeln!(out, "  {sku}:");
            let _ = writeln!(out, "    Total reserved count: {n}");
        }
    }
    out
}
