//! What the proxy does with each message a logged-in client sends: forward
//! it untouched, rewrite a statement name to its proxy-wide name, inject a
//! Parse the server connection lacks, answer locally (Close, Sync with no
//! server, DEALLOCATE), or refuse it with an ErrorResponse.

use super::expect::Expect;
use super::routing::Placement;
use super::statements::PreparedStatement;
use super::{Session, SessionEnd};
use crate::config::PoolMode;
use crate::protocol::bind;
use crate::protocol::builder;
use crate::protocol::frame::{describe_tag, peek_header};
use crate::protocol::reader::BodyReader;
use crate::protocol::{ErrorResponse, SqlState};
use bytes::{Bytes, BytesMut};
use shardwire_router::{session_effects, BindParam, SessionEffect, StatementKind, Target};
use std::sync::Arc;

/// Whether a client message was handled or must wait its turn.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Done,
    Stall,
}

/// The outcome of routing a Bind.
enum BindRoute {
    Proceed,
    Done,
    Stall,
}

/// A simple Query frame for `sql`.
fn query_frame(sql: &str) -> Bytes {
    let mut out = BytesMut::new();
    builder::query(&mut out, sql);
    out.freeze()
}

/// Whether `sql` (or a Query body) begins with the word `DEALLOCATE`.
pub(super) fn starts_with_deallocate(sql: &[u8]) -> bool {
    let start = sql
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(sql.len());
    sql[start..]
        .get(..10)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"deallocate"))
}

fn malformed(what: &str) -> SessionEnd {
    SessionEnd::Fatal(ErrorResponse::fatal(
        SqlState::ProtocolViolation,
        format!("malformed {what} message"),
    ))
}

impl Session {
    /// Handles every complete message in the client buffer, in order; stops
    /// at a message that has to wait for the server in use to be released.
    pub(super) async fn process_client_input(&mut self) -> Result<(), SessionEnd> {
        if let Some(frame) = self.stalled.take() {
            if self.on_client_message(frame[0], &frame).await? == Flow::Stall {
                self.stalled = Some(frame);
                return Ok(());
            }
        }
        loop {
            let header = match peek_header(&self.client_in, self.ctx.config.proxy.max_message_size)
            {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(()),
                Err(e) => {
                    return Err(SessionEnd::Fatal(ErrorResponse::fatal(
                        SqlState::ProtocolViolation,
                        e.to_string(),
                    )))
                }
            };
            if self.client_in.len() < header.frame_len {
                self.client_in
                    .reserve(header.frame_len - self.client_in.len());
                return Ok(());
            }
            let frame = self.client_in.split_to(header.frame_len);
            if self.on_client_message(header.tag, &frame).await? == Flow::Stall {
                self.stalled = Some(Box::new(frame));
                return Ok(());
            }
        }
    }

    async fn on_client_message(&mut self, tag: u8, frame: &BytesMut) -> Result<Flow, SessionEnd> {
        let body = &frame[5..];
        if self.skip_until_sync && !matches!(tag, b'S' | b'X') {
            return Ok(Flow::Done);
        }
        match tag {
            b'Q' => self.on_query(frame, body).await,
            b'B' => self.on_bind(frame, body).await,
            other => self
                .on_other_message(other, frame, body)
                .await
                .map(|()| Flow::Done),
        }
    }

