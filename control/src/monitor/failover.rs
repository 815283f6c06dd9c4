//! Automatic failover of a shard whose primary failed its checks: hold the
//! shard's new transactions, promote the standby with the most WAL,
//! repoint the others, swap routing, let the held transactions through, and
//! log the outcome with its timings.

use super::conns::Conns;
use super::promote::{self, Candidate};
use crate::fleet::records::IntentRecord;
use crate::topology::{FailoverKind, FailoverRecord, ShardPhase, ShardState};
use crate::ControlPlane;
use crate::Endpoint;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Logs an incident where nothing was promoted.
pub fn record_refusal(
    ctx: &ControlPlane,
    shard: &ShardState,
    primary: &Endpoint,
    since: Instant,
    detail: String,
) {
    tracing::error!(shard = shard.index, primary = %primary, "{detail}");
    finish(
        ctx,
        FailoverRecord {
            shard: shard.index,
            kind: FailoverKind::Automatic,
            started: started_at(since),
            old_primary: primary.to_string(),
            new_primary: None,
            total: since.elapsed(),
            paused: Duration::ZERO,
            outcome: "refused",
            detail,
        },
    );
}

/// Fails `shard` over to its best standby. Returns whether a standby was
/// promoted. `since` is the primary's first failed check.
pub async fn fail_over(
    ctx: &Arc<ControlPlane>,
    shard: &Arc<ShardState>,
    conns: &mut Conns,
    since: Instant,
) -> bool {
    let old_primary = shard.primary();
    tracing::warn!(shard = shard.index, primary = %old_primary, "primary is down: failing over");
    shard.set_local_change(true);
    shard.set_phase(ShardPhase::FailingOver);
    shard.gate.pause();
    let paused_at = Instant::now();
    let outcome = promote_best(ctx, shard, conns).await;
    let paused = paused_at.elapsed();
    let (outcome_name, new_primary, detail) = match outcome {
        Ok((winner, detail)) => {
            shard.set_phase(ShardPhase::Serving);
            ("promoted", Some(winner.to_string()), detail)
        }
        Err(detail) => {
            shard.set_phase(ShardPhase::Down);
            tracing::error!(shard = shard.index, "failover failed: {detail}");
            ("failed", None, detail)
        }
    };
    shard.gate.resume();
    shard.set_local_change(false);
    finish(
        ctx,
        FailoverRecord {
            shard: shard.index,
            kind: FailoverKind::Automatic,
            started: started_at(since),
            old_primary: old_primary.to_string(),
            new_primary: new_primary.clone(),
            total: since.elapsed(),
            paused,
            outcome: outcome_name,
            detail,
        },
    );
    new_primary.is_some()
}

/// Picks, promotes and installs the best standby; returns it and a summary.
async fn promote_best(
    ctx: &ControlPlane,
    shard: &ShardState,
    conns: &mut Conns,
) -> Result<(Endpoint, String), String> {
    let standbys = shard.standbys();
    let (ranked, missing) = promote::rank_all(ctx, conns, &standbys).await;
    let Some(best) = ranked.first().cloned() else {
        return Err(format!(
            "no standby could be promoted: none of {} answered in recovery",
            list(&standbys)
        ));
    };
    if !shard.sync_names().is_empty() && !missing.is_empty() {
        quorum_holds(ctx, &best, &missing)?;
    }
    let max_lag = ctx.settings.replication.max_failover_lag_bytes;
    let others: Vec<Candidate> = ranked[1..].to_vec();
    for other in &others {
        if best.lsn - other.lsn > max_lag {
            tracing::warn!(shard = shard.index, standby = %other.node,
                "standby is {}; it is repointed but would not have been promoted",
                promote::describe_lag(best.lsn, other.lsn));
        }
    }
    finish_promotion(ctx, shard, conns, &best, &others, FailoverKind::Automatic).await
}

/// Promotes `winner`, installs it as the shard's primary and repoints
/// `others` at it; shared with the switchover. In a fleet the change goes
/// through the generation handshake first (nothing is promoted unless
/// every live instance stopped using the old primary).
pub async fn finish_promotion(
    ctx: &ControlPlane,
    shard: &ShardState,
    conns: &mut Conns,
    winner: &Candidate,
    others: &[Candidate],
    kind: FailoverKind,
) -> Result<(Endpoint, String), String> {
    let mut intent = match &ctx.fleet {
        Some(fleet) => Some(
            fleet
                .begin_change(shard, &shard.primary(), &winner.node, kind.name())
                .await?,
        ),
        None => None,
    };
    install_promotion(ctx, shard, conns, winner, others, intent.as_mut()).await
}

