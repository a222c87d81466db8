//! The node's own configuration (everything but licensing, which the Smart Agent persists):
//! SNMP trap targets and bulk statistics. Kept in `DIR/node-config.json`, written atomically.

use serde::{Deserialize, Serialize};
use smartlic_agent::state::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An SNMPv2c trap receiver (`snmp target NAME IP [port PORT] [community STRING]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnmpTarget {
    /// Name.
    pub name: String,
    /// IPv4 or IPv6 address.
    pub ip: String,
    /// UDP port (162 by default).
    pub port: u16,
    /// Community string (`public` by default).
    pub community: String,
}

/// One bulkstats schema (`smartlic schema NAME format "FORMAT"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Name.
    pub name: String,
    /// Format with `%variable%` names.
    pub format: String,
}

/// One bulkstats file (`file N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BulkFile {
    /// `receiver local-directory DIR`.
    pub receiver_dir: Option<String>,
    /// Schemas in order.
    pub schemas: Vec<Schema>,
}

/// `bulkstats mode` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bulkstats {
    /// Minutes between samples.
    pub sample_interval: u32,
    /// Minutes between transfers.
    pub transfer_interval: u32,
    /// Files by number.
    pub files: BTreeMap<u32, BulkFile>,
}

impl Default for Bulkstats {
    fn default() -> Self {
        Bulkstats {
            sample_interval: 15,
            transfer_interval: 480,
            files: BTreeMap::new(),
        }
    }
}

/// The node configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NodeConfig {
    /// Trap receivers.
    pub snmp_targets: Vec<SnmpTarget>,
    /// Bulk statistics.
    pub bulkstats: Bulkstats,
    /// VPC-DI: the slot of the active control function (1 or 2; 0 before the first start).
    #[serde(default)]
    pub active_cf: u8,
}

/// Configuration file trouble.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Read or write failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl NodeConfig {
    fn path(dir: &Path) -> PathBuf {
        dir.join("node-config.json")
    }

    /// Loads the configuration of `dir` (default when absent).
    pub fn load(dir: &Path) -> Result<NodeConfig, ConfigError> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ConfigError::Parse {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NodeConfig::default()),
            Err(e) => Err(ConfigError::Io { path, source: e }),
        }
    }

    /// Saves it atomically.
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        let path = Self::path(dir);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&path, &bytes, Some(0o644)).map_err(|e| ConfigError::Io { path, source: e })
    }
}
