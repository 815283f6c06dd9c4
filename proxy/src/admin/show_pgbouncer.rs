//! PgBouncer console commands whose subject shardwire has in a simpler
//! form or not at all, answered with PgBouncer 1.25's columns so that
//! scripts and exporters work unchanged: `SHOW USERS` (the configured
//! users), `SHOW STATE` (active / paused / suspended), and `SHOW
//! DNS_HOSTS`, `SHOW DNS_ZONES`, `SHOW PEERS`, `SHOW PEER_POOLS`, which are
//! empty: shardwire keeps no DNS cache (node addresses are resolved by the
//! operating system at connect time) and has no PgBouncer peering (several
//! instances coordinate through etcd; see SHOW FLEET).

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// `SHOW USERS`.
pub fn users(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("name", Kind::Text),
        // PgBouncer sends the two pool sizes as text (blank: not set).
        ("pool_size", Kind::Text),
        ("reserve_pool_size", Kind::Text),
        ("pool_mode", Kind::Text),
        ("max_user_connections", Kind::Int4),
        ("current_connections", Kind::Int4),
        ("max_user_client_connections", Kind::Int4),
        ("current_client_connections", Kind::Int4),
    ]);
    let mut users: Vec<_> = ctx.users.values().collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    for user in users {
        let servers: usize = user.all_pools().map(|p| p.stats().open).sum();
        r.row(vec![
            text(&user.name),
            // No per-user override of the pool size or mode.
            None,
            None,
            None,
            text(0),
            text(servers),
            text(
                user.source
                    .max_connections
                    .unwrap_or(ctx.config.proxy.max_client_connections),
            ),
            text(user.sessions.current()),
        ]);
    }
    r
}

/// `SHOW STATE`.
pub fn state(ctx: &Context) -> ResultSet {
    let paused = ctx.pause.is_paused();
    let mut r = ResultSet::new(&[("key", Kind::Text), ("value", Kind::Text)]);
    let yes_no = |b: bool| text(if b { "yes" } else { "no" });
    r.row(vec![text("active"), yes_no(!paused)]);
    r.row(vec![text("paused"), yes_no(paused)]);
    // SUSPEND (online restart) does not exist in shardwire.
    r.row(vec![text("suspended"), yes_no(false)]);
    r
}

/// `SHOW DNS_HOSTS` (always empty).
pub fn dns_hosts() -> ResultSet {
    ResultSet::new(&[
        ("hostname", Kind::Text),
        ("ttl", Kind::Int),
        ("addrs", Kind::Text),
    ])
}

/// `SHOW DNS_ZONES` (always empty).
pub fn dns_zones() -> ResultSet {
    ResultSet::new(&[
        ("zonename", Kind::Text),
        ("serial", Kind::Int),
        ("count", Kind::Int4),
    ])
}

/// `SHOW PEERS` (always empty).
pub fn peers() -> ResultSet {
    ResultSet::new(&[
        ("peer_id", Kind::Int4),
        ("host", Kind::Text),
        ("port", Kind::Int4),
        ("pool_size", Kind::Int4),
    ])
}

/// `SHOW PEER_POOLS` (always empty).
pub fn peer_pools() -> ResultSet {
    ResultSet::new(&[
        ("peer_id", Kind::Int4),
        ("cl_active_cancel_req", Kind::Int4),
        ("cl_waiting_cancel_req", Kind::Int4),
        ("sv_active_cancel", Kind::Int4),
        ("sv_login", Kind::Int4),
    ])
}
