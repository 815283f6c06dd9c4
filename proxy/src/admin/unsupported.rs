//! PgBouncer console commands shardwire refuses, each with SQLSTATE 0A000
//! and why, so that a script written for PgBouncer fails with a reason
//! instead of an "unknown command": online restart (`SHOW FDS`,
//! `SUSPEND`), low-level views (`SHOW MEM`, `SHOW SOCKETS`,
//! `SHOW ACTIVE_SOCKETS`), and the commands not built yet (`SET`,
//! `DISABLE`, `ENABLE`, `KILL_CLIENT`, `WAIT_CLOSE`,
//! `SHOW PREPARED_STATEMENTS`), each naming what to use instead.

use crate::protocol::{ErrorResponse, SqlState};

/// The refusal for a PgBouncer command shardwire does not run, if `words`
/// (lowercase) is one.
pub fn refusal(words: &[&str]) -> Option<ErrorResponse> {
    let (what, why, instead) = match words {
        ["show", "fds"] => (
            "SHOW FDS",
            "shardwire has no online restart by passing file descriptors",
            "restart instances one at a time behind the load balancer (SIGTERM drains each)",
        ),
        ["suspend"] => (
            "SUSPEND",
            "shardwire has no online restart, so there is nothing to suspend for",
            "use PAUSE to hold new transactions, or SIGTERM to drain and exit",
        ),
        ["show", "mem"] => (
            "SHOW MEM",
            "shardwire has no slab allocator caches to report",
            "read the process's memory from /proc or the shardwire_clients metric",
        ),
        ["show", "sockets"] | ["show", "active_sockets"] => (
            "SHOW SOCKETS",
            "shardwire does not keep per-socket buffer state to show",
            "use SHOW CLIENTS and SHOW SERVERS",
        ),
        ["show", "prepared_statements"] => (
            "SHOW PREPARED_STATEMENTS",
            "the proxy-wide statement registry is not listed yet",
            "count them per server in pg_prepared_statements",
        ),
        ["set", ..] => (
            "SET",
            "settings are not changed from the console yet",
            "edit the configuration file and run RELOAD (SHOW CONFIG says what applies without a restart)",
        ),
        ["disable", ..] | ["enable", ..] => (
            "DISABLE/ENABLE",
            "refusing new clients per database is not built yet (there is one logical database)",
            "use PAUSE/RESUME, or SHUTDOWN WAIT_FOR_CLIENTS to drain the instance",
        ),
        ["kill_client", ..] => (
            "KILL_CLIENT",
            "ending one client session is not built yet",
            "use KILL to end every client session, or pg_terminate_backend on the server_pid SHOW CLIENTS lists",
        ),
        ["wait_close", ..] => (
            "WAIT_CLOSE",
            "close_needed is not tracked per server connection yet",
            "RECONNECT replaces idle connections at once and busy ones when their transaction ends; watch SHOW SERVERS",
        ),
        _ => return None,
    };
    Some(
        ErrorResponse::error(
            SqlState::FeatureNotSupported,
            format!("{what} is not supported by shardwire: {why}"),
        )
        .with_hint(instead),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_says_why_and_what_instead() {
        for cmd in [
            "show fds",
            "suspend",
            "show mem",
            "show sockets",
            "show active_sockets",
            "show prepared_statements",
            "set log_connections = 1",
            "disable app",
            "enable app",
            "kill_client 12",
            "wait_close",
        ] {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let e = refusal(&words).unwrap_or_else(|| panic!("{cmd} not refused"));
            assert!(e.message.contains("not supported by shardwire"), "{cmd}");
            assert!(e.hint.as_deref().is_some_and(|h| !h.is_empty()), "{cmd}");
        }
        assert!(refusal(&["show", "pools"]).is_none());
    }
}
