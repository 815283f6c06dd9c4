//! `PAUSE` and `RESUME`: hold new transactions (clients wait, they get no
//! error) and wait for the running ones to return their server
//! connections; then let everything through again.

use super::result::ResultSet;
use crate::context::Context;
use crate::protocol::{ErrorResponse, SqlState};
use std::time::{Duration, Instant};

/// How long PAUSE waits for running transactions.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

fn active_servers(ctx: &Context) -> usize {
    ctx.users
        .values()
        .flat_map(|u| u.shard_pools.clone())
        .map(|p| p.stats().active)
        .sum()
}

/// `PAUSE`.
pub async fn pause(ctx: &Context) -> Result<ResultSet, ErrorResponse> {
    ctx.pause.pause();
    let started = Instant::now();
    loop {
        let active = active_servers(ctx);
        if active == 0 {
            tracing::info!("paused: no transaction running");
            return Ok(ResultSet::command("PAUSE"));
        }
        if started.elapsed() > DRAIN_LIMIT {
            return Err(ErrorResponse::error(
                SqlState::FromServer(*b"57014"),
                format!(
                    "paused, but {active} server connection(s) are still in use after {}s",
                    DRAIN_LIMIT.as_secs()
                ),
            )
            .with_hint(
                "new transactions stay held; run RESUME to undo, or PAUSE again to keep waiting",
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `RESUME`.
pub fn resume(ctx: &Context) -> ResultSet {
    ctx.pause.resume();
    tracing::info!("resumed");
    ResultSet::command("RESUME")
}
