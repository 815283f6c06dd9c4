//! The PostgreSQL side: one rig primary with the bench and idle roles, the
//! bench database, and pgbench's tables.

use std::path::Path;

use anyhow::Context;
use shardwire_rig::{Node, NodeOptions, Rig};

use crate::pgbench::{self, Endpoint};

/// The role idle clients log in as (trust in front of the poolers; the
/// poolers log in to PostgreSQL with [`pgbench::PASSWORD`]).
pub const IDLE_USER: &str = "idle";

/// pgbench's scale factor (`-s`).
const SCALE: u32 = 10;

/// Starts the primary, creates the roles and the database, and runs
/// `pgbench -i`. The node lives as long as `rig`.
pub async fn start(rig: &Rig, pgbench_bin: &Path) -> anyhow::Result<Node> {
    let node = rig
        .start_primary("bench", NodeOptions::default().with_max_connections(400))
        .await
        .context("starting PostgreSQL")?;
    rig.create_user(&node, pgbench::USER, pgbench::PASSWORD)
        .await
        .context("creating the bench role")?;
    rig.create_user(&node, IDLE_USER, pgbench::PASSWORD)
        .await
        .context("creating the idle role")?;
    rig.create_database(&node, pgbench::DATABASE, pgbench::USER)
        .await
        .context("creating the bench database")?;
    pgbench::initialise(pgbench_bin, Endpoint { port: node.port() }, SCALE)
        .await
        .context("initialising the pgbench tables")?;
    Ok(node)
}

/// The server version of `node`, for the report header.
pub async fn version(node: &Node) -> anyhow::Result<String> {
    let client = node.connect_superuser().await?;
    let row = client.query_one("SHOW server_version", &[]).await?;
    Ok(row.get(0))
}
