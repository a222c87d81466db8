//! The Smart Agent that a product embeds.
pub mod admission;
pub mod events;
pub mod licensing;
pub mod state;
