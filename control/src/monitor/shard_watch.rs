//! The per-shard control loop: every check interval it checks the primary
//! (and writes the heartbeat), the standbys and the fenced former
//! primaries, records their health and lag, and starts a failover when the
//! primary has failed enough consecutive checks and no standby still
//! streams from it.

use super::conns::Conns;
use super::control::ControlLogin;
use super::failover;
use super::probe::{self, epoch_now, Probe};
use crate::topology::{ShardPhase, ShardState};
use crate::ControlPlane;
use crate::Endpoint;
use std::sync::Arc;
use std::time::Instant;

/// What the loop remembers between rounds.
struct Watch {
    conns: Conns,
    /// When the primary failed its first check of the current incident.
    first_failure: Option<Instant>,
    /// The current incident was already reported (refusal or no candidate).
    reported: bool,
    /// No new failover attempt before this (after a failed one).
    next_attempt: Option<Instant>,
    /// Fenced nodes already made read-only.
    read_only_fenced: Vec<Endpoint>,
}

/// Time between two failover attempts of one incident.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the control loop of `shard` until the task is aborted.
pub async fn run(ctx: Arc<ControlPlane>, shard: Arc<ShardState>, login: ControlLogin) {
    let mut watch = Watch {
        conns: Conns::new(login),
        first_failure: None,
        reported: false,
        next_attempt: None,
        read_only_fenced: Vec::new(),
    };
    let mut ticks = tokio::time::interval(ctx.settings.replication.check_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let _control = shard.control.lock().await;
        round(&ctx, &shard, &mut watch).await;
    }
}

