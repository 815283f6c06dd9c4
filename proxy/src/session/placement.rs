//! Where a routed statement can run right now: the answer of placing the
//! session on a shard (routing) or moving a cross-shard transaction onto
//! one (cross_shard).

use crate::protocol::ErrorResponse;

/// Where a statement can run right now.
pub(crate) enum Placement {
    /// Attached to the right shard; forward it.
    Ready,
    /// Earlier pipelined work still runs on another shard: wait.
    Stall,
    /// Refused; tell the client.
    Refused(ErrorResponse),
}
