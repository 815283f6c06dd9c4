//! `SHOW NODES`: every node the control plane watches, with its role,
//! health, recovery state, WAL position and lag.

use super::result::{text, Kind, ResultSet};
use super::show_clients::format_time;
use crate::context::Context;
use crate::monitor::format_lsn;
use crate::topology::{NodeHealth, NodeRole};

/// Whether the node takes traffic, and why (not).
fn serving(ctx: &Context, n: &NodeHealth, max_lag: f64) -> String {
    let banned = ctx.topology.is_banned(&n.endpoint);
    match n.role {
        NodeRole::Primary if n.up => "yes: the shard's primary".into(),
        NodeRole::Primary => "no: down".into(),
        NodeRole::Fenced => "no: fenced former primary".into(),
        NodeRole::Standby if banned => "no: banned (never promoted)".into(),
        NodeRole::Standby if n.up => "no: standby (failover candidate)".into(),
        NodeRole::Standby => "no: standby, down".into(),
        NodeRole::Replica if banned => "no: banned".into(),
        NodeRole::Replica if !n.up => "no: down".into(),
        NodeRole::Replica if n.syncing_tables > 0 => {
            format!("no: copying {} table(s)", n.syncing_tables)
        }
        NodeRole::Replica => match n.lag_seconds {
            Some(l) if l <= max_lag => "yes: leaderboard reads".into(),
            Some(l) if l.is_finite() => format!("no: lag {l:.1}s > max_lag {max_lag:.1}s"),
            _ => "no: a shard's heartbeat not seen yet".into(),
        },
    }
}

/// `SHOW NODES`.
pub fn nodes(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("node", Kind::Text),
        ("role", Kind::Text),
        ("shard", Kind::Text),
        ("up", Kind::Text),
        ("serving", Kind::Text),
        ("in_recovery", Kind::Text),
        ("timeline", Kind::Int),
        ("lsn", Kind::Text),
        ("replay_lsn", Kind::Text),
        ("lag_bytes", Kind::Int),
        ("lag_seconds", Kind::Text),
        ("shard_lag_seconds", Kind::Text),
        ("streaming", Kind::Text),
        ("syncing_tables", Kind::Int),
        ("failed_checks", Kind::Int),
        ("checked_at", Kind::Text),
        ("last_error", Kind::Text),
    ]);
    let monitored = ctx.config.replication.enabled();
    let max_lag = ctx.replica_settings().max_lag.as_secs_f64();
    for n in ctx.topology.nodes.all() {
        let seconds = |l: f64| {
            if l.is_finite() {
                format!("{l:.3}")
            } else {
                "never seen".to_owned()
            }
        };
        let per_shard: Vec<String> = n
            .shard_lag_seconds
            .iter()
            .enumerate()
            .map(|(k, l)| format!("{k}:{}", l.map_or("never seen".to_owned(), seconds)))
            .collect();
        let up = match (monitored, n.checked_at) {
            (false, _) => "unmonitored",
            (true, None) => "unknown",
            (true, Some(_)) if n.up => "yes",
            _ => "no",
        };
        r.row(vec![
            text(&n.endpoint),
            text(n.role.name()),
            n.shard.map(|s| s.to_string()),
            text(up),
            text(serving(ctx, &n, max_lag)),
            n.in_recovery.map(|b| b.to_string()),
            n.timeline.map(|t| t.to_string()),
            n.lsn.map(format_lsn),
            n.replay_lsn.map(format_lsn),
            n.lag_bytes.map(|b| b.to_string()),
            n.lag_seconds.map(seconds),
            Some(per_shard.join(" ")).filter(|s| !s.is_empty()),
            n.streaming.map(|b| b.to_string()),
            text(n.syncing_tables),
            text(n.failures),
            n.checked_at.map(format_time),
            n.last_error.clone(),
        ]);
    }
    r
}
