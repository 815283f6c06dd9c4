//! Shard routing of a client's statements (only with more than one
//! shard): asks the router where each simple query or Bind goes, holds
//! BEGIN back until a statement fixes the shard, keeps a transaction on its
//! shard, makes pipelined work for another shard wait its turn, scatters
//! unkeyed reads and broadcasts DDL and writes to global tables.

use super::cross_shard::Finished;
use super::expect::Expect;
use super::statements::PreparedStatement;
use super::Session;
use crate::config::PoolMode;
use crate::protocol::bind::Bind;
use crate::protocol::builder;
use crate::protocol::{ErrorResponse, SqlState};
use crate::scatter::binary::encode_formats;
use crate::scatter::execute::{run_on_shards, ShardReply};
use crate::scatter::merge::{merge, ShardResult};
use bytes::{BufMut, Bytes, BytesMut};
use shardwire_router::{Decision, HintName, RouteError, SessionHints, StatementKind, Target};

/// The merged answer of an extended-protocol scatter read: the
/// RowDescription (for Describe of the portal) and the rows plus
/// CommandComplete (for Execute).
pub(super) struct PortalResult {
    pub row_description: Option<Bytes>,
    pub rows_and_tag: Bytes,
}

pub(super) use super::placement::Placement;

/// A routing refusal as the client sees it.
pub(super) fn route_error(e: &RouteError) -> ErrorResponse {
    let state = match e.sqlstate() {
        "22P02" => SqlState::FromServer(*b"22P02"),
        _ => SqlState::FeatureNotSupported,
    };
    let mut error = ErrorResponse::error(state, e.message());
    if let Some(h) = e.hint() {
        error = error.with_hint(h);
    }
    error
}

impl Session {
    /// Whether statements are routed between several shards.
    pub(super) fn sharded(&self) -> bool {
        self.user.shard_pools.len() > 1 || !self.user.replica_pools.is_empty()
    }

    /// The routing hints in force (SET LOCAL over SET).
    pub(super) fn current_hints(&self) -> SessionHints {
        match &self.local_hints {
            Some(local) => SessionHints {
                user_id: local.user_id.or(self.hints.user_id),
                shard: local.shard.or(self.hints.shard),
            },
            None => self.hints.clone(),
        }
    }

    /// The shard a session-level hint (`SET shardwire.user_id/shard`)
    /// points at, for statements that could run anywhere.
    pub(super) fn hinted_shard(&self) -> Option<u32> {
        let hints = self.current_hints();
        if let Some(shard) = hints.shard {
            return Some(shard);
        }
        let rules = self.ctx.router.rules();
        hints
            .user_id
            .map(|key| shardwire_router::shard_for_key(rules.function, key, rules.shard_count))
    }

    /// Where a statement that touches no sharded table runs: the shard in
    /// use, else the hinted one, else the session's default.
    pub(super) fn any_shard(&self) -> u32 {
        match &self.server {
            Some(a) => a.shard,
            None => match self.parked_state() {
                Some((shard, _)) => shard,
                None => self.hinted_shard().unwrap_or_else(|| self.default_shard()),
            },
        }
    }

    /// Transaction status for a ReadyForQuery the proxy writes itself.
    pub(super) fn local_status(&self) -> u8 {
        match &self.server {
            Some(a) => a.conn.status,
            None if !self.held.is_empty() => b'T',
            None => match self.parked_state() {
                Some((_, true)) => b'E',
                Some((_, false)) => b'T',
                None => b'I',
            },
        }
    }

    /// Whether the client is inside a transaction block.
    pub(super) fn in_transaction(&self) -> bool {
        self.local_status() != b'I'
    }

