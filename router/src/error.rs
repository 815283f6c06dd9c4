//! Why a statement cannot be routed, with the SQLSTATE, message and hint the
//! proxy puts into the client's ErrorResponse.

use std::fmt;

/// A statement the router refuses to route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// INSERT/UPDATE/DELETE (or `SELECT … FOR UPDATE`, `COPY … FROM`) on a
    /// sharded table without a usable key.
    UnkeyedWrite {
        /// The table written.
        table: String,
        /// The key column the statement should constrain.
        key_column: String,
    },
    /// `UPDATE … SET user_id = …` (or `ON CONFLICT DO UPDATE SET user_id`).
    KeyChange {
        /// The table updated.
        table: String,
        /// Its key column.
        key_column: String,
    },
    /// A multi-row INSERT whose rows belong to several shards. The router
    /// refuses it rather than splitting it (one statement must stay atomic).
    CrossShardInsert {
        /// The shards the rows belong to, sorted.
        shards: Vec<u32>,
    },
    /// Several statements in one query string that go to different shards.
    MixedTargets,
    /// A statement the proxy cannot run correctly across shards.
    Unsupported {
        /// The construct at fault, e.g. `DISTINCT`.
        construct: String,
    },
    /// A sharding key value that is not an integer (or a bad hint value).
    BadKey {
        /// What was wrong with it.
        detail: String,
    },
}

impl RouteError {
    /// The SQLSTATE: `22P02` for [`RouteError::BadKey`], `0A000`
    /// (feature_not_supported) for everything else.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            RouteError::BadKey { .. } => "22P02",
            _ => "0A000",
        }
    }

    /// The primary error message.
    pub fn message(&self) -> String {
        match self {
            RouteError::UnkeyedWrite { table, key_column } => format!(
                "shardwire: write to sharded table \"{table}\" does not constrain its sharding key \"{key_column}\""
            ),
            RouteError::KeyChange { table, key_column } => format!(
                "shardwire: cannot change the sharding key \"{key_column}\" of table \"{table}\" (the row would move to another shard)"
            ),
            RouteError::CrossShardInsert { shards } => format!(
                "shardwire: multi-row INSERT has rows for several shards ({}); send one INSERT per shard",
                join(shards)
            ),
            RouteError::MixedTargets => {
                "shardwire: statements in one query string go to different shards".to_string()
            }
            RouteError::Unsupported { construct } => format!(
                "shardwire: {construct} is not supported across shards (the statement would need several shards, or its shard is unknown)"
            ),
            RouteError::BadKey { detail } => format!("shardwire: invalid sharding key: {detail}"),
        }
    }

    /// A hint for the client, where there is a useful one.
    pub fn hint(&self) -> Option<String> {
        match self {
            RouteError::UnkeyedWrite { key_column, .. } => Some(format!(
                "Add a condition on \"{key_column}\" (e.g. WHERE {key_column} = …), name \"{key_column}\" in the INSERT column list, or add the comment /* shardwire: {key_column}=… */ (or /* shardwire: shard=N */)."
            )),
            RouteError::KeyChange { key_column, .. } => Some(format!(
                "Delete the row and insert it again with the new \"{key_column}\"."
            )),
            RouteError::CrossShardInsert { .. } => {
                Some("Group the rows by shard, one INSERT per shard.".to_string())
            }
            RouteError::MixedTargets => {
                Some("Send statements for different shards separately.".to_string())
            }
            RouteError::Unsupported { .. } => Some(
                "Constrain the sharding key so the statement runs on one shard, or add /* shardwire: user_id=… */."
                    .to_string(),
            ),
            RouteError::BadKey { .. } => None,
        }
    }
}

fn join(shards: &[u32]) -> String {
    let parts: Vec<String> = shards.iter().map(u32::to_string).collect();
    parts.join(", ")
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for RouteError {}

/// Shorthand for an [`RouteError::Unsupported`].
pub(crate) fn unsupported(construct: impl Into<String>) -> RouteError {
    RouteError::Unsupported {
        construct: construct.into(),
    }
}

/// Shorthand for a [`RouteError::BadKey`].
pub(crate) fn bad_key(detail: impl Into<String>) -> RouteError {
    RouteError::BadKey {
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_and_hints() {
        let e = RouteError::UnkeyedWrite {
            table: "scores".into(),
            key_column: "user_id".into(),
        };
        assert_eq!(e.sqlstate(), "0A000");
        assert!(e
            .hint()
            .is_some_and(|h| h.contains("/* shardwire: user_id=… */")));
        assert!(e.to_string().contains("\"scores\""));
        assert_eq!(bad_key("x").sqlstate(), "22P02");
        assert_eq!(unsupported("DISTINCT").sqlstate(), "0A000");
        assert!(unsupported("DISTINCT").message().contains("DISTINCT"));
        assert_eq!(RouteError::MixedTargets.sqlstate(), "0A000");
    }
}