/// The steps after the decision (and, in a fleet, the handshake):
/// promote, set the synchronous standbys, repoint, swap routing, publish.
pub async fn install_promotion(
    ctx: &ControlPlane,
    shard: &ShardState,
    conns: &mut Conns,
    winner: &Candidate,
    others: &[Candidate],
    mut intent: Option<&mut IntentRecord>,
) -> Result<(Endpoint, String), String> {
    let was_sync = !shard.sync_names().is_empty();
    if let Err(e) = promote::promote(conns, &winner.node).await {
        // pg_promote may fail or time out and still promote: ask again.
        match promote::is_primary(conns, &winner.node).await {
            Some(true) => tracing::warn!(node = %winner.node, error = %e,
                "pg_promote reported a failure but the node is out of recovery: installing it"),
            Some(false) => return Err(e),
            None => {
                shard.block_promotions(format!(
                    "promotion of {} ended in an unknown state ({e}); automatic failover is off for this shard until an operator checks it (SWITCHOVER or a restart clears it)",
                    winner.node
                ));
                return Err(e);
            }
        }
    }
    if let (Some(fleet), Some(intent)) = (&ctx.fleet, intent.as_deref_mut()) {
        fleet.promoted(intent).await;
    }
    let mut notes = vec![format!(
        "promoted {} at {}",
        winner.node,
        super::control::format_lsn(winner.lsn)
    )];
    if let Err(e) = promote::set_sync_standbys(conns, shard, &winner.node, others, was_sync).await {
        notes.push(e);
    }
    for other in others {
        match promote::repoint_standby(conns, &other.node, &winner.node).await {
            Ok(()) => notes.push(format!("repointed {}", other.node)),
            Err(e) => notes.push(format!("could not repoint {}: {e}", other.node)),
        }
    }
    let old_primary = shard.primary();
    // Standbys that did not answer still follow the old primary (maybe on
    // its timeline past the promotion point): they are no longer counted
    // as this shard's standbys; they are watched with the fenced nodes and
    // adopted back once they stream from the new primary.
    let unreached: Vec<Endpoint> = shard
        .standbys()
        .into_iter()
        .filter(|s| s != &winner.node && !others.iter().any(|o| &o.node == s))
        .collect();
    if !unreached.is_empty() {
        shard.set_aside_standbys(&unreached);
        notes.push(format!(
            "set aside unreachable standby {} (re-attach it to the new primary: it is adopted back when it streams from it)",
            list(&unreached)
        ));
    }
    promote::swap_routing(ctx, shard, &winner.node);
    if let (Some(fleet), Some(intent)) = (&ctx.fleet, intent.as_deref()) {
        if let Err(e) = fleet.finish_change(shard, intent).await {
            tracing::error!(shard = shard.index, error = %e, "could not publish the new primary; the next controller finishes it");
            notes.push(format!("not yet published to the fleet: {e}"));
        }
    }
    if let Some(login) = super::replica_login(ctx) {
        if !ctx.settings.replica_nodes.is_empty() {
            notes.push("replica-cluster subscriptions are being re-created".into());
            let settings = ctx.settings.clone();
            let (index, new_primary) = (shard.index, winner.node.clone());
            tokio::spawn(async move {
                super::resubscribe::repoint_replicas(
                    &settings,
                    &login,
                    index,
                    &old_primary,
                    &new_primary,
                )
                .await;
            });
        }
    }
    Ok((winner.node.clone(), notes.join("; ")))
}

/// With synchronous replication an acknowledged commit is on at least one
/// standby, maybe only on one that did not answer. The best survivor may
/// be promoted only if it holds at least everything each missing standby
/// was last seen with; otherwise promoting it could lose acknowledged
/// commits, and nothing is promoted.
fn quorum_holds(ctx: &ControlPlane, best: &Candidate, missing: &[Endpoint]) -> Result<(), String> {
    for m in missing {
        let last = ctx.topology.nodes.get(m).and_then(|n| n.lsn);
        match last {
            Some(lsn) if lsn <= best.lsn => tracing::warn!(standby = %m, candidate = %best.node,
                "standby did not answer; the candidate holds everything it was last seen with ({} >= {})",
                super::control::format_lsn(best.lsn), super::control::format_lsn(lsn)),
            Some(lsn) => {
                return Err(format!(
                    "not promoted: standby {m} did not answer and was last seen at {}, beyond the best survivor {} at {}: it may hold the only copy of acknowledged commits; bring it back or promote by hand",
                    super::control::format_lsn(lsn),
                    best.node,
                    super::control::format_lsn(best.lsn)
                ))
            }
            None => {
                return Err(format!(
                    "not promoted: standby {m} did not answer and its position was never seen, so {} cannot be shown to hold every acknowledged commit; bring it back or promote by hand",
                    best.node
                ))
            }
        }
    }
    Ok(())
}

/// Logs the record, counts it on /metrics, stores it for SHOW FAILOVERS.
pub fn finish(ctx: &ControlPlane, record: FailoverRecord) {
    tracing::info!(
        shard = record.shard,
        kind = record.kind.name(),
        outcome = record.outcome,
        total_s = record.total.as_secs_f64(),
        paused_s = record.paused.as_secs_f64(),
        new_primary = record.new_primary.as_deref().unwrap_or("-"),
        "{}",
        record.detail
    );
    if let Some(fleet) = ctx.fleet.clone() {
        // The shared log: every instance (this one too) takes the entry
        // from etcd, so SHOW FAILOVERS is the same everywhere.
        let topology = ctx.topology.clone();
        let data_path = ctx.data_path.clone();
        tokio::spawn(async move {
            if !fleet.record_failover(&record).await {
                data_path.failover_finished(&record);
                topology.failovers.push(record);
            }
        });
        return;
    }
    ctx.data_path.failover_finished(&record);
    ctx.topology.failovers.push(record);
}

fn started_at(since: Instant) -> SystemTime {
    SystemTime::now()
        .checked_sub(since.elapsed())
        .unwrap_or_else(SystemTime::now)
}

fn list(nodes: &[Endpoint]) -> String {
    if nodes.is_empty() {
        return "(none)".into();
    }
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
