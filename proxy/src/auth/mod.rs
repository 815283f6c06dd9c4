//! Authentication: SCRAM-SHA-256 and MD5 as the server side of a client
//! login (`client`), and as the client side of a login to a PostgreSQL
//! server (`server`).

pub mod client;
pub mod constant_time;
pub mod passthrough;
pub mod scram;
pub mod server;
