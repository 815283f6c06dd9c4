//! The Prometheus registry and its handles. Counters are created once per
//! (shard, user) pool at start-up; sessions increment the cloned handles.

use prometheus::{
    GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

/// Traffic through one (shard, user) pool. Cheap to read; the same values
/// appear in `SHOW STATS` and on `/metrics`.
#[derive(Clone)]
pub struct PoolTraffic {
    /// Transactions completed (server connection returned idle).
    pub xacts: IntCounter,
    /// Queries and Executes forwarded.
    pub queries: IntCounter,
    /// Bytes received from clients.
    pub bytes_received: IntCounter,
    /// Bytes sent to clients.
    pub bytes_sent: IntCounter,
    /// Microseconds server connections were held by clients.
    pub xact_time_us: IntCounter,
    /// Microseconds clients waited for a server connection.
    pub wait_time_us: IntCounter,
    /// Seconds from sending a client's request to ReadyForQuery, for
    /// statements routed to this shard.
    pub query_seconds: Histogram,
    /// Seconds waited for a server connection.
    pub checkout_wait_seconds: Histogram,
}

/// All metrics of a proxy instance.
pub struct Metrics {
    /// The registry `/metrics` encodes.
    pub registry: Registry,
    /// Connected clients.
    pub clients: IntGauge,
    /// Errors sent to clients by SQLSTATE class (first two characters).
    pub errors: IntCounterVec,
    /// Server connections by shard, user and state (active/idle/waiting clients).
    pub pool_gauges: IntGaugeVec,
    /// Request latency of scatter-gather reads (all shards).
    pub scatter_seconds: Histogram,
    query_seconds: HistogramVec,
    checkout_wait: HistogramVec,
    xacts: IntCounterVec,
    queries: IntCounterVec,
    bytes_received: IntCounterVec,
    bytes_sent: IntCounterVec,
    xact_time: IntCounterVec,
    wait_time: IntCounterVec,
    /// Failovers and switchovers by shard, kind and outcome.
    pub failovers: IntCounterVec,
    /// Seconds from a primary's first failed check (or a switchover
    /// request) to traffic on the new primary, by kind.
    pub failover_seconds: HistogramVec,
    /// Reads served by replica-cluster nodes, by route and node.
    pub replica_reads: IntCounterVec,
    /// Route-qualifying reads that fell back to the shards, by route and reason.
    pub replica_fallbacks: IntCounterVec,
    /// Per node (set at scrape time): 1 if its last check succeeded.
    pub node_up: GaugeVec,
    /// Per node: seconds behind (heartbeat).
    pub node_lag_seconds: GaugeVec,
    /// Per standby: bytes behind its primary.
    pub node_lag_bytes: GaugeVec,
    /// Per shard: 1 for the phase it is in (serving, failing_over, ...).
    pub shard_state: IntGaugeVec,
    /// Configuration reloads by outcome (ok, failed).
    pub reloads: IntCounterVec,
    /// Statements refused by a user's rate limit.
    pub rate_limited: IntCounterVec,
    /// Clients that began holding their server connection (transaction
    /// pooling) because of session state, by kind of state.
    pub session_pins: IntCounterVec,
    /// Statements refused because they would leave session state on a
    /// pooled connection, by kind of state.
    pub session_state_refused: IntCounterVec,
    /// Clients holding their server connection for session state now.
    pub pinned_clients: IntGauge,
    /// Server connections cleaned (DISCARD ALL) or closed before going
    /// back to the pool, by reason.
    pub server_cleanups: IntCounterVec,
    /// Cross-shard commits by outcome.
    pub two_phase: IntCounterVec,
    /// Prepared cross-shard transactions left unfinished (older than 2 s).
    pub two_phase_in_doubt: IntGauge,
    /// The fleet's metrics.
    pub fleet: super::fleet::FleetMetrics,
}

pub(super) fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let vec = static_metric(GaugeVec::new(Opts::new(name, help), labels));
    let _ = registry.register(Box::new(vec.clone()));
    vec
}

/// Metric definitions are constants: building one fails only for an
/// invalid name in this file, a programming error the unit test below
/// catches; nothing a client or server sends reaches here.
fn static_metric<T>(metric: prometheus::Result<T>) -> T {
    match metric {
        Ok(m) => m,
        Err(e) => panic!("invalid static metric definition: {e}"),
    }
}

