//! PgBouncer console commands shardwire refuses, each with SQLSTATE 0A000,
//! why, and what to use instead, so that a script written for PgBouncer
//! fails with a reason instead of an "unknown command". They are the ones
//! tied to PgBouncer's own machinery: online restart by handing file
//! descriptors to a new process (`SHOW FDS`, `SUSPEND`), and its
//! slab-allocator and per-socket buffer views (`SHOW MEM`, `SHOW SOCKETS`,
//! `SHOW ACTIVE_SOCKETS`), which have no counterpart in shardwire.

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
        ] {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let e = refusal(&words).unwrap_or_else(|| panic!("{cmd} not refused"));
            assert!(e.message.contains("not supported by shardwire"), "{cmd}");
            assert!(e.hint.as_deref().is_some_and(|h| !h.is_empty()), "{cmd}");
        }
        for answered in [
            "show pools",
            "show prepared_statements",
            "set pool.size = 3",
            "disable app",
            "kill_client 12",
            "wait_close",
        ] {
            let words: Vec<&str> = answered.split_whitespace().collect();
            assert!(refusal(&words).is_none(), "{answered} is refused");
        }
    }
}
