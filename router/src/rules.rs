//! Sharding configuration the router works from: how many shards, which
//! function maps a key to a shard, which column carries the key, and which
//! tables are global or sharded by another column.

use std::collections::HashMap;

/// How a key becomes a shard number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardFunction {
    /// `key.rem_euclid(shards)`: non-negative for negative keys.
    Modulo,
    /// PostgreSQL's `PARTITION BY HASH (bigint)` with `MODULUS shards`.
    PgHash,
}

/// How one table is distributed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableRule {
    /// Sharded by this (lower-case) column instead of the default key columns.
    ShardedBy(String),
    /// Present in full on every shard: reads go to any shard, writes to all.
    Global,
}

/// The sharding rules of one cluster.
///
/// Tables not listed in `tables` are sharded by the first of `key_columns`
/// that a statement constrains (normally `user_id`). System catalogs
/// (`pg_catalog.*`, `information_schema.*`, `pg_*`) are treated as global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardingRules {
    /// Number of shards, at least 1 (0 is treated as 1).
    pub shard_count: u32,
    /// The key → shard function.
    pub function: ShardFunction,
    /// Default key columns, lower-case; `["user_id"]` by default.
    pub key_columns: Vec<String>,
    /// Per-table rules, keyed by lower-case unqualified table name.
    pub tables: HashMap<String, TableRule>,
}

impl Default for ShardingRules {
    /// Six shards, modulo, keyed by `user_id`, no per-table rules.
    fn default() -> Self {
        ShardingRules {
            shard_count: 6,
            function: ShardFunction::Modulo,
            key_columns: vec!["user_id".to_string()],
            tables: HashMap::new(),
        }
    }
}

/// How the router sees one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Distribution {
    /// Present on every shard.
    Global,
    /// Sharded; these are the candidate key columns (one for a `ShardedBy`
    /// table, the default key columns otherwise).
    Sharded(Vec<String>),
}

impl ShardingRules {
    /// The effective shard count (never 0).
    pub fn shards(&self) -> u32 {
        self.shard_count.max(1)
    }

    /// The first default key column, for messages.
    pub fn primary_key_column(&self) -> &str {
        self.key_columns.first().map_or("user_id", String::as_str)
    }

    /// Distribution of a table named `relname` in `schema` (both as the
    /// parser folded them; `schema` empty when unqualified).
    pub(crate) fn distribution(&self, schema: &str, relname: &str) -> Distribution {
        if schema.eq_ignore_ascii_case("pg_catalog")
            || schema.eq_ignore_ascii_case("information_schema")
            || relname.starts_with("pg_")
        {
            return Distribution::Global;
        }
        match self.tables.get(relname) {
            Some(TableRule::Global) => Distribution::Global,
            Some(TableRule::ShardedBy(col)) => Distribution::Sharded(vec![col.clone()]),
            None => {
                let cols = if self.key_columns.is_empty() {
                    vec!["user_id".to_string()]
                } else {
                    self.key_columns.clone()
                };
                Distribution::Sharded(cols)
            }
        }
    }
}
