//! The trust pool: the CA certificates the agent trusts, both for the HTTPS connection to the
//! license manager and for the manager's response-signing certificate. Kept in `trustpool.pem`.
//!
//! Importing (`crypto pki trustpool import file PATH`) reads the file before anything is locked,
//! and bounded: only a regular file (a FIFO or a device is refused without waiting on it: the
//! file is opened non-blocking and checked before it is read), at most [`MAX_IMPORT_BYTES`], within
//! [`IMPORT_TIMEOUT`]. Every certificate in it must be a CA certificate (basicConstraints CA:TRUE);
//! otherwise nothing is imported.

use crate::state::write_atomic;
use smartlic_protocol::trust::{CertSummary, pem_certificates, summarize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest file `crypto pki trustpool import file` reads (a trust pool bundle is a few hundred KiB
/// at most).
pub const MAX_IMPORT_BYTES: u64 = 1024 * 1024;
/// How long reading a file to import may take.
pub const IMPORT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Not a regular file (a FIFO, a device, a directory, a socket).
    #[error("{path} is not a regular file (it is {kind}); import a PEM file")]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Larger than [`MAX_IMPORT_BYTES`].
    #[error("{path} is larger than {limit} bytes; a trust pool file holds a few PEM certificates")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// Reading took longer than [`IMPORT_TIMEOUT`].
    #[error("{path}: reading did not finish within {} ms", timeout.as_millis())]
    Timeout {
        /// The file.
        path: PathBuf,
        /// The limit.
        timeout: Duration,
    },
    /// A certificate that is not a CA certificate.
    #[error(
        "{path}: certificate \"{subject}\" is not a CA certificate (no basicConstraints CA:TRUE); only CA certificates can be trusted, nothing was imported"
    )]
    NotCa {
        /// The file.
        path: PathBuf,
        /// Its subject.
        subject: String,
    },
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

fn file_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

/// Reads a file to import, synchronously: opened non-blocking (a FIFO without a writer does not
/// hold the open), refused unless it is a regular file, and read up to `limit` bytes.
pub fn read_import_file(path: &Path, limit: u64) -> Result<Vec<u8>, TrustPoolError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| TrustPoolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(TrustPoolError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(&ft),
        });
    }
    let too_large = || TrustPoolError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads a file to import off the async threads, giving up after `timeout` (the read itself may
/// then finish in the background; nothing waits for it and nothing is locked meanwhile).
pub async fn read_import(path: &Path, limit: u64, timeout: Duration) -> Result<Vec<u8>, TrustPoolError> {
    let owned = path.to_path_buf();
    read_with_timeout(path, timeout, move || read_import_file(&owned, limit)).await
}

async fn read_with_timeout(
    path: &Path,
    timeout: Duration,
    read: impl FnOnce() -> Result<Vec<u8>, TrustPoolError> + Send + 'static,
) -> Result<Vec<u8>, TrustPoolError> {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(read)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(TrustPoolError::Invalid(format!(
            "{}: reading failed: {join}",
            path.display()
        ))),
        Err(_) => Err(TrustPoolError::Timeout {
            path: path.to_path_buf(),
            timeout,
        }),
    }
}

/// The certificates of a PEM file to import (DER): at least one, every one a CA certificate.
pub fn parse_ca_certificates(path: &Path, bytes: &[u8]) -> Result<Vec<Vec<u8>>, TrustPoolError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| TrustPoolError::Invalid(format!("{} is not a PEM text file", path.display())))?;
    let certs = pem_certificates(text).map_err(|e| TrustPoolError::Invalid(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TrustPoolError::Invalid(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    for der in &certs {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| TrustPoolError::Invalid(format!("{}: {e}", path.display())))?;
        let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        if !is_ca {
            return Err(TrustPoolError::NotCa {
                path: path.to_path_buf(),
                subject: cert.subject().to_string(),
            });
        }
    }
    Ok(certs)
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

    /// Adds certificates (DER, already read and checked by [`parse_ca_certificates`]) and saves
    /// the pool; returns how many were new. Nothing changes if the pool cannot be saved.
    pub fn add(&mut self, certs: Vec<Vec<u8>>) -> Result<usize, TrustPoolError> {
        let mut next = self.certs.clone();
        let mut added = 0;
        for c in certs {
            if !next.contains(&c) {
                next.push(c);
                added += 1;
            }
        }
        if added == 0 {
            return Ok(0);
        }
        let pem: String = next.iter().map(|c| to_pem(c)).collect();
        write_atomic(&self.path, pem.as_bytes(), Some(0o644)).map_err(|e| TrustPoolError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        self.certs = next;
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256};
    use std::time::Instant;

    fn cert(ca: bool) -> String {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, if ca { "Test CA" } else { "leaf.example" });
        if ca {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        p.self_signed(&key).unwrap().pem()
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo").arg(path).status().unwrap();
        assert!(ok.success());
    }

    #[test]
    fn a_fifo_or_a_device_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.pem");
        mkfifo(&fifo);
        let started = Instant::now();
        let e = read_import_file(&fifo, MAX_IMPORT_BYTES).unwrap_err();
        assert!(matches!(e, TrustPoolError::NotRegular { kind: "a FIFO", .. }), "{e}");
        let e = read_import_file(Path::new("/dev/zero"), MAX_IMPORT_BYTES).unwrap_err();
        assert!(
            e.to_string().contains("not a regular file (it is a character device)"),
            "{e}"
        );
        let e = read_import_file(dir.path(), MAX_IMPORT_BYTES).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn a_large_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'A'; 2000]).unwrap();
        let e = read_import_file(&big, 1000).unwrap_err();
        assert!(matches!(e, TrustPoolError::TooLarge { limit: 1000, .. }), "{e}");
        assert_eq!(read_import_file(&big, 2000).unwrap().len(), 2000);
    }

    #[tokio::test]
    async fn a_read_that_hangs_times_out() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let started = Instant::now();
        let e = read_with_timeout(Path::new("slow.pem"), Duration::from_millis(200), move || {
            // Blocks until the test ends (the sender is dropped then).
            let _ = rx.recv();
            Ok(Vec::new())
        })
        .await
        .unwrap_err();
        assert!(matches!(e, TrustPoolError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(tx);
    }

    #[test]
    fn only_ca_certificates_are_imported() {
        let dir = tempfile::tempdir().unwrap();
        let mut pool = TrustPool::load(dir.path()).unwrap();
        let ca = cert(true);
        let leaf = cert(false);
        let path = Path::new("x.pem");
        let e = parse_ca_certificates(path, leaf.as_bytes()).unwrap_err();
        assert!(
            matches!(&e, TrustPoolError::NotCa { subject, .. } if subject.contains("leaf.example")),
            "{e}"
        );
        // A bundle with one leaf among CAs: refused whole.
        let mixed = format!("{ca}{leaf}");
        assert!(parse_ca_certificates(path, mixed.as_bytes()).is_err());
        assert!(parse_ca_certificates(path, b"\xff\xfe").is_err());
        assert!(parse_ca_certificates(path, b"no pem here").is_err());
        let certs = parse_ca_certificates(path, ca.as_bytes()).unwrap();
        assert_eq!(pool.add(certs.clone()).unwrap(), 1);
        assert_eq!(pool.add(certs).unwrap(), 0);
        assert_eq!(TrustPool::load(dir.path()).unwrap().certificates().len(), 1);
    }
}
