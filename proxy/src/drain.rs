//! Leaving cleanly (SIGTERM, the console's `SHUTDOWN WAIT_FOR_CLIENTS`):
//! `/ready` turns 503 and new clients are refused, each client's running
//! transaction finishes and the client then gets 57P01 at its transaction
//! boundary; what remains after `proxy.shutdown_timeout` is closed. In a
//! fleet the instance then gives up its registration (and the controller
//! role) at once instead of waiting for its lease to expire.

use crate::context::Context;
use std::time::{Duration, Instant};

/// Drains `ctx`'s sessions; returns how many had to be closed at the
/// timeout.
pub async fn drain(ctx: &Context) -> usize {
    let limit = ctx.config.proxy.shutdown_timeout;
    tracing::info!(clients = ctx.sessions.client_count(), timeout = ?limit,
        "draining: running transactions finish, then each client is told 57P01");
    ctx.sessions.begin_drain();
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
    if let Some(fleet) = &ctx.control.fleet {
        fleet.leave().await;
        tracing::info!("left the fleet");
    }
    left
}
