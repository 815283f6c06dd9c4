//! shardwire-control: the control plane of shardwire.
//!
//! It checks every node, writes the heartbeat, measures lag, fails shards
//! over and runs switchovers, and keeps the topology (each shard's primary,
//! standbys, fenced nodes, generation) and the failover history. The data
//! path reads the [`Topology`](topology::Topology) in memory and gives the
//! control plane a [`DataPath`] for what it must do when the topology
//! changes (retire pooled connections, count failovers).
//!
//! Layout:
//! - `endpoint`, `settings`: node addresses and the settings it runs with;
//! - `topology`: the live view the sessions read;
//! - `monitor`: the control loops, failover, switchover, resubscription;
//! - `fleet`: several instances as one through etcd (membership, the
//!   controller, the shared topology and failover log);
//! - `gate`: the pause gate sessions wait on;
//! - `data_path`: the hooks into the proxy;
//! - `plane`: the shared handle of all of the above;
//! - `sql`: quoting for the SQL it writes.

mod clock;
pub mod data_path;
mod endpoint;
pub mod fleet;
mod gate;
pub mod monitor;
mod plane;
pub mod settings;
pub mod sql;
pub mod topology;

pub use data_path::DataPath;
pub use endpoint::Endpoint;
pub use fleet::Fleet;
pub use gate::PauseGate;
pub use plane::ControlPlane;
pub use settings::{ControlSettings, NodeTls, ShardFunctionName};
