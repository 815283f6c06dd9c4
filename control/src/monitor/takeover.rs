//! What the control loops do as the fleet's controller: when this
//! instance takes the role, and every heartbeat while it holds it, finish
//! the failovers left half done (by a dead controller, or by this one when
//! etcd's answer to a step was lost), and carry out SWITCHOVER requests
//! made on other instances. A failover in progress holds its shard's
//! control lock; an intent still in etcd once the lock is taken is one
//! nobody is working on. An unfinished failover is re-checked on the
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
                    resume_all(&plane, &fleet).await;
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
        // Re-read under the lock: the change may have finished meanwhile.
        let intent = match fleet.unfinished_of(intent.shard).await {
            Ok(Some(intent)) => intent,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(shard = intent.shard, error = %e, "could not re-read an unfinished failover");
                continue;
            }
        };
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
        (Some(false), Step::Fencing) => {
            // Not promoted, and the handshake was never confirmed: confirm
            // it before promoting the recorded candidate (or give up).
            if let Err(e) = fleet.wait_acks(intent.shard, intent.generation).await {
                fleet.abandon(&intent).await?;
                return Err(e);
            }
            let mut intent = intent;
            fleet.set_step(&mut intent, Step::Promoting).await?;
            super::finish_resumed(plane, intent).await
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
