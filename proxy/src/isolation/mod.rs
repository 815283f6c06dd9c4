//! Keeping session state from crossing clients under transaction pooling.
//! A statement that leaves state on its server connection past the
//! transaction (a temporary table, a `WITH HOLD` cursor, a session-level
//! advisory lock, SQL `PREPARE`, `LISTEN`, `SET ROLE`, `LOAD`; see
//! [`shardwire_router::session_state`]) either *pins* the connection to its
//! client until the state is gone, or is refused ([`refusal`]), per kind
//! and by configuration ([`crate::config::SessionStateSection`]).
//! [`Pins`] is what one client holds; a connection whose client held
//! anything, or ran something the proxy cannot see into (`DO`, `CALL`), is
//! cleaned with `DISCARD ALL` (or closed, after `LOAD`) before any other
//! client gets it.

mod pins;
pub mod refusal;

pub use pins::{describe_bits, Cleanup, Pins};
