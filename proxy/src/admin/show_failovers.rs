//! `SHOW FAILOVERS`: every automatic failover, switchover and refused
//! promotion since start, oldest first, with timings.

use super::result::{text, Kind, ResultSet};
use super::show_clients::format_time;
use crate::context::Context;

/// `SHOW FAILOVERS`.
pub fn failovers(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("shard", Kind::Int),
        ("kind", Kind::Text),
        ("started", Kind::Text),
        ("old_primary", Kind::Text),
        ("new_primary", Kind::Text),
        ("outcome", Kind::Text),
        ("total_seconds", Kind::Text),
        ("paused_seconds", Kind::Text),
        ("detail", Kind::Text),
    ]);
    let mut all = ctx.topology.failovers.all();
    // The same order on every instance of a fleet, however the entries
    // arrived.
    all.sort_by_key(|f| (f.started, f.shard));
    for f in all {
        r.row(vec![
            text(f.shard),
            text(f.kind.name()),
            text(format_time(f.started)),
            text(&f.old_primary),
            f.new_primary.clone(),
            text(f.outcome),
            text(format!("{:.3}", f.total.as_secs_f64())),
            text(format!("{:.3}", f.paused.as_secs_f64())),
            text(&f.detail),
        ]);
    }
    r
}
