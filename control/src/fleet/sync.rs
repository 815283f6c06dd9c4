//! Keeping this instance's topology equal to etcd's: a full read at start
//! (seeding an empty cluster from the configuration), a watch on the
//! shard records and the failover log, and a full re-read every few
//! seconds and after any watch error. Applying a record with no primary
//! closes the shard's gate and acknowledges the generation (the handshake);
//! a record with a primary installs it and lets the shard's transactions
//! through.

use super::records::{FailoverEntry, ShardRecord};
use super::Fleet;
use super::Local;
use crate::topology::ShardPhase;
use etcd_client::{Compare, CompareOp, EventType, Txn, TxnOp, WatchOptions};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Time between two full re-reads.
const REREAD: Duration = Duration::from_secs(10);

/// Runs until aborted.
pub async fn run(local: Arc<Local>, fleet: Arc<Fleet>) {
    let mut seen = HashSet::new();
    loop {
        let topology_revision = match reconcile(&local, &fleet, false).await {
            Ok(revision) => revision,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the topology from etcd");
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        let Some(log_revision) = load_log(&local, &fleet, &mut seen).await else {
            continue;
        };
        // The watches start right after what was read: no change between
        // the read and the watch is missed.
        if let Err(e) = watch(&local, &fleet, &mut seen, topology_revision, log_revision).await {
            tracing::debug!(error = %e, "topology watch ended");
        }
    }
}

/// Reads every shard record and applies it; with `seed`, writes the
/// configured topology for shards that have no record yet. Returns the
/// store's revision of the read.
pub async fn reconcile(local: &Local, fleet: &Fleet, seed: bool) -> Result<i64, String> {
    if seed {
        for shard in &local.topology.shards {
            let record = ShardRecord {
                shard: shard.index,
                primary: Some(shard.primary()),
                standbys: shard.standbys(),
                fenced: shard.fenced(),
                generation: 1,
            };
            let key = fleet.store.key(&format!("topology/{}", shard.index));
            let value = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
            fleet
                .store
                .txn(
                    Txn::new()
                        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(key, value, None)]),
                )
                .await?;
        }
    }
    let (kvs, revision) = fleet.store.list("topology/").await?;
    for kv in kvs {
        if let Ok(record) = serde_json::from_slice::<ShardRecord>(kv.value()) {
            apply(local, fleet, &record).await;
        }
    }
    fleet.stale.store(false, Ordering::Release);
    Ok(revision)
}

/// Makes the local view of a shard match its record.
pub async fn apply(local: &Local, fleet: &Fleet, record: &ShardRecord) {
    let Some(shard) = local.topology.shard(record.shard) else {
        return;
    };
    if record.generation < shard.fleet_generation() {
        return;
    }
    match &record.primary {
        None => {
            // The controller is replacing the primary: stop sending this
            // shard anything, then say so.
            if !shard.gate.is_paused() {
                shard.gate.pause();
            }
            shard.set_phase(ShardPhase::FailingOver);
            local.data_path.retire_idle(record.shard);
            if shard.fleet_generation() != record.generation {
                tracing::info!(
                    shard = record.shard,
                    generation = record.generation,
                    "the controller is replacing this shard's primary; its transactions wait"
                );
            }
            shard.set_fleet_generation(record.generation);
            fleet.state().acks.insert(record.shard, record.generation);
            super::handshake::publish_ack(fleet).await;
        }
        Some(primary) => {
            let changed = shard.install(primary, record.standbys.clone(), record.fenced.clone());
            local.topology.record_roles(shard);
            if changed {
                let retired = local.data_path.retire_idle(record.shard);
                let severed = local.data_path.sever_replaced(record.shard);
                tracing::info!(shard = record.shard, primary = %primary, generation = record.generation, retired, severed,
                    "routing swapped to the primary published by the fleet");
            }
            let was = shard.fleet_generation();
            shard.set_fleet_generation(record.generation);
            fleet.state().acks.insert(record.shard, record.generation);
            if was != record.generation && shard.gate.is_paused() && !shard.local_change() {
                shard.set_phase(ShardPhase::Serving);
                shard.gate.resume();
            }
        }
    }
}

/// Loads log entries not seen yet into SHOW FAILOVERS (and metrics).
async fn load_log(local: &Local, fleet: &Fleet, seen: &mut HashSet<String>) -> Option<i64> {
    let (kvs, revision) = fleet.store.list("failovers/").await.ok()?;
    let first_load = seen.is_empty();
    for kv in kvs {
        add_entry(
            local,
            kv.key_str().unwrap_or_default(),
            kv.value(),
            seen,
            !first_load,
        );
    }
    Some(revision)
}

fn add_entry(local: &Local, key: &str, value: &[u8], seen: &mut HashSet<String>, count: bool) {
    if !seen.insert(key.to_owned()) {
        return;
    }
    let Ok(entry) = serde_json::from_slice::<FailoverEntry>(value) else {
        return;
    };
    let record = entry.to_record();
    if count {
        local.data_path.failover_finished(&record);
    }
    local.topology.failovers.push(record);
}

/// Watches the shard records and the log until an error or `REREAD`.
async fn watch(
    local: &Local,
    fleet: &Fleet,
    seen: &mut HashSet<String>,
    topology_revision: i64,
    log_revision: i64,
) -> Result<(), String> {
    let topology_key = fleet.store.key("topology/");
    let log_key = fleet.store.key("failovers/");
    let mut topology = fleet
        .store
        .call(|mut c| async move {
            let from = WatchOptions::new()
                .with_prefix()
                .with_start_revision(topology_revision + 1);
            c.watch(topology_key, Some(from)).await
        })
        .await?;
    let mut log = fleet
        .store
        .call(|mut c| async move {
            let from = WatchOptions::new()
                .with_prefix()
                .with_start_revision(log_revision + 1);
            c.watch(log_key, Some(from)).await
        })
        .await?;
    let deadline = tokio::time::Instant::now() + REREAD;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            msg = topology.message() => {
                let resp = msg.map_err(|e| e.to_string())?.ok_or("watch closed")?;
                fleet.store.heard();
                for event in resp.events() {
                    if event.event_type() != EventType::Put {
                        continue;
                    }
                    if let Some(record) = event.kv().and_then(|kv| serde_json::from_slice::<ShardRecord>(kv.value()).ok()) {
                        apply(local, fleet, &record).await;
                    }
                }
            }
            msg = log.message() => {
                let resp = msg.map_err(|e| e.to_string())?.ok_or("watch closed")?;
                fleet.store.heard();
                for event in resp.events() {
                    if let (EventType::Put, Some(kv)) = (event.event_type(), event.kv()) {
                        add_entry(local, kv.key_str().unwrap_or_default(), kv.value(), seen, true);
                    }
                }
            }
        }
    }
}
