//! What the control plane needs to know from the configuration, in its own
//! terms (the fleet's `[coordination]` too): the proxy's loader builds a [`ControlSettings`] from its TOML
//! sections, so this crate does not depend on the file format.

use crate::Endpoint;
use serde::Deserialize;
use std::time::Duration;

/// Name of the sharding function (the router's, named as the config does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardFunctionName {
    /// `key % shards` with a non-negative result.
    Modulo,
    /// PostgreSQL's hash partitioning of a bigint.
    PgHash,
}

/// TLS towards one node: a rustls client configuration and whether a
/// plain connection is acceptable when the node has no TLS.
#[derive(Clone)]
pub struct NodeTls {
    /// rustls settings (roots, verification, client certificate).
    pub client_config: rustls::ClientConfig,
    /// `prefer`: fall back to plain text when the node offers no TLS.
    pub prefer: bool,
}

/// Health checks, heartbeat, failover (`[replication]`).
#[derive(Debug, Clone)]
pub struct ReplicationSettings {
    /// Control-plane login on every node; None disables the control plane.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// Database the control plane connects to (default: each shard's).
    pub database: Option<String>,
    /// Time between two health checks of a node.
    pub check_interval: Duration,
    /// Time allowed for one health check (connect + query).
    pub check_timeout: Duration,
    /// Consecutive failed checks before a primary counts as down.
    pub failure_threshold: u32,
    /// Promote a standby when a primary is down (else only alert).
    pub auto_failover: bool,
    /// How long clients of a failing-over shard wait before an error.
    pub pause_timeout: Duration,
    /// A standby further behind the best one than this is not promoted.
    pub max_failover_lag_bytes: u64,
    /// How long a planned switchover waits for the standby to catch up.
    pub switchover_timeout: Duration,
    /// The heartbeat table on every primary.
    pub heartbeat_table: String,
}

/// How rows map to shards, for re-copying one shard's rows to a replica.
#[derive(Debug, Clone)]
pub struct ShardingSettings {
    /// The sharding function.
    pub function: ShardFunctionName,
    /// Key columns looked for in every table, in order.
    pub key_columns: Vec<String>,
    /// Tables sharded by a column of their own: (table, key column).
    pub tables: Vec<(String, String)>,
}

/// One configured shard.
#[derive(Clone)]
pub struct ShardSettings {
    /// The configured primary (the topology's seed).
    pub primary: Endpoint,
    /// Its configured streaming standbys.
    pub standbys: Vec<Endpoint>,
    /// Its database (None: the default database).
    pub database: Option<String>,
    /// TLS towards its nodes, if any.
    pub tls: Option<NodeTls>,
}

/// Everything the control plane reads from the configuration.
#[derive(Clone)]
pub struct ControlSettings {
    /// `[replication]`.
    pub replication: ReplicationSettings,
    /// The database clients use when a shard names none.
    pub default_database: String,
    /// Shard k at index k.
    pub shards: Vec<ShardSettings>,
    /// The read-replica cluster's nodes.
    pub replica_nodes: Vec<Endpoint>,
    /// The replica cluster's database, if it differs.
    pub replica_database: Option<String>,
    /// TLS towards the replica nodes, if any.
    pub replica_tls: Option<NodeTls>,
    /// How rows map to shards.
    pub sharding: ShardingSettings,
    /// `[coordination]`: the fleet through etcd (None: a single instance).
    pub coordination: Option<CoordinationSettings>,
}

impl ControlSettings {
    /// Whether the control loops run at all.
    pub fn enabled(&self) -> bool {
        self.replication.user.is_some()
    }
}

/// How an instance takes part in a fleet.
#[derive(Debug, Clone)]
pub struct CoordinationSettings {
    /// etcd client URLs (`http://host:port`).
    pub endpoints: Vec<String>,
    /// Cluster name: every key lives under `/shardwire/<cluster>/`.
    pub cluster: String,
    /// This instance's name (unique in the fleet).
    pub name: String,
    /// The address clients reach this instance at (shown in SHOW FLEET).
    pub listen: String,
    /// TTL of this instance's registration and of the controller key.
    pub lease_ttl: Duration,
    /// Without an answer from etcd for this long the instance refuses
    /// writes (shorter than `lease_ttl`, so it stops before anyone else
    /// may act on its silence).
    pub coordination_timeout: Duration,
    /// Keep writes flowing without etcd while the primary's synchronous
    /// standbys are seen streaming from it.
    pub failsafe: bool,
    /// etcd user and password, if etcd has authentication on.
    pub credentials: Option<(String, String)>,
    /// CA certificate (PEM) for `https://` endpoints.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key (PEM) for etcd's client authentication.
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl CoordinationSettings {
    /// The key prefix of this cluster.
    pub fn prefix(&self) -> String {
        format!("/shardwire/{}/", self.cluster)
    }

    /// How often membership is renewed and views are published.
    pub fn heartbeat(&self) -> Duration {
        (self.lease_ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(1))
    }

    /// Bound on one etcd request.
    pub fn request_timeout(&self) -> Duration {
        (self.coordination_timeout / 3).clamp(Duration::from_millis(300), Duration::from_secs(2))
    }
}