    /// Gets the session onto `shard`: attaches (replaying a held BEGIN), or
    /// says why it cannot be done now.
    pub(super) async fn place_on(&mut self, shard: u32) -> Placement {
        if self.server.is_none() && self.in_cross_shard() {
            return Box::pin(self.switch_shard(shard)).await;
        }
        if let Some(a) = &self.server {
            if a.shard == shard {
                return Placement::Ready;
            }
            if self.mode == PoolMode::Session {
                return Placement::Refused(
                    ErrorResponse::error(
                        SqlState::FeatureNotSupported,
                        format!(
                            "this statement routes to shard {shard}, but session pooling keeps the session on shard {}",
                            a.shard
                        ),
                    )
                    .with_hint("use pool_mode = \"transaction\" for sessions that span shards"),
                );
            }
            if self.is_pinned() {
                return Placement::Refused(crate::isolation::refusal::pinned_elsewhere(
                    shard,
                    a.shard,
                    &self.pin_reasons(),
                ));
            }
            // Inside a transaction block: its status says so, or its BEGIN
            // was just sent (the status is not back yet in a pipeline).
            let in_block =
                a.conn.status == b'T' || !self.opening.is_empty() || self.in_cross_shard();
            if in_block && a.conn.status != b'E' && self.cross_shard_enabled() {
                return Box::pin(self.switch_shard(shard)).await;
            }
            if a.conn.status != b'I'
                || !self.expect.batch_closed()
                || (self.expect.is_empty() && !a.conn.in_sync)
            {
                return Placement::Refused(
                    ErrorResponse::error(
                        SqlState::FeatureNotSupported,
                        format!(
                            "this statement routes to shard {shard}, but the transaction in progress runs on shard {}",
                            a.shard
                        ),
                    )
                    .with_detail("a transaction stays on the shard of its first statement; cross-shard transactions are not supported")
                    .with_hint("commit or roll back first, or keep the transaction to one user_id"),
                );
            }
            return Placement::Stall;
        }
        if let Err(e) = self.attach_to(shard).await {
            return Placement::Refused(e);
        }
        self.replay_held();
        Placement::Ready
    }

    /// Sends the held-back BEGIN (and SET LOCALs) ahead of the statement
    /// that fixed the shard; their replies are swallowed.
    pub(super) fn replay_held(&mut self) {
        let held = std::mem::take(&mut self.held);
        let Some(a) = self.server.as_mut() else {
            return;
        };
        for frame in &held {
            a.conn.send(frame);
            self.expect.push(Expect::InjectedQuery);
        }
        self.opening = held;
    }

    /// Answers the client for a statement the proxy completed itself.
    pub(super) fn answer_locally(&mut self, tag: &str) {
        let mut out = BytesMut::new();
        builder::command_complete(&mut out, tag);
        builder::ready_for_query(&mut out, self.local_status());
        self.emit(out.freeze());
    }

