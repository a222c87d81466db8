//! Test support: stores on both engines (each PostgreSQL test in its own schema), a macro that
//! runs one async test body against each, and a manager at a fixed clock reached through its
//! router ([`TestApp`]).

use crate::state::AppState;
use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use smartlic_clock::FixedClock;
use smartlic_protocol::Catalog;
use smartlic_protocol::satellite::{SatelliteEvent, SatelliteInstance, SatelliteRequest, SatelliteToken};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower::ServiceExt;

/// The manager's clock when a test starts.
pub(crate) const NOW: i64 = 1_800_000_000;
/// The operator's API key.
pub(crate) const OP_KEY: &str = "slk_operator_test_key";
/// The SKU the tests deposit.
pub(crate) const PW: &str = "ASR5K-00-PW10GTWY";

/// A manager on a store with the StarOS catalogue at a [`FixedClock`] set to [`NOW`], reached
/// through its router.
pub(crate) struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: Arc<FixedClock>,
}

impl TestApp {
    pub(crate) async fn on(store: Store) -> TestApp {
        let clock = Arc::new(FixedClock::new(NOW));
        let state = AppState::with_store(store, clock.clone(), Catalog::staros(), OP_KEY)
            .await
            .expect("app state");
        TestApp {
            router: crate::router(state.clone()),
            state,
            clock,
        }
    }

    /// Sends `req` through the router.
    pub(crate) async fn oneshot(&self, req: Request<Body>) -> Response {
        self.router.clone().oneshot(req).await.expect("router answers")
    }
}

/// `wraps_test_app!(Name)` declares a test module's `struct Name(TestApp)`, usable as the
/// [`TestApp`] it wraps (its state, router and clock); `wraps_test_app!(Name, on)` adds
/// `Name::on(store)`, the plain app on a store.
macro_rules! wraps_test_app {
    ($name:ident) => {
        /// A [`TestApp`]($crate::testutil::TestApp) with the requests of one test module.
        struct $name($crate::testutil::TestApp);

        impl std::ops::Deref for $name {
            type Target = $crate::testutil::TestApp;
            fn deref(&self) -> &$crate::testutil::TestApp {
                &self.0
            }
        }
    };
    ($name:ident, on) => {
        $crate::testutil::wraps_test_app!($name);

        impl $name {
            /// The app on `store`.
            async fn on(store: $crate::store::Store) -> $name {
                $name($crate::testutil::TestApp::on(store).await)
            }
        }
    };
}
pub(crate) use wraps_test_app;

/// The PostgreSQL server of the tests.
pub(crate) fn pg_url() -> String {
    std::env::var("SMARTLIC_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A store and whatever keeps it alive; `finish` removes a PostgreSQL schema.
pub(crate) struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_sqlite(&dir.path().join("smartlic.db"))
            .await
            .expect("sqlite store");
        TestDb {
            store,
            _dir: Some(dir),
            schema: None,
        }
    }

    pub(crate) async fn postgres() -> TestDb {
        sqlx::any::install_default_drivers();
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut c = sqlx::AnyConnection::connect(&pg_url())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} (set SMARTLIC_TEST_DATABASE_URL): {e}", pg_url()));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut c)
            .await
            .expect("create schema");
        let _ = c.close().await;
        let store = Store::open_postgres_in(&pg_url(), Some(&schema))
            .await
            .expect("postgres store");
        TestDb {
            store,
            _dir: None,
            schema: Some(schema),
        }
    }

    pub(crate) async fn finish(self) {
        self.store.close().await;
        if let Some(schema) = self.schema
            && let Ok(mut c) = sqlx::AnyConnection::connect(&pg_url()).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut c)
                .await;
        }
    }
}

/// `on_both_engines!(name)` makes `name::sqlite` and `name::postgres` tests that run
/// `async fn name(store: Store)` from the enclosing module.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = $crate::testutil::TestDb::sqlite().await;
                super::$name(db.store.clone()).await;
                db.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let db = $crate::testutil::TestDb::postgres().await;
                super::$name(db.store.clone()).await;
                db.finish().await;
            }
        }
    )*};
}
pub(crate) use on_both_engines;

/// A node's side of licence reservation, with a reservation key from fixed bytes: makes the
/// request, return and confirmation codes a real node would.
pub(crate) struct TestNode {
    pub key: ed25519_dalek::SigningKey,
    pub udi: String,
}

impl TestNode {
    pub(crate) fn new(n: u8) -> TestNode {
        TestNode {
            key: ed25519_dalek::SigningKey::from_bytes(&[n; 32]),
            udi: format!("PID:ASR5500,SN:FOX{n:04}"),
        }
    }

    /// A request code (`nonce` makes two requests of one node differ).
    pub(crate) fn request(&self, nonce: &str) -> String {
        use base64::Engine;
        smartlic_protocol::reservation::ReservationRequest {
            udi: self.udi.clone(),
            ha_udis: vec![],
            key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes()),
            nonce: nonce.into(),
            created_at: NOW,
        }
        .encode(&self.key)
    }

    /// A return or confirmation code for reservation `id`, authorization `seq`.
    pub(crate) fn proof(&self, kind: smartlic_protocol::reservation::CodeKind, id: &str, seq: u32) -> String {
        smartlic_protocol::reservation::NodeProof {
            id: id.into(),
            seq,
            udi: self.udi.clone(),
            at: NOW,
        }
        .encode(kind, &self.key)
    }
}

/// A satellite's side of the satellite exchange, for the parent's tests (API and portal): its
/// identity key and token; it makes the request files a satellite would (docs/satellite.md).
pub(crate) struct Sat {
    pub(crate) key: SigningKey,
    pub(crate) token: SatelliteToken,
}

impl Sat {
    pub(crate) fn new(token: &str, n: u8) -> Sat {
        Sat {
            key: SigningKey::from_bytes(&[n; 32]),
            token: SatelliteToken::decode(token).unwrap(),
        }
    }

    pub(crate) fn key_text(&self) -> String {
        B64.encode(self.key.verifying_key().to_bytes())
    }

    /// Request `seq` with `instances` (hostname, PW in use) and `events` (ids), with the proof.
    pub(crate) fn request(&self, seq: u64, instances: &[(&str, i64)], events: &[i64]) -> String {
        let key = self.key_text();
        SatelliteRequest {
            satellite: self.token.satellite.clone(),
            seq,
            proof: Some(SatelliteRequest::proof_for(
                &self.token.secret,
                &self.token.satellite,
                &key,
                seq,
            )),
            key,
            created_at: NOW,
            instances: instances
                .iter()
                .map(|(host, n)| SatelliteInstance {
                    udi: format!("PID:ASR5500,SN:{host}"),
                    hostname: host.to_string(),
                    status: "AUTHORIZED".into(),
                    last_contact: NOW - 60,
                    usage: BTreeMap::from([(PW.to_string(), *n)]),
                })
                .collect(),
            events: events
                .iter()
                .map(|id| SatelliteEvent {
                    id: *id,
                    at: NOW - 100 + id,
                    action: "device.register".into(),
                    detail: format!("satellite event {id}"),
                })
                .collect(),
        }
        .encode(&self.key)
    }
}
