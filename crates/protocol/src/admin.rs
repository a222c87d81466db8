//! JSON types of the administration API (`/api/v1/...` outside `/device`), shared by the manager
//! and the `smartlic` admin client. Times are epoch seconds (UTC); dates given by a person are
//! `YYYY-MM-DD`. Errors use [`crate::ErrorBody`].
//!
//! Paths (ACCOUNT and VA accept a name or an id, URL-encoded):
//!
//! | method and path | body → answer |
//! |---|---|
//! | `POST /api/v1/accounts` | [`CreateAccount`] → [`AccountInfo`] |
//! | `GET /api/v1/accounts` | → `[AccountInfo]` |
//! | `GET /api/v1/accounts/{account}` | → [`AccountInfo`] |
//! | `GET/POST /api/v1/accounts/{account}/virtual-accounts` | [`CreateVirtualAccount`] → [`VirtualAccountInfo`] |
//! | `GET /api/v1/accounts/{account}/virtual-accounts/{va}/licenses` | → [`LicenseList`] |
//! | `POST /api/v1/accounts/{account}/virtual-accounts/{va}/licenses` | [`DepositLicenses`] → [`LicenseList`] |
//! | `POST /api/v1/accounts/{account}/transfers` | [`TransferLicenses`] → [`TransferResult`] |
//! | `GET /api/v1/accounts/{account}/tokens[?va=VA]` | → `[TokenInfo]` |
//! | `POST /api/v1/accounts/{account}/virtual-accounts/{va}/tokens` | [`CreateToken`] → [`CreatedToken`] |
//! | `POST /api/v1/accounts/{account}/tokens/{id}/revoke` | → [`TokenInfo`] |
//! | `GET /api/v1/accounts/{account}/instances[?va=VA]` | → `[InstanceInfo]` |
//! | `GET /api/v1/accounts/{account}/instances/{id}` | → [`InstanceInfo`] (with usage) |
//! | `DELETE /api/v1/accounts/{account}/instances/{id}` | → [`RemovedInstance`] |
//! | `PATCH /api/v1/accounts/{account}/virtual-accounts/{va}` | [`RenameVirtualAccount`] → [`VirtualAccountInfo`] |
//! | `DELETE /api/v1/accounts/{account}/virtual-accounts/{va}` | → 204 |
//! | `POST /api/v1/accounts/{account}/instances/{id}/move` | [`MoveInstance`] → [`MovedInstance`] |
//! | `GET /api/v1/accounts/{account}/virtual-accounts/{va}/licenses.csv`, `GET /api/v1/accounts/{account}/instances.csv[?va=VA]` | → CSV |
//! | `GET/POST /api/v1/accounts/{account}/users` | [`CreateUser`] → [`CreatedUser`] |
//! | `GET /api/v1/accounts/{account}/events[?limit=N&action=P&actor=A&va=V&since=D&until=D]` | → `[EventInfo]` |
//! | `GET /api/v1/accounts/{account}/events.csv[?same filters]` | → the same as CSV |
//! | `POST /api/v1/account-requests` (no API key) | [`SubmitAccountRequest`] → [`AccountRequestInfo`] |
//! | `GET /api/v1/account-requests[?status=pending]` | → `[AccountRequestInfo]` |
//! | `POST /api/v1/account-requests/{id}/approve` | → [`ApprovedAccountRequest`] |
//! | `POST /api/v1/account-requests/{id}/reject` | [`RejectAccountRequest`] → [`AccountRequestInfo`] |
//! | `POST /api/v1/accounts/{account}/reservations` | [`CreateReservation`] → [`IssuedReservation`] |
//! | `GET /api/v1/accounts/{account}/reservations[?va=VA]` | → `[ReservationInfo]` |
//! | `PUT /api/v1/accounts/{account}/reservations/{id}` | [`UpdateReservation`] → [`IssuedReservation`] |
//! | `POST /api/v1/accounts/{account}/reservations/return` | [`ReturnReservation`] → [`ReservationInfo`] |
//! | `POST /api/v1/accounts/{account}/reservations/confirm` | [`ConfirmReservation`] → [`ReservationInfo`] |
//! | `POST /api/v1/accounts/{account}/satellites` | [`CreateSatellite`] → [`CreatedSatellite`] |
//! | `GET /api/v1/accounts/{account}/satellites` | → `[SatelliteInfo]` |
//! | `POST /api/v1/satellites/answer` | a satellite request file → its answer file (docs/satellite.md) |
//! | `POST /api/v1/satellites/exchange` (no API key) | the same, authenticated by the request's signature |
//!
//! The satellite side's paths (`/api/v1/satellite/…`) are listed with their types ([`LinkSatellite`] and the rest) in `admin/satellite_link.rs`.

