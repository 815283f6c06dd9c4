//! The admin console: a virtual database named `shardwire` (also
//! `pgbouncer`, for existing tooling) where admins run PgBouncer-style
//! commands over the simple query protocol (`psql -U admin shardwire`,
//! `SHOW POOLS;`). This module owns the session loop and the dispatch; each
//! command family has a file of its own.

mod control;
mod disable;
mod kill_client;
mod pause;
mod result;
mod set;
mod show_clients;
mod show_config;
mod show_databases;
mod show_failovers;
mod show_fleet;
mod show_misc;
mod show_nodes;
mod show_pgbouncer;
mod show_pools;
mod show_prepared;
mod show_routes;
mod show_servers;
mod show_stats;
mod show_transactions;
mod switchover;
mod unsupported;
mod wait_close;

use crate::context::Context;
use crate::protocol::builder;
use crate::protocol::reader::BodyReader;
use crate::protocol::{ErrorResponse, SqlState};
use crate::wire::{read_frame, WireError};
use bytes::BytesMut;
pub use result::ResultSet;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Database names that open the admin console.
pub fn is_admin_database(name: &str) -> bool {
    name == "shardwire" || name == "pgbouncer"
}

/// What a user may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    /// Every command.
    Admin,
    /// `SHOW` only.
    Stats,
}

/// The role of `user`, if it may use the console.
pub fn role_of(ctx: &Context, user: &str) -> Option<AdminRole> {
    if ctx.config.admin.users.iter().any(|u| u == user) {
        Some(AdminRole::Admin)
    } else if ctx.config.admin.stats_users.iter().any(|u| u == user) {
        Some(AdminRole::Stats)
    } else {
        None
    }
}

/// The commands, as `SHOW HELP` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("SHOW HELP", "this list"),
    ("SHOW VERSION", "the shardwire version"),
    (
        "SHOW POOLS",
        "each (shard, user) pool: clients and server connections",
    ),
    (
        "SHOW STATS",
        "traffic per shard: transactions, queries, bytes, times",
    ),
    ("SHOW STATS_TOTALS", "the totals of SHOW STATS"),
    ("SHOW STATS_AVERAGES", "the averages of SHOW STATS"),
    (
        "SHOW TOTALS",
        "SHOW STATS summed over all shards, one row each",
    ),
    ("SHOW USERS", "each configured user: limits and connections"),
    ("SHOW STATE", "active, paused, suspended (never: no SUSPEND)"),
    (
        "SHOW DNS_HOSTS",
        "empty: no DNS cache (also SHOW DNS_ZONES, SHOW PEERS, SHOW PEER_POOLS)",
    ),
    ("SHOW DATABASES", "the shards' primaries as databases"),
    ("SHOW SHARDS", "per shard: primary, standbys, state"),
    ("SHOW CONFIG", "the settings in force"),
    (
        "SHOW LISTS",
        "counts of databases, users, pools, clients, servers",
    ),
    (
        "SHOW CLIENTS",
        "each client session: user, state, address, backend",
    ),
    (
        "SHOW SERVERS",
        "each server connection: shard, state, backend pid",
    ),
    (
        "RELOAD",
        "re-read the configuration file; pool settings apply at once",
    ),
    (
        "PAUSE",
        "hold new transactions, wait for running ones to finish",
    ),
    ("RESUME", "let transactions through again"),
    (
        "SHOW NODES",
        "every node: role, health, recovery, WAL position, lag",
    ),
    (
        "SHOW FAILOVERS",
        "failovers and switchovers: when, which nodes, how long",
    ),
    (
        "SHOW TRANSACTIONS",
        "cross-shard transactions left prepared (in doubt): shard, age, decision",
    ),
    (
        "SHOW FLEET",
        "the instances, the controller, each one's view of each shard",
    ),
    (
        "SWITCHOVER",
        "SWITCHOVER <shard> [TO <host:port>]: planned promotion of a standby",
    ),
    (
        "SHOW ROUTES",
        "route rules: replica reads and fallbacks to the shards",
    ),
    (
        "RECONNECT",
        "replace every pooled server connection (busy ones after their transaction)",
    ),
    (
        "KILL",
        "end every client session now (transactions roll back)",
    ),
    (
        "SHUTDOWN",
        "safe shutdown (also SHUTDOWN WAIT_FOR_SERVERS, SIGINT): refuse new clients, let transactions finish, end sessions, exit",
    ),
    (
        "SHUTDOWN WAIT_FOR_CLIENTS",
        "super-safe shutdown (SIGTERM): each client ends at its transaction boundary (57P01), then exit",
    ),
    (
        "SET",
        "SET <key> = <value>: change a live setting (SHOW CONFIG changeable = yes) until the next RELOAD",
    ),
    (
        "DISABLE",
        "DISABLE <db>: refuse new client logins (57P03); sessions already in stay",
    ),
    ("ENABLE", "ENABLE <db>: accept client logins again"),
    (
        "KILL_CLIENT",
        "KILL_CLIENT <id>: end one client session (the id of SHOW CLIENTS)",
    ),
    (
        "WAIT_CLOSE",
        "WAIT_CLOSE [<db>]: wait until the server connections RECONNECT marked close_needed are closed",
    ),
    (
        "SHOW PREPARED_STATEMENTS",
        "the proxy-wide prepared statements: name on the servers, text, parameter types",
    ),
    (
        "BAN",
        "BAN <host:port>: no replica reads from the node, never promote it",
    ),
    ("UNBAN", "UNBAN <host:port>: lift a BAN"),
];

