//! The commands that act on connections and nodes: `RECONNECT` (replace
//! every pooled server connection), `KILL` (end every client session),
//! `SHUTDOWN [WAIT_FOR_SERVERS | WAIT_FOR_CLIENTS]` (the safe and the
//! super-safe shutdowns of [`crate::drain`]), `BAN` / `UNBAN` a node (no
//! replica reads, never promoted).

use super::result::ResultSet;
use crate::config::Endpoint;
use crate::context::Context;
use crate::protocol::{ErrorResponse, SqlState};

/// `RECONNECT`: idle server connections are closed now, busy ones when
/// their transaction ends; new ones are opened on demand.
pub fn reconnect(ctx: &Context) -> ResultSet {
    for shard in &ctx.topology.shards {
        shard.bump_generation();
    }
    let mut closed = 0;
    for user in ctx.users.values() {
        for pool in user.all_pools() {
            closed += pool.retire_idle();
        }
    }
    tracing::info!(closed, "RECONNECT: server connections are being replaced");
    ResultSet::command("RECONNECT")
}

/// `KILL`: ends every client session at once (not the admin consoles);
/// their transactions roll back.
pub fn kill(ctx: &Context) -> ResultSet {
    let n = ctx.sessions.kill(false);
    tracing::warn!(sessions = n, "KILL: client sessions ended");
    ResultSet::command("KILL")
}

/// `SHUTDOWN` and `SHUTDOWN WAIT_FOR_SERVERS` (safe shutdown, as SIGINT):
/// refuse new clients, hold new transactions, wait for the running ones,
/// end every session and let the process exit.
pub async fn shutdown(ctx: &Context) -> ResultSet {
    crate::drain::wait_for_servers(ctx).await;
    exit(ctx);
    ResultSet::command("SHUTDOWN")
}

/// `SHUTDOWN WAIT_FOR_CLIENTS` (super-safe shutdown, as SIGTERM): each
/// client ends at its transaction boundary, then the process exits.
pub async fn shutdown_wait_for_clients(ctx: &Context) -> ResultSet {
    crate::drain::drain(ctx).await;
    exit(ctx);
    ResultSet::command("SHUTDOWN")
}

/// Tells the process to exit.
fn exit(ctx: &Context) {
    ctx.sessions.shutdown.notify_waiters();
    ctx.sessions.shutdown.notify_one();
}

/// Parses `host:port` naming a configured node.
fn node(ctx: &Context, text: &str) -> Result<Endpoint, ErrorResponse> {
    let parsed = text.rsplit_once(':').and_then(|(host, port)| {
        Some(Endpoint {
            host: host.to_owned(),
            port: port.parse().ok()?,
        })
    });
    match parsed {
        Some(e) if ctx.topology.nodes.get(&e).is_some() => Ok(e),
        _ => Err(ErrorResponse::error(
            SqlState::FromServer(*b"42704"),
            format!("no node \"{text}\""),
        )
        .with_hint("name a node as host:port, as SHOW NODES lists it")),
    }
}

/// `BAN host:port`.
pub fn ban(ctx: &Context, text: &str) -> Result<ResultSet, ErrorResponse> {
    let node = node(ctx, text)?;
    if ctx.topology.shards.iter().any(|s| s.primary() == node) {
        return Err(ErrorResponse::error(
            SqlState::FromServer(*b"55000"),
            format!("{node} is a shard's primary and cannot be banned"),
        )
        .with_hint("move the shard away first with SWITCHOVER"));
    }
    ctx.topology.ban(&node);
    tracing::warn!(%node, "BAN: no replica reads, never promoted");
    Ok(ResultSet::command("BAN"))
}

/// `UNBAN host:port`.
pub fn unban(ctx: &Context, text: &str) -> Result<ResultSet, ErrorResponse> {
    let node = node(ctx, text)?;
    if !ctx.topology.unban(&node) {
        return Err(ErrorResponse::error(
            SqlState::FromServer(*b"55000"),
            format!("{node} is not banned"),
        ));
    }
    tracing::info!(%node, "UNBAN");
    Ok(ResultSet::command("UNBAN"))
}
