//! What the control loops do as the fleet's controller: when this
//! instance takes the role, finish the failovers a dead controller left
//! half done, and while it holds the role, carry out SWITCHOVER requests
//! made on other instances. An unfinished failover is re-checked on the
//! nodes first: the recorded candidate is the only standby that may be
//! promoted; if it cannot be reached after `pg_promote` may have run, the
//! shard's automatic failover is blocked rather than a second standby
//! promoted.

use crate::fleet::records::{IntentRecord, Step};
use crate::fleet::Fleet;
use crate::ControlPlane;
use std::sync::Arc;

/// Runs the controller's duties until aborted.
pub async fn run(plane: Arc<ControlPlane>, fleet: Arc<Fleet>) {
    let mut ticks = tokio::time::interval(fleet.settings.heartbeat());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = fleet.became_controller() => resume_all(&plane, &fleet).await,
            _ = ticks.tick() => {
                if fleet.is_controller() {
                    run_switchover_requests(&plane, &fleet).await;
                }
            }
        }
    }
}

/// Finishes every unfinished failover found in etcd.
async fn resume_all(plane: &Arc<ControlPlane>, fleet: &Fleet) {
    let intents = match fleet.unfinished().await {
        Ok(intents) => intents,
        Err(e) => {
            tracing::warn!(error = %e, "could not read unfinished failovers");
            return;
        }
    };
    for intent in intents {
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
    plane: &ControlPlane,
    fleet: &Fleet,
    intent: IntentRecord,
) -> Result<(), String> {
    let state = super::candidate_state(plane, intent.shard, &intent.candidate).await;
    match (state, intent.step) {
        // Nothing was promoted: back to the old primary; the checks will
        // decide again.
        (None, Step::Fencing) => fleet.abandon(&intent).await,
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
        (Some(_), _) => super::finish_resumed(plane, intent).await,
    }
}

/// Carries out the SWITCHOVER requests made on other instances.
async fn run_switchover_requests(plane: &Arc<ControlPlane>, fleet: &Fleet) {
    for request in fleet.take_switchover_requests().await {
        tracing::info!(shard = request.shard, from = %request.requested_by,
            "carrying out a SWITCHOVER asked on another instance");
        let plane = plane.clone();
        tokio::spawn(async move {
            if let Err(e) = super::switchover(&plane, request.shard, request.target).await {
                tracing::warn!(shard = request.shard, error = %e, "switchover not done");
            }
        });
    }
}
