//! The steps a failover and a switchover share: rank the standbys by how
//! much WAL they received, promote one and check it left recovery, set its
//! synchronous standbys, repoint the other standbys at it, and swap the
//! shard's routing to it.

use super::conns::Conns;
use super::control::{format_lsn, parse_lsn};
use crate::sql::quote_literal;
use crate::topology::ShardState;
use crate::ControlPlane;
use crate::Endpoint;
use std::time::Duration;

/// Longest `pg_promote` may take.
const PROMOTE_WAIT: Duration = Duration::from_secs(30);
/// Time for configuration statements.
const ADMIN_WAIT: Duration = Duration::from_secs(5);

/// A standby that can be promoted.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The node.
    pub node: Endpoint,
    /// Last WAL position received (or replayed).
    pub lsn: u64,
    /// The name it streams under (`application_name` of its
    /// `primary_conninfo`, else its `cluster_name`).
    pub name: String,
}

/// The `application_name` a standby streams under.
fn stream_name(conninfo: &str, cluster_name: &str) -> String {
    conninfo
        .split_whitespace()
        .find_map(|p| p.strip_prefix("application_name="))
        .map(|v| v.trim_matches('\'').to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| cluster_name.to_owned())
}

/// Ranks `standbys` for promotion; the second list holds the standbys that
/// did not answer (they may hold WAL the others lack).
pub async fn rank_all(
    ctx: &ControlPlane,
    conns: &mut Conns,
    standbys: &[Endpoint],
) -> (Vec<Candidate>, Vec<Endpoint>) {
    let ranked = rank_standbys(ctx, conns, standbys).await;
    let missing = standbys
        .iter()
        .filter(|s| !ctx.topology.is_banned(s))
        .filter(|s| !ranked.iter().any(|c| &c.node == *s))
        .cloned()
        .collect();
    (ranked, missing)
}

/// Every reachable standby in recovery, best (most WAL) first.
pub async fn rank_standbys(
    ctx: &ControlPlane,
    conns: &mut Conns,
    standbys: &[Endpoint],
) -> Vec<Candidate> {
    let sql = "SELECT pg_is_in_recovery(), \
        coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text, \
        current_setting('cluster_name'), current_setting('primary_conninfo')";
    let mut found = Vec::new();
    for node in standbys {
        if ctx.topology.is_banned(node) {
            tracing::warn!(standby = %node, "standby is banned; not a candidate");
            continue;
        }
        let Some(conn) = conns.get(node) else {
            continue;
        };
        let rows = match conn.query(sql).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(standby = %node, error = %e, "standby not reachable for promotion");
                continue;
            }
        };
        let Some(row) = rows.first() else { continue };
        let in_recovery: bool = row.try_get(0).unwrap_or(false);
        let lsn = row
            .try_get::<_, Option<String>>(1)
            .ok()
            .flatten()
            .as_deref()
            .and_then(parse_lsn);
        let cluster = row.try_get::<_, String>(2).unwrap_or_default();
        let conninfo = row.try_get::<_, String>(3).unwrap_or_default();
        let name = stream_name(&conninfo, &cluster);
        match (in_recovery, lsn) {
            (true, Some(lsn)) => found.push(Candidate {
                node: node.clone(),
                lsn,
                name,
            }),
            _ => {
                tracing::warn!(standby = %node, "standby is not in recovery or has no WAL position; not a candidate")
            }
        }
    }
    found.sort_by_key(|c| std::cmp::Reverse(c.lsn));
    found
}

/// Whether `node` answers and is out of recovery (a primary); None when it
/// cannot be asked.
pub async fn is_primary(conns: &mut Conns, node: &Endpoint) -> Option<bool> {
    let conn = conns.get(node)?;
    let rows = conn.query("SELECT pg_is_in_recovery()").await.ok()?;
    rows.first()
        .and_then(|r| r.try_get::<_, bool>(0).ok())
        .map(|in_recovery| !in_recovery)
}

/// Promotes `node` and waits until it has left recovery.
pub async fn promote(conns: &mut Conns, node: &Endpoint) -> Result<(), String> {
    let conn = conns.get(node).ok_or("no control login")?;
    let rows = conn
        .query_within(
            &format!("SELECT pg_promote(true, {})", PROMOTE_WAIT.as_secs()),
            PROMOTE_WAIT + ADMIN_WAIT,
        )
        .await
        .map_err(|e| format!("pg_promote() on {node} failed: {e}"))?;
    let promoted: bool = rows
        .first()
        .and_then(|r| r.try_get(0).ok())
        .unwrap_or(false);
    if !promoted {
        return Err(format!(
            "pg_promote() on {node} did not finish within {PROMOTE_WAIT:?}"
        ));
    }
    let rows = conn
        .query("SELECT pg_is_in_recovery()")
        .await
        .map_err(|e| format!("checking {node} after promotion: {e}"))?;
    match rows.first().and_then(|r| r.try_get::<_, bool>(0).ok()) {
        Some(false) => Ok(()),
        _ => Err(format!("{node} is still in recovery after pg_promote()")),
    }
}

