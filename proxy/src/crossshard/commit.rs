//! The commit protocol of a transaction that touched several shards.
//!
//! - One writer (or none): the others (readers) commit first, then the
//!   writer commits as any single-shard transaction would. No extra round
//!   trip beyond one `COMMIT` per participant.
//! - Two writers or more: the first writer is the *coordinator*. Its
//!   transaction id is read (`txid_current()`), every other writer runs
//!   `PREPARE TRANSACTION '<gid>'` (the id names the coordinator and its
//!   xid, see [`super::gid`]), then the coordinator's own `COMMIT` is the
//!   commit point, durable and replicated like any commit, and it writes
//!   the decision row (the id in [`super::gid::COMMIT_LOG`]) with the
//!   coordinator's changes; then `COMMIT PREPARED` on the others. A failure before the commit point rolls
//!   everything back and names the shard that failed; after it, whatever
//!   is left prepared is committed by the resolver
//!   ([`super::recovery`]), which looks for the decision row on the
//!   coordinator's shard.

use super::gid::GlobalId;
use crate::protocol::builder;
use crate::protocol::{ErrorResponse, SqlState};
use crate::server::conn::ServerConnError;
use crate::server::ServerConn;
use bytes::BytesMut;
use std::time::Duration;

/// Longest one step of the protocol may take on one participant.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A shard's server connection taking part in a transaction.
pub struct Participant<'a> {
    /// The shard.
    pub shard: u32,
    /// Its connection, inside the transaction.
    pub conn: &'a mut ServerConn,
    /// It ran a write (reads only commit; writers need the protocol).
    pub wrote: bool,
}

/// Testing only: where a commit stops as if the instance had died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Every other writer is prepared; the coordinator has not committed.
    AfterPrepare,
    /// The coordinator committed; nothing else is committed.
    AfterDecision,
    /// The coordinator and one prepared participant committed.
    AfterCommitPrepared,
}

impl Crash {
    /// `after_prepare`, `after_decision`, `after_commit_prepared`.
    pub fn parse(name: &str) -> Option<Crash> {
        match name {
            "after_prepare" => Some(Crash::AfterPrepare),
            "after_decision" => Some(Crash::AfterDecision),
            "after_commit_prepared" => Some(Crash::AfterCommitPrepared),
            _ => None,
        }
    }
}

/// Why a commit did not simply succeed.
#[derive(Debug)]
pub enum CommitError {
    /// No shard committed anything: every participant was rolled back.
    RolledBack(ErrorResponse),
    /// The coordinator's connection was lost during its `COMMIT`: whether
    /// it committed is unknown here; the resolver ends every participant
    /// the way the coordinator went.
    Unknown(ErrorResponse),
    /// The testing crash point was reached: the caller drops every
    /// connection as it is, as a dead instance would.
    Crashed,
}

/// How a step failed on a participant.
enum StepError {
    /// The server answered with an error (the connection is usable).
    Sql(crate::protocol::error::ServerError),
    /// The connection failed or timed out (it is marked broken).
    Lost(String),
}

impl StepError {
    fn describe(&self) -> String {
        match self {
            StepError::Sql(e) => e.message.clone(),
            StepError::Lost(why) => format!("connection lost ({why})"),
        }
    }

    fn state(&self) -> SqlState {
        match self {
            StepError::Sql(e) => e.state(),
            StepError::Lost(_) => SqlState::ConnectionFailure,
        }
    }
}

/// Runs one statement of the protocol; returns its command tags.
async fn step(conn: &mut ServerConn, sql: &str) -> Result<Vec<String>, StepError> {
    let mut request = BytesMut::new();
    builder::query(&mut request, sql);
    match tokio::time::timeout(STEP_TIMEOUT, conn.collect_reply(&request)).await {
        Ok(Ok(reply)) => match reply.error {
            Some((e, _)) => Err(StepError::Sql(e)),
            None => Ok(reply.command_tags),
        },
        Ok(Err(ServerConnError::Query(e))) => Err(StepError::Sql(e)),
        Ok(Err(e)) => {
            conn.broken = true;
            Err(StepError::Lost(e.to_string()))
        }
        Err(_) => {
            conn.broken = true;
            Err(StepError::Lost(format!(
                "no answer within {STEP_TIMEOUT:?}"
            )))
        }
    }
}

