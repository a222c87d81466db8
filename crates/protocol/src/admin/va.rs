//! Changing a virtual account after it was made: renaming and deleting it, and moving a product
//! instance into another one.

use super::LicenseUsage;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PATCH /api/v1/accounts/{account}/virtual-accounts/{va}`: a new name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameVirtualAccount {
    /// The new name, unique in the account (case-insensitive).
    pub name: String,
}

/// `POST /api/v1/accounts/{account}/instances/{instance}/move`: the virtual account to move the
/// product instance into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInstance {
    /// Virtual account of the same Smart Account (name or id).
    pub to: String,
}

/// Answer to moving a product instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MovedInstance {
    /// The instance.
    pub id: String,
    /// The virtual account it left (name).
    pub from: String,
    /// The virtual account it is in now (name).
    pub to: String,
    /// Licences it uses, per SKU: they left `from`'s totals and joined `to`'s.
    pub usage: Vec<LicenseUsage>,
}
