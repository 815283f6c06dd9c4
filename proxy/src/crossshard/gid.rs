//! Global transaction ids of cross-shard commits:
//! `shardwire_<coordinator shard>_<coordinator xid>_<instance>_<n>`.
//!
//! The coordinator is the participant that is not prepared: its own
//! `COMMIT` is the commit point, and it writes the id into
//! [`COMMIT_LOG`] on its shard in the same transaction, so the row exists
//! exactly when the transaction committed, after any failover of that
//! shard (it is replicated like any other row). The xid says whether the
//! coordinator's transaction may still be running (`txid_status`), so an
//! absent row can be told from one not written yet. The prefix marks the prepared transactions shardwire may
//! resolve; everything else in `pg_prepared_xacts` is left alone. The
//! instance name says who made it (for the console), not who may resolve
//! it: the outcome does not depend on who asks.

/// The table, on every shard, of the decision rows: a cross-shard
/// transaction committed exactly when its id is in this table on its
/// coordinator shard (the row commits with the coordinator's changes).
pub const COMMIT_LOG: &str = "shardwire_commit_log";

/// Creates the decision table where it is missing; every user that logs
/// in through shardwire coordinates commits in it.
pub const CREATE_COMMIT_LOG: &str = "CREATE TABLE IF NOT EXISTS shardwire_commit_log \
     (gid text PRIMARY KEY, decided_at timestamptz NOT NULL DEFAULT now()); \
     GRANT SELECT, INSERT ON shardwire_commit_log TO PUBLIC";

/// The prefix of every id shardwire makes.
pub const PREFIX: &str = "shardwire_";

/// A parsed global transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalId {
    /// The shard whose own commit decides.
    pub coordinator: u32,
    /// Its transaction id (64-bit, epoch included: `txid_current()`).
    pub xid: u64,
    /// The instance that ran the commit (letters, digits, `-`).
    pub instance: String,
    /// That instance's sequence number.
    pub seq: u64,
}

impl GlobalId {
    /// The id as given to `PREPARE TRANSACTION` (at most 200 bytes: the
    /// instance name is cut to 64 characters).
    pub fn format(&self) -> String {
        format!(
            "{PREFIX}{}_{}_{}_{}",
            self.coordinator, self.xid, self.instance, self.seq
        )
    }

    /// Parses an id shardwire made; None for any other.
    pub fn parse(gid: &str) -> Option<GlobalId> {
        let rest = gid.strip_prefix(PREFIX)?;
        let mut parts = rest.splitn(3, '_');
        let coordinator = parts.next()?.parse().ok()?;
        let xid = parts.next()?.parse().ok()?;
        let tail = parts.next()?;
        let (instance, seq) = tail.rsplit_once('_')?;
        Some(GlobalId {
            coordinator,
            xid,
            instance: instance.to_string(),
            seq: seq.parse().ok()?,
        })
    }
}

/// An instance name as it may appear in an id: letters, digits and `-`
/// (others become `-`), at most 64 characters, never empty.
pub fn instance_token(name: &str) -> String {
    let token: String = name
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if token.is_empty() {
        "single".into()
    } else {
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_foreign_ids() {
        let id = GlobalId {
            coordinator: 3,
            xid: 123_456_789_012,
            instance: instance_token("gw_1.example:6432"),
            seq: 42,
        };
        let text = id.format();
        assert_eq!(text, "shardwire_3_123456789012_gw-1-example-6432_42");
        assert_eq!(GlobalId::parse(&text), Some(id));
        for foreign in [
            "",
            "x",
            "pgdog_1_2",
            "shardwire_a_1_i_1",
            "shardwire_1_2_i",
            "shardwire_1",
        ] {
            assert_eq!(GlobalId::parse(foreign), None, "{foreign}");
        }
        assert_eq!(instance_token(""), "single");
        assert!(instance_token(&"x".repeat(500)).len() <= 64);
    }
}
