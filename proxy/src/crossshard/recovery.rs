//! The resolver of in-doubt cross-shard transactions: prepared
//! transactions shardwire made (ids with [`super::gid::PREFIX`]) that no
//! instance finished — it died between the steps, a shard failed over
//! mid-commit, a network cut. Every few seconds each instance lists them on
//! every shard (for `SHOW TRANSACTIONS` and the `shardwire_2pc_in_doubt`
//! gauge); the instance that may resolve (the controller when
//! `[coordination]` is on, the instance itself otherwise) looks on each
//! one's coordinator shard for its decision row: there, it commits it;
//! absent while the coordinator's transaction is over (`txid_status`), it
//! rolls it back; absent while that may still run, it waits. The outcome
//! depends only on that durable record, so no two resolvers can decide
//! differently; one the shard cannot answer for stays listed. Each
//! instance also creates the decision table on every shard where it is
//! missing, and drops decisions a day old once nothing is prepared.

use super::gid::GlobalId;
use crate::context::{Context, UserEntry};
use crate::server::ServerConn;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the resolver looks.
const INTERVAL: Duration = Duration::from_secs(3);
/// A prepared transaction younger than this is left to its own instance,
/// which normally finishes it within milliseconds.
const MIN_AGE: Duration = Duration::from_secs(2);
/// Longest one query of the resolver may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// A prepared transaction not finished yet.
#[derive(Debug, Clone)]
pub struct InDoubt {
    /// Its global id.
    pub gid: String,
    /// The shard it is prepared on.
    pub shard: u32,
    /// Seconds since it was prepared.
    pub age_seconds: f64,
    /// The shard whose commit decides it.
    pub coordinator: u32,
    /// The instance that made it.
    pub instance: String,
    /// What the coordinator's shard says of it (`in progress`, `committed`,
    /// `aborted`, `unknown`), as last seen.
    pub decision: String,
}

/// This instance's cross-shard bookkeeping.
#[derive(Debug)]
pub struct Ledger {
    /// This instance's name in global ids.
    pub instance: String,
    seq: AtomicU64,
    in_doubt: Mutex<Vec<InDoubt>>,
    /// (user, shard) where the decision table is known to exist.
    commit_logs: Mutex<std::collections::HashSet<(String, u32)>>,
}

impl Ledger {
    /// A ledger for an instance named `instance`.
    pub fn new(instance: &str) -> Ledger {
        Ledger {
            instance: super::gid::instance_token(instance),
            seq: AtomicU64::new(0),
            in_doubt: Mutex::new(Vec::new()),
            commit_logs: Mutex::new(Default::default()),
        }
    }

    /// The next sequence number for a global id.
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether the decision table was not yet made sure of on `shard` for
    /// `user` by this instance.
    pub(crate) fn needs_commit_log(&self, user: &str, shard: u32) -> bool {
        !self
            .commit_logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(user.to_string(), shard))
    }

    pub(crate) fn has_commit_log(&self, user: &str, shard: u32) {
        self.commit_logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((user.to_string(), shard));
    }

    /// The in-doubt transactions as last listed.
    pub fn in_doubt(&self) -> Vec<InDoubt> {
        self.in_doubt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_in_doubt(&self, list: Vec<InDoubt>) {
        *self.in_doubt.lock().unwrap_or_else(|e| e.into_inner()) = list;
    }
}

/// The resolver's loop, until the proxy stops.
pub async fn run(ctx: Arc<Context>) {
    loop {
        let may_resolve = ctx
            .control
            .fleet
            .as_ref()
            .is_none_or(|fleet| fleet.is_controller());
        let left = resolve_once(&ctx, may_resolve).await;
        let aged = left
            .iter()
            .filter(|t| t.age_seconds >= MIN_AGE.as_secs_f64())
            .count();
        ctx.metrics.two_phase_in_doubt.set(aged as i64);
        ctx.cross_shard.set_in_doubt(left);
        tokio::time::sleep(INTERVAL).await;
    }
}

