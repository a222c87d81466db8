//! The trust pool: the CA certificates the agent trusts, both for the HTTPS connection to the
//! license manager and for the manager's response-signing certificate. Kept in `trustpool.pem`.

use crate::state::write_atomic;
use smartlic_protocol::trust::{CertSummary, pem_certificates, summarize};
use std::path::{Path, PathBuf};

/// Trust pool errors.
#[derive(Debug, thiserror::Error)]
pub enum TrustPoolError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The PEM did not hold certificates.
    #[error("{0}")]
    Invalid(String),
}

/// The certificates (DER), in import order, without duplicates.
#[derive(Debug, Clone, Default)]
pub struct TrustPool {
    path: PathBuf,
    certs: Vec<Vec<u8>>,
}

fn to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

impl TrustPool {
    /// Loads `dir/trustpool.pem` (empty if absent).
    pub fn load(dir: &Path) -> Result<TrustPool, TrustPoolError> {
        let path = dir.join("trustpool.pem");
        let certs = match std::fs::read_to_string(&path) {
            Ok(text) => {
                pem_certificates(&text).map_err(|e| TrustPoolError::Invalid(format!("{}: {e}", path.display())))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(TrustPoolError::Io { path, source: e }),
        };
        Ok(TrustPool { path, certs })
    }

    /// Adds the certificates of a PEM file; returns how many were new.
    pub fn import_file(&mut self, file: &Path) -> Result<usize, TrustPoolError> {
        let text = std::fs::read_to_string(file).map_err(|e| TrustPoolError::Io {
            path: file.to_path_buf(),
            source: e,
        })?;
        let certs = pem_certificates(&text).map_err(|e| TrustPoolError::Invalid(format!("{}: {e}", file.display())))?;
        if certs.is_empty() {
            return Err(TrustPoolError::Invalid(format!(
                "{} holds no PEM certificate",
                file.display()
            )));
        }
        let mut added = 0;
        for c in certs {
            if !self.certs.contains(&c) {
                self.certs.push(c);
                added += 1;
            }
        }
        let pem: String = self.certs.iter().map(|c| to_pem(c)).collect();
        write_atomic(&self.path, pem.as_bytes(), Some(0o644)).map_err(|e| TrustPoolError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(added)
    }

    /// The certificates (DER).
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }

    /// Summaries for display.
    pub fn summaries(&self) -> Vec<CertSummary> {
        self.certs.iter().filter_map(|c| summarize(c).ok()).collect()
    }
}