/// Sets `synchronous_standby_names` on the new primary: `ANY 1` of the
/// remaining standbys if the shard replicated synchronously and any remain,
/// else empty (logged: the shard then commits without a synchronous copy).
pub async fn set_sync_standbys(
    conns: &mut Conns,
    shard: &ShardState,
    new_primary: &Endpoint,
    remaining: &[Candidate],
    was_sync: bool,
) -> Result<(), String> {
    let names: Vec<String> = remaining
        .iter()
        .filter(|c| !c.name.is_empty())
        .map(|c| format!("\"{}\"", c.name.replace('"', "")))
        .collect();
    let value = if was_sync && !names.is_empty() {
        format!("ANY 1 ({})", names.join(", "))
    } else {
        if was_sync {
            tracing::warn!(shard = shard.index, primary = %new_primary,
                "no standby left to replicate synchronously: the shard commits without a synchronous copy until one is added");
        }
        String::new()
    };
    let conn = conns.get(new_primary).ok_or("no control login")?;
    conn.execute(
        &format!(
            "ALTER SYSTEM SET synchronous_standby_names = {}",
            quote_literal(&value)
        ),
        ADMIN_WAIT,
    )
    .await
    .map_err(|e| format!("setting synchronous_standby_names on {new_primary}: {e}"))?;
    conn.execute("SELECT pg_reload_conf()", ADMIN_WAIT)
        .await
        .map_err(|e| format!("reloading {new_primary}: {e}"))?;
    shard.set_sync_names(value);
    Ok(())
}

/// Points `standby` at `new_primary`: its replication slot is created there
/// if it uses one, `primary_conninfo` gets the new host and port, and the
/// configuration is reloaded (the WAL receiver restarts and follows the new
/// timeline).
pub async fn repoint_standby(
    conns: &mut Conns,
    standby: &Endpoint,
    new_primary: &Endpoint,
) -> Result<(), String> {
    let conn = conns.get(standby).ok_or("no control login")?;
    let rows = conn
        .query("SELECT current_setting('primary_conninfo'), current_setting('primary_slot_name')")
        .await
        .map_err(|e| format!("reading primary_conninfo on {standby}: {e}"))?;
    let row = rows.first().ok_or("no row")?;
    let conninfo: String = row.try_get(0).map_err(|e| e.to_string())?;
    let slot: String = row.try_get(1).map_err(|e| e.to_string())?;
    let conninfo = retarget_conninfo(&conninfo, &new_primary.host, new_primary.port);
    conn.execute(
        &format!(
            "ALTER SYSTEM SET primary_conninfo = {}",
            quote_literal(&conninfo)
        ),
        ADMIN_WAIT,
    )
    .await
    .map_err(|e| format!("setting primary_conninfo on {standby}: {e}"))?;
    if !slot.is_empty() {
        let primary = conns.get(new_primary).ok_or("no control login")?;
        primary
            .execute(
                &format!(
                    "SELECT pg_create_physical_replication_slot({0}, true) \
                     WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = {0})",
                    quote_literal(&slot)
                ),
                ADMIN_WAIT,
            )
            .await
            .map_err(|e| format!("creating slot {slot} on {new_primary}: {e}"))?;
    }
    let conn = conns.get(standby).ok_or("no control login")?;
    conn.execute("SELECT pg_reload_conf()", ADMIN_WAIT)
        .await
        .map_err(|e| format!("reloading {standby}: {e}"))
}

/// `conninfo` with its `host` and `port` replaced (added when missing).
pub fn retarget_conninfo(conninfo: &str, host: &str, port: u16) -> String {
    let mut parts: Vec<String> = conninfo
        .split_whitespace()
        .filter(|p| {
            !p.starts_with("host=") && !p.starts_with("hostaddr=") && !p.starts_with("port=")
        })
        .map(str::to_owned)
        .collect();
    parts.insert(0, format!("port={port}"));
    parts.insert(0, format!("host={host}"));
    parts.join(" ")
}

/// Sends the shard's traffic to `new_primary`: the topology swaps (bumping
/// the generation, fencing the old primary), idle pooled connections to
/// the old primary are closed, and the sockets of busy ones are shut down
/// (their transactions end with 08006 rather than hang on a dead or hung
/// node).
pub fn swap_routing(ctx: &ControlPlane, shard: &ShardState, new_primary: &Endpoint) {
    shard.promote(new_primary);
    ctx.topology.record_roles(shard);
    let retired = ctx.data_path.retire_idle(shard.index);
    let severed = ctx.data_path.sever_replaced(shard.index);
    tracing::info!(shard = shard.index, primary = %new_primary, retired, severed, "routing swapped to the new primary");
}

/// Human text for an LSN distance.
pub fn describe_lag(best: u64, candidate: u64) -> String {
    format!(
        "{} bytes behind ({} vs {})",
        best.saturating_sub(candidate),
        format_lsn(candidate),
        format_lsn(best)
    )
}
