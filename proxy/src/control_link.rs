//! The proxy's side of the control plane's interface: the control
//! settings built from the configuration file, and the [`DataPath`] hooks
//! (retire pooled connections, end those still open to a replaced primary,
//! count failovers) the control plane calls.

use crate::config::{Config, CoordinationSection, ServerTlsMode};
use crate::context::Context;
use crate::tls::ServerTls;
use shardwire_control::fleet::CoordinationSettings;
use shardwire_control::settings::{
    ControlSettings, ReplicationSettings, ShardSettings, ShardingSettings,
};
use shardwire_control::topology::FailoverRecord;
use shardwire_control::{DataPath, NodeTls};
use std::sync::Weak;

/// The control plane's settings from `config`, with TLS as `[server_tls]`
/// says for each shard's nodes.
pub fn control_settings(config: &Config, server_tls: &ServerTls) -> ControlSettings {
    let tls_for = |mode: ServerTlsMode| {
        server_tls.client_config(mode).map(|client_config| NodeTls {
            client_config,
            prefer: mode == ServerTlsMode::Prefer,
        })
    };
    let r = &config.replication;
    ControlSettings {
        replication: ReplicationSettings {
            user: r.user.clone(),
            password: r.password.clone(),
            database: r.database.clone(),
            check_interval: r.check_interval,
            check_timeout: r.check_timeout,
            failure_threshold: r.failure_threshold,
            auto_failover: r.auto_failover,
            pause_timeout: r.pause_timeout,
            max_failover_lag_bytes: r.max_failover_lag_bytes,
            switchover_timeout: r.switchover_timeout,
            heartbeat_table: r.heartbeat_table.clone(),
        },
        default_database: config.proxy.database.clone(),
        shards: config
            .shards
            .iter()
            .enumerate()
            .map(|(k, s)| ShardSettings {
                primary: s.primary.clone(),
                standbys: s.standbys.clone(),
                database: s.database.clone(),
                tls: tls_for(server_tls.mode_for(k as u32)),
            })
            .collect(),
        replica_nodes: config.replica_cluster.nodes.clone(),
        replica_database: config.replica_cluster.database.clone(),
        replica_tls: tls_for(server_tls.mode_for(u32::MAX)),
        coordination: config.coordination.as_ref().map(coordination),
        sharding: ShardingSettings {
            function: config.sharding.function,
            key_columns: config.sharding.key_columns.clone(),
            tables: config
                .sharding
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.key.clone()))
                .collect(),
        },
    }
}

/// The fleet settings from `[coordination]` (certificate files that
/// cannot be read are reported when etcd is contacted).
fn coordination(co: &CoordinationSection) -> CoordinationSettings {
    let read = |path: &Option<String>| {
        path.as_ref().and_then(|p| match std::fs::read(p) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::error!(file = %p, error = %e, "cannot read an etcd TLS file");
                None
            }
        })
    };
    let listen = co.bound.clone().unwrap_or_default();
    CoordinationSettings {
        endpoints: co.endpoints.clone(),
        cluster: co.cluster.clone(),
        name: co.name.clone().unwrap_or_else(|| listen.clone()),
        listen,
        lease_ttl: co.lease_ttl,
        coordination_timeout: co.coordination_timeout,
        failsafe: co.failsafe,
        credentials: co.user.clone().zip(co.password.clone()),
        ca_pem: read(&co.ca_file),
        identity_pem: read(&co.cert_file).zip(read(&co.key_file)),
    }
}

/// The data path's hooks, holding the context weakly (the context owns
/// the control plane).
pub struct ContextHooks(pub Weak<Context>);

impl DataPath for ContextHooks {
    fn retire_idle(&self, shard: u32) -> usize {
        let Some(ctx) = self.0.upgrade() else {
            return 0;
        };
        let mut retired = 0;
        for user in ctx.users.values() {
            if let Some(pool) = user.shard_pools.get(shard as usize) {
                retired += pool.retire_idle();
            }
        }
        retired
    }

    fn sever_replaced(&self, shard: u32) -> usize {
        self.0
            .upgrade()
            .map_or(0, |ctx| ctx.servers.sever_replaced(shard))
    }

    fn active_transactions(&self, shard: u32) -> usize {
        let Some(ctx) = self.0.upgrade() else {
            return 0;
        };
        ctx.users
            .values()
            .filter_map(|u| u.shard_pools.get(shard as usize).cloned())
            .map(|p| p.stats().active)
            .sum()
    }

    fn failover_finished(&self, record: &FailoverRecord) {
        let Some(ctx) = self.0.upgrade() else {
            return;
        };
        ctx.metrics
            .failovers
            .with_label_values(&[
                &record.shard.to_string(),
                record.kind.name(),
                record.outcome,
            ])
            .inc();
        if record.outcome == "promoted" {
            ctx.metrics
                .failover_seconds
                .with_label_values(&[record.kind.name()])
                .observe(record.total.as_secs_f64());
        }
    }
}
