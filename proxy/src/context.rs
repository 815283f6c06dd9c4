//! Everything a client session needs that outlives it: the configuration,
//! each user's credentials and server pools, and the cancel and statement
//! registries. Built once at start-up and shared as `Arc<Context>`; there is
//! no other shared state.

use crate::auth::client::Credentials;
use crate::cancel::CancelRegistry;
use crate::config::{Config, PoolSection};
use crate::metrics::{Metrics, PoolTraffic};
use crate::server::registry::ServerRegistry;
use crate::server::{ServerManager, ServerTarget};
use crate::session::statements::StatementRegistry;
use crate::topology::Topology;
use shardwire_pool::{Pool, PoolConfig};
use shardwire_router::{Router, ShardFunction, ShardingRules, TableRule};
use std::collections::HashMap;
use std::sync::Arc;

/// The pool type for server connections.
pub type ServerPool = Pool<ServerManager>;

/// A user allowed to log in, with one pool per shard primary.
pub struct UserEntry {
    /// Login name.
    pub name: String,
    /// What clients must prove.
    pub credentials: Credentials,
    /// Pools to each shard's primary, indexed by shard number.
    pub shard_pools: Vec<ServerPool>,
    /// Traffic counters of those pools, same index.
    pub shard_traffic: Vec<PoolTraffic>,
    /// Pools to each replica-cluster node, in `[replica_cluster]` order.
    pub replica_pools: Vec<ServerPool>,
}

/// Shared proxy state.
pub struct Context {
    /// The configuration in force.
    pub config: Config,
    /// Users by name.
    pub users: HashMap<String, Arc<UserEntry>>,
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
    /// Round-robin state for replica-cluster reads.
    pub replica_balancer: crate::replicas::Balancer,
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

/// The PAUSE/RESUME gate: sessions check it before taking a server
/// connection for a new transaction.
#[derive(Default)]
pub struct PauseGate {
    paused: std::sync::atomic::AtomicBool,
    resumed: tokio::sync::Notify,
}

impl PauseGate {
    /// Whether new transactions are held.
    pub fn is_paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Holds new transactions.
    pub fn pause(&self) {
        self.paused
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Lets waiting and new transactions through.
    pub fn resume(&self) {
        self.paused
            .store(false, std::sync::atomic::Ordering::Release);
        self.resumed.notify_waiters();
    }

    /// Waits while paused (returns at once when not).
    pub async fn wait(&self) {
        while self.is_paused() {
            let resumed = self.resumed.notified();
            if !self.is_paused() {
                break;
            }
            resumed.await;
        }
    }
}

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
    /// Builds pools for every user and shard. Must run inside a tokio
    /// runtime (pools start their maintenance tasks).
    pub fn new(config: Config) -> Arc<Context> {
        let pool_config = pool_config(&config.pool);
        let metrics = Metrics::new();
        let servers = Arc::new(ServerRegistry::default());
        let topology = Arc::new(Topology::from_config(&config));
        let mut users = HashMap::new();
        for user in &config.users {
            let shard_traffic = (0..config.shards.len())
                .map(|shard| metrics.pool_traffic(shard, &user.name))
                .collect();
            let shard_pools = config
                .shards
                .iter()
                .enumerate()
                .map(|(i, shard)| {
                    let target = ServerTarget {
                        label: format!("shard {i} primary {}", shard.primary),
                        host: shard.primary.host.clone(),
                        port: shard.primary.port,
                        user: user.name.clone(),
                        password: user.server_password().map(str::to_string),
                        database: shard
                            .database
                            .clone()
                            .unwrap_or_else(|| config.proxy.database.clone()),
                        connect_timeout: config.pool.connect_timeout,
                        shard: i as u32,
                    };
                    let shard_state = topology.shards[i].clone();
                    Pool::new(
                        ServerManager::for_shard(target, shard_state, servers.clone()),
                        pool_config.clone(),
                    )
                })
                .collect();
            let replica_database = config
                .replica_cluster
                .database
                .clone()
                .unwrap_or_else(|| config.proxy.database.clone());
            let replica_pools = config
                .replica_cluster
                .nodes
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    let target = ServerTarget {
                        label: format!("replica {i} {node}"),
                        host: node.host.clone(),
                        port: node.port,
                        user: user.name.clone(),
                        password: user.server_password().map(str::to_string),
                        database: replica_database.clone(),
                        connect_timeout: config.pool.connect_timeout,
                        shard: u32::MAX,
                    };
                    Pool::new(
                        ServerManager::new(target, servers.clone()),
                        pool_config.clone(),
                    )
                })
                .collect();
            users.insert(
                user.name.clone(),
                Arc::new(UserEntry {
                    name: user.name.clone(),
                    credentials: Credentials::from_user(user),
                    shard_pools,
                    shard_traffic,
                    replica_pools,
                }),
            );
        }
        Arc::new(Context {
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
            config,
            users,
            cancels: Arc::new(CancelRegistry::default()),
            statements: StatementRegistry::default(),
        })
    }
}