mod satellite_link;
mod va;
pub use satellite_link::*;
pub use va::*;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// `POST /api/v1/accounts`: a new Smart Account (it gets the virtual account `DEFAULT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// Account name (typically the company name); unique, case-insensitive.
    pub name: String,
    /// Account domain identifier, e.g. `example.com`.
    pub domain: String,
}

/// A Smart Account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountInfo {
    /// Id (UUID).
    pub id: String,
    /// Name.
    pub name: String,
    /// Domain identifier.
    pub domain: String,
    /// Creation time.
    pub created_at: i64,
    /// Which licence reservations the operator allows this account.
    #[serde(default)]
    pub reservation: ReservationPolicy,
}

/// Which licence reservations an account may make (set by the operator only): none, specific
/// licences (SLR), or the universal licence as well (PLR; an account allowed PLR may also reserve
/// specific licences).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReservationPolicy {
    /// No reservation (the default).
    #[default]
    None,
    /// Specific licence reservation (SLR).
    Specific,
    /// Universal (permanent) licence reservation (PLR), and SLR.
    Universal,
}

impl ReservationPolicy {
    /// The word used in the CLI, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationPolicy::None => "none",
            ReservationPolicy::Specific => "specific",
            ReservationPolicy::Universal => "universal",
        }
    }
}

impl std::fmt::Display for ReservationPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReservationPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<ReservationPolicy, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(ReservationPolicy::None),
            "specific" => Ok(ReservationPolicy::Specific),
            "universal" => Ok(ReservationPolicy::Universal),
            other => Err(format!(
                "reservation must be none, specific or universal (not {other:?})"
            )),
        }
    }
}

/// `PUT /api/v1/accounts/{account}/reservation`: the operator sets which reservations the
/// account may make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetReservationPolicy {
    /// `none`, `specific` or `universal`.
    pub reservation: ReservationPolicy,
}

/// `POST /api/v1/accounts/{account}/virtual-accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVirtualAccount {
    /// Name, unique in the account (case-insensitive).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// A virtual account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VirtualAccountInfo {
    /// Id (UUID).
    pub id: String,
    /// The Smart Account it belongs to.
    pub account_id: String,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Creation time.
    pub created_at: i64,
}

/// `POST /api/v1/accounts/{account}/virtual-accounts/{va}/licenses`: deposit purchased licences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositLicenses {
    /// SKU from the catalog, e.g. `ASR5K-00-PW10GTWY`.
    pub sku: String,
    /// Number of licences (at least 1).
    pub quantity: u64,
    /// Last day of validity is the day before this date (`YYYY-MM-DD`, the licences stop
    /// counting at its first second, UTC); absent: perpetual.
    #[serde(default)]
    pub expires: Option<String>,
}

/// `POST /api/v1/legacy-keys`: issue a legacy licence key (operator only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueLegacyKey {
    /// Chassis serial number the key is bound to.
    pub serial: String,
    /// Platform: `ASR5500`, `VPC-SI` or `VPC-DI`.
    pub platform: String,
    /// Sessions per service name (`pgw`, `saegw`, `ggsn`, `sgw`, `mme`, `epdg`, `samog`).
    #[serde(default)]
    pub sessions: std::collections::BTreeMap<String, u64>,
    /// On/off feature SKUs.
    #[serde(default)]
    pub features: Vec<String>,
    /// The key stops at the first second of this day (`YYYY-MM-DD`, UTC); absent: never.
    #[serde(default)]
    pub expires: Option<String>,
}

/// A legacy licence key as issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssuedLegacyKey {
    /// The key text to install with `license key "KEY"`.
    pub key: String,
    /// Key id.
    pub id: String,
    /// Serial number.
    pub serial: String,
    /// Platform.
    pub platform: String,
    /// Sessions per service.
    pub sessions: std::collections::BTreeMap<String, u64>,
    /// Features.
    pub features: Vec<String>,
    /// End of validity (epoch seconds).
    pub expires_at: Option<i64>,
}