/// Serves an authenticated admin session until the client leaves.
pub async fn serve(
    mut stream: crate::socket::Socket,
    mut buf: BytesMut,
    ctx: Arc<Context>,
    role: AdminRole,
) {
    let mut out = BytesMut::new();
    for (name, value) in [
        ("server_version", "15.0 (shardwire)"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("application_name", "shardwire"),
    ] {
        builder::parameter_status(&mut out, name, value);
    }
    builder::backend_key_data(&mut out, 0, 0);
    builder::ready_for_query(&mut out, b'I');
    if stream.write_all(&out).await.is_err() {
        return;
    }
    loop {
        let frame = match read_frame(&mut stream, &mut buf, 1 << 20).await {
            Ok(f) => f,
            Err(WireError::Frame(e)) => {
                let mut out = BytesMut::new();
                ErrorResponse::fatal(SqlState::ProtocolViolation, e.to_string()).encode(&mut out);
                let _ = stream.write_all(&out).await;
                return;
            }
            Err(_) => return,
        };
        let mut out = BytesMut::new();
        match frame.tag {
            b'Q' => {
                let sql = BodyReader::new(&frame.body)
                    .cstr_utf8()
                    .unwrap_or("")
                    .to_string();
                match execute(&ctx, role, &sql).await {
                    Ok(result) => result.encode(&mut out),
                    Err(e) => e.encode(&mut out),
                }
                builder::ready_for_query(&mut out, b'I');
            }
            b'X' => return,
            b'S' => builder::ready_for_query(&mut out, b'I'),
            b'H' => {}
            _ => {
                ErrorResponse::error(
                    SqlState::FeatureNotSupported,
                    "the admin console speaks the simple query protocol only",
                )
                .with_hint("use psql, or your driver's simple-query call")
                .encode(&mut out);
            }
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Runs one admin command.
pub async fn execute(
    ctx: &Context,
    role: AdminRole,
    sql: &str,
) -> Result<ResultSet, ErrorResponse> {
    let words: Vec<String> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["show", "help"] => Ok(show_misc::help()),
        ["show", "version"] => Ok(show_misc::version()),
        ["show", "pools"] => Ok(show_pools::pools(ctx)),
        ["show", "stats"] => Ok(show_stats::stats(ctx)),
        ["show", "stats_totals"] => Ok(show_stats::totals(ctx)),
        ["show", "stats_averages"] => Ok(show_stats::averages(ctx)),
        ["show", "databases"] => Ok(show_databases::databases(ctx)),
        ["show", "shards"] => Ok(show_databases::shards(ctx)),
        ["show", "config"] => Ok(show_config::config(ctx)),
        ["show", "lists"] => Ok(show_misc::lists(ctx)),
        ["show", "clients"] => Ok(show_clients::clients(ctx)),
        ["show", "servers"] => Ok(show_servers::servers(ctx)),
        ["show", "nodes"] => Ok(show_nodes::nodes(ctx)),
        ["show", "failovers"] => Ok(show_failovers::failovers(ctx)),
        ["show", "transactions"] => Ok(show_transactions::transactions(ctx)),
        ["show", "routes"] => Ok(show_routes::routes(ctx)),
        ["show", "fleet"] => Ok(show_fleet::fleet(ctx)),
        ["show", "totals"] => Ok(show_stats::all_totals(ctx)),
        ["show", "users"] => Ok(show_pgbouncer::users(ctx)),
        ["show", "state"] => Ok(show_pgbouncer::state(ctx)),
        ["show", "dns_hosts"] => Ok(show_pgbouncer::dns_hosts()),
        ["show", "dns_zones"] => Ok(show_pgbouncer::dns_zones()),
        ["show", "peers"] => Ok(show_pgbouncer::peers()),
        ["show", "peer_pools"] => Ok(show_pgbouncer::peer_pools()),
        ["show", "prepared_statements"] => Ok(show_prepared::prepared_statements(ctx)),
        ["pause", ..]
        | ["resume", ..]
        | ["reload"]
        | ["switchover", ..]
        | ["reconnect", ..]
        | ["kill", ..]
        | ["shutdown"]
        | ["shutdown", _]
        | ["ban", ..]
        | ["unban", ..]
        | ["set", ..]
        | ["disable", ..]
        | ["enable", ..]
        | ["kill_client", ..]
        | ["wait_close", ..]
            if role != AdminRole::Admin =>
        {
            Err(ErrorResponse::error(
                SqlState::FromServer(*b"42501"),
                format!(
                    "{} needs an admin user; stats users may only SHOW",
                    words[0].to_uppercase()
                ),
            ))
        }
        // A database argument must name the one database served; the
        // command then acts on all of it.
        ["pause" | "resume" | "reconnect" | "kill", db]
            if disable::served_database(ctx, db).is_err() =>
        {
            disable::served_database(ctx, db).map(|_| ResultSet::command(""))
        }
        ["pause"] | ["pause", _] => pause::pause(ctx).await,
        ["resume"] | ["resume", _] => Ok(pause::resume(ctx)),
        ["switchover", shard] => switchover::switchover(ctx, shard, None).await,
        ["switchover", shard, target] | ["switchover", shard, "to", target] => {
            switchover::switchover(ctx, shard, Some(target)).await
        }
        ["reconnect"] | ["reconnect", _] => Ok(control::reconnect(ctx)),
        ["kill"] | ["kill", _] => Ok(control::kill(ctx)),
        ["shutdown"] | ["shutdown", "wait_for_servers"] => Ok(control::shutdown(ctx).await),
        ["shutdown", "wait_for_clients"] => Ok(control::shutdown_wait_for_clients(ctx).await),
        ["shutdown", _] => Err(ErrorResponse::error(
            SqlState::FromServer(*b"42601"),
            format!("unknown SHUTDOWN mode \"{}\"", words[1]),
        )
        .with_hint("write SHUTDOWN, SHUTDOWN WAIT_FOR_SERVERS or SHUTDOWN WAIT_FOR_CLIENTS")),
        ["set", ..] => set::set(ctx, sql),
        ["disable", db] => disable::set(ctx, db, true),
        ["enable", db] => disable::set(ctx, db, false),
        ["disable"] => Err(disable::needs_argument("DISABLE", "database")),
        ["enable"] => Err(disable::needs_argument("ENABLE", "database")),
        ["kill_client", id] => kill_client::kill_client(ctx, id),
        ["kill_client"] => Err(disable::needs_argument("KILL_CLIENT", "id")),
        ["wait_close"] => wait_close::wait_close(ctx, None).await,
        ["wait_close", db] => wait_close::wait_close(ctx, Some(db)).await,
        ["ban", node] => control::ban(ctx, node),
        ["unban", node] => control::unban(ctx, node),
        ["reload"] => match crate::reload::reload(ctx) {
            Ok(report) => {
                tracing::info!(applied = ?report.applied, need_restart = ?report.need_restart, "configuration reloaded");
                Ok(ResultSet::command("RELOAD"))
            }
            Err(problem) => {
                tracing::warn!(%problem, "configuration reload refused; the running configuration stays");
                Err(
                    ErrorResponse::error(SqlState::FromServer(*b"F0000"), problem).with_hint(
                        "fix the file and RELOAD again; the running configuration is unchanged",
                    ),
                )
            }
        },
        [] => Ok(ResultSet::command("")),
        _ => {
            if let Some(refusal) = unsupported::refusal(&words) {
                return Err(refusal);
            }
            let list: Vec<&str> = COMMANDS.iter().map(|(c, _)| *c).collect();
            Err(ErrorResponse::error(
                SqlState::FromServer(*b"42601"),
                format!("unknown admin command \"{}\"", sql.trim()),
            )
            .with_hint(format!("available: {}", list.join(", "))))
        }
    }
}
