//! Taking a node back as a copy of its shard: a standby set aside during a
//! failover, or a former primary an operator re-attached with pg_rewind or
//! a new base backup, once it streams from the current primary on the
//! current timeline. It is unfenced, counted as a standby (a copy and a
//! promotion candidate), and added to the primary's synchronous set when
//! the shard replicates synchronously; in a fleet the controller publishes
//! the new roles.

use super::conns::Conns;
use super::promote;
use crate::topology::ShardState;
use crate::{ControlPlane, Endpoint};

/// Adopts `nodes` (fenced nodes now streaming from `primary`).
pub async fn adopt_returned(
    ctx: &ControlPlane,
    shard: &ShardState,
    conns: &mut Conns,
    primary: &Endpoint,
    nodes: &[Endpoint],
) {
    for node in nodes {
        shard.adopt_standby(node);
        tracing::warn!(shard = shard.index, node = %node, primary = %primary,
            "a node streams from the current primary on its timeline again: adopted back as a standby");
    }
    ctx.topology.record_roles(shard);
    if shard.synchronous() {
        let ranked = promote::rank_standbys(ctx, conns, &shard.standbys()).await;
        if let Err(e) = promote::set_sync_standbys(conns, shard, primary, &ranked, true).await {
            tracing::warn!(shard = shard.index, error = %e, "could not add the adopted standby to the synchronous set");
        }
    }
    if let Some(fleet) = &ctx.fleet {
        if let Err(e) = fleet.publish_roles(shard).await {
            tracing::warn!(shard = shard.index, error = %e, "could not publish the adopted standby to the fleet");
        }
    }
}