/// `POST /api/v1/accounts/{account}/transfers`: move licences between two virtual accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferLicenses {
    /// Source virtual account (name or id).
    pub from: String,
    /// Destination virtual account (name or id).
    pub to: String,
    /// SKU.
    pub sku: String,
    /// Number of licences (at least 1).
    pub quantity: u64,
}

/// An alert of the license manager about a virtual account (`GET /accounts/{account}/alerts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertInfo {
    /// Stable identity of the condition while it holds (a webhook is told once per key).
    pub key: String,
    /// `Insufficient Licenses`, `Licenses Expiring`, `Licenses Expired` or `Product Instance
    /// Failed to Connect`.
    pub kind: String,
    /// `critical` or `warning`.
    pub severity: String,
    /// Virtual account name.
    pub virtual_account: String,
    /// The SKU or the product instance (hostname) it is about.
    pub subject: String,
    /// What an administrator reads.
    pub message: String,
    /// Since when it holds (epoch seconds), or when it will (an end date).
    pub at: i64,
}

/// An alert webhook of an account (its secret is shown only when it is added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookInfo {
    /// Id.
    pub id: String,
    /// Where alerts are POSTed.
    pub url: String,
    /// When added.
    pub created_at: i64,
    /// By whom.
    pub created_by: String,
}

/// `POST /accounts/{account}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://…`, or `http://` to a loopback address.
    pub url: String,
}

/// A new webhook with its signing secret (shown this once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    pub info: WebhookInfo,
    /// HMAC-SHA256 key: every delivery carries `X-Smartlic-Timestamp: T` and
    /// `X-Smartlic-Signature: sha256=hex(HMAC(secret, "T." + body))`.
    pub secret: String,
}

/// One day of a SKU's usage history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsagePoint {
    /// The day (UTC), `YYYY-MM-DD`.
    pub day: String,
    /// The most licences of the SKU in use in the virtual account that day (the last known total
    /// when nothing changed that day).
    pub in_use: i64,
}

/// A SKU's daily usage over a period, with what is purchased now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SkuUsage {
    /// SKU.
    pub sku: String,
    /// Catalog description.
    pub description: String,
    /// Licences purchased now.
    pub purchased: i64,
    /// One point per day, oldest first.
    pub days: Vec<UsagePoint>,
}

/// A virtual account's usage history (`GET …/virtual-accounts/{va}/usage?days=N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageHistory {
    /// Virtual account name.
    pub virtual_account: String,
    /// Per SKU in use or purchased in the period.
    pub skus: Vec<SkuUsage>,
}

/// Result of a transfer: the two virtual accounts' licence lists afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferResult {
    /// Id of the transfer (names both deposit records).
    pub transfer_id: String,
    /// The source afterwards.
    pub from: LicenseList,
    /// The destination afterwards.
    pub to: LicenseList,
}

/// Licence status of one SKU in one virtual account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LicenseStatus {
    /// In use ≤ purchased.
    Ok,
    /// In use > purchased.
    Insufficient,
}

impl LicenseStatus {
    /// The word the CLI prints.
    pub fn as_str(&self) -> &'static str {
        match self {
            LicenseStatus::Ok => "OK",
            LicenseStatus::Insufficient => "INSUFFICIENT",
        }
    }
}

/// Licences of one SKU ending on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseEndDate {
    /// The licences stop counting on this date (`YYYY-MM-DD`).
    pub date: String,
    /// How many.
    pub quantity: i64,
}

/// One SKU of a virtual account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseSummary {
    /// SKU.
    pub sku: String,
    /// Catalog description.
    pub description: String,
    /// `counting` (session bundle) or `feature` (on/off).
    pub kind: String,
    /// Purchased and not past their end date.
    pub purchased: i64,
    /// In use across all product instances of the virtual account.
    pub in_use: i64,
    /// purchased − in use (negative when short).
    pub balance: i64,
    /// `OK` or `INSUFFICIENT`.
    pub status: LicenseStatus,
    /// Licences with an end date that still count, soonest first.
    pub end_dates: Vec<LicenseEndDate>,
}

