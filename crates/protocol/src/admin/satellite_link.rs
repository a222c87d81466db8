//! JSON types of the satellite side of the satellite exchange (docs/satellite.md), operator only:
//!
//! | method and path | body → answer |
//! |---|---|
//! | `POST /api/v1/satellite/link` | [`LinkSatellite`] → [`SatelliteLinkInfo`] |
//! | `GET /api/v1/satellite` | → [`SatelliteLinkInfo`] |
//! | `POST /api/v1/satellite/request` | → [`SatelliteRequestFile`] |
//! | `POST /api/v1/satellite/import` | [`ImportSatelliteAnswer`] → [`SatelliteExchange`] |
//! | `POST /api/v1/satellite/sync` | → [`SatelliteExchange`] |

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/satellite/link`: link this manager to its parent with the token the parent's
/// `satellite create` printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSatellite {
    /// The satellite token (`ST1.…`).
    pub token: String,
    /// The parent's URL (`https://…`), for `satellite sync`; with `parent_ca_pem`.
    #[serde(default)]
    pub parent_url: Option<String>,
    /// The CA certificate (PEM) the parent's TLS certificate chains to; with `parent_url`.
    #[serde(default)]
    pub parent_ca_pem: Option<String>,
}

/// This manager's link to its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SatelliteLinkInfo {
    /// The satellite's id on the parent.
    pub satellite: String,
    /// The parent's URL, if it syncs over HTTPS.
    pub parent_url: Option<String>,
    /// SHA-256 (hex) of the parent CA the token pinned.
    pub parent_ca: String,
    /// The latest request made.
    pub seq: u64,
    /// The latest request whose answer was imported (0: none yet).
    pub answered_seq: u64,
    /// When the last answer was imported.
    pub last_exchange: Option<i64>,
    /// The Smart Account the parent named (once an answer was imported).
    pub account: Option<String>,
    /// The virtual account the parent named (once an answer was imported).
    pub va: Option<String>,
    /// Why the last scheduled sync failed, if it did.
    pub last_error: Option<String>,
    /// When the link was made.
    pub linked_at: i64,
}

/// `POST /api/v1/satellite/request`: the next request file, its sequence number stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SatelliteRequestFile {
    /// Its sequence number.
    pub seq: u64,
    /// The request file's text, to hand to the parent.
    pub request: String,
}

/// `POST /api/v1/satellite/import`: the parent's answer file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportSatelliteAnswer {
    /// The answer file's text.
    pub answer: String,
}

/// What an imported answer (by file or by `sync`) changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SatelliteExchange {
    /// The request answered.
    pub seq: u64,
    /// The Smart Account (the parent's name).
    pub account: String,
    /// The virtual account (the parent's name).
    pub va: String,
    /// Lots of purchased licences the VA now holds.
    pub lots: u64,
}
