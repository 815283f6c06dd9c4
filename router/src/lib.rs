//! Pure statement analysis for shardwire: SQL text (and later bind
//! parameters) in, decisions out. No I/O, no async runtime.
//!
//! So far it holds what the foundation needs: splitting a query string into
//! statements (`split`) and recognising statements that change session state
//! (`session_effects`). Shard routing builds on the same lexing.

pub mod session_effects;
pub mod split;

pub use session_effects::{session_effects, SessionEffect};
pub use split::statements;
