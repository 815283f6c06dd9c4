//! Shared helpers for the router's tests: a six-shard rule set and
//! shorthand for routing.
#![allow(dead_code)]

use std::collections::HashMap;

use shardwire_router::*;

/// Six shards, modulo, keyed by user_id; `scores` sharded by player_id;
/// `countries` and `games` global.
pub fn rules() -> ShardingRules {
    let mut tables = HashMap::new();
    tables.insert(
        "scores".to_string(),
        TableRule::ShardedBy("player_id".into()),
    );
    tables.insert("countries".to_string(), TableRule::Global);
    tables.insert("games".to_string(), TableRule::Global);
    ShardingRules {
        shard_count: 6,
        function: ShardFunction::Modulo,
        key_columns: vec!["user_id".into()],
        tables,
    }
}

pub fn router() -> Router {
    Router::new(rules())
}

pub fn s(key: i64) -> u32 {
    shard_for_key(ShardFunction::Modulo, key, 6)
}

pub fn route(r: &Router, sql: &str) -> Result<Decision, RouteError> {
    r.route(sql, &SessionHints::default())
}

pub fn target(r: &Router, sql: &str) -> Target {
    match route(r, sql) {
        Ok(d) => d.target,
        Err(e) => panic!("{sql}: unexpected error {e:?}"),
    }
}

pub fn error(r: &Router, sql: &str) -> RouteError {
    match route(r, sql) {
        Ok(d) => panic!("{sql}: expected an error, got {d:?}"),
        Err(e) => e,
    }
}

pub fn shards(v: &[i64]) -> Target {
    let mut s: Vec<u32> = v.iter().map(|&k| s(k)).collect();
    s.sort_unstable();
    s.dedup();
    if s.len() == 1 {
        Target::Shard(s[0])
    } else {
        Target::Shards(s)
    }
}
