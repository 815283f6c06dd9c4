//! The session's side of `crossshard`: a transaction that reaches a
//! second shard keeps one server connection per shard it touched. The
//! one in use is `Session::server`, as in any transaction, so every
//! message is relayed exactly as on one shard; the others wait, parked,
//! inside their transactions. Switching shards happens between statements
//! (the one in use idle inside the transaction); a new participant first
//! runs the transaction's `BEGIN` (same isolation level and read-only
//! flag) and a bounded `lock_timeout`. `COMMIT` runs the commit protocol
//! over all of them; `ROLLBACK`, or the client leaving, rolls all back.
//! A single statement that writes on several shards (an unkeyed `UPDATE`
//! or `DELETE`, a write to a global table) runs on each inside one such
//! transaction, committed at once when the client had none open.

use super::expect::Expect;
use super::placement::Placement;
use super::{Attached, Session};
use crate::config::{CrossShardWrites, PoolMode};
use crate::crossshard::{self, CommitError, Crash, Participant};
use crate::protocol::{builder, ErrorResponse, SqlState};
use bytes::{Bytes, BytesMut};
use shardwire_router::StatementKind;

/// The participants of a cross-shard transaction other than the one in use.
#[derive(Default)]
pub(super) struct MultiShard {
    /// Participants waiting inside the transaction.
    parked: Vec<Attached>,
    /// Shards that ran a write in it.
    wrote: Vec<u32>,
    /// The frames that opened the transaction (BEGIN, SET LOCAL), run first
    /// on each new participant.
    opening: Vec<Bytes>,
}

/// How a cross-shard transaction ended for the client.
pub(super) enum Finished {
    /// Its command tag (`COMMIT`, or `ROLLBACK` for a failed one).
    Tag(&'static str),
    /// Refused or failed: every participant was rolled back, or the
    /// outcome is left to the resolver (the error says which).
    Error(ErrorResponse),
}

fn query_frame(sql: &str) -> Bytes {
    let mut out = BytesMut::new();
    builder::query(&mut out, sql);
    out.freeze()
}

impl Session {
    /// Whether transactions may span shards (transaction pooling, and
    /// `[sharding] cross_shard_writes = "two_phase"`).
    pub(super) fn cross_shard_enabled(&self) -> bool {
        self.mode == PoolMode::Transaction
            && self.ctx.config.sharding.cross_shard_writes == CrossShardWrites::TwoPhase
    }

    /// Whether a cross-shard transaction is open.
    pub(super) fn in_cross_shard(&self) -> bool {
        self.multi.is_some()
    }

    /// A parked participant's shard (for statements that may run on any
    /// shard while none is in use), and whether one has failed.
    pub(super) fn parked_state(&self) -> Option<(u32, bool)> {
        let m = self.multi.as_ref()?;
        let first = m.parked.first()?;
        Some((first.shard, m.parked.iter().any(|a| a.conn.status == b'E')))
    }

    /// Remembers that the transaction wrote on `shard` (for its commit).
    pub(super) fn note_cross_shard_write(&mut self, shard: u32) {
        if let Some(m) = self.multi.as_mut() {
            if !m.wrote.contains(&shard) {
                m.wrote.push(shard);
            }
        }
    }

    fn lock_timeout_sql(&self) -> String {
        let ms = self
            .ctx
            .config
            .sharding
            .cross_shard_lock_timeout
            .as_millis()
            .max(1);
        format!("SET LOCAL lock_timeout = '{ms}ms'")
    }

