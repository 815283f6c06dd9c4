//! `WAIT_CLOSE [db]`: waits until every server connection marked
//! `close_needed` is closed — those opened before a RECONNECT (or a
//! failover) of their shard, which go when their client releases them.
//! SHOW SERVERS shows the mark per connection.

use super::result::ResultSet;
use crate::context::Context;
use crate::protocol::{ErrorResponse, SqlState};
use std::time::{Duration, Instant};

/// How long WAIT_CLOSE waits.
const LIMIT: Duration = Duration::from_secs(60);

fn to_close(ctx: &Context) -> usize {
    ctx.servers
        .entries()
        .iter()
        .filter(|s| s.close_needed())
        .count()
}

/// `WAIT_CLOSE` (every database) or `WAIT_CLOSE db`.
pub async fn wait_close(ctx: &Context, db: Option<&str>) -> Result<ResultSet, ErrorResponse> {
    if let Some(name) = db {
        // One logical database: all server connections belong to it.
        super::disable::served_database(ctx, name)?;
    }
    let started = Instant::now();
    loop {
        let left = to_close(ctx);
        if left == 0 {
            return Ok(ResultSet::command("WAIT_CLOSE"));
        }
        if started.elapsed() > LIMIT {
            return Err(ErrorResponse::error(
                SqlState::FromServer(*b"57014"),
                format!(
                    "{left} server connection(s) still wait to be closed after {}s",
                    LIMIT.as_secs()
                ),
            )
            .with_hint(
                "their clients' transactions are still running (SHOW SERVERS, close_needed = 1); run WAIT_CLOSE again or KILL_CLIENT them",
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
