//! A simulated StarOS product (ASR 5500, VPC-SI, VPC-DI) around the Smart Agent: the StarOS-style
//! CLI on a Unix socket, call simulation through the agent's admission gates, the `show license …`
//! views, SNMP traps and bulk statistics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smartlic_node::NodeError> {
//! let opts = smartlic_node::NodeOptions {
//!     dir: "/tmp/node1".into(),
//!     hostname: "asr5500".into(),
//!     platform: "ASR5500".into(),
//!     serial: None,
//!     clock: smartlic_clock::from_option(None),
//!     catalog: smartlic_protocol::Catalog::staros(),
//!     metrics_listen: None,
//!     release: smartlic_agent::Release::R21_6, // 21.3: the mixed mode
//!     sf_cards: 2, // VPC-DI only: service-function VMs
//! };
//! smartlic_node::run(opts).await // serves `smartlic cli --data-dir /tmp/node1` until stopped
//! # }
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod cli;
pub mod config;
pub mod dispatch;
/// The fuzz targets' checks, shared by `fuzz/` (AFL++) and the `fuzz_corpus` test.
pub mod fuzzing;
pub mod metrics;
pub mod node;
pub mod protocol;
pub mod services;
pub mod views;

pub use node::{Node, NodeError, NodeOptions, run};