    /// Routing hints set with `SET [LOCAL] shardwire.user_id|shard = …` or
    /// `RESET shardwire.…`: kept by the proxy, answered locally.
    pub(super) fn take_hint_setting(
        &mut self,
        sql: &str,
    ) -> Option<Result<&'static str, ErrorResponse>> {
        let setting = match shardwire_router::hint_setting(sql)? {
            Ok(setting) => setting,
            Err(e) => return Some(Err(route_error(&e))),
        };
        let tag = if sql
            .trim_start()
            .get(..5)
            .is_some_and(|w| w.eq_ignore_ascii_case("reset"))
        {
            "RESET"
        } else {
            "SET"
        };
        let shards = self.user.shard_pools.len() as i64;
        if let (HintName::Shard, Some(v)) = (setting.name, setting.value) {
            if !(0..shards).contains(&v) {
                return Some(Err(ErrorResponse::error(
                    SqlState::FromServer(*b"22023"),
                    format!(
                        "shardwire.shard must be between 0 and {}, not {v}",
                        shards - 1
                    ),
                )));
            }
        }
        if setting.local {
            if !self.in_transaction() {
                // As PostgreSQL: SET LOCAL outside a transaction has no effect.
                return Some(Ok(tag));
            }
            self.local_hints
                .get_or_insert_with(Box::default)
                .apply(&setting);
        } else {
            self.hints.apply(&setting);
        }
        Some(Ok(tag))
    }

    /// Runs an unkeyed read on several shards and merges the answers.
    pub(super) async fn scatter_read(&mut self, sql: &str, shards: Vec<u32>, decision: &Decision) {
        let started = std::time::Instant::now();
        let text = decision.rewritten_sql.as_deref().unwrap_or(sql);
        let mut request = BytesMut::new();
        builder::query(&mut request, text);
        let replies = run_on_shards(&self.ctx, &self.user, &shards, &request, &self.wanted).await;
        self.emit_merged(replies, decision.merge.as_ref());
        self.ctx
            .metrics
            .scatter_seconds
            .observe(started.elapsed().as_secs_f64());
    }

    /// Answers a simple query with `replies` merged by `spec` (None:
    /// concatenated), then ReadyForQuery.
    pub(super) fn emit_merged(
        &mut self,
        replies: Result<Vec<ShardReply>, ErrorResponse>,
        spec: Option<&shardwire_router::MergeSpec>,
    ) {
        let mut out = BytesMut::new();
        match replies {
            Err(e) => e.encode(&mut out),
            Ok(replies) => {
                if let Some(error) = first_error(&replies) {
                    out.extend_from_slice(&error);
                } else {
                    if let Some(first) = replies.first() {
                        for n in &first.reply.notices {
                            out.extend_from_slice(n);
                        }
                    }
                    match merge(shard_results(replies), spec) {
                        Ok(frames) => out.extend_from_slice(&frames),
                        Err(e) => ErrorResponse::error(
                            SqlState::FeatureNotSupported,
                            format!("cannot merge the shards' answers: {e}"),
                        )
                        .encode(&mut out),
                    }
                }
            }
        }
        builder::ready_for_query(&mut out, self.local_status());
        self.emit(out.freeze());
    }

    /// Runs an unkeyed read bound in the extended protocol on several
    /// shards (text results), merges them, and re-encodes the result in the
    /// formats the client's Bind asked for. Answers BindComplete now; the
    /// rows wait for Describe/Execute.
    pub(super) async fn scatter_extended(
        &mut self,
        stmt: &PreparedStatement,
        bind: &Bind<'_>,
        shards: Vec<u32>,
        decision: &Decision,
    ) {
        let sql = decision.rewritten_sql.as_deref().unwrap_or(&stmt.sql);
        let request = extended_request(sql, &stmt.param_types, bind);
        let replies = run_on_shards(&self.ctx, &self.user, &shards, &request, &self.wanted).await;
        self.answer_portal(replies, bind, decision.merge.as_ref());
    }

    /// Answers an extended-protocol Bind with `replies` merged by `spec`
    /// (None: concatenated): BindComplete now, the rows at Execute.
    pub(super) fn answer_portal(
        &mut self,
        replies: Result<Vec<ShardReply>, ErrorResponse>,
        bind: &Bind<'_>,
        spec: Option<&shardwire_router::MergeSpec>,
    ) {
        let replies = match replies {
            Ok(replies) => replies,
            Err(e) => return self.refuse_extended(e),
        };
        if let Some(error) = first_error(&replies) {
            self.emit(error);
            self.skip_until_sync = true;
            return;
        }
        let encoded = merge(shard_results(replies), spec)
            .map_err(|e| format!("cannot merge the shards' answers: {e}"))
            .and_then(|frames| {
                encode_formats(&frames, &bind.result_formats).map_err(|e| e.to_string())
            });
        let frames = match encoded {
            Ok(frames) => frames.freeze(),
            Err(message) => {
                return self
                    .refuse_extended(ErrorResponse::error(SqlState::FeatureNotSupported, message));
            }
        };
        let (row_description, rows_and_tag) = match frames.first() {
            Some(b'T') if frames.len() >= 5 => {
                let len =
                    u32::from_be_bytes([frames[1], frames[2], frames[3], frames[4]]) as usize + 1;
                let len = len.min(frames.len());
                (Some(frames.slice(..len)), frames.slice(len..))
            }
            _ => (None, frames),
        };
        let mut out = BytesMut::new();
        builder::frame(&mut out, b'2', |_| {});
        self.emit(out.freeze());
        self.portal_result = Some(Box::new(PortalResult {
            row_description,
            rows_and_tag,
        }));
    }

    /// Runs DDL, or a write to a global table, on every shard.
    pub(super) async fn broadcast(&mut self, sql: &str) {
        let shards: Vec<u32> = (0..self.user.shard_pools.len() as u32).collect();
        let mut request = BytesMut::new();
        builder::query(&mut request, sql);
        let mut out = BytesMut::new();
        match run_on_shards(&self.ctx, &self.user, &shards, &request, &self.wanted).await {
            Err(e) => e.encode(&mut out),
            Ok(replies) => {
                let failed: Vec<&ShardReply> =
                    replies.iter().filter(|r| r.reply.error.is_some()).collect();
                if failed.is_empty() {
                    if let Some(first) = replies.first() {
                        let r = &first.reply;
                        for n in &r.notices {
                            out.extend_from_slice(n);
                        }
                        if let Some(t) = &r.row_description {
                            out.extend_from_slice(t);
                        }
                        for row in &r.rows {
                            out.extend_from_slice(row);
                        }
                        for tag in &r.command_tags {
                            builder::command_complete(&mut out, tag);
                        }
                    }
                } else if failed.len() == replies.len() {
                    if let Some(error) = first_error(&replies) {
                        out.extend_from_slice(&error);
                    }
                } else {
                    let applied: Vec<String> = replies
                        .iter()
                        .filter(|r| r.reply.error.is_none())
                        .map(|r| r.shard.to_string())
                        .collect();
                    let failed_on: Vec<String> =
                        failed.iter().map(|r| r.shard.to_string()).collect();
                    let (first_failure, _) = failed[0]
                        .reply
                        .error
                        .as_ref()
                        .map(|(e, b)| (e.clone(), b.clone()))
                        .unwrap_or_default();
                    ErrorResponse::error(
                        first_failure.state(),
                        format!(
                            "statement failed on shard(s) {} but was applied on shard(s) {}: {}",
                            failed_on.join(", "),
                            applied.join(", "),
                            first_failure.message
                        ),
                    )
                    .with_hint("the shards now differ: fix the cause and re-run the statement on the failed shard(s) with /* shardwire: shard=N */")
                    .encode(&mut out);
                }
            }
        }
        builder::ready_for_query(&mut out, self.local_status());
        self.emit(out.freeze());
    }

    /// Routes and places a simple query on a sharded cluster. Returns
    /// false when it must wait (stall) for pipelined work to finish.
    pub(super) async fn route_query(&mut self, frame: &[u8], sql: &str) -> bool {
        if let Some(result) = self.take_hint_setting(sql) {
            match result {
                Ok(tag) => self.answer_locally(tag),
                Err(e) => self.refuse_simple(e),
            }
            return true;
        }
        // Boxed: the replica read's state (a pool checkout and a whole
        // reply) would otherwise be reserved in every session's task.
        if self.replica_read_possible() && Box::pin(self.try_replica_query(sql)).await {
            return true;
        }
        let mut decision = if self.on_temp_tables_only(sql) {
            Decision::simple(Target::AnyShard, StatementKind::Write)
        } else {
            match self.ctx.router.route(sql, &self.current_hints()) {
                Ok(d) => d,
                // An unkeyed UPDATE or DELETE runs on every shard, atomically.
                Err(RouteError::UnkeyedWrite { .. })
                    if self.cross_shard_enabled() && updates_or_deletes(sql) =>
                {
                    Decision::simple(Target::AllShards, StatementKind::Write)
                }
                // A multi-row INSERT over several shards: one INSERT per
                // shard, in one transaction.
                Err(e @ RouteError::CrossShardInsert { .. }) if self.cross_shard_enabled() => {
                    match shardwire_router::split_insert(sql, self.ctx.router.rules()) {
                        Some(parts) => {
                            if !self.expect.is_empty() || self.passthrough > 0 {
                                return false;
                            }
                            let decision =
                                Decision::simple(Target::AllShards, StatementKind::Write);
                            if let Some(refusal) = parts
                                .iter()
                                .find_map(|(k, _)| self.write_refusal(decision.kind, *k))
                            {
                                self.refuse_simple(refusal);
                                return true;
                            }
                            Box::pin(self.run_across(parts, &decision)).await;
                            return true;
                        }
                        None => {
                            self.refuse_simple(route_error(&e));
                            return true;
                        }
                    }
                }
                Err(e) => {
                    self.refuse_simple(route_error(&e));
                    return true;
                }
            }
        };
        if self.in_cross_shard() {
            if matches!(
                decision.kind,
                StatementKind::Commit | StatementKind::Rollback
            ) {
                if !self.expect.is_empty() || self.passthrough > 0 {
                    return false; // the pipelined work on the shard in use first
                }
                let commit = decision.kind == StatementKind::Commit;
                match Box::pin(self.finish_cross_shard(commit)).await {
                    Finished::Tag(tag) => self.answer_locally(tag),
                    Finished::Error(e) => self.refuse_simple(e),
                }
                return true;
            }
            if let Some(e) = self.cross_shard_refusal(decision.kind) {
                self.refuse_simple(e);
                return true;
            }
        }
        self.keep_temp_objects_local(&mut decision, sql);
        if self.server.is_none() {
            match decision.kind {
                StatementKind::Begin => {
                    // A second BEGIN is only a warning in PostgreSQL.
                    if self.held.is_empty() {
                        self.held.push(Bytes::copy_from_slice(frame));
                    }
                    self.answer_locally("BEGIN");
                    return true;
                }
                StatementKind::Commit | StatementKind::Rollback if !self.held.is_empty() => {
                    self.held.clear();
                    self.local_hints = None;
                    let tag = if decision.kind == StatementKind::Commit {
                        "COMMIT"
                    } else {
                        "ROLLBACK"
                    };
                    self.answer_locally(tag);
                    return true;
                }
                StatementKind::Session if !self.held.is_empty() && is_set_local(sql) => {
                    self.held.push(Bytes::copy_from_slice(frame));
                    self.answer_locally("SET");
                    return true;
                }
                _ => {}
            }
        }
        let shard = match decision.target {
            Target::Shard(k) => k,
            Target::AnyShard => self.any_shard(),
            Target::Shards(_) | Target::AllShards => {
                let atomic = self.cross_shard_enabled()
                    && matches!(decision.kind, StatementKind::Write | StatementKind::Read)
                    && (self.in_transaction() || decision.kind == StatementKind::Write);
                if atomic {
                    if !self.expect.is_empty() || self.passthrough > 0 {
                        return false; // let pipelined work finish first
                    }
                    let shards = match decision.target {
                        Target::Shards(ref v) => v.clone(),
                        _ => (0..self.user.shard_pools.len() as u32).collect(),
                    };
                    if let Some(refusal) = shards
                        .iter()
                        .find_map(|&k| self.write_refusal(decision.kind, k))
                    {
                        self.refuse_simple(refusal);
                        return true;
                    }
                    let text = decision.rewritten_sql.as_deref().unwrap_or(sql).to_string();
                    let work = shards.into_iter().map(|k| (k, text.clone())).collect();
                    Box::pin(self.run_across(work, &decision)).await;
                    return true;
                }
                if self.in_transaction() {
                    self.refuse_simple(
                        ErrorResponse::error(
                            SqlState::FeatureNotSupported,
                            "this statement needs several shards, which is not supported inside a transaction",
                        )
                        .with_hint("run it outside the transaction, or constrain it to one user_id"),
                    );
                    return true;
                }
                if !self.expect.is_empty() {
                    if !self.expect.batch_closed() {
                        self.refuse_simple(ErrorResponse::error(
                            SqlState::FeatureNotSupported,
                            "this statement needs several shards, but it is pipelined inside an unfinished batch on one shard",
                        ));
                        return true;
                    }
                    return false; // let pipelined work finish first
                }
                let shards = match decision.target {
                    Target::Shards(ref v) => v.clone(),
                    _ => (0..self.user.shard_pools.len() as u32).collect(),
                };
                if decision.kind != StatementKind::Read {
                    if let Some(refusal) = shards
                        .iter()
                        .find_map(|&k| self.write_refusal(decision.kind, k))
                    {
                        self.refuse_simple(refusal);
                        return true;
                    }
                }
                // Boxed: a multi-shard statement's state (several
                // checkouts and replies) is not reserved in every session.
                match decision.kind {
                    StatementKind::Read => {
                        Box::pin(self.scatter_read(sql, shards, &decision)).await
                    }
                    _ => Box::pin(self.broadcast(sql)).await,
                }
                return true;
            }
        };
        if let Some(refusal) = self.write_refusal(decision.kind, shard) {
            self.refuse_simple(refusal);
            return true;
        }
        match self.place_on(shard).await {
            Placement::Ready => {
                self.forward_query(frame);
                true
            }
            Placement::Stall => false,
            Placement::Refused(e) => {
                self.refuse_simple(e);
                true
            }
        }
    }
}

