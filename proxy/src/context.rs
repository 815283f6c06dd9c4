//! Everything a client session needs that outlives it: the configuration,
//! each user's credentials and server pools, and the cancel and statement
//! registries. Built once at start-up and shared as `Arc<Context>`; there is
//! no other shared state.

use crate::cancel::CancelRegistry;
use crate::config::{Config, PoolSection};
use crate::metrics::Metrics;
use crate::server::registry::ServerRegistry;
use crate::server::ServerManager;
use crate::session::statements::StatementRegistry;
use crate::topology::Topology;
use shardwire_pool::{Pool, PoolConfig};
use shardwire_router::{Router, ShardFunction, ShardingRules, TableRule};
use std::collections::HashMap;
use std::sync::Arc;

/// The pool type for server connections.
pub type ServerPool = Pool<ServerManager>;

pub use crate::users::UserEntry;

/// Shared proxy state.
pub struct Context {
    /// The configuration in force.
    pub config: Config,
    /// Users by name (RELOAD replaces them).
    pub users: crate::users::UserTable,
    /// Client cancel keys.
    pub cancels: Arc<CancelRegistry>,
    /// Proxy-wide prepared statement names.
    pub statements: StatementRegistry,
    /// Statement routing (with its plan cache).
    pub router: Router,
    /// Prometheus handles and traffic counters.
    pub metrics: Metrics,
    /// When the proxy started.
    pub started: std::time::Instant,
    /// Secret for the stand-in SCRAM exchange of unknown users.
    pub mock_secret: [u8; 32],
    /// Admin PAUSE: new transactions wait until RESUME.
    pub pause: PauseGate,
    /// Open server connections, for SHOW SERVERS.
    pub servers: Arc<ServerRegistry>,
    /// The `[pool]` settings in force (RELOAD changes them).
    pub pool_settings: std::sync::RwLock<PoolSection>,
    /// The file the configuration came from, for RELOAD / SIGHUP.
    pub config_path: std::sync::OnceLock<std::path::PathBuf>,
    /// Current primaries, node health, failover history.
    pub topology: Arc<Topology>,
    /// The control plane (its settings, the topology, hooks into pools).
    pub control: Arc<shardwire_control::ControlPlane>,
    /// Round-robin state for replica-cluster reads.
    pub replica_balancer: crate::replicas::Balancer,
    /// TLS towards the servers.
    pub server_tls: Arc<crate::tls::ServerTls>,
    /// TLS for clients (RELOAD re-reads the certificate files).
    pub client_tls: std::sync::RwLock<crate::tls::ClientTls>,
    /// When each `[auth_query]` user was looked up.
    pub auth_query_cache: crate::auth_query::AuthQueryCache,
    /// Every connection's task (KILL, SHUTDOWN).
    pub sessions: crate::sessions::SessionTable,
    /// Route rules and lag bounds in force (RELOAD changes them).
    pub replica_settings: std::sync::RwLock<Arc<crate::replicas::ReplicaSettings>>,
    /// Spare buffers for sessions that get busy.
    pub buffers: crate::session::buffers::BufferStash,
    /// `proxy.database`, shared by every client's cancel slot.
    pub database_name: Arc<str>,
    /// Cross-shard transactions: this instance's id and the in-doubt list.
    pub cross_shard: crate::crossshard::recovery::Ledger,
}

/// The generic pool's settings from `[pool]`.
pub fn pool_config(pool: &PoolSection) -> PoolConfig {
    PoolConfig {
        max_size: pool.size,
        min_idle: pool.min_idle,
        idle_timeout: pool.idle_timeout,
        max_lifetime: pool.max_lifetime,
        checkout_timeout: pool.checkout_timeout,
        health_check_after: pool.health_check_after,
        ..PoolConfig::default()
    }
}

pub use shardwire_control::PauseGate;

/// The router's rules from the `[sharding]` section.
pub fn sharding_rules(config: &Config) -> ShardingRules {
    let sharding = &config.sharding;
    let mut tables = HashMap::new();
    for t in &sharding.global_tables {
        tables.insert(t.to_ascii_lowercase(), TableRule::Global);
    }
    for t in &sharding.tables {
        tables.insert(
            t.name.to_ascii_lowercase(),
            TableRule::ShardedBy(t.key.to_ascii_lowercase()),
        );
    }
    ShardingRules {
        shard_count: config.shards.len().max(1) as u32,
        function: match sharding.function {
            crate::config::ShardFunctionName::Modulo => ShardFunction::Modulo,
            crate::config::ShardFunctionName::PgHash => ShardFunction::PgHash,
        },
        key_columns: sharding
            .key_columns
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect(),
        tables,
    }
}

impl Context {
    /// The client TLS setup in force.
    pub fn client_tls(&self) -> crate::tls::ClientTls {
        self.client_tls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The route rules and replica lag bounds in force.
    pub fn replica_settings(&self) -> Arc<crate::replicas::ReplicaSettings> {
        self.replica_settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Builds pools for every user and shard. Must run inside a tokio
    /// runtime (pools start their maintenance tasks).
    pub fn new(
        config: Config,
        client_tls: crate::tls::ClientTls,
        server_tls: Arc<crate::tls::ServerTls>,
    ) -> Arc<Context> {
        let metrics = Metrics::new();
        metrics.declare_failover_series(config.shards.len());
        let servers = Arc::new(ServerRegistry::default());
        let control_settings = crate::control_link::control_settings(&config, &server_tls);
        let topology = Arc::new(Topology::from_settings(&control_settings));
        let parts = crate::users::PoolParts {
            config: &config,
            metrics: &metrics,
            servers: &servers,
            topology: &topology,
            server_tls: &server_tls,
        };
        let entries = config
            .users
            .iter()
            .map(|u| crate::users::build_entry(u, &parts))
            .collect();
        let users = crate::users::UserTable::new(entries);
        let database_name: Arc<str> = Arc::from(config.proxy.database.as_str());
        let instance_name = config
            .coordination
            .as_ref()
            .and_then(|c| c.name.clone())
            .unwrap_or_else(|| format!("p{}", std::process::id()));
        Arc::new_cyclic(|weak| Context {
            control: Arc::new(shardwire_control::ControlPlane::new(
                control_settings,
                topology.clone(),
                Arc::new(crate::control_link::ContextHooks(weak.clone())),
            )),
            router: Router::new(sharding_rules(&config)),
            metrics,
            started: std::time::Instant::now(),
            mock_secret: rand::random(),
            pause: PauseGate::default(),
            servers,
            pool_settings: std::sync::RwLock::new(config.pool.clone()),
            config_path: std::sync::OnceLock::new(),
            topology,
            replica_balancer: Default::default(),
            sessions: Default::default(),
            auth_query_cache: Default::default(),
            server_tls,
            client_tls: std::sync::RwLock::new(client_tls),
            replica_settings: std::sync::RwLock::new(Arc::new(
                crate::replicas::ReplicaSettings::from_config(&config),
            )),
            config,
            users,
            cancels: Arc::new(CancelRegistry::default()),
            statements: StatementRegistry::default(),
            buffers: Default::default(),
            database_name,
            cross_shard: crate::crossshard::recovery::Ledger::new(&instance_name),
        })
    }
}