    async fn on_other_message(
        &mut self,
        tag: u8,
        frame: &BytesMut,
        body: &[u8],
    ) -> Result<(), SessionEnd> {
        match tag {
            b'P' => self.on_parse(frame, body).await,
            b'D' => self.on_describe(frame, body).await,
            b'C' => self.on_close(frame, body),
            b'E' => {
                if let Some(result) = self.portal_result.take() {
                    self.emit(result.rows_and_tag);
                    return Ok(());
                }
                if let Some(tag) = self.local_execute.take() {
                    let mut out = BytesMut::new();
                    builder::command_complete(&mut out, tag);
                    self.emit(out.freeze());
                    return Ok(());
                }
                if let Err(e) = self.attach().await {
                    self.refuse_extended(e);
                    return Ok(());
                }
                self.forward_execute(frame);
                Ok(())
            }
            b'S' => {
                self.skip_until_sync = false;
                self.portal_result = None;
                self.local_execute = None;
                if self.pending_describe.is_some() {
                    // No statement fixed the shard: describe it anywhere,
                    // the BEGIN stays held.
                    if let Err(e) = self.attach().await {
                        self.pending_describe = None;
                        self.refuse_extended(e);
                        self.skip_until_sync = false;
                    } else {
                        self.send_pending_describe();
                    }
                }
                if self.server.is_some() {
                    self.forward_sync(frame);
                } else {
                    let mut out = BytesMut::new();
                    builder::ready_for_query(&mut out, self.local_status());
                    self.emit(out.freeze());
                }
                Ok(())
            }
            b'H' => {
                if self.server.is_some() {
                    self.forward(frame);
                }
                Ok(())
            }
            b'F' => {
                if let Err(e) = self.attach().await {
                    self.refuse_simple(e);
                    return Ok(());
                }
                self.forward(frame);
                self.expect.push(Expect::FunctionCall);
                Ok(())
            }
            // COPY data outside a COPY is ignored, as PostgreSQL does.
            b'd' => {
                if self.server.is_some() {
                    self.forward(frame);
                }
                Ok(())
            }
            b'c' | b'f' => {
                if self.server.is_some() {
                    self.forward(frame);
                    if self.copy_in_active {
                        self.copy_in_active = false;
                    } else if !self.expect.is_empty() {
                        self.expect.push(Expect::CopyEnd);
                    }
                }
                Ok(())
            }
            b'X' => Err(SessionEnd::ClientGone),
            other => Err(SessionEnd::Fatal(ErrorResponse::fatal(
                SqlState::ProtocolViolation,
                format!("invalid frontend message type {}", describe_tag(other)),
            ))),
        }
    }

    /// Queues bytes for the server (a server must be attached).
    pub(super) fn forward(&mut self, bytes: &[u8]) {
        if let Some(a) = self.server.as_mut() {
            a.conn.send(bytes);
            if self.request_started.is_none() {
                self.request_started = Some(if a.fresh {
                    a.conn.checked_out_at()
                } else {
                    std::time::Instant::now()
                });
            }
            a.fresh = false;
        }
    }

    /// Sends the client bytes of the proxy's own, in order with the replies
    /// still expected from the server.
    pub(super) fn emit(&mut self, bytes: Bytes) {
        if self.expect.is_empty() {
            self.to_client.extend_from_slice(&bytes);
        } else {
            self.expect.push(Expect::Synthetic(bytes));
        }
    }

    /// Reports an error in the extended protocol: the client's messages up
    /// to Sync are then ignored, as PostgreSQL does after an error.
    pub(super) fn refuse_extended(&mut self, error: ErrorResponse) {
        self.count_error(&error);
        let mut out = BytesMut::new();
        error.encode(&mut out);
        self.emit(out.freeze());
        self.skip_until_sync = true;
        self.fail_server_batch();
    }

    /// Reports an error for a simple Query or FunctionCall.
    /// The refusal when the user's statement rate limit is exhausted
    /// (takes a token otherwise).
    fn over_rate(&self) -> Option<ErrorResponse> {
        let bucket = self.user.rate.as_ref()?;
        if self.in_transaction() {
            // A refusal inside a transaction would not abort it on the
            // server: statements of an open transaction are not limited
            // (its first statement was).
            return None;
        }
        let wait = bucket.try_take(std::time::Instant::now()).err()?;
        self.ctx
            .metrics
            .rate_limited
            .with_label_values(&[&self.user.name])
            .inc();
        Some(bucket.refusal(&self.user.name, wait))
    }

    pub(super) fn refuse_simple(&mut self, error: ErrorResponse) {
        self.count_error(&error);
        let mut out = BytesMut::new();
        error.encode(&mut out);
        let status = if self.fail_server_transaction() {
            b'E'
        } else {
            self.local_status()
        };
        builder::ready_for_query(&mut out, status);
        self.emit(out.freeze());
    }

    /// Forwards a simple Query to the attached server.
    pub(super) fn forward_query(&mut self, frame: &[u8]) {
        if let Some(t) = self.traffic() {
            t.queries.inc();
        }
        self.forward(frame);
        self.expect.push(Expect::Query);
    }

    /// Forwards an Execute (a server is attached).
    pub(super) fn forward_execute(&mut self, frame: &[u8]) {
        if let Some(t) = self.traffic() {
            t.queries.inc();
        }
        self.forward(frame);
        self.expect.push(Expect::Execute);
    }

