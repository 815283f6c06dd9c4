//! After a shard's primary changed, the replica cluster's subscriptions to
//! the old primary are dead (PostgreSQL 15 does not carry logical slots
//! over to a promoted standby). For each replica node: drop the
//! subscription (its slot went with the old primary), delete that shard's
//! rows from the subscribed tables, and subscribe again to the new primary
//! with a fresh copy. Until the copy is done the node reports unsynced
//! tables and gets no reads (see `replica_watch`), so leaderboard reads
//! fall back to scatter-gather meanwhile.

use super::control::{ControlConn, ControlLogin};
use super::promote::retarget_conninfo;
use crate::settings::{ControlSettings, ShardFunctionName};
use crate::sql::{quote_ident, quote_literal};
use crate::Endpoint;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// Repoints every replica node's subscriptions from `old` to `new`.
pub async fn repoint_replicas(
    config: &ControlSettings,
    login: &ControlLogin,
    shard: u32,
    old: &Endpoint,
    new: &Endpoint,
) {
    for node in &config.replica_nodes {
        let mut conn = ControlConn::new(node.clone(), login.clone());
        match repoint_node(config, &mut conn, shard, old, new).await {
            Ok(0) => {
                tracing::warn!(replica = %node, shard, "no subscription to the old primary found")
            }
            Ok(n) => {
                tracing::info!(replica = %node, shard, subscriptions = n, "replica resubscribed to the new primary; re-copying the shard's rows")
            }
            Err(e) => tracing::error!(replica = %node, shard, error = %e,
                "could not repoint the replica's subscription; it stays behind for this shard and gets no reads"),
        }
    }
}

async fn repoint_node(
    config: &ControlSettings,
    conn: &mut ControlConn,
    shard: u32,
    old: &Endpoint,
    new: &Endpoint,
) -> Result<usize, String> {
    let rows = conn
        .simple(
            "SELECT s.subname, s.subconninfo, array_to_string(s.subpublications, ',') \
             FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
             WHERE d.datname = current_database()",
            LIMIT,
        )
        .await?;
    let mut done = 0;
    for row in rows {
        let field = |i: usize| row.get(i).cloned().flatten();
        let (Some(name), Some(conninfo), Some(publications)) = (field(0), field(1), field(2))
        else {
            continue;
        };
        if !points_at(&conninfo, old) {
            continue;
        }
        let ident = quote_ident(&name);
        let tables = subscribed_tables(conn, &name).await?;
        for step in [
            format!("ALTER SUBSCRIPTION {ident} DISABLE"),
            format!("ALTER SUBSCRIPTION {ident} SET (slot_name = NONE)"),
            format!("DROP SUBSCRIPTION {ident}"),
        ] {
            conn.execute(&step, LIMIT)
                .await
                .map_err(|e| format!("{step}: {e}"))?;
        }
        delete_shard_rows(config, conn, shard, tables).await?;
        let pubs: Vec<String> = publications.split(',').map(quote_ident).collect();
        let create = format!(
            "CREATE SUBSCRIPTION {ident} CONNECTION {} PUBLICATION {} WITH (copy_data = true)",
            quote_literal(&retarget_conninfo(&conninfo, &new.host, new.port)),
            pubs.join(", ")
        );
        conn.execute(&create, LIMIT)
            .await
            .map_err(|e| format!("re-creating subscription {name}: {e}"))?;
        done += 1;
    }
    Ok(done)
}

/// Whether a conninfo names `node`'s host and port.
fn points_at(conninfo: &str, node: &Endpoint) -> bool {
    let value = |key: &str| {
        conninfo
            .split_whitespace()
            .find_map(|p| p.strip_prefix(key))
            .map(|v| v.trim_matches('\''))
    };
    let port = value("port=").unwrap_or("5432");
    value("host=")
        .or(value("hostaddr="))
        .is_some_and(|host| node.is(host, port))
}

/// The tables subscription `name` replicates, with their columns.
async fn subscribed_tables(
    conn: &mut ControlConn,
    name: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    conn.simple(
        &format!(
            "SELECT c.relname, a.attname FROM pg_subscription_rel r \
             JOIN pg_subscription s ON s.oid = r.srsubid \
             JOIN pg_class c ON c.oid = r.srrelid \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE s.subname = {} ORDER BY c.relname, a.attnum",
            quote_literal(name)
        ),
        LIMIT,
    )
    .await
}

/// Deletes the rows of `shard` from `tables` (relname, column rows) on the
/// replica: the fresh subscription copies them again.
async fn delete_shard_rows(
    config: &ControlSettings,
    conn: &mut ControlConn,
    shard: u32,
    tables: Vec<Vec<Option<String>>>,
) -> Result<(), String> {
    let mut by_table: Vec<(String, Vec<String>)> = Vec::new();
    for row in tables {
        let (Some(table), column) = (
            row.first().cloned().flatten(),
            row.get(1).cloned().flatten(),
        ) else {
            continue;
        };
        match by_table.last_mut() {
            Some((t, cols)) if *t == table => cols.extend(column),
            _ => by_table.push((table, column.into_iter().collect())),
        }
    }
    let shards = config.shards.len().max(1);
    for (table, columns) in by_table {
        let predicate = if table == config.replication.heartbeat_table {
            format!("shard = {shard}")
        } else {
            let Some(key) = key_column(config, &table, &columns) else {
                return Err(format!(
                    "table {table} has no sharding key column; cannot tell which rows are shard {shard}'s"
                ));
            };
            shard_predicate(config.sharding.function, &quote_ident(&key), shards, shard)
        };
        if config.sharding.function == ShardFunctionName::PgHash {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS shardwire_hash_probe (k bigint) PARTITION BY HASH (k)",
                LIMIT,
            )
            .await?;
        }
        let delete = format!("DELETE FROM {} WHERE {predicate}", quote_ident(&table));
        conn.execute(&delete, LIMIT)
            .await
            .map_err(|e| format!("{delete}: {e}"))?;
    }
    Ok(())
}

/// The sharding key column of `table` (per-table rule, else the first key
/// column it has).
fn key_column(config: &ControlSettings, table: &str, columns: &[String]) -> Option<String> {
    if let Some((_, key)) = config
        .sharding
        .tables
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(table))
    {
        return Some(key.to_ascii_lowercase());
    }
    config
        .sharding
        .key_columns
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .find(|k| columns.iter().any(|c| c == k))
}

/// SQL true for the rows of `shard` (the same functions the router uses).
pub fn shard_predicate(
    function: ShardFunctionName,
    key: &str,
    shards: usize,
    shard: u32,
) -> String {
    match function {
        ShardFunctionName::Modulo => format!("(({key} % {shards}) + {shards}) % {shards} = {shard}"),
        ShardFunctionName::PgHash => format!(
            "satisfies_hash_partition('shardwire_hash_probe'::regclass, {shards}, {shard}, {key}::bigint)"
        ),
    }
}