    /// Moves the transaction in progress onto `shard` (the attached server
    /// is inside a transaction on another shard): parks the one in use and
    /// takes `shard`'s participant, joining it first if new.
    pub(super) async fn switch_shard(&mut self, shard: u32) -> Placement {
        let busy = self.server.as_ref().is_some_and(|a| !a.conn.in_sync)
            || !self.expect.is_empty()
            || self.passthrough > 0;
        if busy {
            if !self.expect.batch_closed() {
                // A pipelined batch inside the transaction: its Sync comes
                // after this message. Close the batch on this shard with a
                // Sync of the proxy's own (inside a transaction block it
                // commits nothing; its ReadyForQuery is swallowed), so the
                // shard answers what it owes and can be parked.
                let mut sync = BytesMut::new();
                builder::frame(&mut sync, b'S', |_| {});
                self.forward(&sync);
                self.expect.push(Expect::InjectedQuery);
            }
            return Placement::Stall;
        }
        if self.multi.is_none() {
            // The transaction becomes cross-shard: its first participant
            // gets the bounded lock wait too, then the switch is retried.
            let mut multi = Box::<MultiShard>::default();
            multi.opening = std::mem::take(&mut self.opening);
            if multi.opening.is_empty() {
                multi.opening.push(query_frame("BEGIN"));
            }
            if let Some(a) = self.server.as_ref() {
                if self.txn_wrote {
                    multi.wrote.push(a.shard);
                }
            }
            self.multi = Some(multi);
            let sql = self.lock_timeout_sql();
            if let Some(a) = self.server.as_mut() {
                a.conn.send(&query_frame(&sql));
                self.expect.push(Expect::InjectedQuery);
            }
            return Placement::Stall;
        }
        let current = self.server.take();
        let Some(multi) = self.multi.as_mut() else {
            self.server = current;
            return Placement::Stall;
        };
        multi.parked.extend(current);
        if let Some(at) = multi.parked.iter().position(|m| m.shard == shard) {
            let next = multi.parked.swap_remove(at);
            self.set_cancel_target(&next);
            self.last_shard = Some(shard);
            self.server = Some(next);
            return Placement::Ready;
        }
        match self.attach_to(shard).await {
            Ok(()) => {
                let mut frames = self
                    .multi
                    .as_ref()
                    .map(|m| m.opening.clone())
                    .unwrap_or_default();
                frames.push(query_frame(&self.lock_timeout_sql()));
                if let Some(a) = self.server.as_mut() {
                    for frame in frames {
                        a.conn.send(&frame);
                        self.expect.push(Expect::InjectedQuery);
                    }
                }
                self.ctx
                    .metrics
                    .two_phase
                    .with_label_values(&["participant_joined"])
                    .inc();
                Placement::Ready
            }
            Err(e) => {
                // Back on the shard it was on; the client may roll back.
                if let Some(previous) = self.multi.as_mut().and_then(|m| m.parked.pop()) {
                    self.set_cancel_target(&previous);
                    self.server = Some(previous);
                }
                Placement::Refused(e)
            }
        }
    }

    fn set_cancel_target(&self, a: &Attached) {
        self.cancel.slot.set(Some(crate::cancel::CancelTarget {
            addr: a.conn.addr,
            pid: a.conn.backend_pid,
            secret: a.conn.backend_secret,
        }));
    }

    /// Ends the cross-shard transaction: the commit protocol (`commit`) or
    /// a rollback on every participant; every connection goes back to its
    /// pool (or is closed, if broken). The pipelined work of the one in use
    /// must be done.
    pub(super) async fn finish_cross_shard(&mut self, commit: bool) -> Finished {
        let Some(multi) = self.multi.take() else {
            return Finished::Tag(if commit { "COMMIT" } else { "ROLLBACK" });
        };
        let MultiShard {
            parked: mut members,
            wrote,
            ..
        } = *multi;
        members.extend(self.server.take());
        self.cancel.slot.set(None);
        self.local_hints = None;
        let failed = members.iter().any(|m| m.conn.status == b'E');
        let crash_at = self
            .ctx
            .config
            .sharding
            .cross_shard_crash_at
            .as_deref()
            .and_then(Crash::parse);
        let mut parts: Vec<Participant<'_>> = members
            .iter_mut()
            .map(|m| Participant {
                shard: m.shard,
                wrote: wrote.contains(&m.shard),
                conn: &mut m.conn,
            })
            .collect();
        if commit && !failed && wrote.len() > 1 {
            self.ensure_commit_logs(&wrote).await;
        }
        let outcome = if commit && !failed {
            let seq = self.ctx.cross_shard.next_seq();
            crossshard::commit(&mut parts, &self.ctx.cross_shard.instance, seq, crash_at).await
        } else {
            crossshard::rollback(&mut parts).await;
            Ok(false)
        };
        drop(parts);
        let metric = |s: &Session, outcome: &str| {
            s.ctx.metrics.two_phase.with_label_values(&[outcome]).inc()
        };
        let finished = match outcome {
            Ok(two_phase) => {
                if two_phase {
                    metric(self, "committed");
                } else if !commit || failed {
                    metric(self, "rolled_back_by_client");
                } else {
                    metric(self, "one_writer");
                }
                Finished::Tag(if commit && !failed {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                })
            }
            Err(CommitError::RolledBack(e)) => {
                metric(self, "rolled_back");
                Finished::Error(e)
            }
            Err(CommitError::Unknown(e)) => {
                metric(self, "unknown");
                Finished::Error(e)
            }
            Err(CommitError::Crashed) => {
                // Testing: as if the instance died here. Its connections
                // close as they are; the resolver finishes the rest.
                for m in members.iter_mut() {
                    m.conn.broken = true;
                }
                Finished::Error(ErrorResponse::fatal(
                    SqlState::AdminShutdown,
                    "shardwire stopped mid-commit (cross_shard_crash_at, a testing setting)",
                ))
            }
        };
        drop(members);
        finished
    }

