//! The smartlic license manager — the Smart Software Manager of the seed: Smart Accounts and
//! their virtual accounts, purchased licences, Product Instance Registration tokens, registered
//! product instances and their usage, compliance per virtual account and SKU, its own PKI, an
//! event log, the device protocol and an admin REST API, over SQLite or PostgreSQL.
//!
//! Map of the crate (the binary sees only [`server`], [`webhooks`] and the items re-exported
//! here; the rest is `pub(crate)`):
//! - [`server`] — `smartlic server`: data directory files, TLS, serving ([`run_server`]);
//! - `api` — the HTTP edge ([`router`], [`ApiError`]); `device` and `admin` — what the endpoints
//!   do; `portal` — the web portal;
//! - `refusal` — the domain's refusals ([`Refusal`]), mapped to HTTP only in `api`;
//! - `auth` — principals and the role/right table; `tokens` — secrets and token rules;
//! - `compliance` — licence arithmetic as pure functions; `pki` — certificates and keys;
//! - `store` — every piece of state, one SQL text for both engines; `state` — what handlers share;
//! - `instance_cache` — instances' public keys, so a renewal is opened without a read of its own.
//!
//! **Architecture invariant:** no licensing state lives only in memory; everything a request
//! decides is read from and written to the store in one transaction, so several managers can
//! serve one PostgreSQL database (the one cache, `instance_cache`, holds what never changes: an
//! instance's id and public key). The manager never links the agent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smartlic_manager::ManagerError> {
//! use std::sync::Arc;
//! let opts = smartlic_manager::ServerOptions {
//!     data_dir: "/var/lib/smartlic".into(),
//!     listen: "127.0.0.1:8443".into(),
//!     database: None, // SQLite at /var/lib/smartlic/smartlic.db
//!     clock: Arc::new(smartlic_clock::SystemClock),
//!     catalog: smartlic_protocol::Catalog::staros(),
//!     master_key: None, // /var/lib/smartlic/master.key, created with the store
//!     event_retention_days: smartlic_manager::server::DEFAULT_EVENT_RETENTION_DAYS,
//!     webhook_allow: vec![], // loopback and private ranges webhooks may point at
//!     tls_sans: vec!["licensing.example.net".into()], // extra names of the TLS certificate
//!     sync_every: None, // a satellite's scheduled exchange with its parent (--sync-every)
//! };
//! smartlic_manager::run_server(opts).await // prints "listening on https://127.0.0.1:8443"
//! # }
//! ```

#![warn(missing_docs, unreachable_pub)]

pub(crate) mod account_requests;
pub(crate) mod admin;
pub(crate) mod alerts;
pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod backpressure;
pub(crate) mod compliance;
pub(crate) mod csv_export;
pub(crate) mod device;
pub(crate) mod error;
pub(crate) mod ids;
pub(crate) mod instance_cache;
pub(crate) mod metrics;
pub(crate) mod pki;
pub(crate) mod portal;
pub(crate) mod refusal;
pub(crate) mod refusal_log;
pub(crate) mod satellite_sync;
pub(crate) mod secrets;
pub mod server;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod tokens;
pub mod webhooks;

#[cfg(test)]
pub(crate) mod testutil;

pub use api::{ApiError, router};
pub use error::{ManagerError, StoreError};
pub use ids::{AccountId, ProductInstanceId, TokenId, VirtualAccountId};
pub use refusal::Refusal;
pub use server::{ServerOptions, run_server};
pub use state::AppState;
pub use store::{Audit, BULK_MAX, BulkInstance, BulkLoad, Store};
