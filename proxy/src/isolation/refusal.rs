//! The errors a client gets when session state is refused, or when a
//! pinned client's statement needs another shard: 0A000, naming the
//! statement and what to use instead.

use crate::protocol::{ErrorResponse, SqlState};
use shardwire_router::LingeringKind;

/// What to use instead of a statement of `kind` under transaction pooling.
fn alternative(kind: LingeringKind) -> &'static str {
    match kind {
        LingeringKind::TempObject => {
            "create the temporary table inside a transaction with ON COMMIT DROP"
        }
        LingeringKind::HoldCursor => "use a cursor without WITH HOLD inside a transaction",
        LingeringKind::AdvisoryLock => {
            "use pg_advisory_xact_lock() or pg_try_advisory_xact_lock(), which end with the transaction"
        }
        LingeringKind::SqlPrepared => {
            "use the driver's (protocol-level) prepared statements, which shardwire maps for every client"
        }
        LingeringKind::Listen => "listen on a connection in session pooling",
        LingeringKind::Role => "use SET LOCAL ROLE inside a transaction",
        LingeringKind::Load => "preload the library on the servers (session_preload_libraries)",
    }
}

/// The refusal of `statement` (state of `kind`) under transaction pooling.
pub fn refused(kind: LingeringKind, statement: &str) -> ErrorResponse {
    ErrorResponse::error(
        SqlState::FeatureNotSupported,
        format!(
            "{statement} is refused under transaction pooling: it leaves state on the server connection that later transactions of other clients would share"
        ),
    )
    .with_hint(format!(
        "{}, or use pool_mode = \"session\"; proxy.session_state.{} = \"pin\" keeps the connection for this client instead",
        alternative(kind),
        setting(kind)
    ))
}

/// The `[proxy.session_state]` key for `kind`.
pub fn setting(kind: LingeringKind) -> &'static str {
    match kind {
        LingeringKind::TempObject => "temp_tables",
        LingeringKind::HoldCursor => "hold_cursors",
        LingeringKind::AdvisoryLock => "advisory_locks",
        LingeringKind::SqlPrepared => "sql_prepare",
        LingeringKind::Listen => "listen",
        LingeringKind::Role => "role",
        LingeringKind::Load => "load",
    }
}

/// A pinned client's statement routes to another shard than the one its
/// session state lives on.
pub fn pinned_elsewhere(shard: u32, pinned_on: u32, reasons: &str) -> ErrorResponse {
    ErrorResponse::error(
        SqlState::FeatureNotSupported,
        format!(
            "this statement routes to shard {shard}, but this client's session state ({reasons}) keeps it on shard {pinned_on}"
        ),
    )
    .with_detail("a client holding a temporary table, held cursor, session advisory lock, SQL-prepared statement, LISTEN or role keeps its server connection until that state is gone")
    .with_hint("end that state first (DISCARD ALL, CLOSE, pg_advisory_unlock_all(), DEALLOCATE, UNLISTEN *, RESET ROLE), or use another connection for other shards")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_names_the_statement_and_an_alternative() {
        for kind in LingeringKind::ALL {
            let e = refused(kind, "LISTEN");
            assert_eq!(e.state.code(), "0A000");
            assert!(e.message.contains("LISTEN"));
            let hint = e.hint.clone().unwrap_or_default();
            assert!(hint.contains(setting(kind)), "{hint}");
            assert!(hint.contains("session"), "{hint}");
        }
    }
}
