//! `SHOW HELP`, `SHOW VERSION` and `SHOW LISTS`.

use super::result::{text, Kind, ResultSet};
use super::COMMANDS;
use crate::context::Context;

/// `SHOW HELP`.
pub fn help() -> ResultSet {
    let mut r = ResultSet::new(&[("command", Kind::Text), ("description", Kind::Text)]);
    for (command, description) in COMMANDS {
        r.row(vec![text(command), text(description)]);
    }
    r
}

/// `SHOW VERSION`.
pub fn version() -> ResultSet {
    let mut r = ResultSet::new(&[("version", Kind::Text)]);
    r.row(vec![text(format!(
        "shardwire {}",
        env!("CARGO_PKG_VERSION")
    ))]);
    r
}

/// `SHOW LISTS`.
pub fn lists(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[("list", Kind::Text), ("items", Kind::Int4)]);
    let pools: Vec<_> = ctx
        .users
        .values()
        .flat_map(|u| u.shard_pools.clone())
        .collect();
    let servers: usize = pools.iter().map(|p| p.stats().open).sum();
    // PgBouncer 1.25's rows in its order. shardwire keeps no freed
    // client/server objects and no DNS cache: those rows are 0.
    // `login_clients`: connections still in startup or authentication.
    let items = [
        ("databases", ctx.config.shards.len()),
        ("users", ctx.users.len()),
        ("pools", pools.len()),
        ("free_clients", 0),
        ("used_clients", ctx.metrics.clients.get().max(0) as usize),
        ("login_clients", ctx.sessions.unauthenticated.current()),
        ("free_servers", 0),
        ("used_servers", servers),
        ("dns_names", 0),
        ("dns_zones", 0),
        ("dns_queries", 0),
        ("dns_pending", 0),
    ];
    for (name, n) in items {
        r.row(vec![text(name), text(n)]);
    }
    r
}
