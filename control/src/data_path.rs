//! The narrow interface from the control plane to the data path: what the
//! control plane asks of the proxy's pools and metrics when the topology
//! changes. The proxy implements it; the control plane never sees pools,
//! sessions or Prometheus handles.

use crate::topology::FailoverRecord;

/// Hooks the data path gives the control plane.
pub trait DataPath: Send + Sync {
    /// Closes the idle pooled connections of shard `shard` (its primary is
    /// failing or has changed); returns how many were closed.
    fn retire_idle(&self, shard: u32) -> usize;

    /// Ends the server connections of shard `shard` still open to the
    /// primary it replaced (those lent to clients included), so sessions
    /// waiting on a hung or unreachable former primary fail with 08006 at
    /// once; returns how many were ended. Called after the routing swap.
    fn sever_replaced(&self, shard: u32) -> usize;

    /// How many server connections of shard `shard` are lent to clients
    /// right now (a switchover waits for none).
    fn active_transactions(&self, shard: u32) -> usize;

    /// A failover, switchover or refused promotion has ended (for metrics).
    fn failover_finished(&self, record: &FailoverRecord);
}
