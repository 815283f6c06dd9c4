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
    let mut r = ResultSet::new(&[("list", Kind::Text), ("items", Kind::Int)]);
    let pools: Vec<_> = ctx
        .users
        .values()
        .flat_map(|u| u.shard_pools.clone())
        .collect();
    let servers: usize = pools.iter().map(|p| p.stats().open).sum();
    let idle: usize = pools.iter().map(|p| p.stats().idle).sum();
    let items = [
        ("databases", ctx.config.shards.len()),
        ("users", ctx.users.len()),
        ("pools", pools.len()),
        ("used_clients", ctx.metrics.clients.get().max(0) as usize),
        ("used_servers", servers - idle.min(servers)),
        ("free_servers", idle),
    ];
    for (name, n) in items {
        r.row(vec![text(name), text(n)]);
    }
    r
}
