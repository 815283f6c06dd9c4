//! The control-plane steps that exist only in a fleet: a SWITCHOVER asked
//! on an instance that is not the controller is handed to the controller
//! through etcd (and its outcome read back from the shared log), and a
//! failover a dead controller left half done is finished with the one
//! candidate it recorded.

use super::conns::Conns;
use super::failover::{finish, install_promotion};
use super::promote::{self, Candidate};
use crate::fleet::records::IntentRecord;
use crate::fleet::Fleet;
use crate::topology::{FailoverKind, FailoverRecord, ShardPhase};
use crate::{ControlPlane, Endpoint};
use std::time::{Duration, Instant, SystemTime};

/// Hands a switchover to the controller and waits for its log entry.
pub async fn ask_controller(
    ctx: &ControlPlane,
    fleet: &Fleet,
    shard: u32,
    target: Option<Endpoint>,
) -> Result<FailoverRecord, String> {
    let asked = SystemTime::now() - Duration::from_secs(1);
    fleet.request_switchover(shard, target).await?;
    let limit = ctx.settings.replication.switchover_timeout + fleet.settings.lease_ttl * 3;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let done =
            ctx.topology.failovers.all().into_iter().rev().find(|r| {
                r.shard == shard && r.kind == FailoverKind::Switchover && r.started >= asked
            });
        if let Some(record) = done {
            return if record.outcome == "promoted" {
                Ok(record)
            } else {
                Err(record.detail)
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the controller did not report the switchover of shard {shard} within {limit:?}; SHOW FAILOVERS will show it when it does"
    ))
}

/// Whether `node` (of `shard`) is out of recovery: Some(true) promoted,
/// Some(false) still a standby, None unreachable.
pub async fn candidate_state(ctx: &ControlPlane, shard: u32, node: &Endpoint) -> Option<bool> {
    let login = super::shard_login(ctx, shard)?;
    let mut conns = Conns::new(login);
    promote::is_primary(&mut conns, node).await
}

/// Finishes a failover recorded by an earlier controller: the recorded
/// candidate is promoted (again, if it already was nothing happens),
/// the others repointed, the new primary published.
pub async fn finish_resumed(ctx: &ControlPlane, mut intent: IntentRecord) -> Result<(), String> {
    let started = Instant::now();
    let shard = ctx
        .topology
        .shard(intent.shard)
        .ok_or("no such shard")?
        .clone();
    let login = super::shard_login(ctx, intent.shard).ok_or("no control login")?;
    let mut conns = Conns::new(login);
    shard.install(
        &intent.old_primary,
        intent.standbys.clone(),
        intent.fenced.clone(),
    );
    shard.set_local_change(true);
    shard.set_phase(ShardPhase::FailingOver);
    shard.gate.pause();
    let others_nodes: Vec<Endpoint> = intent
        .standbys
        .iter()
        .filter(|s| **s != intent.candidate)
        .cloned()
        .collect();
    let others = promote::rank_standbys(ctx, &mut conns, &others_nodes).await;
    let winner = Candidate {
        node: intent.candidate.clone(),
        lsn: 0,
        name: String::new(),
    };
    let result =
        install_promotion(ctx, &shard, &mut conns, &winner, &others, Some(&mut intent)).await;
    let (outcome, new_primary, detail) = match result {
        Ok((node, detail)) => {
            shard.set_phase(ShardPhase::Serving);
            (
                "promoted",
                Some(node.to_string()),
                format!(
                    "finished the failover {} started; {detail}",
                    intent.controller
                ),
            )
        }
        Err(e) => {
            shard.set_phase(ShardPhase::Down);
            ("failed", None, e)
        }
    };
    shard.gate.resume();
    shard.set_local_change(false);
    let ok = outcome == "promoted";
    finish(
        ctx,
        FailoverRecord {
            shard: intent.shard,
            kind: if intent.kind == "switchover" {
                FailoverKind::Switchover
            } else {
                FailoverKind::Automatic
            },
            started: std::time::UNIX_EPOCH + Duration::from_secs_f64(intent.started.max(0.0)),
            old_primary: intent.old_primary.to_string(),
            new_primary,
            total: Duration::from_secs_f64(
                (crate::fleet::records::epoch_now() - intent.started).max(0.0),
            )
            .max(started.elapsed()),
            paused: started.elapsed(),
            outcome,
            detail: detail.clone(),
        },
    );
    if ok {
        Ok(())
    } else {
        Err(detail)
    }
}
