//! What one health check asks a node: recovery state, WAL positions,
//! timeline, WAL receiver status; plus the heartbeat written on primaries
//! and read back on standbys and replica nodes.

use super::control::{parse_lsn, ControlConn};

/// One node's answer to a health check.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// Current LSN (primary) or last received LSN (standby).
    pub lsn: Option<u64>,
    /// Last replayed LSN (standby).
    pub replay_lsn: Option<u64>,
    /// Timeline.
    pub timeline: Option<u32>,
    /// The WAL receiver is streaming (standby).
    pub streaming: bool,
    /// `synchronous_standby_names`.
    pub sync_names: String,
    /// Standbys: `host:port` the WAL receiver streams from.
    pub sender: Option<String>,
}

const PROBE_SQL: &str = "SELECT pg_is_in_recovery(), \
    (CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) \
          ELSE pg_current_wal_lsn() END)::text, \
    pg_last_wal_replay_lsn()::text, \
    CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver) \
         ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, \
    coalesce((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false), \
    current_setting('synchronous_standby_names'), \
    (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver)";

/// Runs the health check on `conn`'s node.
pub async fn probe(conn: &mut ControlConn) -> Result<Probe, String> {
    let rows = conn.query(PROBE_SQL).await?;
    let row = rows.first().ok_or("the health check returned no row")?;
    let text = |i: usize| -> Result<Option<String>, String> {
        row.try_get::<_, Option<String>>(i)
            .map_err(|e| e.to_string())
    };
    Ok(Probe {
        in_recovery: row.try_get(0).map_err(|e| e.to_string())?,
        lsn: text(1)?.as_deref().and_then(parse_lsn),
        replay_lsn: text(2)?.as_deref().and_then(parse_lsn),
        timeline: row
            .try_get::<_, Option<i32>>(3)
            .map_err(|e| e.to_string())?
            .map(|t| t as u32),
        streaming: row.try_get(4).map_err(|e| e.to_string())?,
        sync_names: text(5)?.unwrap_or_default(),
        sender: text(6)?,
    })
}

/// Writes shard `shard`'s heartbeat on its primary (creating the table
/// the first time) without waiting for synchronous standbys, so a dead
/// standby cannot stall it. Returns the beat as epoch seconds.
pub async fn write_heartbeat(
    conn: &mut ControlConn,
    table: &str,
    shard: u32,
) -> Result<f64, String> {
    let upsert = format!(
        "SET synchronous_commit = local; \
         INSERT INTO {table} (shard, beat) VALUES ({shard}, clock_timestamp()) \
         ON CONFLICT (shard) DO UPDATE SET beat = excluded.beat \
         RETURNING extract(epoch FROM beat)::float8"
    );
    let limit = conn.timeout();
    let rows = match conn.simple(&upsert, limit).await {
        Err(e) if e.starts_with("42P01") => {
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {table} (shard int PRIMARY KEY, beat timestamptz NOT NULL)"
            );
            conn.execute(&create, limit).await?;
            conn.simple(&upsert, limit).await?
        }
        other => other?,
    };
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| "the heartbeat upsert returned no time".to_owned())
}

/// Heartbeats seen on a standby or replica node: (shard, epoch seconds).
pub async fn read_heartbeats(
    conn: &mut ControlConn,
    table: &str,
) -> Result<Vec<(u32, f64)>, String> {
    let sql = format!("SELECT shard, extract(epoch FROM beat)::float8 FROM {table}");
    let rows = match conn.query(&sql).await {
        Ok(rows) => rows,
        // Not replicated yet: no heartbeat seen.
        Err(e) if e.starts_with("42P01") => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    rows.iter()
        .map(|r| {
            let shard: i32 = r.try_get(0).map_err(|e| e.to_string())?;
            let beat: f64 = r.try_get(1).map_err(|e| e.to_string())?;
            Ok((shard.max(0) as u32, beat))
        })
        .collect()
}

/// Seconds a node is behind on a shard: the primary's settled beat (see
/// `ShardState::settled_beat`) minus the beat the node has; when the
/// primary has written no beat lately (it is down), the age of the node's
/// beat.
pub fn heartbeat_lag(
    settled: Option<f64>,
    latest: Option<f64>,
    seen: Option<f64>,
    now: f64,
) -> Option<f64> {
    let seen = seen?;
    Some(match (settled, latest) {
        (Some(settled), Some(latest)) if now - latest < 5.0 => (settled - seen).max(0.0),
        _ => (now - seen).max(0.0),
    })
}

pub use crate::clock::epoch_now;

#[cfg(test)]
mod tests;
