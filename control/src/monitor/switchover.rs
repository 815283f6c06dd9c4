//! The planned switchover: hold the shard's new transactions, wait for the
//! running ones to finish, stop writes on the old primary, wait until the
//! chosen standby has replayed everything, promote it and resume. Clients
//! only wait; none gets an error. The old primary is left read-only and
//! fenced (rejoin it as a standby with pg_rewind or a fresh base backup).

use super::conns::Conns;
use super::control::{format_lsn, parse_lsn};
use super::failover::{finish, finish_promotion};
use super::promote::{self, Candidate};
use crate::topology::{FailoverKind, FailoverRecord, ShardPhase, ShardState};
use crate::ControlPlane;
use crate::Endpoint;
use std::time::{Duration, Instant, SystemTime};

const POLL: Duration = Duration::from_millis(20);

/// Switches `shard` over to `target` (a standby; None: the most advanced
/// one). Returns the new primary, or why nothing changed.
pub async fn switchover(
    ctx: &ControlPlane,
    shard_index: u32,
    target: Option<Endpoint>,
) -> Result<FailoverRecord, String> {
    let shard = ctx
        .topology
        .shard(shard_index)
        .ok_or_else(|| format!("there is no shard {shard_index}"))?
        .clone();
    if let Some(fleet) = &ctx.fleet {
        if !fleet.is_controller() {
            return super::fleet_steps::ask_controller(ctx, fleet, shard_index, target).await;
        }
    }
    let login = super::shard_login(ctx, shard_index)
        .ok_or("switchover needs [replication] user (the control-plane login)")?;
    let started = Instant::now();
    let _control = shard.control.lock().await;
    let mut conns = Conns::new(login);
    let old_primary = shard.primary();
    let ranked = promote::rank_standbys(ctx, &mut conns, &shard.standbys()).await;
    let winner = match &target {
        Some(t) => ranked
            .iter()
            .find(|c| &c.node == t)
            .cloned()
            .ok_or_else(|| format!("{t} is not a reachable standby of shard {shard_index}"))?,
        None => ranked
            .first()
            .cloned()
            .ok_or_else(|| format!("shard {shard_index} has no reachable standby"))?,
    };
    let others: Vec<Candidate> = ranked
        .iter()
        .filter(|c| c.node != winner.node)
        .cloned()
        .collect();

    shard.set_local_change(true);
    shard.set_phase(ShardPhase::FailingOver);
    shard.gate.pause();
    let paused_at = Instant::now();
    let result = async {
        let limit = ctx.settings.replication.switchover_timeout;
        drain(ctx, &shard, limit).await?;
        let lsn = stop_writes(&mut conns, &old_primary).await?;
        wait_replayed(&mut conns, &winner.node, lsn, limit).await?;
        finish_promotion(
            ctx,
            &shard,
            &mut conns,
            &winner,
            &others,
            FailoverKind::Switchover,
        )
        .await
    }
    .await;
    let paused = paused_at.elapsed();
    let (outcome, new_primary, detail) = match result {
        Ok((node, detail)) => {
            shard.unblock_promotions();
            ("promoted", Some(node.to_string()), detail)
        }
        Err(e) if promote::is_primary(&mut conns, &winner.node).await != Some(false) => {
            // The target may have been promoted after all: keeping the old
            // primary read-only is the only safe state.
            (
                "failed",
                None,
                format!("{e}; {} may be a primary now, so {old_primary} stays read-only: check both by hand", winner.node),
            )
        }
        Err(e) => {
            // Nothing was promoted: the old primary takes writes again.
            if let Some(conn) = conns.get(&old_primary) {
                let _ = conn
                    .execute(
                        "ALTER SYSTEM RESET default_transaction_read_only",
                        Duration::from_secs(5),
                    )
                    .await;
                let _ = conn
                    .execute("SELECT pg_reload_conf()", Duration::from_secs(5))
                    .await;
            }
            ("failed", None, e)
        }
    };
    shard.set_phase(ShardPhase::Serving);
    shard.gate.resume();
    shard.set_local_change(false);
    let record = FailoverRecord {
        shard: shard_index,
        kind: FailoverKind::Switchover,
        started: SystemTime::now()
            .checked_sub(started.elapsed())
            .unwrap_or_else(SystemTime::now),
        old_primary: old_primary.to_string(),
        new_primary,
        total: started.elapsed(),
        paused,
        outcome,
        detail: detail.clone(),
    };
    finish(ctx, record.clone());
    if outcome == "promoted" {
        Ok(record)
    } else {
        Err(detail)
    }
}

/// Waits until no server connection of the shard is checked out.
async fn drain(ctx: &ControlPlane, shard: &ShardState, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let active = ctx.data_path.active_transactions(shard.index);
        if active == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{active} transaction(s) still running on shard {} after {limit:?}; switchover abandoned, traffic resumed on the old primary",
                shard.index
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Makes the old primary read-only for new transactions and returns its
/// WAL position after that.
async fn stop_writes(conns: &mut Conns, primary: &Endpoint) -> Result<u64, String> {
    let conn = conns.get(primary).ok_or("no control login")?;
    let limit = Duration::from_secs(5);
    conn.execute("ALTER SYSTEM SET default_transaction_read_only = on", limit)
        .await
        .map_err(|e| format!("making {primary} read-only: {e}"))?;
    conn.execute("SELECT pg_reload_conf()", limit)
        .await
        .map_err(|e| format!("reloading {primary}: {e}"))?;
    // Transactions that began before the reload may still write: wait
    // until none holds a transaction id.
    let deadline = Instant::now() + limit;
    loop {
        let rows = conn
            .query(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE backend_xid IS NOT NULL AND backend_type = 'client backend' \
                 AND pid <> pg_backend_pid()",
            )
            .await
            .map_err(|e| format!("checking running writes on {primary}: {e}"))?;
        let writing: i64 = rows.first().and_then(|r| r.try_get(0).ok()).unwrap_or(0);
        if writing == 0 {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{writing} transaction(s) still writing on {primary} after {limit:?}"
            ));
        }
        tokio::time::sleep(POLL).await;
    }
    let rows = conn
        .query("SELECT pg_current_wal_lsn()::text")
        .await
        .map_err(|e| format!("reading the WAL position of {primary}: {e}"))?;
    rows.first()
        .and_then(|r| r.try_get::<_, String>(0).ok())
        .as_deref()
        .and_then(parse_lsn)
        .ok_or_else(|| format!("{primary} returned no WAL position"))
}

/// Waits until `standby` has replayed up to `lsn`.
async fn wait_replayed(
    conns: &mut Conns,
    standby: &Endpoint,
    lsn: u64,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let conn = conns.get(standby).ok_or("no control login")?;
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(rows) = conn.query("SELECT pg_last_wal_replay_lsn()::text").await {
            last = rows
                .first()
                .and_then(|r| r.try_get::<_, Option<String>>(0).ok())
                .flatten()
                .as_deref()
                .and_then(parse_lsn);
            if last.is_some_and(|l| l >= lsn) {
                return Ok(());
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!(
        "{standby} did not replay up to {} within {limit:?} (at {})",
        format_lsn(lsn),
        last.map_or("unknown".into(), format_lsn)
    ))
}
