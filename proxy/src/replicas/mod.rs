//! The read-replica cluster: which reads `[[routes]]` send there
//! (`rules`) and which node serves each one (`choice`): only nodes that
//! answer their checks and lag at most `replica_cluster.max_lag` behind
//! every shard, topped up with the freshest others to keep
//! `min_serving` nodes, balanced by least connections or round robin.

mod choice;
mod rules;

pub use choice::{choose_node, Balancer, NoReplica};
pub use rules::matching_route;

use crate::config::{Balance, Config, RouteRule};
use std::time::Duration;

/// The reloadable part of `[replica_cluster]` and `[[routes]]` (the node
/// list itself needs a restart: it has pools).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaSettings {
    /// The route rules.
    pub routes: Vec<RouteRule>,
    /// Lag bound for serving.
    pub max_lag: Duration,
    /// Spreading reads.
    pub balance: Balance,
    /// Fewest nodes kept serving.
    pub min_serving: usize,
}

impl ReplicaSettings {
    /// The settings in `config`.
    pub fn from_config(config: &Config) -> ReplicaSettings {
        let rc = &config.replica_cluster;
        ReplicaSettings {
            routes: config.routes.clone(),
            max_lag: rc.max_lag,
            balance: rc.balance,
            min_serving: rc.min_serving,
        }
    }
}
