//! The demo's PostgreSQL nodes: shards (primary + synchronous standby,
//! started concurrently) with the sample schema and data, and the replica
//! cluster subscribed to every shard's publication.

use super::workload;
use super::{DEMO_DATABASE, DEMO_PASSWORD, DEMO_USER};
use anyhow::Context as _;
use shardwire_rig::{logical, Node, NodeOptions, Rig};

/// One shard: its primary and standbys.
pub struct DemoShard {
    /// The primary.
    pub primary: Node,
    /// Its streaming standbys.
    pub standbys: Vec<Node>,
}

/// Everything the demo started.
pub struct DemoTopology {
    /// Shard k at index k.
    pub shards: Vec<DemoShard>,
    /// Replica-cluster nodes.
    pub replicas: Vec<Node>,
}

/// Settings for every demo node: standbys and subscriptions retry their
/// upstream quickly after a failover (the default waits 5 s).
fn node_options() -> NodeOptions {
    NodeOptions::default().with_setting("wal_retrieve_retry_interval", "200ms")
}

/// Replica nodes run one apply worker per shard subscription.
fn replica_options(shards: u32) -> NodeOptions {
    let workers = (shards * 2 + 4).to_string();
    node_options()
        .with_setting("max_logical_replication_workers", workers.clone())
        .with_setting("max_worker_processes", (shards * 2 + 12).to_string())
        .with_setting("max_sync_workers_per_subscription", "2")
}

/// Starts the shards and replicas, loads the schema and the sample data.
pub async fn start(
    rig: &Rig,
    shards: u32,
    standbys: u32,
    replicas: u32,
) -> anyhow::Result<DemoTopology> {
    let mut shard_nodes = Vec::new();
    for k in 0..shards {
        shard_nodes.push(start_shard(rig, k, shards, standbys).await?);
        println!(
            "  shard {k} up: {}",
            match standbys {
                0 => "primary, no standby".to_owned(),
                1 => "primary and 1 standby, synchronous".to_owned(),
                n => format!(
                    "primary and {n} standbys, quorum-synchronous (ANY 1): every commit on two nodes"
                ),
            }
        );
    }
    let mut replica_nodes = Vec::new();
    for i in 0..replicas {
        let node = rig
            .start_primary(&format!("replica{i}"), replica_options(shards))
            .await
            .with_context(|| format!("starting replica {i}"))?;
        prepare_database(rig, &node).await?;
        node.connect(DEMO_USER, DEMO_PASSWORD, DEMO_DATABASE)
            .await?
            .batch_execute(&workload::replica_schema())
            .await
            .context("creating the replica schema")?;
        for (k, shard) in shard_nodes.iter().enumerate() {
            logical::subscribe(
                &node,
                DEMO_DATABASE,
                &format!("replica{i}_shard{k}"),
                &shard.primary,
                &format!("shard{k}_leaderboard"),
            )
            .await
            .with_context(|| format!("subscribing replica {i} to shard {k}"))?;
        }
        println!("  replica {i} up, subscribed to every shard");
        replica_nodes.push(node);
    }
    Ok(DemoTopology {
        shards: shard_nodes,
        replicas: replica_nodes,
    })
}

async fn prepare_database(rig: &Rig, node: &Node) -> anyhow::Result<()> {
    rig.create_user(node, DEMO_USER, DEMO_PASSWORD).await?;
    rig.create_database(node, DEMO_DATABASE, DEMO_USER).await
}

/// Shard `k` of `count`: primary with schema, data and publication, then
/// its `standbys` synchronous standbys (base backups that include all of
/// it; with two or more, `synchronous_standby_names = 'ANY 1 (…)'`).
async fn start_shard(rig: &Rig, k: u32, count: u32, standbys: u32) -> anyhow::Result<DemoShard> {
    let primary = rig
        .start_primary(&format!("shard{k}"), node_options())
        .await
        .with_context(|| format!("starting shard {k}"))?;
    prepare_database(rig, &primary).await?;
    let client = primary
        .connect(DEMO_USER, DEMO_PASSWORD, DEMO_DATABASE)
        .await?;
    client
        .batch_execute(&workload::shard_schema(k, count))
        .await
        .with_context(|| format!("loading shard {k}"))?;
    logical::publish(
        &primary,
        DEMO_DATABASE,
        &format!("shard{k}_leaderboard"),
        &["leaderboard", workload::HEARTBEAT_TABLE],
    )
    .await?;
    let mut nodes = Vec::new();
    for i in 1..=standbys {
        nodes.push(
            rig.start_standby(&format!("shard{k}_s{i}"), &primary, true)
                .await
                .with_context(|| format!("starting shard {k}'s standby {i}"))?,
        );
    }
    Ok(DemoShard {
        primary,
        standbys: nodes,
    })
}
