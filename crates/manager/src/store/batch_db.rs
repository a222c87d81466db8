//! The batch writer's connection ([`super::batch`]): on SQLite a rusqlite connection driven
//! synchronously on the writer's own thread, on PostgreSQL the writer's one-connection sqlx pool.
//!
//! Why SQLite does not go through sqlx here: sqlx runs each SQLite connection on a worker thread
//! of its own and hands it every command, and every row back, over channels. A batch of 32
//! renewals is some twelve statements and a hundred rows, and a system-wide profile (2,000
//! devices, docs/performance.md step 19) counted about 7,400 context switches a second on each
//! of the two threads, with sqlx's worker at 12.7 % of all samples against 3-4 % of SQLite's own
//! work. The writer already has a thread of its own, so it calls SQLite there directly. The
//! statements are the same text on both engines ([`Stmt`]); only how they are bound and run
//! differs. Every other reader and writer of the store keeps using sqlx.

use super::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};

/// A parameter of a [`Stmt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg<'a> {
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Text or `NULL`.
    OptText(Option<&'a str>),
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Int(n) => n.to_sql(),
            Arg::Text(s) => s.to_sql(),
            Arg::OptText(s) => s.to_sql(),
        }
    }
}

/// One statement: SQL text with numbered parameters (`$1`, `$2`, …, valid on both engines) and
/// the values of those parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stmt<'a> {
    pub(crate) sql: String,
    pub(crate) args: Vec<Arg<'a>>,
}

impl<'a> Stmt<'a> {
    /// A statement without parameters yet.
    pub(crate) fn new(sql: String) -> Stmt<'a> {
        Stmt { sql, args: Vec::new() }
    }

    /// Appends the next parameter's value.
    pub(crate) fn arg(&mut self, a: Arg<'a>) -> &mut Stmt<'a> {
        self.args.push(a);
        self
    }

    /// The statement as a sqlx query, its parameters bound.
    fn sqlx(self) -> sqlx::query::Query<'a, Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.sql));
        for a in self.args {
            q = match a {
                Arg::Int(n) => q.bind(n),
                Arg::Text(s) => q.bind(s),
                Arg::OptText(s) => q.bind(s),
            };
        }
        q
    }

    /// Runs it on a sqlx connection; the rows it changed.
    pub(crate) async fn execute_sqlx(self, conn: &mut AnyConnection) -> Result<u64, StoreError> {
        Ok(self.sqlx().execute(&mut *conn).await?.rows_affected())
    }

    /// Runs it on a sqlx connection; the rows it returned.
    pub(crate) async fn fetch_sqlx<R: BatchRow>(self, conn: &mut AnyConnection) -> Result<Vec<R>, StoreError> {
        Ok(self
            .sqlx()
            .try_map(|row: AnyRow| <R as sqlx::FromRow<'_, AnyRow>>::from_row(&row))
            .fetch_all(&mut *conn)
            .await?)
    }

    /// Prepares it on a rusqlite connection (from the connection's statement cache) and binds
    /// its parameters by their numbers: SQLite numbers `$N` parameters in order of first
    /// appearance, which need not be N.
    fn bound<'c>(&self, conn: &'c rusqlite::Connection) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
        let mut st = conn.prepare_cached(&self.sql)?;
        for i in 1..=st.parameter_count() {
            let name = st.parameter_name(i).unwrap_or("?");
            let arg = name
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
                .and_then(|n| self.args.get(n))
                .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_string()))?;
            st.raw_bind_parameter(i, arg)?;
        }
        Ok(st)
    }
}

/// A row a batch statement returns, read the same way from either connection.
pub(crate) trait BatchRow: Sized + Send + Unpin + for<'r> sqlx::FromRow<'r, AnyRow> {
    /// Reads the row from rusqlite, column by column.
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

macro_rules! batch_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t),+> BatchRow for ($($t,)+)
        where
            $($t: rusqlite::types::FromSql + Send + Unpin + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>),+
        {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get::<_, $t>($i)?,)+))
            }
        }
    };
}
batch_row!(A 0, B 1);
batch_row!(A 0, B 1, C 2);
batch_row!(A 0, B 1, C 2, D 3);
batch_row!(A 0, B 1, C 2, D 3, E 4);

/// Statement texts the writer's SQLite connection keeps prepared. A batch's statements differ
/// with its size (1 to 32 rows), about ten kinds of them.
const SQLITE_STATEMENT_CACHE: usize = 512;

/// A connection to the existing SQLite file at `path` for the writer's thread alone (SQLite's
/// own mutex is not needed), with the settings of every other connection to it.
fn sqlite_connection(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(super::SQLITE_PRAGMAS)?;
    conn.set_prepared_statement_cache_capacity(SQLITE_STATEMENT_CACHE);
    Ok(conn)
}

/// Where the batch writer applies its batches.
pub(crate) enum WriterDb {
    /// sqlx (PostgreSQL, or a store without a writer thread): `store` is the plain store on the
    /// writer's one-connection pool.
    Sqlx(Store),
    /// SQLite, called directly on the writer's thread. `store` gives the process's turn to write.
    Sqlite { store: Store, conn: rusqlite::Connection },
}

impl WriterDb {
    /// Opens the writer's own connection to the SQLite file at `path` (already created and
    /// migrated), with the settings of every other connection to it.
    pub(crate) fn open_sqlite(store: Store, path: &std::path::Path) -> Result<WriterDb, StoreError> {
        Ok(WriterDb::Sqlite {
            store,
            conn: sqlite_connection(path)?,
        })
    }

