//! The Smart Agent that a product embeds: the licensing state machine and its timers, a
//! tamper-evident persisted state, Call Home transport over HTTPS with a trust pool, licensing
//! events, and the call admission hot path.
//!
//! ```
//! use smartlic_agent::admission::{Admission, CallPolicy};
//! let gates = Admission::new(7, CallPolicy::Allow { limit: 10_000 });
//! let ticket = gates.try_admit(0).expect("admitted");
//! assert_eq!(gates.gate(0).unwrap().count(), 1);
//! drop(ticket); // releases the session
//! assert_eq!(gates.gate(0).unwrap().count(), 0);
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod admission;
pub mod agent;
pub mod events;
pub mod licensing;
pub mod reservation;
pub mod state;
pub mod transport;
pub mod trustpool;

pub use agent::{AgentConfig, AgentError, Release, SmartAgent, Snapshot, TickReport};
pub use licensing::{AuthorizationStatus, Mode, RegistrationStatus};
