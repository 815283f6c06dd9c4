//! The health table behind `SHOW NODES` and the node metrics: per node its
//! role, whether it answers, its recovery state, WAL positions and lag.

use crate::Endpoint;
use std::sync::Mutex;
use std::time::SystemTime;

/// What a node is to shardwire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// A shard's primary: gets that shard's traffic.
    Primary,
    /// A streaming standby of a shard's primary.
    Standby,
    /// A former primary: never gets traffic.
    Fenced,
    /// A replica-cluster node (logical subscriber of every shard).
    Replica,
}

impl NodeRole {
    /// Lowercase name for SHOW and metrics.
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Primary => "primary",
            NodeRole::Standby => "standby",
            NodeRole::Fenced => "fenced",
            NodeRole::Replica => "replica",
        }
    }
}

/// The last known state of one node.
#[derive(Debug, Clone)]
pub struct NodeHealth {
    /// Where it is.
    pub endpoint: Endpoint,
    /// Its role.
    pub role: NodeRole,
    /// Its shard (None for replica-cluster nodes).
    pub shard: Option<u32>,
    /// The last check succeeded.
    pub up: bool,
    /// Consecutive failed checks.
    pub failures: u32,
    /// `pg_is_in_recovery()`.
    pub in_recovery: Option<bool>,
    /// WAL timeline.
    pub timeline: Option<u32>,
    /// Current WAL LSN (primary) or last received LSN (standby).
    pub lsn: Option<u64>,
    /// Last replayed LSN (standby).
    pub replay_lsn: Option<u64>,
    /// Bytes behind its shard's primary.
    pub lag_bytes: Option<u64>,
    /// Seconds behind (heartbeat age; for replicas, the worst shard).
    pub lag_seconds: Option<f64>,
    /// Replica nodes: heartbeat age per shard.
    pub shard_lag_seconds: Vec<Option<f64>>,
    /// Standbys: the WAL receiver is streaming.
    pub streaming: Option<bool>,
    /// Replica nodes: subscribed tables still being copied.
    pub syncing_tables: u32,
    /// When it was last checked.
    pub checked_at: Option<SystemTime>,
    /// The last error, if the last check failed.
    pub last_error: Option<String>,
}

impl NodeHealth {
    fn new(endpoint: &Endpoint, role: NodeRole, shard: Option<u32>) -> NodeHealth {
        NodeHealth {
            endpoint: endpoint.clone(),
            role,
            shard,
            up: false,
            failures: 0,
            in_recovery: None,
            timeline: None,
            lsn: None,
            replay_lsn: None,
            lag_bytes: None,
            lag_seconds: None,
            shard_lag_seconds: Vec::new(),
            streaming: None,
            syncing_tables: 0,
            checked_at: None,
            last_error: None,
        }
    }
}

/// Every watched node, in the order they were added.
#[derive(Default)]
pub struct NodeTable {
    nodes: Mutex<Vec<NodeHealth>>,
}

impl NodeTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<NodeHealth>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `endpoint` if unknown; sets its role and shard either way.
    pub fn ensure(&self, endpoint: &Endpoint, role: NodeRole, shard: Option<u32>) {
        let mut nodes = self.lock();
        match nodes.iter_mut().find(|n| &n.endpoint == endpoint) {
            Some(n) => {
                n.role = role;
                n.shard = shard;
            }
            None => nodes.push(NodeHealth::new(endpoint, role, shard)),
        }
    }

    /// Applies `f` to the node's entry (added as `role` if unknown).
    pub fn update(&self, endpoint: &Endpoint, f: impl FnOnce(&mut NodeHealth)) {
        let mut nodes = self.lock();
        if let Some(n) = nodes.iter_mut().find(|n| &n.endpoint == endpoint) {
            f(n);
        }
    }

    /// A copy of one node's entry.
    pub fn get(&self, endpoint: &Endpoint) -> Option<NodeHealth> {
        self.lock()
            .iter()
            .find(|n| &n.endpoint == endpoint)
            .cloned()
    }

    /// A copy of every entry.
    pub fn all(&self) -> Vec<NodeHealth> {
        self.lock().clone()
    }
}
