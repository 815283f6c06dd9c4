//! The replication sections of the configuration: `[replication]` (the
//! control plane that health-checks every node, measures lag and fails
//! shards over) and `[replica_cluster]` with its `[[routes]]` (the
//! read-replica cluster for leaderboard reads).

use super::schema::Endpoint;
use serde::Deserialize;
use std::time::Duration;

/// `[replication]`: health checks, lag, heartbeat and failover. Monitoring
/// runs only when `user` is set: the control plane logs in to every node
/// as that user (it needs `pg_promote()`, `ALTER SYSTEM` and the heartbeat
/// table, i.e. a superuser in practice).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSection {
    /// Control-plane login on every node; unset disables monitoring and
    /// failover.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// Database the control plane connects to (defaults to each shard's
    /// database).
    pub database: Option<String>,
    /// Time between two health checks of a node.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub check_interval: Duration,
    /// Time allowed for one health check (connect + query).
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub check_timeout: Duration,
    /// Consecutive failed checks before a primary counts as down.
    pub failure_threshold: u32,
    /// Promote a standby when a primary is down (else only alert).
    pub auto_failover: bool,
    /// How long clients of a shard that is failing over wait for it before
    /// they get an error.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub pause_timeout: Duration,
    /// A standby further behind the best one than this many bytes is not
    /// promoted.
    pub max_failover_lag_bytes: u64,
    /// How long a planned switchover waits for the standby to catch up.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub switchover_timeout: Duration,
    /// Table on every primary holding `(shard int primary key, beat
    /// timestamptz)`, written every check interval and read back on
    /// standbys and replica nodes to measure lag in seconds.
    pub heartbeat_table: String,
}

impl Default for ReplicationSection {
    fn default() -> Self {
        ReplicationSection {
            user: None,
            password: None,
            database: None,
            check_interval: Duration::from_secs(1),
            check_timeout: Duration::from_secs(1),
            failure_threshold: 3,
            auto_failover: true,
            pause_timeout: Duration::from_secs(30),
            max_failover_lag_bytes: 16 * 1024 * 1024,
            switchover_timeout: Duration::from_secs(10),
            heartbeat_table: "shardwire_heartbeat".into(),
        }
    }
}

impl ReplicationSection {
    /// Whether the control plane runs.
    pub fn enabled(&self) -> bool {
        self.user.is_some()
    }
}

/// `[replica_cluster]`: nodes holding every shard's rows (logical
/// subscribers of each shard), for reads chosen by `[[routes]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaClusterSection {
    /// The replica nodes.
    pub nodes: Vec<Endpoint>,
    /// Database on the replica nodes (defaults to `proxy.database`).
    pub database: Option<String>,
    /// A node lagging more than this behind any shard gets no reads.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub max_lag: Duration,
    /// How reads are spread over qualifying nodes.
    pub balance: Balance,
    /// Never serve from fewer nodes than this because all lag a little:
    /// the freshest ones serve instead.
    pub min_serving: usize,
}

impl Default for ReplicaClusterSection {
    fn default() -> Self {
        ReplicaClusterSection {
            nodes: Vec::new(),
            database: None,
            max_lag: Duration::from_secs(2),
            balance: Balance::LeastConnections,
            min_serving: 1,
        }
    }
}

/// How reads are spread over replica nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// The node with the fewest busy server connections.
    LeastConnections,
    /// Each node in turn.
    RoundRobin,
}

/// `[[routes]]`: reads that go somewhere other than the shards.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Name shown in SHOW ROUTES and metrics.
    pub name: String,
    /// Table names or prefixes ending in `*` (e.g. `leaderboard*`): a read
    /// qualifies when every table it reads matches one of them.
    pub tables: Vec<String>,
    /// Where qualifying reads go.
    #[serde(default)]
    pub target: RouteTarget,
}

/// Where a route sends reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteTarget {
    /// The replica cluster.
    #[default]
    Replicas,
}

impl RouteRule {
    /// Whether `table` (lowercase) matches one of the rule's patterns.
    pub fn matches(&self, table: &str) -> bool {
        self.tables.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_suffix('*') {
                Some(prefix) => table.starts_with(prefix),
                None => table == pattern,
            }
        })
    }
}
