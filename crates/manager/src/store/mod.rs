//! The store: every piece of state of the license manager, in SQLite (default) or PostgreSQL.
//!
//! Why one `AnyPool` rather than an enum over `SqlitePool`/`PgPool`: the SQL text is the same for
//! both engines (SQLite accepts `$N` placeholders, integers are `BIGINT`, flags 0/1, times epoch
//! seconds), so one code path runs — and one test suite checks — every query on both. The engine
//! shows only in the migrations (`migrations/sqlite`, `migrations/postgres`), in how a write
//! transaction begins (`BEGIN IMMEDIATE` on SQLite so that writers queue on the busy timeout
//! instead of failing to upgrade a read lock) and in connection set-up. The cost of `Any` (boxed
//! arguments) is small next to the signature checks of every device request. One exception: on
//! SQLite the batch writer of renewals runs the same statements through rusqlite on its own
//! thread ([`batch_db`] says why).
//!
//! Several managers may share one PostgreSQL database: no state is authoritative in memory, token
//! uses are counted by one conditional `UPDATE`, and per-VA totals change in the same transaction
//! as the usage they sum. Lock order inside transactions: token → product instance → `va_usage`
//! rows in SKU order; licence moves (transfers, reservations, moving an instance between VAs, deleting a
//! VA) first bump the virtual accounts' `version` in id order.
//!
//! Domain rules (token states, compliance, transfer plans) live in [`crate::tokens`] and
//! [`crate::compliance`]; this module only moves rows.

pub(crate) mod account_requests;
mod accounts;
mod batch;
mod batch_db;
mod bulk;
pub(crate) mod gauges;
mod instance_move;
mod instances;
mod licenses;
pub(crate) mod login_attempts;
mod misc;
mod reservations;
mod satellite_link;
mod satellites;
mod tokens;
mod users;
mod webhooks;

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
pub(crate) mod tests;

pub(crate) use accounts::{AccountRow, VaRow};
pub use bulk::{BULK_MAX, BulkInstance, BulkLoad};
pub(crate) use gauges::LicenceGauges;
pub(crate) use instances::{InstanceRow, NewInstance, Report, SkuFigures, UsageDay};
pub(crate) use misc::{EventQuery, EventRow, PkiRow};
pub(crate) use reservations::{NewReservation, RESERVED, ReservationRow};
pub(crate) use satellite_link::{LinkRow, NewLink};
pub(crate) use satellites::{AnswerFigures, CheckedRequest, Exchanged, SatelliteInstanceRow, SatelliteRow};
pub(crate) use tokens::{NewToken, TokenRow};
pub(crate) use users::{NewUser, UserChange, UserRow};
pub(crate) use webhooks::{DeliveryRow, WebhookRow};

use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite file (WAL, busy timeout).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// SQLite only: writers of this process take turns here before `BEGIN IMMEDIATE`. SQLite
    /// lets one writer in at a time anyway; without the gate the others wait in the busy
    /// handler, which polls with sleeps of up to 100 ms (measured: renewal p99 148 ms at 64
    /// concurrent devices). A tokio mutex hands the turn over as soon as the writer commits.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// The writer that applies usage reports in batches (`None` only on the plain store the
    /// writer itself runs on).
    writer: Option<Arc<Writer>>,
}

/// The writer that applies usage reports in batches ([`batch`]), on a thread of its own with a
/// single-threaded runtime, so that waking it up never queues behind the TLS and signature work
/// of the server's runtime. It stops when the last handle on the store goes, or when told to
/// close.
#[derive(Debug)]
struct Writer {
    jobs: tokio::sync::mpsc::UnboundedSender<batch::Msg>,
    /// Its pool of one connection when it runs on sqlx (PostgreSQL); SQLite's is rusqlite's.
    /// Kept for the store's tests, which check it.
    #[cfg(test)]
    pool: Option<AnyPool>,
}

