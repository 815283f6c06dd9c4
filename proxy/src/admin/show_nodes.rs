//! `SHOW NODES`: every node the control plane watches, with its role,
//! health, recovery state, WAL position and lag.

use super::result::{text, Kind, ResultSet};
use super::show_clients::format_time;
use crate::context::Context;
use crate::monitor::format_lsn;

/// `SHOW NODES`.
pub fn nodes(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("node", Kind::Text),
        ("role", Kind::Text),
        ("shard", Kind::Text),
        ("up", Kind::Text),
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
