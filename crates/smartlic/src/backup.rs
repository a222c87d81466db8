//! `smartlic backup` and `smartlic restore`: one file holding a SQLite manager's database and the
//! key files of its data directory.
//!
//! The backup file is itself a SQLite database: a consistent copy of `smartlic.db` made by
//! `VACUUM INTO` (a read transaction, so the manager may keep running and writing), plus one
//! table `smartlic_backup_files(name, mode, content)` holding the data directory's key files
//! (`master.key`, `ca.pem`, `server.pem`, `server.key`, `admin.key`, whichever are there).
//! Restoring copies the file to `NEWDIR/smartlic.db`, writes the key files beside it and drops
//! that table. The backup file, the new directory (0700) and every file in it (0600) are
//! readable by their owner only: the backup holds the master key that opens the store's keys.

use anyhow::{Context, Result, bail};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

/// The files of a data directory a restore needs beside the database.
const KEY_FILES: [&str; 5] = ["master.key", "ca.pem", "server.pem", "server.key", "admin.key"];
const DB_FILE: &str = "smartlic.db";

async fn open(path: &Path) -> Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Creates `path` empty and 0600; fails if it exists.
fn create_private(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Copies `DIR/smartlic.db` (consistently, while a manager may be writing it) and the key files
/// of DIR into `out` (0600, replaced atomically if it exists).
pub async fn backup(dir: &Path, out: &Path) -> Result<()> {
    let db = dir.join(DB_FILE);
    if !db.is_file() {
        bail!(
            "{} has no {DB_FILE}: backup copies SQLite managers (for PostgreSQL, back the database up with pg_dump \
             and keep master.key)",
            dir.display()
        );
    }
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Built in a private directory next to `out`, then renamed over it: nobody ever sees a
    // half-written or world-readable backup.
    let work = tempfile::Builder::new()
        .prefix(".smartlic-backup")
        .tempdir_in(out_dir)
        .with_context(|| format!("cannot write in {}", out_dir.display()))?;
    let tmp = work.path().join("backup.db");
    drop(create_private(&tmp)?);
    let tmp_text = tmp
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", tmp.display()))?;

    let mut source = open(&db).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(tmp_text)
        .execute(&mut source)
        .await
        .with_context(|| format!("cannot copy {}", db.display()))?;
    source.close().await?;

    // The copy is ours alone: one self-contained file, whatever journal mode the source had.
    let mut copy = open(&tmp).await?;
    sqlx::query("PRAGMA journal_mode = DELETE").execute(&mut copy).await?;
    sqlx::query(
        "CREATE TABLE smartlic_backup_files (name TEXT PRIMARY KEY, mode INTEGER NOT NULL, content BLOB NOT NULL)",
    )
    .execute(&mut copy)
    .await?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check").fetch_one(&mut copy).await?;
    if check != "ok" {
        bail!("the copy of {} fails SQLite's check: {check}", db.display());
    }
    let mut found = Vec::new();
    for name in KEY_FILES {
        let path = dir.join(name);
        let content = match std::fs::read(&path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        sqlx::query("INSERT INTO smartlic_backup_files (name, mode, content) VALUES (?, ?, ?)")
            .bind(name)
            .bind(0o600_i64)
            .bind(content)
            .execute(&mut copy)
            .await?;
        found.push(name);
    }
    copy.close().await?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    if !found.contains(&"master.key") {
        eprintln!(
            "warning: {} has no master.key (the server ran with --master-key?): keep that key with this backup, \
             the restored store cannot be opened without it",
            dir.display()
        );
    }
    outln!("backed up {} and {} to {}", DB_FILE, found.join(", "), out.display());
    Ok(())
}

/// Makes the data directory `dir` (0700; it must not exist, or be empty) from a backup file.
pub async fn restore(input: &Path, dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{} is not empty: restore into a new directory", dir.display());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set the mode of {}", dir.display()))?;
    match restore_into(input, dir).await {
        Ok(written) => {
            outln!("restored {} and {} into {}", DB_FILE, written.join(", "), dir.display());
            Ok(())
        }
        Err(e) => {
            // The directory was empty: leave it so, not half restored.
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            Err(e)
        }
    }
}

