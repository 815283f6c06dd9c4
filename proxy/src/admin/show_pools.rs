//! `SHOW POOLS`: one row per (shard, user) pool, with PgBouncer 1.25's
//! columns in its order, then `shard` and `role`. Cancel requests are
//! forwarded at once and not counted per pool: their columns are 0.

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// `SHOW POOLS`.
pub fn pools(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("database", Kind::Text),
        ("user", Kind::Text),
        ("cl_active", Kind::Int4),
        ("cl_waiting", Kind::Int4),
        ("cl_active_cancel_req", Kind::Int4),
        ("cl_waiting_cancel_req", Kind::Int4),
        ("sv_active", Kind::Int4),
        ("sv_active_cancel", Kind::Int4),
        ("sv_being_canceled", Kind::Int4),
        ("sv_idle", Kind::Int4),
        ("sv_used", Kind::Int4),
        ("sv_tested", Kind::Int4),
        ("sv_login", Kind::Int4),
        ("maxwait", Kind::Int4),
        ("maxwait_us", Kind::Int4),
        ("pool_mode", Kind::Text),
        ("load_balance_hosts", Kind::Text),
        ("shard", Kind::Int4),
        ("role", Kind::Text),
    ]);
    let mut users: Vec<_> = ctx.users.values().collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    for user in users {
        for (shard, pool) in user.shard_pools.iter().enumerate() {
            let s = pool.stats();
            let wait = s.max_wait;
            r.row(vec![
                text(&ctx.config.proxy.database),
                text(&user.name),
                text(s.active),
                text(s.waiting),
                text(0),
                text(0),
                text(s.active),
                text(0),
                text(0),
                text(s.idle),
                text(0),
                text(0),
                text(s.connecting),
                text(wait.as_secs()),
                text(wait.subsec_micros()),
                text(ctx.config.proxy.pool_mode),
                None,
                text(shard),
                text("primary"),
            ]);
        }
    }
    r
}
