//! Refusing writes without coordination: every 100 ms, for each shard,
//! decide whether this instance may send it writes. Without an answer
//! from etcd for `coordination_timeout` (shorter than the lease, so the
//! instance stops before the fleet may act on its silence), writes are
//! refused until the topology is read again; in failsafe mode they go on
//! while the primary's synchronous standbys are seen streaming from it
//! (a promoted standby no longer does).

use super::Fleet;
use super::Local;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Runs until aborted.
pub async fn run(local: Arc<Local>, fleet: Arc<Fleet>) {
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    let mut was_up = true;
    loop {
        ticks.tick().await;
        let heard = fleet
            .store
            .last_ok()
            .is_some_and(|t| t.elapsed() < fleet.settings.coordination_timeout);
        if !heard {
            fleet.stale.store(true, Ordering::Release);
            fleet.is_controller.store(false, Ordering::Release);
        }
        let up = fleet.coordination_up();
        if up != was_up {
            if up {
                tracing::warn!("coordination with etcd is back; the topology was re-read");
            } else {
                tracing::error!(
                    timeout = ?fleet.settings.coordination_timeout,
                    failsafe = fleet.settings.failsafe,
                    "coordination with etcd lost: no promotions; writes {}",
                    if fleet.settings.failsafe { "go on only while each primary's synchronous standbys stream from it" } else { "are refused" }
                );
            }
            was_up = up;
        }
        for shard in &local.topology.shards {
            let may_write = up || (fleet.settings.failsafe && shard.sync_streaming());
            let refused = if may_write {
                None
            } else {
                Some(format!(
                    "shardwire instance {} lost coordination with etcd (no answer for {:.0}s), so it cannot be sure shard {} still has primary {}{}",
                    fleet.settings.name,
                    fleet.settings.coordination_timeout.as_secs_f64(),
                    shard.index,
                    shard.primary(),
                    if fleet.settings.failsafe { " and its synchronous standbys are not seen streaming from it" } else { "" }
                ))
            };
            if refused.is_some() != shard.writes_refused().is_some() {
                shard.set_writes_refused(refused);
            }
        }
    }
}
