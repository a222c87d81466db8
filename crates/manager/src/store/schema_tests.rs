//! The two engines' migrations cannot drift: both are applied, and the schemas they leave are
//! read back from each engine's catalog and compared — tables, columns (name, a normalized type
//! class, nullability), primary keys, unique constraints and indexes (name, columns, uniqueness).
//! The migration files themselves are never edited here (deployed databases hold their
//! checksums); a difference this test finds is fixed by a new migration on the engine behind.

use crate::testutil::TestDb;
use sqlx::AnyPool;
use std::collections::{BTreeMap, BTreeSet};

/// One column: name, type class, nullable.
type Column = (String, &'static str, bool);

/// An index made by `CREATE INDEX`: name, columns in order, unique.
type Index = (String, Vec<String>, bool);

/// What the migrations left of one table.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeSet<Column>,
    primary_key: Vec<String>,
    unique: BTreeSet<Vec<String>>,
    indexes: BTreeSet<Index>,
}

/// The type class of a declared type, the same for both engines' spellings of it.
fn type_class(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") || t.contains("serial") || t == "boolean" {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else if t.contains("real") || t.contains("double") || t.contains("float") || t.contains("numeric") {
        "real"
    } else {
        "other"
    }
}

fn names(list: &str) -> Vec<String> {
    list.split(',').map(str::to_string).collect()
}

async fn sqlite_schema(pool: &AnyPool) -> BTreeMap<String, Table> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("sqlite tables");
    let mut schema = BTreeMap::new();
    for name in tables {
        let mut t = Table::default();
        let columns: Vec<(String, String, i64, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(&name)
                .fetch_all(pool)
                .await
                .expect("sqlite columns");
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (column, declared, notnull, pk_pos) in columns {
            if pk_pos > 0 {
                pk.push((pk_pos, column.clone()));
            }
            // SQLite lets a non-integer primary key hold NULL; PostgreSQL never does, and no
            // code writes one: a key column counts as NOT NULL on both.
            t.columns
                .insert((column, type_class(&declared), notnull == 0 && pk_pos == 0));
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        let indexes: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list($1)")
                .bind(&name)
                .fetch_all(pool)
                .await
                .expect("sqlite indexes");
        for (index, unique, origin) in indexes {
            let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                .bind(&index)
                .fetch_all(pool)
                .await
                .expect("sqlite index columns");
            match origin.as_str() {
                "c" => {
                    t.indexes.insert((index, cols, unique != 0));
                }
                "u" => {
                    t.unique.insert(cols);
                }
                _ => {} // the primary key's own index, compared as `primary_key`
            }
        }
        schema.insert(name, t);
    }
    schema
}

async fn postgres_schema(pool: &AnyPool) -> BTreeMap<String, Table> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("postgres tables");
    let mut schema = BTreeMap::new();
    for name in tables {
        let mut t = Table::default();
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .expect("postgres columns");
        for (column, declared, nullable) in columns {
            t.columns.insert((column, type_class(&declared), nullable == "YES"));
        }
        // Each index of the table with its columns in order, and what made it.
        let indexes: Vec<(String, String, bool, bool, bool)> = sqlx::query_as(
            "SELECT i.relname::text, \
             (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
              FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum), \
             ix.indisunique, ix.indisprimary, \
             EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype = 'u') \
             FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class r ON r.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = r.relnamespace \
             WHERE n.nspname = current_schema() AND r.relname = $1",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .expect("postgres indexes");
        for (index, cols, unique, primary, constraint) in indexes {
            let cols = names(&cols);
            if primary {
                t.primary_key = cols;
            } else if constraint {
                t.unique.insert(cols);
            } else {
                t.indexes.insert((index, cols, unique));
            }
        }
        schema.insert(name, t);
    }
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_migrate_to_the_same_schema() {
    let sqlite = TestDb::sqlite().await;
    let postgres = TestDb::postgres().await;
    let lite = sqlite_schema(sqlite.store.pool()).await;
    let pg = postgres_schema(postgres.store.pool()).await;
    sqlite.finish().await;
    postgres.finish().await;
    assert!(lite.len() >= 15, "the SQLite schema was read: {:?}", lite.keys());
    assert_eq!(
        lite.keys().collect::<Vec<_>>(),
        pg.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (name, table) in &lite {
        assert!(!table.columns.is_empty(), "table {name}: its columns were read");
        assert_eq!(
            Some(table),
            pg.get(name),
            "table {name}: SQLite (left) and PostgreSQL (right) differ"
        );
    }
}

#[test]
fn type_classes_join_both_engines_spellings() {
    for (sqlite, postgres) in [
        ("TEXT", "text"),
        ("BIGINT", "bigint"),
        ("INTEGER", "integer"),
        ("BLOB", "bytea"),
    ] {
        assert_eq!(type_class(sqlite), type_class(postgres), "{sqlite} / {postgres}");
    }
    assert_ne!(type_class("TEXT"), type_class("BIGINT"));
}

/// PostgreSQL keeps room on product_instances' pages for the renewals' row updates (migration
/// 0015), so that a renewal's stamp is a heap-only update that writes no index entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leaves_room_for_the_renewals_updates() {
    let postgres = TestDb::postgres().await;
    let options: Option<String> =
        sqlx::query_scalar("SELECT CAST(reloptions AS TEXT) FROM pg_class WHERE relname = 'product_instances'")
            .fetch_one(postgres.store.pool())
            .await
            .expect("pg_class");
    postgres.finish().await;
    assert_eq!(options.as_deref(), Some("{fillfactor=85}"));
}

/// Every SQLite connection copies the write-ahead log back after 10,000 pages, not SQLite's
/// 1,000: those of the shared pool here, and the batch writer's own, whose commits are where the
/// renewals' checkpoints happen (a rusqlite connection with the same settings, checked in
/// `batch_db`'s tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_the_log_every_10000_pages() {
    let sqlite = TestDb::sqlite().await;
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(sqlite.store.pool().acquire().await.expect("a connection"));
    }
    let writer = sqlite.store.writer.as_ref().expect("the store's batch writer");
    assert!(writer.pool.is_none(), "SQLite's writer is not on a sqlx pool");
    for conn in &mut conns {
        let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut **conn)
            .await
            .expect("pragma");
        assert_eq!(pages, 10_000);
    }
    drop(conns);
    sqlite.finish().await;
}