/// `GET …/virtual-accounts/{va}/licenses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseList {
    /// Smart Account name.
    pub account: String,
    /// Virtual account name.
    pub virtual_account: String,
    /// Id of the virtual account.
    pub virtual_account_id: String,
    /// One entry per SKU purchased or in use, in catalog order.
    pub licenses: Vec<LicenseSummary>,
    /// Of the licences in use, those at each satellite manager of the virtual account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub satellites: Vec<SatelliteUse>,
}

/// Licences of one SKU in use at one satellite manager (part of the VA's `in_use`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SatelliteUse {
    /// Satellite name.
    pub satellite: String,
    /// SKU.
    pub sku: String,
    /// Licences in use there.
    pub in_use: i64,
}

/// `POST …/virtual-accounts/{va}/tokens`: a new Product Instance Registration token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Days until it expires (1-365; default 30).
    #[serde(default)]
    pub expires_days: Option<u32>,
    /// Maximum number of registrations (default: unlimited).
    #[serde(default)]
    pub max_uses: Option<u64>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Whether products registered with it may use export-controlled functionality.
    #[serde(default)]
    pub export_controlled: bool,
}

/// State of a token, decided when it is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
    /// Reached its maximum uses.
    UsedUp,
}

impl TokenStatus {
    /// The word the CLI prints.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenStatus::Active => "ACTIVE",
            TokenStatus::Expired => "EXPIRED",
            TokenStatus::Revoked => "REVOKED",
            TokenStatus::UsedUp => "USED UP",
        }
    }
}

/// A registration token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// Id (UUID); used to revoke it.
    pub id: String,
    /// Virtual account name.
    pub virtual_account: String,
    /// Free text.
    pub description: String,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
    /// Expiry time.
    pub expires_at: i64,
    /// Maximum registrations (absent: unlimited).
    pub max_uses: Option<u64>,
    /// Registrations so far.
    pub uses: u64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Export-controlled functionality allowed.
    pub export_controlled: bool,
    /// Current state.
    pub status: TokenStatus,
}

/// Answer to token creation: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token as a device uses it (`license smart register idtoken TOKEN`).
    pub token: String,
    /// Its description.
    pub info: TokenInfo,
}

/// A product instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstanceInfo {
    /// Id (UUID), the CN of its ID certificate.
    pub id: String,
    /// `PID:…,SN:…`.
    pub udi: String,
    /// Product id (platform).
    pub pid: String,
    /// Serial number.
    pub sn: String,
    /// Hostname it last reported.
    pub hostname: String,
    /// Virtual account name.
    pub virtual_account: String,
    /// Software tag.
    pub software_tag: String,
    /// Registration time.
    pub registered_at: i64,
    /// Last successful contact.
    pub last_contact: i64,
    /// Expiry of its ID certificate.
    pub id_expires_at: i64,
    /// `REGISTERED`, `AUTHORIZED`, `OUT OF COMPLIANCE`, `AUTHORIZATION EXPIRED` or `ID EXPIRED`.
    pub status: String,
    /// Licences it uses (only when one instance is asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<LicenseUsage>,
    /// The HA UDI list of a distributed product, as registered (`Active:PID:…,SN:…`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ha_udis: Vec<String>,
    /// The satellite manager that serves it (its name), or `null` for one of this manager.
    #[serde(default)]
    pub satellite: Option<String>,
}

/// Licences of one SKU used (or released) by one product instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseUsage {
    /// SKU.
    pub sku: String,
    /// Licences.
    pub count: u64,
}

/// Answer to removing a product instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RemovedInstance {
    /// The removed instance.
    pub id: String,
    /// Licences released, per SKU.
    pub released: Vec<LicenseUsage>,
}

/// The four roles of a Smart Account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Role {
    /// Smart Account Administrator: everything in the account.
    #[serde(rename = "sa-admin")]
    SaAdmin,
    /// Smart Account User: everything in the account except managing users.
    #[serde(rename = "sa-user")]
    SaUser,
    /// Virtual Account Administrator: licences, tokens and instances of its virtual account.
    #[serde(rename = "va-admin")]
    VaAdmin,
    /// Virtual Account User: reads its virtual account and creates tokens.
    #[serde(rename = "va-user")]
    VaUser,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::SaAdmin, Role::SaUser, Role::VaAdmin, Role::VaUser];

    /// The name used on the command line and in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::SaAdmin => "sa-admin",
            Role::SaUser => "sa-user",
            Role::VaAdmin => "va-admin",
            Role::VaUser => "va-user",
        }
    }

    /// Whether the role is bound to one virtual account.
    pub fn is_va_role(&self) -> bool {
        matches!(self, Role::VaAdmin | Role::VaUser)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected sa-admin, sa-user, va-admin or va-user)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// `POST /api/v1/accounts/{account}/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// E-mail address (unique across the manager).
    pub email: String,
    /// Role.
    pub role: Role,
    /// Virtual account (name or id); required for VA roles, refused for SA roles.
    #[serde(default)]
    pub va: Option<String>,
    /// Portal password (at least 8 characters); absent: API key only.
    #[serde(default)]
    pub password: Option<String>,
}

