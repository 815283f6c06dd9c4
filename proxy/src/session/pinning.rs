//! The session's side of `isolation`: each statement's effect on state
//! that outlives transactions is applied to the client's pins (or the
//! statement refused), a pinned client keeps its server connection, and a
//! connection is cleaned before it goes back to the pool.

use super::Session;
use crate::config::{PoolMode, StatePolicy};
use crate::isolation::{refusal, Cleanup};
use crate::protocol::ErrorResponse;
use shardwire_router::session_state::may_leave_state;
use shardwire_router::{state_effects, LingeringKind, StateEffect};
use std::sync::atomic::Ordering;

impl Session {
    /// Applies what `sql` does to state that outlives transactions (under
    /// transaction pooling); `Err`: a statement of it is refused by
    /// `[proxy.session_state]` and nothing of it may be sent.
    pub(super) fn note_state(&mut self, sql: &[u8]) -> Result<(), ErrorResponse> {
        if self.mode != PoolMode::Transaction || !may_leave_state(sql) {
            return Ok(());
        }
        let text = String::from_utf8_lossy(sql);
        let effects = state_effects(&text);
        if effects.is_empty() {
            return Ok(());
        }
        let policies = &self.ctx.config.proxy.session_state;
        for effect in &effects {
            if let StateEffect::Creates {
                kind, statement, ..
            } = effect
            {
                if policies.policy(*kind) == StatePolicy::Refuse {
                    self.ctx
                        .metrics
                        .session_state_refused
                        .with_label_values(&[kind.label()])
                        .inc();
                    return Err(refusal::refused(*kind, statement));
                }
            }
        }
        let pins = self.pins.get_or_insert_with(Box::default);
        let was_pinned = pins.is_pinned();
        for effect in &effects {
            if let Some(kind) = pins.apply(effect) {
                self.ctx
                    .metrics
                    .session_pins
                    .with_label_values(&[kind.label()])
                    .inc();
            }
        }
        let pinned = pins.is_pinned();
        let bits = pins.bits();
        self.cancel.slot.pinned.store(bits, Ordering::Relaxed);
        let shard = self
            .server
            .as_ref()
            .map_or_else(|| self.any_shard(), |a| a.shard);
        self.cancel
            .slot
            .pinned_shard
            .store(shard, Ordering::Relaxed);
        match (was_pinned, pinned) {
            (false, true) => self.ctx.metrics.pinned_clients.inc(),
            (true, false) => self.ctx.metrics.pinned_clients.dec(),
            _ => {}
        }
        Ok(())
    }

    /// A temporary table belongs to its client's session, not to the
    /// schema every shard shares: DDL that creates one runs where the
    /// session is (any shard), not on every shard.
    pub(super) fn keep_temp_objects_local(
        &self,
        decision: &mut shardwire_router::Decision,
        sql: &str,
    ) {
        use shardwire_router::{StatementKind, Target};
        let creates_temp = || {
            state_effects(sql).iter().any(|e| {
                matches!(
                    e,
                    StateEffect::Creates {
                        kind: LingeringKind::TempObject,
                        ..
                    }
                )
            })
        };
        if matches!(decision.target, Target::Shards(_) | Target::AllShards)
            && decision.kind == StatementKind::Ddl
            && creates_temp()
        {
            decision.target = Target::AnyShard;
        }
    }

    /// Whether `sql` uses only this client's temporary tables: it runs
    /// where they are, not where the sharding rules would send a table of
    /// that name.
    pub(super) fn on_temp_tables_only(&self, sql: &str) -> bool {
        self.pins.as_ref().is_some_and(|p| {
            !p.temp_tables().is_empty() && shardwire_router::only_temp_tables(sql, p.temp_tables())
        })
    }

    /// Whether the client's session state keeps its server connection.
    pub(super) fn is_pinned(&self) -> bool {
        self.pins.as_ref().is_some_and(|p| p.is_pinned())
    }

    /// The state that pins the client, for messages.
    pub(super) fn pin_reasons(&self) -> String {
        self.pins.as_ref().map(|p| p.describe()).unwrap_or_default()
    }

    /// Whether the client holds `name` as a SQL-prepared statement (its
    /// `DEALLOCATE` then goes to the server), or any when `name` is None.
    pub(super) fn holds_sql_prepared(&self, name: Option<&str>) -> bool {
        self.pins.as_ref().is_some_and(|p| match name {
            Some(name) => p.holds_prepared(name),
            None => p.holds(LingeringKind::SqlPrepared),
        })
    }

    /// Whether the server is idle, no longer pinned, and must be cleaned
    /// before it goes back to the pool.
    pub(super) fn needs_cleanup_now(&self) -> bool {
        self.pins
            .as_ref()
            .is_some_and(|p| !p.is_pinned() && p.cleanup() != Cleanup::None)
            && self.mode == PoolMode::Transaction
            && self.expect.is_empty()
            && self.passthrough == 0
            && self.server.as_ref().is_some_and(|a| a.conn.is_idle())
    }

    /// Leaves the attached server with no state of this client's: `DISCARD
    /// ALL` (the parameters are re-synced at the next checkout), or marks it
    /// to be closed after `LOAD` or when the discard fails.
    pub(super) async fn clean_server(&mut self) {
        let Some(pins) = self.pins.as_mut() else {
            return;
        };
        let cleanup = pins.cleanup();
        if pins.is_pinned() {
            self.ctx.metrics.pinned_clients.dec();
        }
        pins.cleaned();
        self.cancel.slot.pinned.store(0, Ordering::Relaxed);
        let Some(a) = self.server.as_mut() else {
            return;
        };
        let action = match cleanup {
            Cleanup::None => return,
            Cleanup::Close => {
                a.conn.broken = true;
                "close"
            }
            Cleanup::Discard => {
                a.unnamed_valid = false;
                let conn = &mut a.conn;
                if super::attach::internal_query(conn, "DISCARD ALL", false)
                    .await
                    .is_ok()
                {
                    conn.params.reset_all();
                    conn.prepared.clear();
                    "discard"
                } else {
                    conn.broken = true;
                    "close"
                }
            }
        };
        self.ctx
            .metrics
            .server_cleanups
            .with_label_values(&[action])
            .inc();
    }

    /// Pins the client is leaving with (the gauge counts it no more).
    pub(super) fn forget_pins_on_drop(&mut self) {
        if self.pins.take().is_some_and(|p| p.is_pinned()) {
            self.ctx.metrics.pinned_clients.dec();
        }
    }
}