pub(super) fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> IntCounterVec {
    let vec = static_metric(IntCounterVec::new(Opts::new(name, help), labels));
    let _ = registry.register(Box::new(vec.clone()));
    vec
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let clients = static_metric(IntGauge::new(
            "shardwire_clients",
            "Connected client sessions",
        ));
        let _ = registry.register(Box::new(clients.clone()));
        let pool_gauges = static_metric(IntGaugeVec::new(
            Opts::new(
                "shardwire_pool_connections",
                "Pool state by shard, user and state (active, idle, waiting)",
            ),
            &["shard", "user", "state"],
        ));
        let _ = registry.register(Box::new(pool_gauges.clone()));
        let pool = ["shard", "user"];
        let buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let query_seconds = static_metric(HistogramVec::new(
            HistogramOpts::new(
                "shardwire_query_duration_seconds",
                "Time from forwarding a client's request to ReadyForQuery, by shard, user and route",
            )
            .buckets(buckets.clone()),
            &["shard", "user", "route"],
        ));
        let _ = registry.register(Box::new(query_seconds.clone()));
        let checkout_wait = static_metric(HistogramVec::new(
            HistogramOpts::new(
                "shardwire_checkout_wait_seconds",
                "Time clients waited for a server connection",
            )
            .buckets(buckets),
            &pool,
        ));
        let _ = registry.register(Box::new(checkout_wait.clone()));
        let scatter_seconds = query_seconds.with_label_values(&["all", "*", "scatter"]);
        let failover_seconds = static_metric(HistogramVec::new(
            HistogramOpts::new(
                "shardwire_failover_duration_seconds",
                "From the primary's first failed check (or the switchover request) to traffic on the new primary",
            )
            .buckets(vec![0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0]),
            &["kind"],
        ));
        let _ = registry.register(Box::new(failover_seconds.clone()));
        let shard_state = static_metric(IntGaugeVec::new(
            Opts::new(
                "shardwire_shard_state",
                "1 for the state each shard is in (serving, suspect, unreachable, failing_over, down)",
            ),
            &["shard", "state"],
        ));
        let _ = registry.register(Box::new(shard_state.clone()));
        let node = ["node", "role", "shard"];
        Metrics {
            scatter_seconds,
            query_seconds,
            checkout_wait,
            clients,
            pool_gauges,
            errors: counter_vec(
                &registry,
                "shardwire_client_errors_total",
                "ErrorResponses sent to clients by SQLSTATE class",
                &["class"],
            ),
            xacts: counter_vec(
                &registry,
                "shardwire_transactions_total",
                "Transactions completed",
                &pool,
            ),
            queries: counter_vec(
                &registry,
                "shardwire_queries_total",
                "Queries and Executes forwarded",
                &pool,
            ),
            bytes_received: counter_vec(
                &registry,
                "shardwire_client_bytes_received_total",
                "Bytes received from clients",
                &pool,
            ),
            bytes_sent: counter_vec(
                &registry,
                "shardwire_client_bytes_sent_total",
                "Bytes sent to clients",
                &pool,
            ),
            xact_time: counter_vec(
                &registry,
                "shardwire_transaction_time_microseconds_total",
                "Time server connections were held by clients",
                &pool,
            ),
            wait_time: counter_vec(
                &registry,
                "shardwire_checkout_wait_microseconds_total",
                "Time clients waited for a server connection",
                &pool,
            ),
            failovers: counter_vec(
                &registry,
                "shardwire_failovers_total",
                "Failovers and switchovers by shard, kind and outcome (promoted, refused, failed)",
                &["shard", "kind", "outcome"],
            ),
            failover_seconds,
            replica_reads: counter_vec(
                &registry,
                "shardwire_replica_reads_total",
                "Reads served by replica-cluster nodes",
                &["route", "node"],
            ),
            replica_fallbacks: counter_vec(
                &registry,
                "shardwire_replica_fallbacks_total",
                "Route-qualifying reads sent to the shards instead (no replica within max_lag)",
                &["route", "reason"],
            ),
            node_up: gauge_vec(
                &registry,
                "shardwire_node_up",
                "1 if the node answered its last health check",
                &node,
            ),
            node_lag_seconds: gauge_vec(
                &registry,
                "shardwire_node_lag_seconds",
                "Seconds the node is behind (heartbeat; replicas: the worst shard)",
                &node,
            ),
            node_lag_bytes: gauge_vec(
                &registry,
                "shardwire_node_lag_bytes",
                "Bytes of WAL a standby has not replayed",
                &node,
            ),
            shard_state,
            rate_limited: counter_vec(
                &registry,
                "shardwire_rate_limited_total",
                "Statements refused with 53400 by a user's rate limit",
                &["user"],
            ),
            session_pins: counter_vec(
                &registry,
                "shardwire_session_pins_total",
                "Clients that started holding their server connection under transaction pooling, by the session state that made them (temp_table, hold_cursor, advisory_lock, sql_prepare, listen, role, load)",
                &["state"],
            ),
            session_state_refused: counter_vec(
                &registry,
                "shardwire_session_state_refused_total",
                "Statements refused with 0A000 because they would leave session state on a pooled server connection, by kind of state",
                &["state"],
            ),
            pinned_clients: {
                let g = static_metric(IntGauge::new(
                    "shardwire_pinned_clients",
                    "Clients holding their server connection under transaction pooling because of session state",
                ));
                let _ = registry.register(Box::new(g.clone()));
                g
            },
            two_phase: counter_vec(
                &registry,
                "shardwire_2pc_total",
                "Transactions that wrote on several shards, by outcome: committed (two-phase), rolled_back (a participant failed before the decision), unknown (the coordinator was lost during its commit), recovered_commit / recovered_rollback (finished by the resolver)",
                &["outcome"],
            ),
            two_phase_in_doubt: {
                let g = static_metric(IntGauge::new(
                    "shardwire_2pc_in_doubt",
                    "Prepared cross-shard transactions older than 2 s that no instance has finished yet",
                ));
                let _ = registry.register(Box::new(g.clone()));
                g
            },
            server_cleanups: counter_vec(
                &registry,
                "shardwire_server_cleanups_total",
                "Server connections cleaned with DISCARD ALL (discard) or closed (close) before returning to the pool, because a client left session state on them",
                &["action"],
            ),
            reloads: counter_vec(
                &registry,
                "shardwire_config_reloads_total",
                "RELOAD / SIGHUP attempts by outcome (ok, failed)",
                &["outcome"],
            ),
            fleet: super::fleet::FleetMetrics::new(&registry),
            registry,
        }
    }

    /// The handles of one (shard, user) pool.
    pub fn pool_traffic(&self, shard: usize, user: &str) -> PoolTraffic {
        let shard = shard.to_string();
        let labels = [shard.as_str(), user];
        PoolTraffic {
            xacts: self.xacts.with_label_values(&labels),
            queries: self.queries.with_label_values(&labels),
            bytes_received: self.bytes_received.with_label_values(&labels),
            bytes_sent: self.bytes_sent.with_label_values(&labels),
            xact_time_us: self.xact_time.with_label_values(&labels),
            wait_time_us: self.wait_time.with_label_values(&labels),
            query_seconds: self
                .query_seconds
                .with_label_values(&[labels[0], labels[1], "keyed"]),
            checkout_wait_seconds: self.checkout_wait.with_label_values(&labels),
        }
    }

    /// Creates every shard's failover counters at 0, so that alert rules
    /// built on `increase()` see the first failover of a shard too.
    pub fn declare_failover_series(&self, shards: usize) {
        for shard in 0..shards {
            let shard = shard.to_string();
            for kind in ["failover", "switchover"] {
                for outcome in ["promoted", "refused", "failed"] {
                    self.failovers.with_label_values(&[&shard, kind, outcome]);
                }
            }
        }
    }

    /// Records a replica-cluster read's latency (route label `replicas`).
    pub fn observe_replica_read(&self, user: &str, seconds: f64) {
        self.query_seconds
            .with_label_values(&["replicas", user, "replicas"])
            .observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let families = self.registry.gather();
        if prometheus::TextEncoder::new()
            .encode_utf8(&families, &mut out)
            .is_err()
        {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests;
