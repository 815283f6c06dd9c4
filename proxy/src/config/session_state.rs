//! `[proxy.session_state]`: under transaction pooling, what the proxy does
//! with each kind of statement that leaves state on a server connection
//! past its transaction (temporary tables, `WITH HOLD` cursors,
//! session-level advisory locks, SQL `PREPARE`, `LISTEN`, `SET ROLE` /
//! `SET SESSION AUTHORIZATION`, `LOAD`): keep the connection for that
//! client until the state is gone (`pin`, the default), or refuse the
//! statement with 0A000 (`refuse`).

use serde::Deserialize;
use shardwire_router::LingeringKind;

/// The choice for one kind of session state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatePolicy {
    /// The client keeps its server connection until the state is gone.
    Pin,
    /// The statement is refused with 0A000 and a hint.
    Refuse,
}

/// `[proxy.session_state]`: one policy per kind of state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionStateSection {
    /// `CREATE TEMP TABLE|VIEW|SEQUENCE` (not `ON COMMIT DROP`), `SELECT … INTO TEMP`.
    pub temp_tables: StatePolicy,
    /// `DECLARE … CURSOR WITH HOLD`.
    pub hold_cursors: StatePolicy,
    /// `pg_advisory_lock*`, `pg_try_advisory_lock*` (not the `_xact` ones).
    pub advisory_locks: StatePolicy,
    /// SQL `PREPARE name AS …`.
    pub sql_prepare: StatePolicy,
    /// `LISTEN channel`.
    pub listen: StatePolicy,
    /// `SET ROLE`, `SET SESSION AUTHORIZATION`.
    pub role: StatePolicy,
    /// `LOAD 'library'` (a pinned connection that loaded a library is
    /// closed when its client leaves: nothing unloads it).
    pub load: StatePolicy,
}

impl Default for SessionStateSection {
    fn default() -> Self {
        SessionStateSection {
            temp_tables: StatePolicy::Pin,
            hold_cursors: StatePolicy::Pin,
            advisory_locks: StatePolicy::Pin,
            sql_prepare: StatePolicy::Pin,
            listen: StatePolicy::Pin,
            role: StatePolicy::Pin,
            load: StatePolicy::Pin,
        }
    }
}

impl SessionStateSection {
    /// The policy for `kind`.
    pub fn policy(&self, kind: LingeringKind) -> StatePolicy {
        match kind {
            LingeringKind::TempObject => self.temp_tables,
            LingeringKind::HoldCursor => self.hold_cursors,
            LingeringKind::AdvisoryLock => self.advisory_locks,
            LingeringKind::SqlPrepared => self.sql_prepare,
            LingeringKind::Listen => self.listen,
            LingeringKind::Role => self.role,
            LingeringKind::Load => self.load,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_by_default_and_reads_each_key() {
        let s: SessionStateSection = toml::from_str("").unwrap();
        assert!(LingeringKind::ALL
            .iter()
            .all(|&k| s.policy(k) == StatePolicy::Pin));
        let s: SessionStateSection =
            toml::from_str("advisory_locks = \"refuse\"\nload = \"refuse\"").unwrap();
        assert_eq!(s.policy(LingeringKind::AdvisoryLock), StatePolicy::Refuse);
        assert_eq!(s.policy(LingeringKind::Load), StatePolicy::Refuse);
        assert_eq!(s.policy(LingeringKind::TempObject), StatePolicy::Pin);
        assert!(toml::from_str::<SessionStateSection>("temp_tables = \"maybe\"").is_err());
        assert!(toml::from_str::<SessionStateSection>("cursors = \"pin\"").is_err());
    }
}