    /// Forwards a Sync (a server is attached).
    pub(super) fn forward_sync(&mut self, frame: &[u8]) {
        self.forward(frame);
        if !self.copy_in_active {
            self.expect.push(Expect::Sync);
        }
    }

    fn note_effects(&mut self, sql: &[u8]) {
        if !shardwire_router::session_effects::may_have_effects(sql) {
            return;
        }
        let Ok(sql) = std::str::from_utf8(sql) else {
            return;
        };
        for effect in session_effects(sql) {
            match effect {
                SessionEffect::Set(name) | SessionEffect::Reset(name) => {
                    if !self.touched.contains(&name) {
                        self.touched.push(name);
                    }
                }
                // DISCARD ALL and DEALLOCATE ALL are confirmed by their
                // CommandComplete tags; RESET ALL's tag is a bare RESET.
                SessionEffect::ResetAll => self.pending.reset_all_sent = true,
                SessionEffect::DiscardAll
                | SessionEffect::DeallocateAll
                | SessionEffect::Deallocate(_)
                | SessionEffect::SetLocal
                | SessionEffect::DiscardOther => {}
            }
        }
    }

    async fn on_query(&mut self, frame: &[u8], body: &[u8]) -> Result<Flow, SessionEnd> {
        let Some(sql) = self.query_prelude(body)? else {
            return Ok(Flow::Done);
        };
        if self.sharded() {
            let text = String::from_utf8_lossy(sql);
            return Ok(if self.route_query(frame, &text).await {
                Flow::Done
            } else {
                Flow::Stall
            });
        }
        if let Err(e) = self.attach().await {
            self.refuse_simple(e);
            return Ok(Flow::Done);
        }
        self.forward_query(frame);
        Ok(Flow::Done)
    }