    /// Begins a write transaction (after this process's turn to write, on SQLite).
    pub(crate) async fn begin(&mut self) -> Result<BatchTx<'_>, StoreError> {
        match self {
            WriterDb::Sqlx(store) => Ok(BatchTx::Sqlx(store.write_tx().await?)),
            WriterDb::Sqlite { store, conn } => {
                let turn = store.turn().await;
                conn.execute_batch("BEGIN IMMEDIATE")?;
                Ok(BatchTx::Sqlite(SqliteTx {
                    conn,
                    open: true,
                    _turn: turn,
                }))
            }
        }
    }

    /// Closes the connection (the sqlx pool's; rusqlite's when dropped).
    pub(crate) async fn close(self) {
        if let WriterDb::Sqlx(store) = self {
            store.pool().close().await;
        }
    }
}

/// A batch's write transaction. Dropped without [`BatchTx::commit`], it is rolled back.
pub(crate) enum BatchTx<'c> {
    /// On sqlx.
    Sqlx(super::WriteTx),
    /// On the writer's SQLite connection.
    Sqlite(SqliteTx<'c>),
}

/// A transaction open on the writer's SQLite connection, and this process's turn to write.
pub(crate) struct SqliteTx<'c> {
    conn: &'c mut rusqlite::Connection,
    /// Until committed.
    open: bool,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open
            && !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!("could not roll a failed batch back: {e}");
        }
    }
}

impl BatchTx<'_> {
    /// Runs `s`; the rows it changed.
    pub(crate) async fn execute(&mut self, s: Stmt<'_>) -> Result<u64, StoreError> {
        match self {
            BatchTx::Sqlx(tx) => s.execute_sqlx(tx).await,
            BatchTx::Sqlite(tx) => Ok(s.bound(tx.conn)?.raw_execute()? as u64),
        }
    }

    /// Runs `s`; the rows it returned.
    pub(crate) async fn fetch<R: BatchRow>(&mut self, s: Stmt<'_>) -> Result<Vec<R>, StoreError> {
        match self {
            BatchTx::Sqlx(tx) => s.fetch_sqlx(tx).await,
            BatchTx::Sqlite(tx) => {
                let mut st = s.bound(tx.conn)?;
                let mut rows = st.raw_query();
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(R::from_sqlite(row)?);
                }
                Ok(out)
            }
        }
    }

    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            BatchTx::Sqlx(tx) => Ok(tx.commit().await?),
            BatchTx::Sqlite(mut tx) => {
                tx.conn.execute_batch("COMMIT")?;
                tx.open = false;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER, c TEXT)")
            .unwrap();
        c
    }

    /// SQLite numbers `$N` parameters by first appearance; each still gets argument N.
    #[test]
    fn parameters_bind_by_their_numbers_not_their_order() {
        let c = conn();
        let mut s = Stmt::new("INSERT INTO t (b, a, c) VALUES ($3, $1, $2)".into());
        s.arg(Arg::Text("x")).arg(Arg::OptText(None)).arg(Arg::Int(7));
        assert_eq!(s.bound(&c).unwrap().raw_execute().unwrap(), 1);
        let mut q = Stmt::new("SELECT a, b, c FROM t WHERE b = $2 AND a = $1".into());
        q.arg(Arg::Text("x")).arg(Arg::Int(7));
        let mut st = q.bound(&c).unwrap();
        let mut rows = st.raw_query();
        let row = rows.next().unwrap().unwrap();
        let got: (String, i64, Option<String>) = BatchRow::from_sqlite(row).unwrap();
        assert_eq!(got, ("x".to_string(), 7, None));
    }

    /// The writer's connection has the settings of sqlx's connections to the same file, and
    /// does not create a file that is not there.
    #[test]
    fn the_writers_connection_has_the_stores_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        assert!(sqlite_connection(&path).is_err(), "no file, no connection");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL")
            .unwrap();
        let c = sqlite_connection(&path).unwrap();
        let pragma = |p: &str| -> i64 { c.query_row(&format!("PRAGMA {p}"), [], |r| r.get(0)).unwrap() };
        assert_eq!(pragma("busy_timeout"), 10_000);
        assert_eq!(pragma("synchronous"), 1, "NORMAL");
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("wal_autocheckpoint"), 10_000);
        assert_eq!(pragma("cache_size"), -16_384);
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    /// Begins a transaction on `c` and inserts `a` in it; commits it if `commit`, else drops it.
    async fn insert_then(c: &mut rusqlite::Connection, a: &str, commit: bool) {
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut tx = BatchTx::Sqlite(SqliteTx {
            conn: c,
            open: true,
            _turn: None,
        });
        let mut s = Stmt::new("INSERT INTO t (a) VALUES ($1)".into());
        s.arg(Arg::Text(a));
        assert_eq!(tx.execute(s).await.unwrap(), 1);
        if commit {
            tx.commit().await.unwrap();
        }
    }

    /// A transaction dropped before its commit is rolled back, and the connection takes the
    /// next one.
    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back() {
        let mut c = conn();
        let rows =
            |c: &rusqlite::Connection| -> i64 { c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap() };
        insert_then(&mut c, "gone", false).await;
        assert!(c.is_autocommit(), "rolled back");
        assert_eq!(rows(&c), 0);
        insert_then(&mut c, "kept", true).await;
        assert_eq!(rows(&c), 1);
    }

    #[test]
    fn a_parameter_without_its_argument_is_an_error() {
        let c = conn();
        let mut s = Stmt::new("INSERT INTO t (a, b) VALUES ($1, $2)".into());
        s.arg(Arg::Text("only one"));
        match s.bound(&c) {
            Err(rusqlite::Error::InvalidParameterName(n)) => assert_eq!(n, "$2"),
            other => panic!("expected a missing parameter, got {:?}", other.map(|_| ())),
        }
        let unnumbered = Stmt::new("SELECT ?".into());
        assert!(unnumbered.bound(&c).is_err(), "only $N parameters are bound");
    }
}
