//! `SHOW TRANSACTIONS`: cross-shard transactions left prepared and not yet
//! finished (in doubt), as the resolver last listed them (every few
//! seconds): where each is prepared, how long ago, which shard's commit
//! decides it and what that shard says, and the instance that made it.

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// `SHOW TRANSACTIONS`.
pub fn transactions(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("gid", Kind::Text),
        ("shard", Kind::Int4),
        ("age_seconds", Kind::Text),
        ("coordinator_shard", Kind::Int4),
        ("decision", Kind::Text),
        ("instance", Kind::Text),
    ]);
    let mut all = ctx.cross_shard.in_doubt();
    all.sort_by(|a, b| b.age_seconds.total_cmp(&a.age_seconds));
    for t in all {
        r.row(vec![
            text(&t.gid),
            text(t.shard),
            text(format!("{:.1}", t.age_seconds)),
            text(t.coordinator),
            text(&t.decision),
            text(&t.instance),
        ]);
    }
    r
}
