//! Reads that `[[routes]]` send to the replica cluster: outside
//! transactions, one statement at a time, to a node chosen by lag and
//! load. When no node may serve (all down or lagging) or the node fails,
//! the read goes to the shards as usual and the fallback is counted.

use super::routing::extended_request;
use super::statements::PreparedStatement;
use super::Session;
use crate::protocol::bind::Bind;
use crate::protocol::builder;
use crate::replicas::{choose_node, matching_route};
use crate::scatter::execute::{run_on_replica, ShardReply};
use bytes::BytesMut;
use shardwire_router::Described;

impl Session {
    /// Whether this moment allows a replica read: routes exist, no
    /// transaction is open or held, nothing is in flight on a server.
    pub(super) fn replica_read_possible(&self) -> bool {
        !self.ctx.config.routes.is_empty()
            && self.server.is_none()
            && self.expect.is_empty()
            && self.held.is_empty()
            && !self.in_transaction()
    }

    /// Answers the simple query `sql` from a replica node if a route takes
    /// it; false when the shards must answer it.
    pub(super) async fn try_replica_query(&mut self, sql: &str) -> bool {
        if !self.replica_read_possible() || shardwire_router::statements(sql).len() != 1 {
            return false;
        }
        let described = self.ctx.router.describe(sql);
        let mut request = BytesMut::new();
        builder::query(&mut request, sql);
        match self.run_on_replicas(&described, &request).await {
            Some(reply) => {
                self.emit_merged(Ok(vec![reply]), None);
                true
            }
            None => false,
        }
    }

    /// Answers a Bind of `stmt` from a replica node if a route takes it
    /// (BindComplete now, rows at Execute); false when the shards must.
    pub(super) async fn try_replica_bind(
        &mut self,
        stmt: &PreparedStatement,
        bind: &Bind<'_>,
    ) -> bool {
        if !self.replica_read_possible() {
            return false;
        }
        let Some(plan) = stmt.plan.as_ref() else {
            return false;
        };
        let described = plan.describe();
        let request = extended_request(&stmt.sql, &stmt.param_types, bind);
        match self.run_on_replicas(&described, &request).await {
            Some(reply) => {
                self.answer_portal(Ok(vec![reply]), bind, None);
                true
            }
            None => false,
        }
    }

    /// Runs `request` on the chosen replica node when a route matches;
    /// None (with the fallback counted) when the shards must answer.
    async fn run_on_replicas(
        &mut self,
        described: &Described,
        request: &[u8],
    ) -> Option<ShardReply> {
        let settings = self.ctx.replica_settings();
        let route = matching_route(&settings.routes, described)?.name.clone();
        let metrics = &self.ctx.metrics;
        let node = match choose_node(&self.ctx) {
            Ok(node) => node,
            Err(why) => {
                metrics
                    .replica_fallbacks
                    .with_label_values(&[&route, why.name()])
                    .inc();
                return None;
            }
        };
        let started = std::time::Instant::now();
        match run_on_replica(&self.user, node, request, &self.wanted).await {
            Ok(reply) => {
                metrics.observe_replica_read(&self.user.name, started.elapsed().as_secs_f64());
                let label = self
                    .ctx
                    .config
                    .replica_cluster
                    .nodes
                    .get(node)
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                metrics
                    .replica_reads
                    .with_label_values(&[&route, &label])
                    .inc();
                Some(reply)
            }
            Err(e) => {
                tracing::warn!(route, node, error = %e.message, "replica read failed; the shards answer it");
                metrics
                    .replica_fallbacks
                    .with_label_values(&[&route, "error"])
                    .inc();
                None
            }
        }
    }
}