/// A user as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    /// Id (UUID).
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Virtual account name for VA roles.
    pub virtual_account: Option<String>,
    /// Whether the user can log in to the portal.
    pub has_password: bool,
    /// Creation time.
    pub created_at: i64,
    /// Disabled users can neither use their API key nor log in.
    #[serde(default)]
    pub disabled: bool,
}

/// Answer to an operator key rotation: the only time the new key is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RotatedKey {
    /// The new API key (Bearer); the key used for the request stopped.
    pub api_key: String,
}

/// Answer to user creation: the only time the API key is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedUser {
    /// The user's API key (Bearer).
    pub api_key: String,
    /// The user.
    pub user: UserInfo,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventInfo {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: i64,
    /// Who: `operator`, a user's e-mail, or `device:<instance id>`.
    pub actor: String,
    /// What, e.g. `token.create`, `device.register`.
    pub action: String,
    /// Virtual account id, if the event concerns one.
    pub virtual_account_id: Option<String>,
    /// Object the event concerns (token, instance, … id).
    pub object_id: Option<String>,
    /// Human detail.
    pub detail: String,
    /// Client address.
    pub source: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_serialize_by_their_cli_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.as_str()));
        }
        assert!("admin".parse::<Role>().is_err());
        assert!(Role::VaUser.is_va_role() && !Role::SaUser.is_va_role());
    }

    #[test]
    fn statuses_serialize_as_words() {
        assert_eq!(
            serde_json::to_string(&LicenseStatus::Insufficient).unwrap(),
            "\"INSUFFICIENT\""
        );
        assert_eq!(serde_json::to_string(&TokenStatus::UsedUp).unwrap(), "\"USED_UP\"");
    }
}

/// `POST /api/v1/account-requests` (public, no API key): a request for a new Smart Account,
/// pending until the operator approves or rejects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitAccountRequest {
    /// The requester's e-mail address.
    pub requester_email: String,
    /// `true`: "Yes, I have authority to represent my company and want to create the Smart
    /// Account" (the requester becomes its administrator); `false`: "No, the person specified
    /// below will create the account" (`on_behalf_email` becomes its administrator).
    pub authority: bool,
    /// E-mail of the person who will create the account (required when `authority` is false).
    #[serde(default)]
    pub on_behalf_email: Option<String>,
    /// Account domain identifier; default: the domain of the requester's e-mail.
    #[serde(default)]
    pub domain: Option<String>,
    /// Account name (typically the company name).
    pub name: String,
    /// Portal password of the future SA administrator (8 to 1024 characters); only its argon2
    /// hash is stored.
    pub password: String,
}

/// A Smart Account request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountRequestInfo {
    /// Id (UUID).
    pub id: String,
    /// Who asked.
    pub requester_email: String,
    /// The person named to create the account ("No" chosen), if any.
    pub on_behalf_email: Option<String>,
    /// Whether the requester claimed authority to create the account.
    pub authority: bool,
    /// Account domain identifier.
    pub domain: String,
    /// Account name.
    pub name: String,
    /// Client address (IPv6: its /64) the request came from.
    pub source: String,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    /// When it was submitted.
    pub created_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The Smart Account created on approval.
    pub account_id: Option<String>,
}

/// `POST /api/v1/account-requests/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectAccountRequest {
    /// Why (shown to the operator's colleagues in the list and the event log).
    pub reason: String,
}

/// Answer to an approval: the only time the SA administrator's API key is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovedAccountRequest {
    /// The request, now `APPROVED`.
    pub request: AccountRequestInfo,
    /// The new Smart Account (with its virtual account `DEFAULT`).
    pub account: AccountInfo,
    /// The SA administrator (the requester, or the person named).
    pub admin: UserInfo,
    /// The SA administrator's API key (Bearer).
    pub api_key: String,
}