/// Lists shardwire's prepared transactions on every shard and, if
/// `resolve`, ends those whose coordinator has decided. Returns those left.
pub async fn resolve_once(ctx: &Context, resolve: bool) -> Vec<InDoubt> {
    let mut left = Vec::new();
    for user in ctx.users.values() {
        let mut conns: HashMap<u32, shardwire_pool::Pooled<crate::server::ServerManager>> =
            HashMap::new();
        let shards = user.shard_pools.len() as u32;
        let mut found = Vec::new();
        for shard in 0..shards {
            let Some(conn) = connection(ctx, &user, shard, &mut conns).await else {
                continue;
            };
            if ctx.cross_shard.needs_commit_log(&user.name, shard) {
                match query(conn, super::gid::CREATE_COMMIT_LOG).await {
                    Ok(_) => ctx.cross_shard.has_commit_log(&user.name, shard),
                    Err(e) => tracing::warn!(shard, user = %user.name, error = %e,
                        "cannot create the cross-shard decision table; two-phase commits coordinated on this shard will fail"),
                }
            }
            let listed = query(
                conn,
                "SELECT gid, extract(epoch FROM now() - prepared)::float8, owner \
                 FROM pg_prepared_xacts \
                 WHERE database = current_database() AND gid LIKE 'shardwire\\_%'",
            )
            .await;
            for row in listed.unwrap_or_default() {
                let (Some(gid), age, Some(owner)) = (
                    row.first().cloned().flatten(),
                    row.get(1).cloned().flatten(),
                    row.get(2).cloned().flatten(),
                ) else {
                    continue;
                };
                // Only the owner (or a superuser) may finish it.
                if owner != *user.name {
                    continue;
                }
                let Some(id) = GlobalId::parse(&gid) else {
                    continue;
                };
                let age_seconds = age.and_then(|a| a.parse().ok()).unwrap_or(0.0);
                found.push(InDoubt {
                    gid,
                    shard,
                    age_seconds,
                    coordinator: id.coordinator,
                    instance: id.instance.clone(),
                    decision: String::new(),
                });
            }
        }
        if resolve && found.is_empty() {
            // Old decisions are needed by nobody once nothing is prepared.
            for conn in conns.values_mut() {
                let _ = query(
                    conn,
                    "DELETE FROM shardwire_commit_log WHERE decided_at < now() - interval '1 day'",
                )
                .await;
            }
        }
        for mut item in found {
            let xid = GlobalId::parse(&item.gid).map_or(0, |id| id.xid);
            item.decision = match item.coordinator < shards {
                true => match connection(ctx, &user, item.coordinator, &mut conns).await {
                    Some(c) => decision(c, &item.gid, xid).await,
                    None => Decision::Unknown,
                },
                false => Decision::Unknown,
            }
            .name()
            .to_string();
            let action = match item.decision.as_str() {
                "committed" => Some(("COMMIT PREPARED", "recovered_commit")),
                "aborted" => Some(("ROLLBACK PREPARED", "recovered_rollback")),
                _ => None,
            };
            let finish = resolve && item.age_seconds >= MIN_AGE.as_secs_f64();
            if let (Some((verb, outcome)), true) = (action, finish) {
                if let Some(c) = connection(ctx, &user, item.shard, &mut conns).await {
                    let sql = format!("{verb} '{}'", item.gid);
                    match query(c, &sql).await {
                        Ok(_) => {
                            tracing::info!(gid = %item.gid, shard = item.shard, "resolved an in-doubt transaction: {verb}");
                            ctx.metrics.two_phase.with_label_values(&[outcome]).inc();
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(gid = %item.gid, shard = item.shard, error = %e, "resolving an in-doubt transaction failed")
                        }
                    }
                }
            }
            left.push(item);
        }
    }
    left
}

/// What the coordinator's shard says of a transaction.
enum Decision {
    /// Its decision row is there: it committed.
    Committed,
    /// No row, and its coordinator transaction is over (or that shard
    /// never saw it, after a failover): it never committed.
    Aborted,
    /// No row yet, and the coordinator transaction may still be running.
    InProgress,
    /// The shard cannot tell now.
    Unknown,
}

impl Decision {
    fn name(&self) -> &'static str {
        match self {
            Decision::Committed => "committed",
            Decision::Aborted => "aborted",
            Decision::InProgress => "in progress",
            Decision::Unknown => "unknown",
        }
    }
}

/// Reads the decision of `gid` on its coordinator shard. The row decides;
/// without it, `txid_status` says whether the coordinator may still
/// commit. (Its xid alone cannot decide: after a failover the new primary
/// may hand the same number to another transaction.)
async fn decision(conn: &mut ServerConn, gid: &str, xid: u64) -> Decision {
    let row = query(
        conn,
        &format!("SELECT count(*) FROM shardwire_commit_log WHERE gid = '{gid}'"),
    )
    .await;
    match row
        .as_ref()
        .ok()
        .and_then(|r| r.first())
        .and_then(|r| r.first())
        .cloned()
        .flatten()
    {
        Some(n) if n != "0" => return Decision::Committed,
        Some(_) => {}
        None => return Decision::Unknown,
    }
    match query(conn, &format!("SELECT txid_status({xid})")).await {
        Ok(rows) => match rows
            .first()
            .and_then(|r| r.first())
            .cloned()
            .flatten()
            .as_deref()
        {
            Some("in progress") => Decision::InProgress,
            // Ended without its row, or too old to remember: not committed
            // (a committed one always has its row).
            _ => Decision::Aborted,
        },
        // "transaction ID … is in the future": this primary never saw it.
        Err(e) if e.contains("in the future") => Decision::Aborted,
        Err(_) => Decision::Unknown,
    }
}

/// A connection to `shard`'s primary for `user`, kept for this round.
async fn connection<'a>(
    ctx: &Context,
    user: &Arc<UserEntry>,
    shard: u32,
    conns: &'a mut HashMap<u32, shardwire_pool::Pooled<crate::server::ServerManager>>,
) -> Option<&'a mut ServerConn> {
    if let std::collections::hash_map::Entry::Vacant(slot) = conns.entry(shard) {
        let checkout = tokio::time::timeout(
            QUERY_TIMEOUT,
            crate::session::checkout::primary_connection(ctx, user, shard),
        )
        .await;
        match checkout {
            Ok(Ok(conn)) => {
                slot.insert(conn);
            }
            _ => return None,
        }
    }
    conns.get_mut(&shard).map(|c| &mut **c)
}

async fn query(conn: &mut ServerConn, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    match tokio::time::timeout(QUERY_TIMEOUT, conn.simple_query(sql, false)).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => {
            conn.broken = true;
            Err(format!("no answer within {QUERY_TIMEOUT:?}"))
        }
    }
}
