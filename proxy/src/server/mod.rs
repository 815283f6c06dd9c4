//! Server connections: opening and logging in to a PostgreSQL server, the
//! per-connection state the proxy tracks (session parameters, prepared
//! statements, transaction status), internal queries, and the pool manager
//! that creates, checks and recycles them.

pub mod conn;
pub mod manager;
pub mod params;
pub mod registry;
pub mod statement_ids;

pub use conn::{ServerConn, ServerTarget};
pub use manager::ServerManager;