impl std::fmt::Debug for batch::ReportJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportJob")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Writer {
    fn start(db: batch_db::WriterDb) -> Result<Writer, StoreError> {
        #[cfg(test)]
        let pool = match &db {
            batch_db::WriterDb::Sqlx(plain) => Some(plain.pool.clone()),
            batch_db::WriterDb::Sqlite { .. } => None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| sqlx::Error::Configuration(format!("writer runtime: {e}").into()))?;
        let (jobs, rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("smartlic-db-writer".into())
            .spawn(move || rt.block_on(batch::run(db, rx)))
            .map_err(|e| sqlx::Error::Configuration(format!("writer thread: {e}").into()))?;
        Ok(Writer {
            jobs,
            #[cfg(test)]
            pool,
        })
    }

    /// Has the writer apply what waits, close its connection and stop; returns when it has.
    async fn close(&self) {
        let (done, closed) = tokio::sync::oneshot::channel();
        if self.jobs.send(batch::Msg::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}

/// The batch writer's connection, before it starts.
enum WriterConn {
    /// A pool of its own (one connection).
    Pool(AnyPool),
    /// A rusqlite connection of its own to this SQLite file.
    SqliteFile(std::path::PathBuf),
}

/// A write transaction (and, on SQLite, this process's turn to write). Derefs to the connection.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Appends the event that records what the transaction did, then commits: the way every
    /// administrative write ends.
    pub(crate) async fn commit_with(mut self, at: i64, audit: &Audit, e: Event<'_>) -> Result<(), StoreError> {
        append_event(&mut self, at, audit, e).await?;
        Ok(self.commit().await?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// A pooled connection for one autocommitted write (and, on SQLite, the turn to write).
pub(crate) struct WriteConn {
    conn: sqlx::pool::PoolConnection<Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// Who did something, and from where, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// `operator`, a user's e-mail, `device:<id>` or `system`.
    pub actor: String,
    /// Client address.
    pub source: Option<String>,
}

impl Audit {
    /// An audit record for `actor`.
    pub fn new(actor: impl Into<String>, source: Option<String>) -> Audit {
        Audit {
            actor: actor.into(),
            source,
        }
    }

    /// The manager itself.
    pub fn system() -> Audit {
        Audit::new("system", None)
    }
}

/// One event to append to the log.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    /// What, e.g. `token.create`.
    pub action: &'a str,
    /// Account concerned.
    pub account_id: Option<&'a AccountId>,
    /// Virtual account concerned.
    pub va_id: Option<&'a VirtualAccountId>,
    /// Object concerned.
    pub object_id: Option<&'a str>,
    /// Human detail.
    pub detail: String,
}

const SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
const POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Percent-encodes a file path for a `sqlite://` URL (the driver decodes it).
fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let text = path
        .to_str()
        .ok_or_else(|| sqlx::Error::Configuration("database path is not UTF-8".into()))?;
    /// Everything but the unreserved characters of RFC 3986 and `/`.
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'.')
        .remove(b'_')
        .remove(b'-')
        .remove(b'~');
    Ok(format!(
        "sqlite://{}?mode=rwc",
        percent_encoding::utf8_percent_encode(text, PATH)
    ))
}

/// The SQLite settings of every connection to the file, sqlx's and the batch writer's alike.
/// The write-ahead log is copied back into the database after 10,000 pages (40 MiB) instead of
/// SQLite's 1,000: a renewal stamps pages that many renewals stamp again, and a checkpoint writes
/// each page once however many versions the log holds. Measured (2,000 devices,
/// docs/performance.md): 6,900 → 7,300 renewals/s; 4,000 pages gave 7,100/s. A checkpoint then
/// takes longer: the worst second's p99 went from 20 to 32 ms.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384; \
     PRAGMA wal_autocheckpoint = 10000";

/// The SQLite pools' settings, `max` connections.
fn sqlite_pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max).after_connect(|conn, _meta| {
        Box::pin(async move {
            sqlx::raw_sql(SQLITE_PRAGMAS).execute(&mut *conn).await?;
            Ok(())
        })
    })
}

/// The PostgreSQL pools' settings, `max` connections, `set` run on each new connection.
fn postgres_pool_options(max: u32, set: String) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            let set = set.clone();
            Box::pin(async move {
                sqlx::raw_sql(sqlx::AssertSqlSafe(set)).execute(&mut *conn).await?;
                Ok(())
            })
        })
}

