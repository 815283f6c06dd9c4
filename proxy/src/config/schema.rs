//! The configuration schema. Every section has defaults so a minimal file
//! names only users and shards; unknown keys are refused.

use serde::Deserialize;
use std::time::Duration;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener and client-facing behaviour.
    #[serde(default)]
    pub proxy: ProxySection,
    /// Server connection pools.
    #[serde(default)]
    pub pool: PoolSection,
    /// Users that may log in, with their credentials.
    #[serde(default)]
    pub users: Vec<User>,
    /// How rows are spread over the shards.
    #[serde(default)]
    pub sharding: ShardingSection,
    /// The admin console.
    #[serde(default)]
    pub admin: AdminSection,
    /// The monitoring HTTP listener.
    #[serde(default)]
    pub metrics: MetricsSection,
    /// The shards: each one primary with its standbys. Shard k is entry k.
    #[serde(default)]
    pub shards: Vec<Shard>,
    /// Health checks, lag and failover.
    #[serde(default)]
    pub replication: super::ReplicationSection,
    /// The read-replica cluster.
    #[serde(default)]
    pub replica_cluster: super::ReplicaClusterSection,
    /// Reads sent to the replica cluster.
    #[serde(default)]
    pub routes: Vec<super::RouteRule>,
    /// TLS for clients.
    #[serde(default)]
    pub tls: super::TlsSection,
    /// TLS towards the servers.
    #[serde(default)]
    pub server_tls: super::ServerTlsSection,
    /// Looking up users that are not in `[[users]]` on the servers.
    #[serde(default)]
    pub auth_query: super::AuthQuerySection,
    /// Running as a fleet through etcd (None: a single instance).
    pub coordination: Option<super::CoordinationSection>,
}

/// `[admin]`: who may use the admin console (database `shardwire`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Users (from `[[users]]`) allowed to run every admin command.
    pub users: Vec<String>,
    /// Users allowed read-only `SHOW` commands.
    pub stats_users: Vec<String>,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Address of the HTTP listener for `/metrics`, `/health`, `/ready`
    /// (none by default).
    pub listen: Option<String>,
}

/// `[sharding]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShardingSection {
    /// Column(s) holding the sharding key, in order of preference.
    pub key_columns: Vec<String>,
    /// `modulo` (`key % shards`, never negative) or `pg_hash`
    /// (PostgreSQL's `PARTITION BY HASH (bigint)`).
    pub function: ShardFunctionName,
    /// Number of shards; when given it must match the `[[shards]]` entries.
    pub shards: Option<u32>,
    /// Tables present in full on every shard: reads go to any shard,
    /// writes to all.
    pub global_tables: Vec<String>,
    /// Tables sharded by another column than the key columns.
    pub tables: Vec<TableKey>,
    /// Transactions and statements that write on several shards:
    /// `two_phase` (default: atomic through two-phase commit) or `refuse`
    /// (0A000, as before cross-shard writes existed).
    pub cross_shard_writes: CrossShardWrites,
    /// Longest a statement of a cross-shard transaction waits for a lock
    /// (PostgreSQL sees deadlocks within one server only; one between
    /// shards ends here with 55P03).
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub cross_shard_lock_timeout: std::time::Duration,
    /// Testing only: where a cross-shard commit stops as if the instance
    /// had died (`after_prepare`, `after_decision`, `after_commit_prepared`).
    #[doc(hidden)]
    pub cross_shard_crash_at: Option<String>,
}

/// `[sharding] cross_shard_writes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossShardWrites {
    /// Atomic across shards through two-phase commit.
    TwoPhase,
    /// Refused with 0A000.
    Refuse,
}

impl Default for ShardingSection {
    fn default() -> Self {
        ShardingSection {
            key_columns: vec!["user_id".into()],
            function: ShardFunctionName::Modulo,
            shards: None,
            global_tables: Vec::new(),
            tables: Vec::new(),
            cross_shard_writes: CrossShardWrites::TwoPhase,
            cross_shard_lock_timeout: std::time::Duration::from_secs(5),
            cross_shard_crash_at: None,
        }
    }
}

pub use shardwire_control::ShardFunctionName;

/// `[[sharding.tables]]`: a table sharded by its own column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableKey {
    /// Table name.
    pub name: String,
    /// Its sharding key column.
    pub key: String,
}

