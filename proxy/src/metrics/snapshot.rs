//! Gauges set at scrape time from the live state: pool occupancy, node
//! health and lag, shard states. Cheap (a few locks), and keeps the data
//! path free of gauge updates.

use crate::context::Context;
use crate::topology::ShardPhase;

const PHASES: [ShardPhase; 5] = [
    ShardPhase::Serving,
    ShardPhase::Suspect,
    ShardPhase::Unreachable,
    ShardPhase::FailingOver,
    ShardPhase::Down,
];

/// Brings every scrape-time gauge up to date.
pub fn refresh(ctx: &Context) {
    let m = &ctx.metrics;
    m.pool_gauges.reset();
    for user in ctx.users.values() {
        for (shard, pool) in user.shard_pools.iter().enumerate() {
            let stats = pool.stats();
            let shard = shard.to_string();
            for (state, value) in [
                ("active", stats.active),
                ("idle", stats.idle),
                ("waiting", stats.waiting),
            ] {
                m.pool_gauges
                    .with_label_values(&[&shard, &*user.name, state])
                    .set(value as i64);
            }
        }
    }
    m.node_up.reset();
    m.node_lag_seconds.reset();
    m.node_lag_bytes.reset();
    for node in ctx.topology.nodes.all() {
        let name = node.endpoint.to_string();
        let shard = node.shard.map_or("-".to_owned(), |s| s.to_string());
        let labels = [name.as_str(), node.role.name(), shard.as_str()];
        m.node_up
            .with_label_values(&labels)
            .set(if node.up { 1.0 } else { 0.0 });
        if let Some(lag) = node.lag_seconds.filter(|l| l.is_finite()) {
            m.node_lag_seconds.with_label_values(&labels).set(lag);
        }
        if let Some(bytes) = node.lag_bytes {
            m.node_lag_bytes
                .with_label_values(&labels)
                .set(bytes as f64);
        }
    }
    for shard in &ctx.topology.shards {
        let index = shard.index.to_string();
        let phase = shard.phase();
        for p in PHASES {
            m.shard_state
                .with_label_values(&[&index, p.name()])
                .set(i64::from(p == phase));
        }
    }
    m.fleet.refresh(&ctx.control);
}
