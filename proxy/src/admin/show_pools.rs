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
        ("cl_active", Kind::Int),
        ("cl_waiting", Kind::Int),
        ("cl_active_cancel_req", Kind::Int),
        ("cl_waiting_cancel_req", Kind::Int),
        ("sv_active", Kind::Int),
        ("sv_active_cancel", Kind::Int),
        ("sv_being_canceled", Kind::Int),
        ("sv_idle", Kind::Int),
        ("sv_used", Kind::Int),
        ("sv_tested", Kind::Int),
        ("sv_login", Kind::Int),
        ("maxwait", Kind::Int),
        ("maxwait_us", Kind::Int),
        ("pool_mode", Kind::Text),
        ("load_balance_hosts", Kind::Text),
        ("shard", Kind::Int),
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
