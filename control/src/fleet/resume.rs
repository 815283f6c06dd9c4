//! What a controller does when it takes the role: finish the failovers a
//! dead controller left half done, and carry out SWITCHOVER requests made
//! on any instance. An unfinished failover is re-checked on the nodes
//! first: the recorded candidate is the only standby that may be
//! promoted; if it cannot be reached after `pg_promote` may have run, the
//! shard's automatic failover is blocked rather than a second standby
//! promoted.

use super::records::{IntentRecord, ShardRecord, Step, SwitchoverRequest};
use super::Fleet;
use crate::ControlPlane;
use std::sync::Arc;

/// Finishes every unfinished failover found in etcd.
pub async fn resume_all(plane: &Arc<ControlPlane>, fleet: &Arc<Fleet>) {
    let kvs = match fleet.store.list("intents/").await {
        Ok((kvs, _)) => kvs,
        Err(e) => {
            tracing::warn!(error = %e, "could not read unfinished failovers");
            return;
        }
    };
    for kv in kvs {
        let Ok(intent) = serde_json::from_slice::<IntentRecord>(kv.value()) else {
            continue;
        };
        let Some(shard) = plane.topology.shard(intent.shard).cloned() else {
            continue;
        };
        let _control = shard.control.lock().await;
        tracing::warn!(shard = intent.shard, step = ?intent.step, candidate = %intent.candidate,
            started_by = %intent.controller, "resuming an unfinished failover");
        if let Err(e) = resume_one(plane, fleet, intent.clone()).await {
            tracing::error!(shard = intent.shard, error = %e, "could not finish the failover");
        }
    }
}

async fn resume_one(
    plane: &Arc<ControlPlane>,
    fleet: &Fleet,
    intent: IntentRecord,
) -> Result<(), String> {
    let state = crate::monitor::candidate_state(plane, intent.shard, &intent.candidate).await;
    match (state, intent.step) {
        (None, Step::Fencing) => {
            // Nothing was promoted: put the old primary back; the checks
            // will decide again.
            let (record, revision) = fleet.shard_record(intent.shard).await?;
            let back = ShardRecord {
                shard: intent.shard,
                primary: Some(intent.old_primary.clone()),
                standbys: intent.standbys.clone(),
                fenced: intent.fenced.clone(),
                generation: record.generation + 1,
            };
            fleet.swap_record(&back, revision, None).await?;
            Ok(())
        }
        (None, _) => {
            let why = format!(
                "the failover of shard {} started by {} may have promoted {}, which cannot be reached now; no other standby is promoted until an operator checks it",
                intent.shard, intent.controller, intent.candidate
            );
            if let Some(shard) = plane.topology.shard(intent.shard) {
                shard.block_promotions(why.clone());
            }
            Err(why)
        }
        (Some(_), _) => crate::monitor::finish_resumed(plane, intent).await,
    }
}

/// Takes SWITCHOVER requests addressed to the controller and runs them.
pub async fn take_switchover_requests(plane: &Arc<ControlPlane>, fleet: &Arc<Fleet>) {
    let Ok((kvs, _)) = fleet.store.list("requests/switchover/").await else {
        return;
    };
    for kv in kvs {
        let key = kv.key_str().unwrap_or_default().to_owned();
        let Some(suffix) = fleet.store.suffix(&key).map(str::to_owned) else {
            continue;
        };
        let deleted = fleet
            .store
            .txn(etcd_client::Txn::new().and_then([etcd_client::TxnOp::delete(key, None)]))
            .await;
        if deleted.is_err() {
            continue;
        }
        let Ok(request) = serde_json::from_slice::<SwitchoverRequest>(kv.value()) else {
            continue;
        };
        tracing::info!(shard = request.shard, from = %request.requested_by, request = %suffix,
            "carrying out a SWITCHOVER asked on another instance");
        let plane = plane.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::monitor::switchover(&plane, request.shard, request.target).await
            {
                tracing::warn!(shard = request.shard, error = %e, "switchover not done");
            }
        });
    }
}