/// Parse + Bind (text results) + Describe + Execute + Sync of an unnamed
/// statement, for one shard of an extended-protocol scatter read.
pub(super) fn extended_request(sql: &str, param_types: &[u32], bind: &Bind<'_>) -> BytesMut {
    let mut out = BytesMut::new();
    builder::frame(&mut out, b'P', |b| {
        builder::put_cstr(b, b"");
        builder::put_cstr(b, sql.as_bytes());
        b.put_i16(param_types.len() as i16);
        for t in param_types {
            b.put_u32(*t);
        }
    });
    builder::frame(&mut out, b'B', |b| {
        builder::put_cstr(b, b"");
        builder::put_cstr(b, b"");
        b.put_i16(bind.params.len() as i16);
        for p in &bind.params {
            b.put_i16(i16::from(p.binary));
        }
        b.put_i16(bind.params.len() as i16);
        for p in &bind.params {
            match p.value {
                Some(v) => {
                    b.put_i32(v.len() as i32);
                    b.put_slice(v);
                }
                None => b.put_i32(-1),
            }
        }
        b.put_i16(0); // every result column as text, for merging
    });
    builder::frame(&mut out, b'D', |b| {
        b.put_u8(b'P');
        builder::put_cstr(b, b"");
    });
    builder::frame(&mut out, b'E', |b| {
        builder::put_cstr(b, b"");
        b.put_i32(0);
    });
    builder::frame(&mut out, b'S', |_| {});
    out
}

/// The shards' replies as the merger takes them.
fn shard_results(replies: Vec<ShardReply>) -> Vec<ShardResult> {
    replies
        .into_iter()
        .map(|r| ShardResult {
            row_description: r.reply.row_description,
            rows: r.reply.rows,
            command_tag: r.reply.command_tags.last().cloned().unwrap_or_default(),
        })
        .collect()
}

fn first_error(replies: &[ShardReply]) -> Option<Bytes> {
    replies
        .iter()
        .find_map(|r| r.reply.error.as_ref().map(|(_, frame)| frame.clone()))
}

/// Whether `sql` is an UPDATE or a DELETE (its first word).
fn updates_or_deletes(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    first.eq_ignore_ascii_case("update") || first.eq_ignore_ascii_case("delete")
}

fn is_set_local(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(|w| w.to_ascii_lowercase())
        .collect();
    words.len() == 2 && words[0] == "set" && words[1] == "local"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_set_local() {
        assert!(is_set_local("SET LOCAL work_mem = '1MB'"));
        assert!(is_set_local("set  local x = 1"));
        assert!(!is_set_local("SET work_mem = '1MB'"));
    }
}