/// A step that must end with `tag` (PostgreSQL answers `ROLLBACK` to a
/// `COMMIT` or `PREPARE TRANSACTION` of an aborted transaction).
async fn step_expecting(conn: &mut ServerConn, sql: &str, tag: &str) -> Result<(), StepError> {
    let tags = step(conn, sql).await?;
    if tags.last().map(String::as_str) == Some(tag) {
        Ok(())
    } else {
        Err(StepError::Sql(crate::protocol::error::ServerError {
            severity: "ERROR".into(),
            code: "40000".into(),
            message: format!(
                "the transaction was already rolled back on this shard (answered {})",
                tags.last().map(String::as_str).unwrap_or("nothing")
            ),
        }))
    }
}

fn failure(shard: u32, e: &StepError, what: &str) -> ErrorResponse {
    ErrorResponse::error(
        e.state(),
        format!(
            "cross-shard commit failed on shard {shard} ({what}): {}",
            e.describe()
        ),
    )
    .with_detail("no shard committed: every participant was rolled back")
    .with_hint("retry the transaction")
}

/// Rolls every participant back (best effort; a connection that fails is
/// marked broken and its transaction dies with it).
pub async fn rollback(parts: &mut [Participant<'_>]) {
    for p in parts.iter_mut() {
        if p.conn.status != b'I' && step(p.conn, "ROLLBACK").await.is_err() {
            p.conn.broken = true;
        }
    }
}

/// Commits the transaction on every participant, atomically. `Ok(true)`:
/// two-phase commit was used; `Ok(false)`: one writer or none.
pub async fn commit(
    parts: &mut [Participant<'_>],
    instance: &str,
    seq: u64,
    crash_at: Option<Crash>,
) -> Result<bool, CommitError> {
    let writers: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].wrote).collect();
    // Readers first: their failure still lets everything roll back.
    for i in 0..parts.len() {
        if parts[i].wrote || (writers.is_empty() && i + 1 == parts.len()) {
            continue;
        }
        if let Err(e) = step_expecting(parts[i].conn, "COMMIT", "COMMIT").await {
            let error = failure(parts[i].shard, &e, "COMMIT of a reading participant");
            rollback(parts).await;
            return Err(CommitError::RolledBack(error));
        }
    }
    let (coordinator, others) = match writers.split_first() {
        None => {
            // Only readers: the last one's commit is all that is left.
            if let Some(last) = parts.last_mut() {
                if let Err(e) = step_expecting(last.conn, "COMMIT", "COMMIT").await {
                    return Err(CommitError::RolledBack(failure(last.shard, &e, "COMMIT")));
                }
            }
            return Ok(false);
        }
        Some((&c, rest)) => (c, rest.to_vec()),
    };
    if others.is_empty() {
        let p = &mut parts[coordinator];
        return match step_expecting(p.conn, "COMMIT", "COMMIT").await {
            Ok(()) => Ok(false),
            Err(e @ StepError::Sql(_)) => {
                Err(CommitError::RolledBack(failure(p.shard, &e, "COMMIT")))
            }
            Err(e) => Err(CommitError::Unknown(unknown(p.shard, &e))),
        };
    }
    let coordinator_shard = parts[coordinator].shard;
    let xid = match step_rows(parts[coordinator].conn, "SELECT txid_current()").await {
        Ok(Some(xid)) => xid,
        Ok(None) => {
            rollback(parts).await;
            return Err(CommitError::RolledBack(ErrorResponse::error(
                SqlState::SystemError,
                format!("shard {coordinator_shard} did not return its transaction id"),
            )));
        }
        Err(e) => {
            let error = failure(coordinator_shard, &e, "reading the transaction id");
            rollback(parts).await;
            return Err(CommitError::RolledBack(error));
        }
    };
    let gid = GlobalId {
        coordinator: coordinator_shard,
        xid,
        instance: instance.to_string(),
        seq,
    }
    .format();
    let prepare = format!("PREPARE TRANSACTION '{gid}'");
    let mut prepared: Vec<usize> = Vec::new();
    for &i in &others {
        match step_expecting(parts[i].conn, &prepare, "PREPARE TRANSACTION").await {
            Ok(()) => prepared.push(i),
            Err(e) => {
                let error = failure(parts[i].shard, &e, "PREPARE TRANSACTION");
                if matches!(e, StepError::Sql(ref s) if s.code == "55000") {
                    // max_prepared_transactions = 0 on that shard.
                    tracing::warn!(
                        shard = parts[i].shard,
                        "a shard cannot prepare transactions: set max_prepared_transactions > 0"
                    );
                }
                undo_prepared(parts, &prepared, &gid).await;
                rollback(parts).await;
                return Err(CommitError::RolledBack(error.with_hint(
                    "retry the transaction; if the shard says prepared transactions are disabled, set max_prepared_transactions > 0 on it",
                )));
            }
        }
    }
    if crash_at == Some(Crash::AfterPrepare) {
        return Err(CommitError::Crashed);
    }
    // The commit point: the decision row commits with the coordinator's
    // own changes, in the same round trip.
    let decide = format!(
        "INSERT INTO {} (gid) VALUES ('{gid}'); COMMIT",
        super::gid::COMMIT_LOG
    );
    match step_expecting(parts[coordinator].conn, &decide, "COMMIT").await {
        Ok(()) => {}
        Err(e @ StepError::Sql(_)) => {
            let error = failure(coordinator_shard, &e, "COMMIT");
            // A failed INSERT leaves the transaction open and failed.
            rollback(&mut parts[coordinator..=coordinator]).await;
            undo_prepared(parts, &prepared, &gid).await;
            return Err(CommitError::RolledBack(error));
        }
        Err(e) => return Err(CommitError::Unknown(unknown(coordinator_shard, &e))),
    }
    if crash_at == Some(Crash::AfterDecision) {
        return Err(CommitError::Crashed);
    }
    let commit_prepared = format!("COMMIT PREPARED '{gid}'");
    for (n, &i) in prepared.iter().enumerate() {
        if let Err(e) = step(parts[i].conn, &commit_prepared).await {
            // The decision is durable: the resolver finishes this one.
            tracing::warn!(shard = parts[i].shard, gid = %gid, error = %e.describe(), "COMMIT PREPARED failed; left to the resolver");
        }
        if n == 0 && crash_at == Some(Crash::AfterCommitPrepared) {
            return Err(CommitError::Crashed);
        }
    }
    Ok(true)
}