    /// Makes sure the decision table exists on the shards that may
    /// coordinate (the resolver creates it at start, but a commit may come
    /// first), on a connection of its own; once per shard and user.
    async fn ensure_commit_logs(&self, shards: &[u32]) {
        for &shard in shards {
            if !self
                .ctx
                .cross_shard
                .needs_commit_log(&self.user.name, shard)
            {
                continue;
            }
            let Ok(mut a) = self.checkout_participant(shard).await else {
                continue;
            };
            let sql = crossshard::gid::CREATE_COMMIT_LOG;
            if super::attach::internal_query(&mut a.conn, sql, false)
                .await
                .is_ok()
            {
                self.ctx.cross_shard.has_commit_log(&self.user.name, shard);
            }
        }
    }

    /// Rolls back the parked participants of a cross-shard transaction as
    /// the client leaves (the one in use is handled with the session).
    pub(super) async fn abandon_cross_shard(&mut self) {
        let Some(multi) = self.multi.take() else {
            return;
        };
        let mut parked = multi.parked;
        let mut parts: Vec<Participant<'_>> = parked
            .iter_mut()
            .map(|m| Participant {
                shard: m.shard,
                wrote: false,
                conn: &mut m.conn,
            })
            .collect();
        crossshard::rollback(&mut parts).await;
    }

    /// Whether a statement of `kind` may run inside a cross-shard
    /// transaction; the refusal otherwise.
    pub(super) fn cross_shard_refusal(&self, kind: StatementKind) -> Option<ErrorResponse> {
        (self.multi.is_some() && kind == StatementKind::TransactionOther).then(|| {
            ErrorResponse::error(
                SqlState::FeatureNotSupported,
                "savepoints, LOCK and PREPARE TRANSACTION are not supported inside a transaction that spans shards",
            )
            .with_hint("keep savepoints to transactions on one shard, or roll back and retry without them")
        })
    }
}

impl Session {
    /// A participant for `shard` inside the cross-shard transaction: a
    /// connection with the client's parameters that has run the
    /// transaction's opening and the bounded lock wait.
    async fn join_participant(&mut self, shard: u32) -> Result<(), ErrorResponse> {
        let mut member = self.checkout_participant(shard).await?;
        let mut frames = self
            .multi
            .as_ref()
            .map(|m| m.opening.clone())
            .unwrap_or_default();
        frames.push(query_frame(&self.lock_timeout_sql()));
        for frame in frames {
            let reply = member.conn.collect_reply(&frame).await.map_err(|e| {
                ErrorResponse::error(
                    SqlState::ConnectionFailure,
                    format!("shard {shard} failed while joining the transaction: {e}"),
                )
            })?;
            if let Some((e, _)) = reply.error {
                return Err(ErrorResponse::error(
                    e.state(),
                    format!(
                        "shard {shard} could not join the transaction: {}",
                        e.message
                    ),
                ));
            }
        }
        self.ctx
            .metrics
            .two_phase
            .with_label_values(&["participant_joined"])
            .inc();
        if let Some(m) = self.multi.as_mut() {
            m.parked.push(member);
        }
        Ok(())
    }

