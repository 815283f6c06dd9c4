//! The configuration file: its schema (serde + TOML), loading, and the
//! semantic checks that turn a bad file into an error naming the key.

mod auth_query;
mod coordination;
mod duration;
mod load;
mod replication;
mod schema;
mod session_state;
mod tls;

pub use auth_query::AuthQuerySection;
pub use coordination::CoordinationSection;
pub use duration::parse_duration;
pub use load::{load_file, parse_str, ConfigError};
pub use replication::*;
pub use schema::*;
pub use session_state::{SessionStateSection, StatePolicy};
pub use tls::*;
