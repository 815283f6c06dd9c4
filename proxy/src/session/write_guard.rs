//! Refusing writes this instance may not send: when it has lost
//! coordination with the fleet's etcd (see the control plane's `fleet`),
//! a shard's writes — and the COMMIT of a transaction that wrote — get
//! 57P03 naming the shard, while reads go on with the last topology seen.

use super::Session;
use crate::protocol::{ErrorResponse, SqlState};
use shardwire_router::StatementKind;

impl Session {
    /// The refusal for a statement of `kind` bound for `shard`, if this
    /// instance may not write to it now. Remembers that the transaction
    /// wrote.
    pub(super) fn write_refusal(
        &mut self,
        kind: StatementKind,
        shard: u32,
    ) -> Option<ErrorResponse> {
        if !self.in_transaction() {
            self.txn_wrote = false;
        }
        let writes = matches!(kind, StatementKind::Write | StatementKind::Ddl);
        let commits = kind == StatementKind::Commit && self.txn_wrote;
        if !writes && !commits {
            return None;
        }
        let shard = match &self.server {
            // In a cross-shard transaction the statement goes to `shard`.
            Some(s) if !self.in_cross_shard() => s.shard,
            _ => shard,
        };
        let why = self
            .ctx
            .topology
            .shard(shard)
            .and_then(|s| s.writes_refused());
        match why {
            None => {
                if writes {
                    self.txn_wrote = true;
                    self.note_cross_shard_write(shard);
                }
                None
            }
            Some(why) => Some(
                ErrorResponse::error(
                    SqlState::CannotConnectNow,
                    format!("writes to shard {shard} are refused: {why}"),
                )
                .with_hint(
                    "reads still work; retry the write on another shardwire instance, or here once SHOW FLEET says coordination is up",
                ),
            ),
        }
    }
}
