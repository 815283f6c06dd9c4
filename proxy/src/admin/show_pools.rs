//! `SHOW POOLS`: one row per (shard, user) pool, with PgBouncer 1.25's
//! columns in its order, then `shard`, `role` and `cl_pinned` (clients
//! pinned to a connection of the pool by session state). Cancel requests are
//! forwarded at once and not counted per pool: their columns are 0.
//! `maxwait`/`maxwait_us` are, as in PgBouncer, how long the oldest client
//! still waiting has waited (0 when `cl_waiting` is 0): the longest wait
//! among the user's waiting clients, exact unless several shard pools of
//! one user have waiters at once. `cl_active` counts the clients holding a
//! server connection of this pool (an idle client holds none, so it is in
//! no shard's pool; SHOW LISTS counts every client); idle connections not
//! yet due for a health check and those due are both `sv_idle` (`sv_used`
//! and `sv_tested` are 0). docs/admin-console.md lists each difference.

use super::result::{text, Kind, ResultSet};
use crate::context::Context;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Per user, how long the user's longest-waiting client has waited for a
/// server connection (users none of whose clients wait are absent).
fn oldest_waits(ctx: &Context) -> HashMap<String, Duration> {
    let mut oldest: HashMap<String, Duration> = HashMap::new();
    for (_, slot) in ctx.cancels.clients() {
        if !slot.waiting.load(Ordering::Relaxed) {
            continue;
        }
        let Some(waited) = slot.waiting.waited() else {
            continue;
        };
        let entry = oldest.entry(slot.info.user.to_string()).or_default();
        *entry = (*entry).max(waited);
    }
    oldest
}

/// Per (user, shard), the clients pinned to a server connection of that
/// shard by session state (temp tables, held cursors, advisory locks…).
fn pinned_clients(ctx: &Context) -> HashMap<(String, u32), u32> {
    let mut pinned = HashMap::new();
    for (_, slot) in ctx.cancels.clients() {
        if slot.pinned.load(Ordering::Relaxed) == 0 {
            continue;
        }
        let shard = slot.pinned_shard.load(Ordering::Relaxed);
        *pinned
            .entry((slot.info.user.to_string(), shard))
            .or_insert(0) += 1;
    }
    pinned
}

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
        ("cl_pinned", Kind::Int4),
    ]);
    let oldest = oldest_waits(ctx);
    let pinned = pinned_clients(ctx);
    let mut users: Vec<_> = ctx.users.values().collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    for user in users {
        for (shard, pool) in user.shard_pools.iter().enumerate() {
            let s = pool.stats();
            // PgBouncer's maxwait: how long the oldest client still in the
            // queue has waited; 0 when none waits.
            let wait = if s.waiting > 0 {
                oldest.get(&*user.name).copied().unwrap_or_default()
            } else {
                Duration::ZERO
            };
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
                text(
                    pinned
                        .get(&(user.name.to_string(), shard as u32))
                        .copied()
                        .unwrap_or(0),
                ),
            ]);
        }
    }
    r
}