    /// What every simple Query goes through before it is forwarded: the
    /// rate limit, a `DEALLOCATE` answered locally (`None`: answered), and
    /// the session changes it makes. Returns its SQL.
    pub(super) fn query_prelude<'b>(
        &mut self,
        body: &'b [u8],
    ) -> Result<Option<&'b [u8]>, SessionEnd> {
        let sql = BodyReader::new(body)
            .cstr()
            .ok_or_else(|| malformed("Query"))?;
        if let Some(e) = self.over_rate() {
            self.refuse_simple(e);
            return Ok(None);
        }
        if self.mode == PoolMode::Transaction && self.answer_deallocate(sql) {
            return Ok(None);
        }
        if let Err(e) = self.note_state(sql) {
            self.refuse_simple(e);
            return Ok(None);
        }
        self.note_effects(sql);
        Ok(Some(sql))
    }

    /// `DEALLOCATE name|ALL` of protocol-level statements is answered by the
    /// proxy: the names are the client's, not the server's.
    fn answer_deallocate(&mut self, sql: &[u8]) -> bool {
        if !starts_with_deallocate(sql) {
            return false;
        }
        let Ok(text) = std::str::from_utf8(sql) else {
            return false;
        };
        let first = text.trim_start();
        if !first
            .as_bytes()
            .get(..10)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"deallocate"))
        {
            return false;
        }
        if shardwire_router::statements(text).len() != 1 {
            return false;
        }
        let effects = session_effects(text);
        let sql_prepared = match effects.first() {
            Some(SessionEffect::DeallocateAll) => self.holds_sql_prepared(None),
            Some(SessionEffect::Deallocate(name)) => self.holds_sql_prepared(Some(name)),
            _ => false,
        };
        if sql_prepared {
            // The client's own SQL-level PREPARE lives on the server.
            return false;
        }
        let tag = match effects.first() {
            Some(SessionEffect::DeallocateAll) => {
                self.statements.clear();
                "DEALLOCATE ALL"
            }
            Some(SessionEffect::Deallocate(name)) => {
                if !self.statements.remove(name.as_bytes()) {
                    // The server's statements are the proxy's, shared by
                    // clients: never let a client drop one.
                    self.refuse_simple(ErrorResponse::error(
                        SqlState::FromServer(*b"26000"),
                        format!("prepared statement \"{name}\" does not exist"),
                    ));
                    return true;
                }
                "DEALLOCATE"
            }
            _ => return false,
        };
        self.answer_locally(tag);
        true
    }

    async fn on_parse(&mut self, frame: &[u8], body: &[u8]) -> Result<(), SessionEnd> {
        let mut r = BodyReader::new(body);
        let name = r.cstr().ok_or_else(|| malformed("Parse"))?;
        let after_name = &body[r.position()..];
        let query = r.cstr().ok_or_else(|| malformed("Parse"))?;
        let n_types = r.i16().ok_or_else(|| malformed("Parse"))?;
        if n_types < 0 || r.bytes(n_types as usize * 4).is_none() {
            return Err(malformed("Parse"));
        }
        if let Err(e) = self.note_state(query) {
            self.refuse_extended(e);
            return Ok(());
        }
        self.note_effects(query);
        let plan = if self.sharded() && !self.on_temp_tables_only(&String::from_utf8_lossy(query)) {
            match self.ctx.router.prepare(&String::from_utf8_lossy(query)) {
                Ok(plan) => Some(plan),
                Err(e) => {
                    self.refuse_extended(super::routing::route_error(&e));
                    return Ok(());
                }
            }
        } else {
            None
        };
        if name.is_empty() || self.mode == PoolMode::Session {
            if name.is_empty() {
                let statement = plan.map(|p| {
                    Arc::new(PreparedStatement::new(
                        &self.ctx.statements,
                        after_name,
                        Some(p),
                    ))
                });
                let unnamed = self.unnamed.get_or_insert_with(Default::default);
                unnamed.parse.clear();
                unnamed.parse.extend_from_slice(frame);
                unnamed.statement = statement;
            }
            if self.sharded() && self.server.is_none() {
                // Which shard runs it is known only at Bind: prepare there.
                let mut out = BytesMut::new();
                builder::parse_complete(&mut out);
                self.emit(out.freeze());
                return Ok(());
            }
            if let Err(e) = self.attach().await {
                self.refuse_extended(e);
                return Ok(());
            }
            if name.is_empty() {
                if let Some(a) = self.server.as_mut() {
                    a.unnamed_valid = true;
                }
            }
            self.forward(frame);
            self.expect.push(Expect::Parse {
                injected: false,
                statement: None,
                client_name: None,
            });
            return Ok(());
        }
        if self.statements.get(name).is_some() {
            self.refuse_extended(ErrorResponse::error(
                SqlState::DuplicatePreparedStatement,
                format!(
                    "prepared statement \"{}\" already exists",
                    String::from_utf8_lossy(name)
                ),
            ));
            return Ok(());
        }
        let stmt = Arc::new(PreparedStatement::new(
            &self.ctx.statements,
            after_name,
            plan,
        ));
        if self.sharded() && self.server.is_none() {
            self.statements.insert(name, stmt);
            let mut out = BytesMut::new();
            builder::parse_complete(&mut out);
            self.emit(out.freeze());
            return Ok(());
        }
        if let Err(e) = self.attach().await {
            self.refuse_extended(e);
            return Ok(());
        }
        self.statements.insert(name, stmt.clone());
        let Some(a) = self.server.as_mut() else {
            return Ok(());
        };
        if a.conn.prepared.contains(&stmt.id) {
            let mut out = BytesMut::new();
            builder::parse_complete(&mut out);
            self.emit(out.freeze());
        } else {
            a.conn.prepared.insert(stmt.id);
            a.conn.send(&stmt.parse_frame);
            self.expect.push(Expect::Parse {
                injected: false,
                statement: Some(stmt.id),
                client_name: Some(name.into()),
            });
        }
        Ok(())
    }

    /// Makes sure the attached server has `stmt`, injecting its Parse.
    fn ensure_prepared(&mut self, stmt: &PreparedStatement) {
        let Some(a) = self.server.as_mut() else {
            return;
        };
        if a.conn.prepared.insert(stmt.id) {
            a.conn.send(&stmt.parse_frame);
            self.expect.push(Expect::Parse {
                injected: true,
                statement: Some(stmt.id),
                client_name: None,
            });
        }
    }

    /// Makes sure the attached server has the client's unnamed statement.
    fn ensure_unnamed(&mut self) {
        let Some(a) = self.server.as_mut() else {
            return;
        };
        if a.unnamed_valid {
            return;
        }
        if let Some(parse) = self
            .unnamed
            .as_ref()
            .map(|u| &u.parse[..])
            .filter(|p| !p.is_empty())
        {
            a.conn.send(parse);
            a.unnamed_valid = true;
            self.expect.push(Expect::Parse {
                injected: true,
                statement: None,
                client_name: None,
            });
        }
    }

    /// Forwards `frame` with the statement name at `name_at..name_end` of the
    /// body replaced by the proxy-wide name.
    fn forward_renamed(
        &mut self,
        frame: &[u8],
        name_at: usize,
        name_end: usize,
        server_name: &str,
    ) {
        let body = &frame[5..];
        let Some(a) = self.server.as_mut() else {
            return;
        };
        a.conn.in_sync = false;
        builder::frame(&mut a.conn.out, frame[0], |b| {
            b.extend_from_slice(&body[..name_at]);
            builder::put_cstr(b, server_name.as_bytes());
            b.extend_from_slice(&body[name_end + 1..]);
        });
    }

    /// Shared by Bind and Describe('S'): route a statement reference.
    fn forward_statement_ref(&mut self, frame: &[u8], name: &[u8], name_at: usize) {
        if name.is_empty() {
            self.ensure_unnamed();
            self.forward(frame);
            return;
        }
        let mapped = match self.mode {
            PoolMode::Transaction => self.statements.get(name).cloned(),
            PoolMode::Session => None,
        };
        match mapped {
            Some(stmt) => {
                self.ensure_prepared(&stmt);
                self.forward_renamed(frame, name_at, name_at + name.len(), &stmt.server_name);
            }
            // Unknown names go through unchanged; the server reports 26000.
            None => self.forward(frame),
        }
    }

    async fn on_bind(&mut self, frame: &[u8], body: &[u8]) -> Result<Flow, SessionEnd> {
        let Some(bind) = self.bind_prelude(body)? else {
            return Ok(Flow::Done);
        };
        let name = bind.statement;
        let name_at = bind.statement_at;
        if self.sharded() {
            match self.route_bind(&bind).await {
                BindRoute::Proceed => {}
                BindRoute::Done => return Ok(Flow::Done),
                BindRoute::Stall => return Ok(Flow::Stall),
            }
        } else if let Err(e) = self.attach().await {
            self.refuse_extended(e);
            return Ok(Flow::Done);
        }
        self.forward_bind(frame, name, name_at);
        Ok(Flow::Done)
    }

    /// Decodes a Bind and applies the rate limit (`None`: refused).
    pub(super) fn bind_prelude<'b>(
        &mut self,
        body: &'b [u8],
    ) -> Result<Option<bind::Bind<'b>>, SessionEnd> {
        let bind = bind::decode(body).ok_or_else(|| malformed("Bind"))?;
        if let Some(e) = self.over_rate() {
            self.refuse_extended(e);
            return Ok(None);
        }
        if !bind.statement.is_empty() && self.mode == PoolMode::Transaction {
            // A named statement that takes a lock (or the like) takes it
            // again at each execution, possibly after the client let go.
            let again = self
                .statements
                .get(bind.statement)
                .filter(|s| s.leaves_state)
                .cloned();
            if let Some(stmt) = again {
                if let Err(e) = self.note_state(stmt.sql.as_bytes()) {
                    self.refuse_extended(e);
                    return Ok(None);
                }
            }
        }
        Ok(Some(bind))
    }

    /// Forwards a Bind of statement `name` (at `name_at` in the frame's
    /// body) on the attached server, after a Describe held for it.
    pub(super) fn forward_bind(&mut self, frame: &[u8], name: &[u8], name_at: usize) {
        self.send_pending_describe();
        self.forward_statement_ref(frame, name, name_at);
        self.expect.push(Expect::Bind);
    }

    /// Forwards a Describe held while no shard was chosen (a server must
    /// be attached).
    fn send_pending_describe(&mut self) {
        let Some(describe) = self.pending_describe.take() else {
            return;
        };
        let mut r = BodyReader::new(&describe[5..]);
        let _kind = r.u8();
        let name_at = r.position();
        let name = r.cstr().unwrap_or(b"").to_vec();
        self.forward_statement_ref(&describe, &name, name_at);
        self.expect.push(Expect::Describe);
    }

    /// Routes a Bind by its statement's plan and parameters: places the
    /// session on the shard, or answers a held-back BEGIN/COMMIT locally.
    async fn route_bind(&mut self, bind: &bind::Bind<'_>) -> BindRoute {
        let stmt = if bind.statement.is_empty() {
            self.unnamed.as_ref().and_then(|u| u.statement.clone())
        } else {
            self.statements.get(bind.statement).cloned()
        };
        let Some(stmt) = stmt else {
            // Unknown statement: any server reports 26000.
            return self.place_or_refuse(None).await;
        };
        let Some(plan) = stmt.plan.as_ref() else {
            return self.place_or_refuse(None).await;
        };
        if self.replica_read_possible() && Box::pin(self.try_replica_bind(&stmt, bind)).await {
            return BindRoute::Done;
        }
        let params: Vec<BindParam<'_>> = bind
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| BindParam {
                value: p.value,
                binary: p.binary,
                type_oid: stmt.param_types.get(i).copied().unwrap_or(0),
            })
            .collect();
        let mut decision = match self
            .ctx
            .router
            .route_bind(plan, &params, &self.current_hints())
        {
            Ok(d) => d,
            Err(e) => {
                self.refuse_extended(super::routing::route_error(&e));
                return BindRoute::Done;
            }
        };
        self.keep_temp_objects_local(&mut decision, &stmt.sql);
        if self.in_cross_shard() {
            if matches!(
                decision.kind,
                StatementKind::Commit | StatementKind::Rollback
            ) {
                if !self.expect.is_empty() || self.passthrough > 0 {
                    return BindRoute::Stall;
                }
                let commit = decision.kind == StatementKind::Commit;
                match Box::pin(self.finish_cross_shard(commit)).await {
                    super::cross_shard::Finished::Tag(tag) => {
                        let mut out = BytesMut::new();
                        builder::frame(&mut out, b'2', |_| {});
                        self.emit(out.freeze());
                        self.local_execute = Some(tag);
                    }
                    super::cross_shard::Finished::Error(e) => self.refuse_extended(e),
                }
                return BindRoute::Done;
            }
            if let Some(e) = self.cross_shard_refusal(decision.kind) {
                self.refuse_extended(e);
                return BindRoute::Done;
            }
        }
        if self.server.is_none() {
            let local = match decision.kind {
                StatementKind::Begin => {
                    if self.held.is_empty() {
                        self.held.push(query_frame(&stmt.sql));
                    }
                    Some("BEGIN")
                }
                StatementKind::Commit | StatementKind::Rollback if !self.held.is_empty() => {
                    self.held.clear();
                    self.local_hints = None;
                    Some(if decision.kind == StatementKind::Commit {
                        "COMMIT"
                    } else {
                        "ROLLBACK"
                    })
                }
                _ => None,
            };
            if let Some(tag) = local {
                let mut out = BytesMut::new();
                builder::frame(&mut out, b'2', |_| {});
                self.emit(out.freeze());
                self.local_execute = Some(tag);
                return BindRoute::Done;
            }
        }
        if let Target::Shard(_) | Target::AnyShard = decision.target {
            let shard = match decision.target {
                Target::Shard(k) => k,
                _ => self.any_shard(),
            };
            if let Some(refusal) = self.write_refusal(decision.kind, shard) {
                self.refuse_extended(refusal);
                return BindRoute::Done;
            }
        }
        match decision.target {
            Target::Shard(k) => self.place_or_refuse(Some(k)).await,
            Target::AnyShard => self.place_or_refuse(None).await,
            Target::Shards(ref v) if decision.kind == StatementKind::Read => {
                let shards = v.clone();
                Box::pin(self.scatter_bound(&stmt, bind, shards, &decision)).await
            }
            Target::AllShards if decision.kind == StatementKind::Read => {
                let shards = (0..self.user.shard_pools.len() as u32).collect();
                Box::pin(self.scatter_bound(&stmt, bind, shards, &decision)).await
            }
            Target::Shards(_) | Target::AllShards => {
                self.refuse_extended(
                    ErrorResponse::error(
                        SqlState::FeatureNotSupported,
                        "DDL and writes to global tables are run on every shard only through the simple query protocol",
                    )
                    .with_hint("send this statement as a plain query (no parameters)"),
                );
                BindRoute::Done
            }
        }
    }

    /// A scatter read in the extended protocol: never inside a transaction,
    /// and only once pipelined work on the server in use has finished.
    async fn scatter_bound(
        &mut self,
        stmt: &PreparedStatement,
        bind: &bind::Bind<'_>,
        shards: Vec<u32>,
        decision: &shardwire_router::Decision,
    ) -> BindRoute {
        if self.in_transaction() {
            self.refuse_extended(
                ErrorResponse::error(
                    SqlState::FeatureNotSupported,
                    "this statement needs several shards, which is not supported inside a transaction",
                )
                .with_hint("run it outside the transaction, or constrain it to one user_id"),
            );
            return BindRoute::Done;
        }
        if !self.expect.is_empty() {
            if !self.expect.batch_closed() {
                self.refuse_extended(ErrorResponse::error(
                    SqlState::FeatureNotSupported,
                    "this statement needs several shards, but it is pipelined inside an unfinished batch on one shard",
                ));
                return BindRoute::Done;
            }
            return BindRoute::Stall;
        }
        self.scatter_extended(stmt, bind, shards, decision).await;
        BindRoute::Done
    }

    async fn place_or_refuse(&mut self, shard: Option<u32>) -> BindRoute {
        let shard = shard.unwrap_or_else(|| self.any_shard());
        match self.place_on(shard).await {
            Placement::Ready => BindRoute::Proceed,
            Placement::Stall => BindRoute::Stall,
            Placement::Refused(e) => {
                self.refuse_extended(e);
                BindRoute::Done
            }
        }
    }

    async fn on_describe(&mut self, frame: &[u8], body: &[u8]) -> Result<(), SessionEnd> {
        let mut r = BodyReader::new(body);
        let kind = r.u8().ok_or_else(|| malformed("Describe"))?;
        let name_at = r.position();
        let name = r.cstr().ok_or_else(|| malformed("Describe"))?;
        if kind == b'P' {
            // Portals the proxy answers itself: a merged scatter read, or
            // a held-back BEGIN (no rows).
            let local = match &self.portal_result {
                Some(result) => Some(result.row_description.clone()),
                None if self.local_execute.is_some() => Some(None),
                None => None,
            };
            if let Some(description) = local {
                let mut out = BytesMut::new();
                match description {
                    Some(t) => out.extend_from_slice(&t),
                    None => builder::frame(&mut out, b'n', |_| {}),
                }
                self.emit(out.freeze());
                return Ok(());
            }
        }
        if kind == b'S'
            && self.sharded()
            && self.server.is_none()
            && self.mode == PoolMode::Transaction
        {
            // The shard is decided at Bind: describe it without attaching.
            // Boxed: the borrowed connection's state stays out of the task.
            Box::pin(self.describe_unattached(name)).await;
            return Ok(());
        }
        if kind == b'S' && self.sharded() && self.server.is_none() && !self.held.is_empty() {
            self.pending_describe = Some(Box::new(BytesMut::from(frame)));
            return Ok(());
        }
        if let Err(e) = self.attach().await {
            self.refuse_extended(e);
            return Ok(());
        }
        self.forward_describe(frame, kind, name, name_at)
    }

    /// Forwards a Describe of statement or portal `name` (at `name_at` in
    /// the frame's body) on the attached server.
    pub(super) fn forward_describe(
        &mut self,
        frame: &[u8],
        kind: u8,
        name: &[u8],
        name_at: usize,
    ) -> Result<(), SessionEnd> {
        match kind {
            b'S' => self.forward_statement_ref(frame, name, name_at),
            b'P' => self.forward(frame),
            _ => return Err(malformed("Describe")),
        }
        self.expect.push(Expect::Describe);
        Ok(())
    }

    fn on_close(&mut self, frame: &[u8], body: &[u8]) -> Result<(), SessionEnd> {
        let mut r = BodyReader::new(body);
        let kind = r.u8().ok_or_else(|| malformed("Close"))?;
        let name = r.cstr().ok_or_else(|| malformed("Close"))?;
        if !matches!(kind, b'S' | b'P') {
            return Err(malformed("Close"));
        }
        let local = kind == b'S' && !name.is_empty() && self.mode == PoolMode::Transaction;
        if local {
            self.statements.remove(name);
        }
        if local || self.server.is_none() {
            // Closing a statement that does not exist is not an error either.
            let mut out = BytesMut::new();
            builder::close_complete(&mut out);
            self.emit(out.freeze());
        } else {
            self.forward(frame);
            self.expect.push(Expect::Close);
        }
        Ok(())
    }
}
