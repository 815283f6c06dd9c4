//! Leaving cleanly, in PgBouncer 1.23+'s two ways. Super-safe (SIGTERM,
//! the console's `SHUTDOWN WAIT_FOR_CLIENTS`, [`drain`]): `/ready` turns
//! 503 and new clients are refused, each client's running transaction
//! finishes and the client then gets 57P01 at its transaction boundary;
//! the process exits when no client is left. Safe (SIGINT, `SHUTDOWN` and
//! `SHUTDOWN WAIT_FOR_SERVERS`, [`wait_for_servers`]): new clients are
//! refused and new transactions held, the running transactions finish and
//! release their server connections, then every session ends and the
//! process exits. Either way what remains after `proxy.shutdown_timeout`
//! is closed. In a fleet the instance then gives up its registration (and
//! the controller role) at once instead of waiting for its lease to
//! expire.

use crate::context::Context;
use std::time::{Duration, Instant};

/// Drains `ctx`'s sessions; returns how many had to be closed at the
/// timeout.
pub async fn drain(ctx: &Context) -> usize {
    let limit = ctx.config.proxy.shutdown_timeout;
    tracing::info!(clients = ctx.sessions.client_count(), timeout = ?limit,
        "draining: running transactions finish, then each client is told 57P01");
    ctx.sessions.begin_drain();
    // Sessions waiting between transactions end now.
    for (_, slot) in ctx.cancels.clients() {
        slot.wake_for_drain();
    }
    let started = Instant::now();
    while ctx.sessions.client_count() > 0 && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = ctx.sessions.kill(false);
    if left > 0 {
        tracing::warn!(
            sessions = left,
            "shutdown_timeout passed: the remaining sessions were closed"
        );
    }
    leave_fleet(ctx).await;
    left
}

/// Server connections a client holds (a transaction runs on each).
fn servers_in_use(ctx: &Context) -> usize {
    ctx.users
        .values()
        .map(|u| u.all_pools().map(|p| p.stats().active).sum::<usize>())
        .sum()
}

/// Safe shutdown: refuses new clients, holds new transactions, waits for
/// the running ones to release their server connections (at most
/// `proxy.shutdown_timeout`), then ends every client session. Returns how
/// many server connections were still in use at the timeout.
pub async fn wait_for_servers(ctx: &Context) -> usize {
    let limit = ctx.config.proxy.shutdown_timeout;
    tracing::info!(clients = ctx.sessions.client_count(), timeout = ?limit,
        "safe shutdown: new clients refused, running transactions finish, then every session ends");
    ctx.sessions.begin_shutdown();
    ctx.pause.pause();
    let started = Instant::now();
    let mut busy = servers_in_use(ctx);
    while busy > 0 && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
        busy = servers_in_use(ctx);
    }
    if busy > 0 {
        tracing::warn!(
            servers = busy,
            "shutdown_timeout passed with transactions still running: they are cut off"
        );
    }
    let n = ctx.sessions.kill(false);
    tracing::info!(sessions = n, "every client session ended; exiting");
    leave_fleet(ctx).await;
    busy
}

async fn leave_fleet(ctx: &Context) {
    if let Some(fleet) = &ctx.control.fleet {
        fleet.leave().await;
        tracing::info!("left the fleet");
    }
}