/// `ROLLBACK PREPARED` on the participants prepared so far.
async fn undo_prepared(parts: &mut [Participant<'_>], prepared: &[usize], gid: &str) {
    let sql = format!("ROLLBACK PREPARED '{gid}'");
    for &i in prepared {
        if let Err(e) = step(parts[i].conn, &sql).await {
            tracing::warn!(shard = parts[i].shard, gid = %gid, error = %e.describe(), "ROLLBACK PREPARED failed; left to the resolver");
        }
    }
}

/// The first column of the first row, as a number.
async fn step_rows(conn: &mut ServerConn, sql: &str) -> Result<Option<u64>, StepError> {
    match tokio::time::timeout(STEP_TIMEOUT, conn.simple_query(sql, false)).await {
        Ok(Ok(rows)) => Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse().ok())),
        Ok(Err(ServerConnError::Query(e))) => Err(StepError::Sql(e)),
        Ok(Err(e)) => Err(StepError::Lost(e.to_string())),
        Err(_) => {
            conn.broken = true;
            Err(StepError::Lost(format!(
                "no answer within {STEP_TIMEOUT:?}"
            )))
        }
    }
}

fn unknown(shard: u32, e: &StepError) -> ErrorResponse {
    ErrorResponse::error(
        SqlState::ConnectionFailure,
        format!(
            "cross-shard commit: the connection to shard {shard} was lost during its COMMIT: {}",
            e.describe()
        ),
    )
    .with_detail("the outcome is unknown here; shardwire's resolver ends every shard's part the way shard's own commit went (all committed or all rolled back)")
    .with_hint("check whether the transaction's changes are there before retrying it")
}
