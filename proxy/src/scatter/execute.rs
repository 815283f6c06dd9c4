//! Running one simple-protocol statement on several shards at once: a
//! connection from each shard's pool, the client's session parameters
//! applied, the statement sent to all of them concurrently, and every
//! reply collected whole for merging (reads) or checking (broadcasts).

use crate::context::Context;
use crate::context::UserEntry;
use crate::protocol::{ErrorResponse, SqlState};
use crate::server::conn::CollectedReply;
use crate::server::params::ParamMap;
use crate::session::attach::apply_params;
use crate::session::checkout::primary_connection;

/// One shard's reply.
pub struct ShardReply {
    /// Shard number.
    pub shard: u32,
    /// What it answered.
    pub reply: CollectedReply,
}

/// Sends `request` (a simple Query frame, or an extended-protocol batch
/// ending in Sync) to every shard in `shards` concurrently. A checkout or
/// connection failure on any shard fails the whole run; SQL errors are
/// returned inside the replies for the caller to judge.
pub async fn run_on_shards(
    ctx: &Context,
    user: &UserEntry,
    shards: &[u32],
    request: &[u8],
    wanted: &ParamMap,
) -> Result<Vec<ShardReply>, ErrorResponse> {
    let runs = shards
        .iter()
        .map(|&shard| run_on_shard(ctx, user, shard, request, wanted));
    let results = futures_util::future::join_all(runs).await;
    results.into_iter().collect()
}

async fn run_on_shard(
    ctx: &Context,
    user: &UserEntry,
    shard: u32,
    request: &[u8],
    wanted: &ParamMap,
) -> Result<ShardReply, ErrorResponse> {
    let mut conn = primary_connection(ctx, user, shard).await?;
    apply_params(&mut conn, wanted).await?;
    let reply = conn.collect_reply(request).await.map_err(|e| {
        ErrorResponse::error(
            SqlState::ConnectionFailure,
            format!(
                "shard {shard} ({}) failed during a scattered statement: {e}",
                user.shard_pools
                    .get(shard as usize)
                    .map(|p| p.manager().target().label)
                    .unwrap_or_default()
            ),
        )
        .with_hint(
            "the statement may have been applied on other shards; retry when the shard is back",
        )
    })?;
    if !conn.is_idle() {
        // A scattered statement must not leave a transaction open.
        conn.broken = true;
    }
    Ok(ShardReply { shard, reply })
}

/// Sends `request` to replica-cluster node `index` and collects its reply
/// (reported as shard `u32::MAX`). Connection failures are errors; SQL
/// errors are inside the reply.
pub async fn run_on_replica(
    user: &UserEntry,
    index: usize,
    request: &[u8],
    wanted: &ParamMap,
) -> Result<ShardReply, ErrorResponse> {
    let pool = user.replica_pools.get(index).ok_or_else(|| {
        ErrorResponse::error(
            SqlState::SystemError,
            format!("replica node {index} is not configured"),
        )
    })?;
    let mut conn = pool
        .get()
        .await
        .map_err(|e| crate::session::attach::checkout_error(e, user, pool.manager()))?;
    apply_params(&mut conn, wanted).await?;
    let reply = conn.collect_reply(request).await.map_err(|e| {
        ErrorResponse::error(
            SqlState::ConnectionFailure,
            format!(
                "{} failed during a read: {e}",
                pool.manager().target().label
            ),
        )
    })?;
    if !conn.is_idle() {
        conn.broken = true;
    }
    Ok(ShardReply {
        shard: u32::MAX,
        reply,
    })
}
