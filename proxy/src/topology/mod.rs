//! The live view of the cluster: which node is each shard's primary right
//! now, which standbys and fenced nodes it has, the health and lag of every
//! node, and the log of failovers. The monitor writes it; sessions read it
//! to find their shard's primary and to wait while a shard fails over.

mod events;
mod health;
mod shard;

pub use events::{FailoverKind, FailoverLog, FailoverRecord};
pub use health::{NodeHealth, NodeRole, NodeTable};
pub use shard::{ShardPhase, ShardState};

use crate::config::Config;
use std::sync::Arc;

/// Shards, nodes and failover history.
pub struct Topology {
    /// Shard k at index k.
    pub shards: Vec<Arc<ShardState>>,
    /// Health of every node the monitor watches.
    pub nodes: NodeTable,
    /// Failovers and switchovers, newest last.
    pub failovers: FailoverLog,
}

impl Topology {
    /// The topology as configured, before any check has run.
    pub fn from_config(config: &Config) -> Topology {
        let shards: Vec<Arc<ShardState>> = config
            .shards
            .iter()
            .enumerate()
            .map(|(k, s)| {
                Arc::new(ShardState::new(
                    k as u32,
                    s.primary.clone(),
                    s.standbys.clone(),
                ))
            })
            .collect();
        let nodes = NodeTable::default();
        for shard in &shards {
            nodes.ensure(&shard.primary(), NodeRole::Primary, Some(shard.index));
            for standby in shard.standbys() {
                nodes.ensure(&standby, NodeRole::Standby, Some(shard.index));
            }
        }
        for replica in &config.replica_cluster.nodes {
            nodes.ensure(replica, NodeRole::Replica, None);
        }
        Topology {
            shards,
            nodes,
            failovers: FailoverLog::default(),
        }
    }

    /// Shard `k`, if configured.
    pub fn shard(&self, k: u32) -> Option<&Arc<ShardState>> {
        self.shards.get(k as usize)
    }
}
