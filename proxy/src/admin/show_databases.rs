//! `SHOW DATABASES` (each shard's primary, PgBouncer's columns plus
//! `shard`) and `SHOW SHARDS` (primary, standbys, state).

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// `SHOW DATABASES`.
pub fn databases(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("name", Kind::Text),
        ("host", Kind::Text),
        ("port", Kind::Int4),
        ("database", Kind::Text),
        ("force_user", Kind::Text),
        ("pool_size", Kind::Int4),
        ("min_pool_size", Kind::Int4),
        ("reserve_pool_size", Kind::Int4),
        ("server_lifetime", Kind::Int4),
        ("pool_mode", Kind::Text),
        ("load_balance_hosts", Kind::Text),
        ("max_connections", Kind::Int4),
        ("current_connections", Kind::Int4),
        ("max_client_connections", Kind::Int4),
        ("current_client_connections", Kind::Int4),
        ("paused", Kind::Int4),
        ("disabled", Kind::Int4),
        ("shard", Kind::Int4),
    ]);
    let disabled = ctx.sessions.is_disabled(&ctx.config.proxy.database);
    for (k, shard) in ctx.config.shards.iter().enumerate() {
        let open: usize = ctx
            .users
            .values()
            .filter_map(|u| u.shard_pools.get(k).cloned())
            .map(|p| p.stats().open)
            .sum();
        let pool = ctx
            .pool_settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        r.row(vec![
            text(&ctx.config.proxy.database),
            text(&shard.primary.host),
            text(shard.primary.port),
            text(
                shard
                    .database
                    .as_deref()
                    .unwrap_or(&ctx.config.proxy.database),
            ),
            None,
            text(pool.size),
            text(pool.min_idle),
            text(0),
            pool.max_lifetime.map(|d| d.as_secs().to_string()),
            text(ctx.config.proxy.pool_mode),
            None,
            text(pool.size * ctx.users.len()),
            text(open),
            text(ctx.config.proxy.max_client_connections),
            text(ctx.metrics.clients.get().max(0)),
            text(i32::from(ctx.pause.is_paused())),
            text(i32::from(disabled)),
            text(k),
        ]);
    }
    r
}

/// `SHOW SHARDS`.
pub fn shards(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("shard", Kind::Int),
        ("primary", Kind::Text),
        ("standbys", Kind::Text),
        ("fenced", Kind::Text),
        ("state", Kind::Text),
        ("timeline", Kind::Int),
        ("server_connections", Kind::Int),
        ("generation", Kind::Int),
        ("writes", Kind::Text),
        ("copies", Kind::Int),
        ("copies_configured", Kind::Int),
    ]);
    let join = |nodes: Vec<crate::config::Endpoint>| {
        nodes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for shard in &ctx.topology.shards {
        let k = shard.index as usize;
        let pools: Vec<_> = ctx
            .users
            .values()
            .filter_map(|u| u.shard_pools.get(k).cloned())
            .collect();
        let open: usize = pools.iter().map(|p| p.stats().open).sum();
        let errors: u64 = pools.iter().map(|p| p.stats().connect_errors).sum();
        let state = if ctx.config.replication.enabled() {
            shard.phase().name()
        } else if open > 0 {
            "serving"
        } else if errors > 0 {
            "unreachable"
        } else {
            "idle"
        };
        r.row(vec![
            text(k),
            text(shard.primary()),
            text(join(shard.standbys())),
            text(join(shard.fenced())),
            text(state),
            ctx.topology
                .nodes
                .get(&shard.primary())
                .and_then(|n| n.timeline)
                .map(|t| t.to_string()),
            text(open),
            text(if ctx.control.fleet.is_some() {
                shard.fleet_generation()
            } else {
                shard.generation()
            }),
            text(if shard.writes_refused().is_some() {
                "refused"
            } else {
                "ok"
            }),
            if ctx.config.replication.enabled() {
                text(shard.copies())
            } else {
                None
            },
            text(shard.copies_configured()),
        ]);
    }
    r
}