/// `[proxy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySection {
    /// Address clients connect to, e.g. `127.0.0.1:6432`.
    pub listen: String,
    /// The logical database name clients connect to.
    pub database: String,
    /// `transaction` (default) or `session`.
    pub pool_mode: PoolMode,
    /// Largest client message accepted, in bytes.
    pub max_message_size: usize,
    /// Tokio worker threads; 0 means one per CPU.
    pub workers: usize,
    /// Time a client has to complete startup and authentication.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub auth_timeout: Duration,
    /// Most client connections at once (admin consoles included); more are
    /// refused with 53300.
    pub max_client_connections: usize,
    /// Most connections still in startup/authentication at once (slow or
    /// hostile clients cannot tie up the proxy).
    pub max_unauthenticated: usize,
    /// On SIGTERM or `SHUTDOWN WAIT_FOR_CLIENTS`: how long running
    /// transactions may take before the remaining sessions are closed.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub shutdown_timeout: Duration,
    /// Transaction pooling and statements that leave state on a server
    /// connection: pin or refuse, per kind.
    pub session_state: super::SessionStateSection,
}

impl Default for ProxySection {
    fn default() -> Self {
        ProxySection {
            listen: "127.0.0.1:6432".into(),
            database: "app".into(),
            pool_mode: PoolMode::Transaction,
            max_message_size: 64 * 1024 * 1024,
            workers: 0,
            auth_timeout: Duration::from_secs(15),
            max_client_connections: 20_000,
            max_unauthenticated: 1_000,
            shutdown_timeout: Duration::from_secs(30),
            session_state: Default::default(),
        }
    }
}

/// When a server connection goes back to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// After each transaction (at `ReadyForQuery('I')`).
    Transaction,
    /// When the client disconnects.
    Session,
}

impl std::fmt::Display for PoolMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PoolMode::Transaction => "transaction",
            PoolMode::Session => "session",
        })
    }
}

/// `[pool]`: applies to every (node, user) pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSection {
    /// Most server connections per (node, user).
    pub size: usize,
    /// Idle connections kept open even when unused.
    pub min_idle: usize,
    /// Idle connections above `min_idle` are closed after this long.
    #[serde(deserialize_with = "super::duration::optional::deserialize")]
    pub idle_timeout: Option<Duration>,
    /// Connections are closed after this age.
    #[serde(deserialize_with = "super::duration::optional::deserialize")]
    pub max_lifetime: Option<Duration>,
    /// How long a client waits for a server connection before SQLSTATE 53300.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub checkout_timeout: Duration,
    /// Idle connections older than this are health-checked before use.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub health_check_after: Duration,
    /// Time allowed to open and authenticate a server connection.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub connect_timeout: Duration,
}

impl Default for PoolSection {
    fn default() -> Self {
        PoolSection {
            size: 20,
            min_idle: 0,
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(3600)),
            checkout_timeout: Duration::from_secs(5),
            health_check_after: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// `[[users]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Login name (the same name is used on the servers).
    pub name: String,
    /// Plain password: checks clients and logs in to servers.
    pub password: Option<String>,
    /// A SCRAM-SHA-256 verifier (`SCRAM-SHA-256$iter:salt$stored:server`) to
    /// check clients without storing their password.
    pub scram_verifier: Option<String>,
    /// Password for server logins when only a verifier is given.
    pub server_password: Option<String>,
    /// How clients authenticate.
    #[serde(default)]
    pub auth: AuthMethod,
    /// Most sessions of this user at once (none: only the global limit).
    pub max_connections: Option<usize>,
    /// Statements (simple queries and Binds) per minute, shared by all the
    /// user's sessions.
    pub rate_limit: Option<RateLimit>,
}

/// `rate_limit = { per_minute = 100, burst = 150 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Steady rate.
    pub per_minute: u32,
    /// Statements allowed at once after a quiet spell (default: per_minute).
    pub burst: Option<u32>,
}

impl User {
    /// The password used to log in to servers.
    pub fn server_password(&self) -> Option<&str> {
        self.server_password.as_deref().or(self.password.as_deref())
    }
}

/// Client authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum AuthMethod {
    /// SCRAM-SHA-256 (default).
    #[default]
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// MD5 challenge (needs the plain password).
    #[serde(rename = "md5")]
    Md5,
    /// No password.
    #[serde(rename = "trust")]
    Trust,
}

/// `[[shards]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Database name on this shard's servers (defaults to `proxy.database`).
    pub database: Option<String>,
    /// The primary.
    pub primary: Endpoint,
    /// Streaming standbys of the primary.
    #[serde(default)]
    pub standbys: Vec<Endpoint>,
    /// TLS towards this shard's nodes (default: `[server_tls] mode`).
    pub server_tls: Option<super::ServerTlsMode>,
}

pub use shardwire_control::Endpoint;
