//! The language both sides of smartlic speak, with no I/O: the product catalog (software and
//! entitlement tags as data), the device protocol's message bodies, signed envelopes (Ed25519),
//! trust checks of the manager's signing certificate, and time formatting.
//!
//! ```
//! use smartlic_protocol::Catalog;
//! let catalog = Catalog::staros();
//! let pgw = catalog.service_by_name("pgw").unwrap();
//! assert_eq!(pgw.sku, "ASR5K-00-PW10GTWY");
//! assert_eq!(catalog.licenses_for_sessions(15_000), 2);
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod admin;
pub mod catalog;
pub mod envelope;
pub mod error_text;
pub mod legacy;
pub mod reservation;
pub mod satellite;
#[cfg(test)]
mod testutil;
pub mod time;
pub mod trust;
pub mod wire;

pub use catalog::{Catalog, Entitlement, FeatureEntitlement, ServiceEntitlement, SoftwareTag};
pub use envelope::{EnvelopeError, RequestPayload, ResponsePayload, SignedRequest, SignedResponse};
pub use wire::*;
