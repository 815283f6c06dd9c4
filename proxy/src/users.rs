//! The users that may log in, each with its pools (one per shard primary,
//! one per replica-cluster node) and traffic counters. The table is
//! swapped whole by RELOAD: sessions keep the entry they logged in with,
//! new logins see the new table.

use crate::auth::client::Credentials;
use crate::config::{Config, User};
use crate::context::{pool_config, ServerPool};
use crate::metrics::{Metrics, PoolTraffic};
use crate::server::registry::ServerRegistry;
use crate::server::{ServerManager, ServerTarget};
use crate::topology::Topology;
use shardwire_pool::Pool;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A user allowed to log in, with one pool per shard primary.
pub struct UserEntry {
    /// Login name (shared with each session's cancel slot).
    pub name: Arc<str>,
    /// What clients must prove.
    pub credentials: Credentials,
    /// Pools to each shard's primary, indexed by shard number.
    pub shard_pools: Vec<ServerPool>,
    /// Traffic counters of those pools, same index.
    pub shard_traffic: Vec<PoolTraffic>,
    /// Pools to each replica-cluster node, in `[replica_cluster]` order.
    pub replica_pools: Vec<ServerPool>,
    /// The `[[users]]` entry it was built from (RELOAD compares them).
    pub source: User,
    /// Sessions of this user now (against `max_connections`).
    pub sessions: Arc<crate::limits::Counter>,
    /// The statement rate limit, if any.
    pub rate: Option<crate::limits::TokenBucket>,
    /// SCRAM passthrough: the ClientKey a client of this user proved.
    pub learned_key: Arc<crate::auth::passthrough::LearnedKey>,
}

impl UserEntry {
    /// Every pool of this user.
    pub fn all_pools(&self) -> impl Iterator<Item = &ServerPool> {
        self.shard_pools.iter().chain(&self.replica_pools)
    }
}

/// Shared handles a user entry's pools are built with.
pub struct PoolParts<'a> {
    /// The configuration (shards, replica nodes, pool settings).
    pub config: &'a Config,
    /// Prometheus handles.
    pub metrics: &'a Metrics,
    /// Open server connections.
    pub servers: &'a Arc<ServerRegistry>,
    /// Current primaries.
    pub topology: &'a Topology,
    /// TLS towards the servers.
    pub server_tls: &'a Arc<crate::tls::ServerTls>,
}

/// Builds `user`'s entry and pools. Must run inside a tokio runtime.
pub fn build_entry(user: &User, parts: &PoolParts<'_>) -> Arc<UserEntry> {
    let config = parts.config;
    let settings = pool_config(&config.pool);
    let learned_key: Arc<crate::auth::passthrough::LearnedKey> = Arc::default();
    let login = |label: String, host: &str, port: u16, database: String, shard: u32| ServerTarget {
        label,
        host: host.to_owned(),
        port,
        user: user.name.clone(),
        password: user.server_password().map(str::to_string),
        learned_key: Some(learned_key.clone()),
        read_only: shard == u32::MAX,
        database,
        connect_timeout: config.pool.connect_timeout,
        shard,
        tls: match parts.server_tls.mode_for(shard) {
            crate::config::ServerTlsMode::Disable => None,
            mode => Some((parts.server_tls.clone(), mode)),
        },
    };
    let shard_pools = config
        .shards
        .iter()
        .enumerate()
        .map(|(i, shard)| {
            let database = shard
                .database
                .clone()
                .unwrap_or_else(|| config.proxy.database.clone());
            let target = login(
                format!("shard {i} primary {}", shard.primary),
                &shard.primary.host,
                shard.primary.port,
                database,
                i as u32,
            );
            let state = parts.topology.shards[i].clone();
            Pool::new(
                ServerManager::for_shard(target, state, parts.servers.clone()),
                settings.clone(),
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
            let target = login(
                format!("replica {i} {node}"),
                &node.host,
                node.port,
                replica_database.clone(),
                u32::MAX,
            );
            Pool::new(
                ServerManager::new(target, parts.servers.clone()),
                settings.clone(),
            )
        })
        .collect();
    Arc::new(UserEntry {
        name: Arc::from(user.name.as_str()),
        credentials: Credentials::from_user(user),
        shard_pools,
        shard_traffic: (0..config.shards.len())
            .map(|shard| parts.metrics.pool_traffic(shard, &user.name))
            .collect(),
        replica_pools,
        source: user.clone(),
        sessions: Default::default(),
        learned_key,
        rate: user.rate_limit.map(|r| {
            crate::limits::TokenBucket::new(r.per_minute, r.burst.unwrap_or(r.per_minute))
        }),
    })
}

/// Users by name, replaceable as a whole.
#[derive(Default)]
pub struct UserTable {
    users: RwLock<Arc<HashMap<String, Arc<UserEntry>>>>,
}

impl UserTable {
    /// A table of `entries`.
    pub fn new(entries: Vec<Arc<UserEntry>>) -> UserTable {
        let table = UserTable::default();
        table.replace(entries);
        table
    }

    fn snapshot(&self) -> Arc<HashMap<String, Arc<UserEntry>>> {
        self.users.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The user called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<UserEntry>> {
        self.snapshot().get(name).cloned()
    }

    /// Every user (in no particular order).
    pub fn values(&self) -> std::vec::IntoIter<Arc<UserEntry>> {
        self.snapshot()
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the table in place (atomically with other updates).
    pub fn update(&self, f: impl FnOnce(&mut HashMap<String, Arc<UserEntry>>)) {
        let mut guard = self.users.write().unwrap_or_else(|p| p.into_inner());
        let mut map = (**guard).clone();
        f(&mut map);
        *guard = Arc::new(map);
    }

    /// Installs a new set of users.
    pub fn replace(&self, entries: Vec<Arc<UserEntry>>) {
        let map = entries
            .into_iter()
            .map(|e| (e.name.to_string(), e))
            .collect();
        *self.users.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
    }
}