impl Store {
    /// Opens (creating it if needed) the SQLite database at `path` and migrates it.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let opts = AnyConnectOptions::from_str(&sqlite_url(path)?)?;
        // WAL is a property of the file: set it once before the pool's connections start.
        {
            use sqlx::ConnectOptions;
            let mut c = opts.connect().await?;
            c.execute("PRAGMA journal_mode = WAL").await?;
        }
        let pool = sqlite_pool_options(8).connect_with(opts).await?;
        Store::migrated(pool, WriterConn::SqliteFile(path.to_path_buf()), Engine::Sqlite).await
    }

    /// Connects to PostgreSQL at `url` and migrates the database.
    pub async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        Store::open_postgres_in(url, None).await
    }

    /// Connects to PostgreSQL with `search_path` set to `schema` (which must exist) on every
    /// connection; tests give each test its own schema this way.
    pub async fn open_postgres_in(url: &str, schema: Option<&str>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let opts = AnyConnectOptions::from_str(url)?;
        // Every statement is planned for its parameters. sqlx prepares each statement once per
        // connection, and PostgreSQL then settles on a generic plan after five runs; one made
        // while a table was nearly empty scans it whole and stays until the table is next
        // analyzed. Measured: a fresh database filling with 100,000 instances' usage slowed
        // renewals from 4,000/s to 2,500/s within 20 s (p99 25 ms → 99 ms), `instance_usage` read
        // sequentially 458 times.
        let mut set = String::from("SET plan_cache_mode = force_custom_plan");
        if let Some(schema) = schema {
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(sqlx::Error::Configuration(format!("invalid schema name {schema:?}").into()).into());
            }
            set.push_str(&format!("; SET search_path TO {schema}"));
        }
        let pool = postgres_pool_options(16, set.clone())
            .connect_with(opts.clone())
            .await?;
        // Tested before each batch, unlike SQLite's: a server restart drops its connections.
        let writer_pool = postgres_pool_options(1, set).connect_with(opts).await?;
        Store::migrated(pool, WriterConn::Pool(writer_pool), Engine::Postgres).await
    }

    /// Opens the store named by `database` (a `postgres://` URL) or else the SQLite file `path`.
    pub async fn open(database: Option<&str>, sqlite_path: &Path) -> Result<Store, StoreError> {
        match database {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Store::open_postgres(url).await
            }
            Some(url) => Err(sqlx::Error::Configuration(
                format!("unsupported database URL {url:?} (expected postgres://…)").into(),
            )
            .into()),
            None => Store::open_sqlite(sqlite_path).await,
        }
    }

    /// Migrates the database on `pool`, and starts the batch writer on a connection of its own
    /// (`writer`), so that every batch runs on the same connection. On SQLite its page cache
    /// then holds the pages the previous batch wrote (a connection of the shared pool, taken in
    /// turn, found the database changed by the others and read those pages again).
    async fn migrated(pool: AnyPool, writer: WriterConn, engine: Engine) -> Result<Store, StoreError> {
        match engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let write_gate = (engine == Engine::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let mut store = Store {
            pool,
            engine,
            write_gate,
            writer: None,
        };
        let db = match writer {
            WriterConn::Pool(writer_pool) => batch_db::WriterDb::Sqlx(Store {
                pool: writer_pool,
                ..store.clone()
            }),
            WriterConn::SqliteFile(path) => batch_db::WriterDb::open_sqlite(store.clone(), &path)?,
        };
        store.writer = Some(Arc::new(Writer::start(db)?));
        Ok(store)
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool (for health checks).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write.
    pub(crate) async fn write_tx(&self) -> Result<WriteTx, StoreError> {
        let turn = self.turn().await;
        let tx = match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }

    /// A connection for one autocommitted write statement.
    pub(crate) async fn write_conn(&self) -> Result<WriteConn, StoreError> {
        let turn = self.turn().await;
        let conn = self.pool.acquire().await?;
        Ok(WriteConn { conn, _turn: turn })
    }

    async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pools and the batch writer's connection (a report sent after this fails).
    pub async fn close(&self) {
        if let Some(w) = &self.writer {
            w.close().await;
        }
        self.pool.close().await;
    }
}

/// Appends an event inside the caller's transaction.
pub(crate) async fn append_event(
    conn: &mut AnyConnection,
    at: i64,
    audit: &Audit,
    e: Event<'_>,
) -> Result<(), StoreError> {
    append_events(conn, &[(at, audit, e)]).await
}

/// Appends several events in one statement, in the order given.
pub(crate) async fn append_events(
    conn: &mut AnyConnection,
    events: &[(i64, &Audit, Event<'_>)],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    events_stmt(events).execute_sqlx(conn).await?;
    Ok(())
}

/// The statement that appends `events` (not empty), in the order given.
pub(crate) fn events_stmt<'a>(events: &'a [(i64, &'a Audit, Event<'a>)]) -> batch_db::Stmt<'a> {
    use batch_db::Arg;
    let mut q = batch_db::Stmt::new(format!(
        "INSERT INTO events (at, actor, action, account_id, va_id, object_id, detail, source) VALUES {}",
        value_rows(events.len(), 8)
    ));
    for (at, audit, e) in events {
        q.arg(Arg::Int(*at))
            .arg(Arg::Text(&audit.actor))
            .arg(Arg::Text(e.action))
            .arg(Arg::OptText(e.account_id.map(|a| a.as_str())))
            .arg(Arg::OptText(e.va_id.map(|v| v.as_str())))
            .arg(Arg::OptText(e.object_id))
            .arg(Arg::Text(&e.detail))
            .arg(Arg::OptText(audit.source.as_deref()));
    }
    q
}

/// The rows of a multi-row `VALUES` list: `($1, $2), ($3, $4)` for 2 rows of width 2.
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (r * width + 1..=r * width + width).map(|n| format!("${n}")).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `count` numbered parameters from `start`, for an `IN` list: `$3, $4` for (3, 2).
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A 0/1 flag column as read (both engines store flags as integers); rows hold it as `bool`
/// (`#[sqlx(try_from = "Flag")]`), and writes bind `i64::from(flag)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(bool);

impl sqlx::Type<Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Flag, sqlx::error::BoxDynError> {
        Ok(Flag(<i64 as sqlx::Decode<'r, Any>>::decode(value)? != 0))
    }
}

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

/// A fresh random id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The case-insensitive key of a name.
pub(crate) fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn value_rows_number_parameters_row_by_row() {
        assert_eq!(value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(value_rows(1, 1), "($1)");
        assert_eq!(value_rows(0, 4), "");
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(placeholders(1, 0), "");
    }

    #[test]
    fn sqlite_paths_are_escaped() {
        let u = sqlite_url(Path::new("/tmp/a b?#/smartlic.db")).unwrap();
        assert_eq!(u, "sqlite:///tmp/a%20b%3F%23/smartlic.db?mode=rwc");
        let u = sqlite_url(Path::new("/tmp/%é&=+/db")).unwrap();
        assert_eq!(u, "sqlite:///tmp/%25%C3%A9%26%3D%2B/db?mode=rwc");
    }
}