    /// Runs one statement that needs several shards inside one
    /// transaction: the client's own (joining the shards it has not
    /// touched yet), or, with none open, a transaction of its own that is
    /// committed (atomically, two-phase when it wrote on several) before
    /// the answer. Reads are merged as scatter reads are; writes' rows are
    /// concatenated and their counts added up.
    pub(super) async fn run_across(
        &mut self,
        work: Vec<(u32, String)>,
        decision: &shardwire_router::Decision,
    ) {
        let implicit = !self.in_transaction();
        // Its own transaction runs on connections of its own: an idle one
        // in use (pinned by session state, or not yet released) waits
        // aside and is the one in use again afterwards.
        let aside = if implicit { self.server.take() } else { None };
        if implicit {
            self.multi = Some(Box::new(MultiShard {
                opening: vec![query_frame("BEGIN")],
                ..MultiShard::default()
            }));
        } else if self.multi.is_none() {
            let mut multi = Box::<MultiShard>::default();
            multi.opening = if self.held.is_empty() {
                std::mem::take(&mut self.opening)
            } else {
                // A BEGIN still held back: it opens every participant.
                std::mem::take(&mut self.held)
            };
            if multi.opening.is_empty() {
                multi.opening.push(query_frame("BEGIN"));
            }
            if let Some(a) = self.server.as_ref() {
                if self.txn_wrote {
                    multi.wrote.push(a.shard);
                }
            }
            self.multi = Some(multi);
            let sql = self.lock_timeout_sql();
            if let Some(a) = self.server.as_mut() {
                let _ = a.conn.collect_reply(&query_frame(&sql)).await;
            }
        }
        let writes = decision.kind != StatementKind::Read;
        let mut replies = Vec::with_capacity(work.len());
        let mut failure = None;
        for (shard, text) in work {
            let present = self.server.as_ref().is_some_and(|a| a.shard == shard)
                || self
                    .multi
                    .as_ref()
                    .is_some_and(|m| m.parked.iter().any(|a| a.shard == shard));
            if !present {
                if let Err(e) = self.join_participant(shard).await {
                    failure = Some(e);
                    break;
                }
            }
            if writes {
                self.note_cross_shard_write(shard);
            }
            let frame = query_frame(&text);
            let member = match self.server.as_mut().filter(|a| a.shard == shard) {
                Some(a) => Some(a),
                None => self
                    .multi
                    .as_mut()
                    .and_then(|m| m.parked.iter_mut().find(|a| a.shard == shard)),
            };
            let Some(member) = member else {
                continue;
            };
            match member.conn.collect_reply(&frame).await {
                Ok(reply) => {
                    let failed = reply.error.is_some();
                    replies.push(crate::scatter::execute::ShardReply { shard, reply });
                    if failed {
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(ErrorResponse::error(
                        SqlState::ConnectionFailure,
                        format!("shard {shard} failed during the statement: {e}"),
                    ));
                    break;
                }
            }
        }
        let sql_error = replies
            .iter()
            .find_map(|r| r.reply.error.as_ref().map(|(_, frame)| frame.clone()));
        if implicit {
            let ok = failure.is_none() && sql_error.is_none();
            let finished = Box::pin(self.finish_cross_shard(ok)).await;
            let mut out = BytesMut::new();
            match (failure, sql_error, finished) {
                (Some(e), _, _) => e.encode(&mut out),
                (None, Some(frame), _) => out.extend_from_slice(&frame),
                (None, None, Finished::Error(e)) => e.encode(&mut out),
                (None, None, Finished::Tag(_)) => {
                    self.encode_across(&mut out, replies, decision, writes)
                }
            }
            if let Some(a) = aside {
                self.set_cancel_target(&a);
                self.server = Some(a);
            }
            builder::ready_for_query(&mut out, b'I');
            self.emit(out.freeze());
            return;
        }
        let mut out = BytesMut::new();
        let status = match (failure, sql_error) {
            (Some(e), _) => {
                e.encode(&mut out);
                // The transaction cannot go on: fail it where it is.
                if self.fail_server_transaction() {
                    b'E'
                } else {
                    self.local_status()
                }
            }
            (None, Some(frame)) => {
                out.extend_from_slice(&frame);
                b'E'
            }
            (None, None) => {
                self.encode_across(&mut out, replies, decision, writes);
                self.local_status()
            }
        };
        builder::ready_for_query(&mut out, status);
        self.emit(out.freeze());
    }

    /// The combined answer of a statement several shards ran.
    fn encode_across(
        &self,
        out: &mut BytesMut,
        replies: Vec<crate::scatter::execute::ShardReply>,
        decision: &shardwire_router::Decision,
        writes: bool,
    ) {
        if let Some(first) = replies.first() {
            for n in &first.reply.notices {
                out.extend_from_slice(n);
            }
        }
        if !writes {
            let results = replies
                .into_iter()
                .map(|r| crate::scatter::merge::ShardResult {
                    row_description: r.reply.row_description,
                    rows: r.reply.rows,
                    command_tag: r.reply.command_tags.last().cloned().unwrap_or_default(),
                })
                .collect();
            match crate::scatter::merge::merge(results, decision.merge.as_ref()) {
                Ok(frames) => out.extend_from_slice(&frames),
                Err(e) => ErrorResponse::error(
                    SqlState::FeatureNotSupported,
                    format!("cannot merge the shards' answers: {e}"),
                )
                .encode(out),
            }
            return;
        }
        if let Some(t) = replies
            .iter()
            .find_map(|r| r.reply.row_description.as_ref())
        {
            out.extend_from_slice(t);
        }
        let mut tags = Vec::with_capacity(replies.len());
        for r in &replies {
            for row in &r.reply.rows {
                out.extend_from_slice(row);
            }
            if let Some(tag) = r.reply.command_tags.last() {
                tags.push(tag.clone());
            }
        }
        if let Some(tag) = crossshard::tags::combine(&tags) {
            builder::command_complete(out, &tag);
        }
    }
}
