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

use crate::settings::ControlSettings;
use crate::Endpoint;
use std::sync::Arc;

/// Shards, nodes and failover history.
pub struct Topology {
    /// Shard k at index k.
    pub shards: Vec<Arc<ShardState>>,
    /// Health of every node the monitor watches.
    pub nodes: NodeTable,
    /// Failovers and switchovers, newest last.
    pub failovers: FailoverLog,
    /// Nodes an admin BANned: no reads, never promoted.
    banned: std::sync::Mutex<std::collections::HashSet<Endpoint>>,
}

impl Topology {
    /// The topology as configured, before any check has run.
    pub fn from_settings(config: &ControlSettings) -> Topology {
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
        for replica in &config.replica_nodes {
            nodes.ensure(replica, NodeRole::Replica, None);
        }
        Topology {
            shards,
            nodes,
            failovers: FailoverLog::default(),
            banned: Default::default(),
        }
    }

    /// BANs `node`: it gets no replica reads and is never promoted.
    pub fn ban(&self, node: &Endpoint) {
        self.banned_set().insert(node.clone());
    }

    /// Lifts a BAN; false if the node was not banned.
    pub fn unban(&self, node: &Endpoint) -> bool {
        self.banned_set().remove(node)
    }

    /// Whether `node` is banned.
    pub fn is_banned(&self, node: &Endpoint) -> bool {
        self.banned_set().contains(node)
    }

    fn banned_set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<Endpoint>> {
        self.banned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the roles of `shard`'s nodes in the node table (after a
    /// promotion, an adoption, or a record from the fleet).
    pub fn record_roles(&self, shard: &ShardState) {
        self.nodes
            .ensure(&shard.primary(), NodeRole::Primary, Some(shard.index));
        for s in shard.standbys() {
            self.nodes.ensure(&s, NodeRole::Standby, Some(shard.index));
        }
        for f in shard.fenced() {
            self.nodes.ensure(&f, NodeRole::Fenced, Some(shard.index));
        }
    }

    /// Shard `k`, if configured.
    pub fn shard(&self, k: u32) -> Option<&Arc<ShardState>> {
        self.shards.get(k as usize)
    }
}
