//! The control plane: one task per shard checks its nodes every
//! `replication.check_interval`, writes the heartbeat, measures lag and
//! fails the shard over when its primary is gone; one task per
//! replica-cluster node measures that node's lag per shard. Everything it
//! learns goes into the [`Topology`](crate::topology::Topology).
//!
//! Files: `shard_watch` and `replica_watch` (the loops), `probe` and
//! `control` (checks over control connections, kept per shard in
//! `conns`), `failover`, `promote` and `switchover` (changing a primary),
//! `rejoin` (taking a returned node back as a copy), `resubscribe` (the
//! replica cluster after a failover), `takeover` and `fleet_steps` (the
//! controller's duties in a fleet).

mod conns;
mod control;
mod failover;
mod fleet_steps;
mod probe;
mod promote;
mod rejoin;
mod replica_watch;
mod resubscribe;
mod shard_watch;
mod switchover;
mod takeover;

pub use control::{format_lsn, open as open_control_connection, parse_lsn};
use fleet_steps::{candidate_state, finish_resumed};
pub use promote::retarget_conninfo;
pub use switchover::switchover;

use crate::ControlPlane;
use control::ControlLogin;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The control-plane login for replica-cluster nodes.
pub(crate) fn replica_login(ctx: &ControlPlane) -> Option<ControlLogin> {
    let settings = &ctx.settings;
    let mut login = ControlLogin::from_settings(&settings.replication, &settings.default_database)?;
    if settings.replication.database.is_none() {
        if let Some(db) = &settings.replica_database {
            login.database = db.clone();
        }
    }
    login.tls = settings.replica_tls.clone();
    Some(login)
}

/// The control-plane login for the nodes of shard `k`.
pub(crate) fn shard_login(ctx: &ControlPlane, k: u32) -> Option<ControlLogin> {
    let settings = &ctx.settings;
    let mut login = ControlLogin::from_settings(&settings.replication, &settings.default_database)?;
    let shard = settings.shards.get(k as usize);
    if settings.replication.database.is_none() {
        if let Some(db) = shard.and_then(|s| s.database.clone()) {
            login.database = db;
        }
    }
    login.tls = shard.and_then(|s| s.tls.clone());
    Some(login)
}

/// Starts the control loops (none when `[replication] user` is unset).
/// Abort the handles to stop them.
pub fn spawn(ctx: &Arc<ControlPlane>) -> Vec<JoinHandle<()>> {
    if !ctx.settings.enabled() {
        return Vec::new();
    }
    let mut tasks = Vec::new();
    if let Some(fleet) = &ctx.fleet {
        tasks.extend(crate::fleet::spawn(fleet, ctx.fleet_local()));
        tasks.push(tokio::spawn(takeover::run(ctx.clone(), fleet.clone())));
    }
    for shard in &ctx.topology.shards {
        let Some(login) = shard_login(ctx, shard.index) else {
            break;
        };
        tasks.push(tokio::spawn(shard_watch::run(
            ctx.clone(),
            shard.clone(),
            login,
        )));
    }
    for (i, node) in ctx.settings.replica_nodes.iter().enumerate() {
        let Some(login) = replica_login(ctx) else {
            break;
        };
        tasks.push(tokio::spawn(replica_watch::run(
            ctx.clone(),
            i,
            node.clone(),
            login,
        )));
    }
    tasks
}
