//! The PostgreSQL v3 wire protocol as far as the proxy needs it: framing of
//! tagged messages, the startup packet, and builders for the few messages the
//! proxy emits itself. Frames the proxy only looks at are forwarded as the
//! original bytes and never re-encoded.

pub mod bind;
pub mod builder;
pub mod error;
pub mod frame;
pub mod reader;
pub mod startup;

pub use error::{ErrorResponse, SqlState};