/// Writes the database and the key files of the backup `input` into the empty directory `dir`.
async fn restore_into(input: &Path, dir: &Path) -> Result<Vec<&'static str>> {
    let db = dir.join(DB_FILE);
    {
        let mut from = std::fs::File::open(input).with_context(|| format!("cannot read {}", input.display()))?;
        let mut to = create_private(&db)?;
        std::io::copy(&mut from, &mut to)
            .and_then(|_| to.sync_all())
            .with_context(|| format!("cannot write {}", db.display()))?;
    }
    let mut conn = open(&db)
        .await
        .with_context(|| format!("{} is not a smartlic backup", input.display()))?;
    let rows = match sqlx::query("SELECT name, content FROM smartlic_backup_files ORDER BY name")
        .fetch_all(&mut conn)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            conn.close().await.ok();
            bail!("{} is not a smartlic backup: {e}", input.display());
        }
    };
    let mut written = Vec::new();
    for row in rows {
        let name: String = row.try_get("name")?;
        let content: Vec<u8> = row.try_get("content")?;
        let Some(name) = KEY_FILES.iter().find(|k| **k == name) else {
            bail!("{} holds an unexpected file {name:?}", input.display());
        };
        let path = dir.join(name);
        let mut f = create_private(&path)?;
        f.write_all(&content)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(*name);
    }
    sqlx::query("DROP TABLE smartlic_backup_files")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    // SQLite may have left a journal beside the database: owner only too.
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_round_trips_and_restore_refuses_a_used_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).expect("dir");
        {
            let mut c = SqliteConnectOptions::new()
                .filename(dir.join(DB_FILE))
                .create_if_missing(true)
                .connect()
                .await
                .expect("db");
            sqlx::query("CREATE TABLE t (x TEXT)")
                .execute(&mut c)
                .await
                .expect("create");
            sqlx::query("INSERT INTO t VALUES ('kept')")
                .execute(&mut c)
                .await
                .expect("insert");
            c.close().await.expect("close");
        }
        std::fs::write(dir.join("ca.pem"), "CA").expect("ca");
        std::fs::write(dir.join("master.key"), "MK").expect("mk");
        let out = tmp.path().join("b.smartlic");
        backup(&dir, &out).await.expect("backup");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o600);

        let new = tmp.path().join("new");
        restore(&out, &new).await.expect("restore");
        assert_eq!(mode(&new), 0o700);
        assert_eq!(std::fs::read_to_string(new.join("ca.pem")).expect("ca"), "CA");
        assert_eq!(std::fs::read_to_string(new.join("master.key")).expect("mk"), "MK");
        assert!(!new.join("admin.key").exists());
        for e in std::fs::read_dir(&new).expect("dir") {
            assert_eq!(mode(&e.expect("entry").path()), 0o600);
        }
        let mut c = open(&new.join(DB_FILE)).await.expect("open");
        let x: String = sqlx::query_scalar("SELECT x FROM t")
            .fetch_one(&mut c)
            .await
            .expect("row");
        assert_eq!(x, "kept");
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'smartlic_backup_files'")
            .fetch_one(&mut c)
            .await
            .expect("count");
        assert_eq!(left, 0);
        c.close().await.expect("close");

        let e = format!("{:#}", restore(&out, &new).await.expect_err("not empty"));
        assert!(e.contains("not empty"), "{e}");
        let e = format!(
            "{:#}",
            restore(&new.join("ca.pem"), &tmp.path().join("other"))
                .await
                .expect_err("not a backup")
        );
        assert!(e.contains("not a smartlic backup"), "{e}");
        assert_eq!(std::fs::read_dir(tmp.path().join("other")).expect("dir").count(), 0);
        let e = format!("{:#}", backup(&tmp.path().join("none"), &out).await.expect_err("no db"));
        assert!(e.contains("pg_dump"), "{e}");
    }
}
