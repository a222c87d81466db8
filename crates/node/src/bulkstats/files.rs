//! The files a transfer writes: their names and the atomic, never-replacing write.

use super::sample::{date_of, time_of};
use std::io::Write as _;
use std::path::{Path, PathBuf};

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