/// `POST /api/v1/accounts/{account}/reservations`: reserve licences for the node that made the
/// request code (SLR: `licenses`; PLR: `universal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReservation {
    /// Virtual account (name or id) whose licences are reserved.
    pub va: String,
    /// The node's request code (`RQ1.…`).
    pub request_code: String,
    /// Licences per SKU (specific reservation); empty with `universal`.
    #[serde(default)]
    pub licenses: BTreeMap<String, u64>,
    /// The universal licence (PLR) instead of specific licences.
    #[serde(default)]
    pub universal: bool,
    /// End date `YYYY-MM-DD` (its first second, UTC); none: the reservation does not end.
    #[serde(default)]
    pub expires: Option<String>,
}

/// `PUT /api/v1/accounts/{account}/reservations/{id}`: the reservation's new licences (an
/// authorization with the next sequence number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateReservation {
    /// Licences per SKU (specific reservation); empty with `universal`.
    #[serde(default)]
    pub licenses: BTreeMap<String, u64>,
    /// The universal licence (PLR) instead of specific licences.
    #[serde(default)]
    pub universal: bool,
}

/// `POST /api/v1/accounts/{account}/reservations/return`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnReservation {
    /// The node's return code (`RT1.…`).
    pub return_code: String,
}

/// `POST /api/v1/accounts/{account}/reservations/confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmReservation {
    /// The node's confirmation code (`CF1.…`).
    pub confirmation_code: String,
}

/// Specific licences (SLR) or the universal licence (PLR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReservationType {
    /// Specific licences by SKU and count (SLR).
    Specific,
    /// The universal licence (PLR).
    Universal,
}

impl fmt::Display for ReservationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReservationType::Specific => "SPECIFIC",
            ReservationType::Universal => "UNIVERSAL",
        })
    }
}

/// Whether a reservation's licences are in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReservationStatus {
    /// Installed (or to be installed) on the node: its licences count as in use.
    Reserved,
    /// The node returned it: its licences are released.
    Returned,
}

impl fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReservationStatus::Reserved => "RESERVED",
            ReservationStatus::Returned => "RETURNED",
        })
    }
}

/// A licence reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservationInfo {
    /// Id (named in the node's codes).
    pub id: String,
    /// Virtual account name.
    pub va: String,
    /// The node's UDI.
    pub udi: String,
    /// `SPECIFIC` or `UNIVERSAL`.
    pub kind: ReservationType,
    /// Licences per SKU (empty for universal).
    pub licenses: BTreeMap<String, u64>,
    /// `RESERVED` or `RETURNED`.
    pub status: ReservationStatus,
    /// Sequence number of the latest authorization.
    pub seq: u32,
    /// Highest authorization the node confirmed.
    pub confirmed_seq: Option<u32>,
    /// End of the reservation (epoch seconds), if any.
    pub expires_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// When it was returned.
    pub returned_at: Option<i64>,
}

/// Answer to a create or an update: the authorization code to install on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssuedReservation {
    /// The authorization code (`AU1.…`), one line.
    pub authorization_code: String,
    /// The reservation as it now is.
    pub reservation: ReservationInfo,
}

/// `POST /api/v1/accounts/{account}/satellites`: a satellite manager of a virtual account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSatellite {
    /// Virtual account (name or id) whose licences the satellite serves.
    pub va: String,
    /// Its name (unique in the Smart Account).
    pub name: String,
}

/// A satellite manager as the parent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SatelliteInfo {
    /// Id (in its token and exchange files).
    pub id: String,
    /// Name.
    pub name: String,
    /// Virtual account name.
    pub virtual_account: String,
    /// When it last exchanged (epoch seconds), `null` if never.
    pub last_exchange: Option<i64>,
    /// Product instances it reported at its last exchange.
    pub instances: u64,
    /// Whether it has linked: a request proved its token and bound its identity key.
    pub linked: bool,
    /// Sequence number of the last request applied (0: none).
    pub seq: u64,
    /// Creation time.
    pub created_at: i64,
}

/// Answer to creating a satellite: its token, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedSatellite {
    /// The token (`ST1.…`, one line) for `satellite link` on the satellite.
    pub token: String,
    /// The satellite.
    pub satellite: SatelliteInfo,
}
