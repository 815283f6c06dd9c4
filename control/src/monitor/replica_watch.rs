//! The control loop of one replica-cluster node: reads back every shard's
//! heartbeat there and records the node's lag per shard (the worst shard
//! decides whether the node may serve reads).

use super::control::{ControlConn, ControlLogin};
use super::probe::{self, epoch_now};
use crate::ControlPlane;
use crate::Endpoint;
use std::sync::Arc;

/// Subscribed tables not yet in the `ready` state (copying or catching
/// up after a resubscription); 0 when unknown.
async fn unsynced_tables(conn: &mut ControlConn) -> u32 {
    let rows = conn
        .query("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")
        .await
        .unwrap_or_default();
    rows.first()
        .and_then(|r| r.try_get::<_, i64>(0).ok())
        .map_or(0, |n| n.max(0) as u32)
}

/// Runs until aborted.
pub async fn run(ctx: Arc<ControlPlane>, _index: usize, node: Endpoint, login: ControlLogin) {
    let mut conn = ControlConn::new(node.clone(), login);
    let table = ctx.settings.replication.heartbeat_table.clone();
    let mut ticks = tokio::time::interval(ctx.settings.replication.check_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let syncing = unsynced_tables(&mut conn).await;
        match probe::read_heartbeats(&mut conn, &table).await {
            Ok(beats) => {
                let now = epoch_now();
                let per_shard: Vec<Option<f64>> = ctx
                    .topology
                    .shards
                    .iter()
                    .map(|shard| {
                        let seen = beats.iter().find(|(s, _)| *s == shard.index).map(|b| b.1);
                        probe::heartbeat_lag(shard.settled_beat(), shard.latest_beat(), seen, now)
                    })
                    .collect();
                // A shard never seen counts as infinitely behind.
                let worst = per_shard
                    .iter()
                    .map(|l| l.unwrap_or(f64::INFINITY))
                    .fold(0.0_f64, f64::max);
                ctx.topology.nodes.update(&node, |n| {
                    n.syncing_tables = syncing;
                    n.up = true;
                    n.failures = 0;
                    n.lag_seconds = Some(worst);
                    n.shard_lag_seconds = per_shard;
                    n.checked_at = Some(std::time::SystemTime::now());
                    n.last_error = None;
                });
            }
            Err(e) => ctx.topology.nodes.update(&node, |n| {
                n.up = false;
                n.failures = n.failures.saturating_add(1);
                n.checked_at = Some(std::time::SystemTime::now());
                n.last_error = Some(e);
            }),
        }
    }
}