/// One check of every node of the shard.
async fn round(ctx: &Arc<ControlPlane>, shard: &Arc<ShardState>, watch: &mut Watch) {
    let settings = &ctx.settings.replication;
    let primary = shard.primary();
    let standbys = shard.standbys();
    let fenced = shard.fenced();

    let primary_check = {
        let conn = watch.conns.take(&primary);
        let table = settings.heartbeat_table.clone();
        let index = shard.index;
        async move {
            let mut conn = conn?;
            let result = async {
                let p = probe::probe(&mut conn).await?;
                if p.in_recovery {
                    return Err("the primary is in recovery (it is a standby)".to_owned());
                }
                let beat = probe::write_heartbeat(&mut conn, &table, index).await;
                Ok((p, beat))
            }
            .await;
            Some((conn, result))
        }
    };
    let others: Vec<Endpoint> = standbys.iter().chain(&fenced).cloned().collect();
    let other_checks = others.iter().map(|node| {
        let conn = watch.conns.take(node);
        let table = settings.heartbeat_table.clone();
        async move {
            let mut conn = conn?;
            let result = async {
                let p = probe::probe(&mut conn).await?;
                let beats = if p.in_recovery {
                    probe::read_heartbeats(&mut conn, &table)
                        .await
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                Ok::<_, String>((p, beats))
            }
            .await;
            Some((conn, result))
        }
    });
    let (primary_result, other_results) =
        tokio::join!(primary_check, futures_util::future::join_all(other_checks));

    let now = epoch_now();
    // Beats as of before this round's write: standbys read concurrently.
    let (settled, latest) = (shard.settled_beat(), shard.latest_beat());
    let mut primary_lsn = None;
    let primary_ok = match primary_result {
        Some((conn, result)) => {
            watch.conns.put(conn);
            match result {
                Ok((p, beat)) => {
                    primary_lsn = p.lsn;
                    shard.set_sync_names(p.sync_names.clone());
                    if let Ok(epoch) = beat {
                        shard.set_last_beat(epoch);
                    }
                    record_up(ctx, &primary, &p, |n| {
                        n.lag_bytes = Some(0);
                        n.lag_seconds = Some(0.0);
                        n.last_error = beat.as_ref().err().map(|e| format!("heartbeat: {e}"));
                    });
                    true
                }
                Err(e) => {
                    if watch.first_failure.is_none() {
                        // Idle pooled connections to a failing primary are
                        // likely dead: do not hand them to clients.
                        ctx.data_path.retire_idle(shard.index);
                    }
                    record_down(ctx, &primary, &e);
                    false
                }
            }
        }
        None => false,
    };

    let mut streaming_standbys = Vec::new();
    let mut returned = Vec::new();
    let primary_timeline = ctx.topology.nodes.get(&primary).and_then(|n| n.timeline);
    let mut promoted_elsewhere: Vec<(Endpoint, Option<u32>)> = Vec::new();
    let mut fenced_primaries = Vec::new();
    for (node, outcome) in others.iter().zip(other_results) {
        let Some((conn, result)) = outcome else {
            continue;
        };
        watch.conns.put(conn);
        let is_fenced = fenced.contains(node);
        match result {
            Ok((p, beats)) => {
                // A standby streaming from a fenced former primary says
                // nothing about the current one.
                let from_fenced = p
                    .sender
                    .as_deref()
                    .is_some_and(|s| fenced.iter().any(|f| same_node(s, f)));
                if !is_fenced && p.streaming && !from_fenced {
                    streaming_standbys.push(node.clone());
                }
                // A set-aside standby or a former primary re-attached
                // (pg_rewind, a new base backup) that streams from the
                // current primary on its timeline is a copy again.
                let from_primary = p.sender.as_deref().is_some_and(|s| same_node(s, &primary));
                if is_fenced
                    && primary_ok
                    && p.in_recovery
                    && p.streaming
                    && from_primary
                    && p.timeline.is_some()
                    && p.timeline == primary_timeline
                {
                    returned.push(node.clone());
                }
                if !is_fenced && !p.in_recovery {
                    promoted_elsewhere.push((node.clone(), p.timeline));
                }
                let seen = beats.iter().find(|(s, _)| *s == shard.index).map(|b| b.1);
                let lag_seconds = probe::heartbeat_lag(settled, latest, seen, now);
                let lag_bytes = match (primary_lsn, p.replay_lsn) {
                    (Some(head), Some(replayed)) if p.in_recovery => {
                        Some(head.saturating_sub(replayed))
                    }
                    _ => None,
                };
                if is_fenced && !p.in_recovery {
                    fenced_primaries.push(node.clone());
                }
                record_up(ctx, node, &p, |n| {
                    n.lag_bytes = lag_bytes;
                    n.lag_seconds = if p.in_recovery { lag_seconds } else { None };
                    n.streaming = Some(p.streaming);
                    n.last_error = None;
                });
            }
            Err(e) => record_down(ctx, node, &e),
        }
    }

    if let Some(fleet) = &ctx.fleet {
        fleet.observe(shard.index, &primary, primary_ok);
    }
    shard.set_sync_streaming(
        primary_ok && !shard.sync_names().is_empty() && !streaming_standbys.is_empty(),
    );
    shard.set_copies(usize::from(primary_ok) + streaming_standbys.len());
    let controls = ctx.fleet.as_ref().is_none_or(|f| f.is_controller());
    if controls {
        fence_former_primaries(shard, watch, &fenced_primaries).await;
        if !returned.is_empty() {
            super::rejoin::adopt_returned(ctx, shard, &mut watch.conns, &primary, &returned).await;
            shard.set_copies(shard.copies() + returned.len());
        }
    }
    // In a fleet the topology in etcd says who the primary is; a node
    // found promoted is the controller's business, not adopted here.
    let adoptable = if ctx.fleet.is_none() {
        promoted_elsewhere.first().cloned()
    } else {
        None
    };
    if let Some((node, timeline)) = adoptable {
        // A "standby" is a primary: promoted while shardwire was not
        // looking (e.g. shardwire restarted after a failover, with the old
        // configuration). The newer timeline is the real primary.
        let current = ctx.topology.nodes.get(&primary).and_then(|n| n.timeline);
        let newer = match (timeline, current) {
            (Some(t), Some(c)) => t > c,
            (Some(_), None) => !primary_ok,
            _ => false,
        };
        if newer {
            adopt(ctx, shard, &primary, &node, timeline, current);
            return;
        }
        if primary_ok && !watch.reported {
            watch.reported = true;
            tracing::error!(shard = shard.index, primary = %primary, other = %node,
                "two nodes of this shard are primaries and the timelines do not say which is newer: check the shard by hand");
        }
    }
    if primary_ok {
        if watch.first_failure.take().is_some() {
            tracing::info!(shard = shard.index, primary = %primary, "the primary answers again");
        }
        watch.reported = false;
        if shard.phase() != ShardPhase::Serving {
            shard.set_phase(ShardPhase::Serving);
        }
        shard.notify();
        return;
    }

    let first_failure = *watch.first_failure.get_or_insert_with(Instant::now);
    let failures = ctx.topology.nodes.get(&primary).map_or(1, |n| n.failures);
    if failures < settings.failure_threshold {
        if shard.phase() == ShardPhase::Serving {
            shard.set_phase(ShardPhase::Suspect);
        }
        return;
    }
    if !controls {
        // Only the fleet's controller decides; this instance keeps
        // checking and publishing what it sees.
        if shard.phase() == ShardPhase::Serving {
            shard.set_phase(ShardPhase::Suspect);
        }
        return;
    }
    if let Some(fleet) = &ctx.fleet {
        let window = settings.check_interval.as_secs_f64() * f64::from(settings.failure_threshold);
        if let Some(seen) = fleet.seen_healthy_elsewhere(shard.index, &primary, window) {
            // Another instance still reaches the primary: only this one
            // is cut off. Promoting would split the brain.
            shard.set_phase(ShardPhase::Unreachable);
            if first_failure.elapsed().as_secs_f64() > 2.0 * window && !watch.reported {
                watch.reported = true;
                failover::record_refusal(
                    ctx,
                    shard,
                    &primary,
                    first_failure,
                    format!("not promoted: {seen}, so the primary is alive and only this instance cannot reach it"),
                );
            }
            return;
        }
    }
    if !streaming_standbys.is_empty() {
        // The standbys still hear from the primary: it is alive and only
        // shardwire is cut off from it. Promoting would split the brain.
        shard.set_phase(ShardPhase::Unreachable);
        if !watch.reported {
            watch.reported = true;
            failover::record_refusal(
                ctx,
                shard,
                &primary,
                first_failure,
                format!(
                    "not promoted: standby {} still streams from the primary, so it is alive and only shardwire cannot reach it",
                    streaming_standbys
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        return;
    }
    if let Some(why) = shard.promotions_blocked() {
        shard.set_phase(ShardPhase::Down);
        if !watch.reported {
            watch.reported = true;
            failover::record_refusal(ctx, shard, &primary, first_failure, why);
        }
        return;
    }
    if watch.next_attempt.is_some_and(|t| Instant::now() < t) {
        return;
    }
    if !settings.auto_failover || standbys.is_empty() {
        shard.set_phase(ShardPhase::Down);
        if !watch.reported {
            watch.reported = true;
            let why = if standbys.is_empty() {
                "the shard has no standby to promote"
            } else {
                "replication.auto_failover is off"
            };
            failover::record_refusal(
                ctx,
                shard,
                &primary,
                first_failure,
                format!("the primary is down and {why}"),
            );
        }
        return;
    }
    let promoted = failover::fail_over(ctx, shard, &mut watch.conns, first_failure).await;
    if promoted {
        watch.first_failure = None;
        watch.reported = false;
        watch.next_attempt = None;
    } else {
        watch.reported = true;
        watch.next_attempt = Some(Instant::now() + RETRY_AFTER);
    }
}

/// Whether `sender` (`host:port` from pg_stat_wal_receiver) is `node`.
fn same_node(sender: &str, node: &Endpoint) -> bool {
    sender
        .rsplit_once(':')
        .is_some_and(|(host, port)| node.is(host, port))
}

/// Makes former primaries that came back as primaries read-only, so
/// nothing (not even clients connecting to them directly) writes there.
async fn fence_former_primaries(shard: &ShardState, watch: &mut Watch, nodes: &[Endpoint]) {
    for node in nodes {
        if watch.read_only_fenced.contains(node) {
            continue;
        }
        let Some(conn) = watch.conns.get(node) else {
            continue;
        };
        let limit = conn.timeout();
        let done = conn
            .execute("ALTER SYSTEM SET default_transaction_read_only = on", limit)
            .await
            .and(conn.execute("SELECT pg_reload_conf()", limit).await);
        match done {
            Ok(()) => {
                tracing::warn!(shard = shard.index, node = %node,
                    "a fenced former primary came back as a primary: made read-only; it gets no traffic (rebuild it as a standby)");
                watch.read_only_fenced.push(node.clone());
            }
            Err(e) => tracing::warn!(shard = shard.index, node = %node, error = %e,
                "could not make a fenced former primary read-only"),
        }
    }
}

/// Moves the shard's traffic to `node`, found already promoted on a newer
/// timeline than the configured primary's.
fn adopt(
    ctx: &Arc<ControlPlane>,
    shard: &Arc<ShardState>,
    old: &Endpoint,
    node: &Endpoint,
    timeline: Option<u32>,
    old_timeline: Option<u32>,
) {
    super::promote::swap_routing(ctx, shard, node);
    shard.set_phase(ShardPhase::Serving);
    let detail = format!(
        "{node} is already a primary on timeline {} (the configured primary is on {}): routing moved to it, {old} fenced",
        timeline.map_or("?".into(), |t| t.to_string()),
        old_timeline.map_or("?".into(), |t| t.to_string()),
    );
    tracing::warn!(shard = shard.index, "{detail}");
    failover::finish(
        ctx,
        crate::topology::FailoverRecord {
            shard: shard.index,
            kind: crate::topology::FailoverKind::Automatic,
            started: std::time::SystemTime::now(),
            old_primary: old.to_string(),
            new_primary: Some(node.to_string()),
            total: std::time::Duration::ZERO,
            paused: std::time::Duration::ZERO,
            outcome: "adopted",
            detail,
        },
    );
}

fn record_up(
    ctx: &ControlPlane,
    node: &Endpoint,
    p: &Probe,
    extra: impl FnOnce(&mut crate::topology::NodeHealth),
) {
    ctx.topology.nodes.update(node, |n| {
        n.up = true;
        n.failures = 0;
        n.in_recovery = Some(p.in_recovery);
        n.timeline = p.timeline;
        n.lsn = p.lsn;
        n.replay_lsn = p.replay_lsn;
        n.checked_at = Some(std::time::SystemTime::now());
        extra(n);
    });
}

fn record_down(ctx: &ControlPlane, node: &Endpoint, error: &str) {
    ctx.topology.nodes.update(node, |n| {
        n.up = false;
        n.failures = n.failures.saturating_add(1);
        n.checked_at = Some(std::time::SystemTime::now());
        n.last_error = Some(error.to_owned());
        n.streaming = None;
    });
}
