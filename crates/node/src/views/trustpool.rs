//! `show crypto pki trustpool`.

use smartlic_protocol::time::format_cisco;
use smartlic_protocol::trust::CertSummary;
use std::fmt::Write;

/// `show crypto pki trustpool`.
pub fn trustpool(certs: &[CertSummary]) -> String {
    let mut out = String::new();
    if certs.is_empty() {
        let _ = writeln!(out, "Trust pool is empty");
    }
    for (i, c) in certs.iter().enumerate() {
        let _ = writeln!(out, "CA Certificate {}", i + 1);
        let _ = writeln!(out, "  Subject: {}", c.subject);
        let _ = writeln!(out, "  Issuer: {}", c.issuer);
        let _ = writeln!(out, "  Serial Number: {}", c.serial);
        let _ = writeln!(out, "  Validity Start: {}", format_cisco(c.not_before));
        let _ = writeln!(out, "  Validity End: {}", format_cisco(c.not_after));
        let _ = writeln!(out, "  SHA-256 Fingerprint: {}", c.fingerprint);
    }
    out
}
