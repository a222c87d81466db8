//! Errors below the HTTP edge: [`StoreError`] separates a domain refusal decided inside a
//! transaction ([`Refusal`]) from a database failure; [`ManagerError`] is what stops the server
//! from starting. The edge's own error, `ApiError`, lives in [`crate::api`].

use crate::refusal::Refusal;

/// A store operation failed: either the domain refused it (the transaction was rolled back) or
/// the database did.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A domain rule refused the operation.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The batch writer's SQLite connection failed (`store/batch_db.rs`).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row the transaction had just written or read is missing (a bug or a concurrent
    /// removal the lock order should have prevented).
    #[error("{0}")]
    Inconsistent(String),
    /// Migrations failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the database refused a duplicate key.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            _ => false,
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The store could not be opened or migrated.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A file in the data directory could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Certificates or keys could not be made or loaded.
    #[error("PKI: {0}")]
    Pki(String),
    /// The master key is missing, malformed or not the store's.
    #[error("master key: {0}")]
    MasterKey(String),
    /// The listen address is invalid or cannot be bound.
    #[error("listen address {addr}: {reason}")]
    Listen {
        /// As given.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The HTTPS server failed.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

impl ManagerError {
    pub(crate) fn file(path: &std::path::Path, source: std::io::Error) -> ManagerError {
        ManagerError::File {
            path: path.display().to_string(),
            source,
        }
    }
}
