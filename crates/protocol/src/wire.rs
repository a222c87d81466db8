//! Message bodies of the device protocol (agent ⇄ manager). Every body travels inside a signed
//! envelope (see [`crate::envelope`]). The protocol is documented in `docs/protocol.md`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Path prefix of the device protocol on the manager.
pub const DEVICE_API: &str = "/api/v1/device";

/// Unique Device Identifier: product id (platform) and serial number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Udi {
    /// Product id, e.g. `ASR5500`.
    pub pid: String,
    /// Serial number.
    pub sn: String,
}

impl fmt::Display for Udi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PID:{},SN:{}", self.pid, self.sn)
    }
}

/// One member of a distributed product's high-availability UDI list (VPC-DI: the active and
/// standby control functions and each service function).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaUdi {
    /// `Active`, `Standby` or `Member`.
    pub role: String,
    /// The member's UDI.
    pub udi: Udi,
}

/// `POST /api/v1/device/register`: the first message, signed with the new device key whose
/// public half it carries (proof of possession).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The Product Instance Registration token.
    pub token: String,
    /// The device's UDI.
    pub udi: Udi,
    /// Hostname of the product.
    pub hostname: String,
    /// The `regid…` software tag of the product.
    pub software_tag: String,
    /// Ed25519 public key of the device, base64 (standard) of the 32 raw bytes.
    pub public_key: String,
    /// Smart Agent version string.
    pub agent_version: String,
    /// The HA UDI list of a distributed product (empty for a single-chassis one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ha_udis: Vec<HaUdi>,
}

/// Answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterResponse {
    /// The product instance id assigned by the manager.
    pub instance_id: String,
    /// The device ID certificate (PEM), issued by the manager's CA for the device key.
    pub id_certificate: String,
    /// Not-after of the ID certificate (epoch seconds).
    pub id_expires_at: i64,
    /// Smart Account name.
    pub smart_account: String,
    /// Virtual account name.
    pub virtual_account: String,
    /// Whether the token allowed export-controlled functionality.
    pub export_controlled: bool,
}

/// `POST /api/v1/device/renew-id`: renew the ID certificate. Empty body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewIdRequest {}

/// Answer to an ID renewal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewIdResponse {
    /// The new ID certificate (PEM).
    pub id_certificate: String,
    /// Its not-after (epoch seconds).
    pub id_expires_at: i64,
}

/// Licences one product instance uses of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// Entitlement SKU.
    pub sku: String,
    /// Licences in use (for a counting licence, ceil(peak sessions / bundle); a feature: 1).
    pub count: u64,
}

/// `POST /api/v1/device/authorize`: report usage and ask for authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRequest {
    /// Current hostname (may change after registration).
    pub hostname: String,
    /// Every entitlement in use; an SKU not listed is not in use.
    pub usage: Vec<Usage>,
}

/// Compliance of one entitlement, decided by the manager for the whole virtual account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    /// Enough licences in the virtual account.
    Authorized,
    /// More licences in use in the virtual account than purchased.
    OutOfCompliance,
}

impl Compliance {
    /// The word the CLI prints.
    pub fn as_str(&self) -> &'static str {
        match self {
            Compliance::Authorized => "AUTHORIZED",
            Compliance::OutOfCompliance => "OUT OF COMPLIANCE",
        }
    }
}

/// Per-SKU answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementStatus {
    /// SKU.
    pub sku: String,
    /// Count this instance reported.
    pub count: u64,
    /// Compliance of the SKU in the virtual account.
    pub status: Compliance,
}

/// Answer to an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationResponse {
    /// `OutOfCompliance` if any entitlement is.
    pub status: Compliance,
    /// One entry per SKU the device reported.
    pub entitlements: Vec<EntitlementStatus>,
    /// When the manager granted this answer (epoch seconds).
    pub authorized_at: i64,
    /// The authorization is valid until then (granted + 90 days).
    pub expires_at: i64,
    /// The device should renew at this time (granted + 30 days).
    pub renew_at: i64,
}

/// `POST /api/v1/device/deregister`. Empty body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeregisterRequest {}

/// Answer to a deregistration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeregisterResponse {
    /// Licences released, per SKU.
    pub released: Vec<Usage>,
}

macro_rules! message_kinds {
    ($($ty:ty => $kind:literal),* $(,)?) => {
        $(impl crate::envelope::Message for $ty {
            const KIND: &'static str = $kind;
        })*
    };
}

message_kinds! {
    RegisterRequest => "register",
    RegisterResponse => "register",
    RenewIdRequest => "renew-id",
    RenewIdResponse => "renew-id",
    AuthorizationRequest => "authorize",
    AuthorizationResponse => "authorize",
    DeregisterRequest => "deregister",
    DeregisterResponse => "deregister",
}

/// Machine-readable error codes of the API (both device and admin endpoints).
pub mod codes {
    /// The token does not exist (or the secret does not match).
    pub const TOKEN_INVALID: &str = "token_invalid";
    /// The token is past its expiry.
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// The token was revoked.
    pub const TOKEN_REVOKED: &str = "token_revoked";
    /// The token reached its maximum number of uses.
    pub const TOKEN_USED_UP: &str = "token_used_up";
    /// A signature did not verify.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// The same nonce was seen before.
    pub const REPLAYED: &str = "replayed";
    /// The request timestamp is too far from the manager's clock.
    pub const STALE: &str = "stale_timestamp";
    /// The product instance is not (or no longer) known.
    pub const UNKNOWN_INSTANCE: &str = "unknown_instance";
    /// The request could not be parsed or is invalid.
    pub const MALFORMED: &str = "malformed";
    /// The request body is too large.
    pub const TOO_LARGE: &str = "payload_too_large";
    /// No such object.
    pub const NOT_FOUND: &str = "not_found";
    /// Missing or wrong credentials.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Not allowed for these credentials.
    pub const FORBIDDEN: &str = "forbidden";
    /// Conflicts with the current state (e.g. a name that exists).
    pub const CONFLICT: &str = "conflict";
    /// Not enough licences for the operation.
    pub const INSUFFICIENT: &str = "insufficient_licenses";
    /// A usage report claims more than the instance's platform can carry.
    pub const OVER_CAPACITY: &str = "over_capacity";
    /// The manager is over capacity; retry after the Retry-After header.
    pub const OVERLOADED: &str = "overloaded";
    /// An internal failure.
    pub const INTERNAL: &str = "internal";
}

/// The JSON shape of every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and human message of an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// One of [`codes`].
    pub code: String,
    /// One line for a human.
    pub message: String,
}
