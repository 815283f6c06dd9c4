//! `shardwire demo`: starts the seed topology with the rig — by default six
//! shards, each a primary with a synchronous standby, and a three-node
//! replica cluster subscribed to every shard — loads sample data, puts the
//! proxy in front (control plane, admin console and /metrics on), prints
//! how to use it and how to run a failover drill, and tears everything
//! down on Ctrl-C. The terminal shows progress lines and the banner; the
//! logs go to the demo's log file ([`logging`]).

mod config;
mod fleet;
pub mod logging;
mod topology;
mod workload;

use crate::proxy::RunningProxy;
use anyhow::Context as _;
use shardwire_rig::Rig;

/// Demo options.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Port the proxy listens on.
    #[arg(long, default_value_t = 6432)]
    pub port: u16,
    /// Pool mode: transaction or session.
    #[arg(long, default_value = "transaction")]
    pub pool_mode: String,
    /// Number of shards (each a primary with a synchronous standby).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub shards: u32,
    /// Standbys per shard (the seed keeps three copies: a primary and two
    /// standbys under a quorum, `ANY 1`).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=4))]
    pub standbys: u32,
    /// Nodes in the leaderboard replica cluster (0: none).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=8))]
    pub replicas: u32,
    /// shardwire instances: 1 runs in this process with no etcd; 2 or more
    /// run as separate processes on consecutive ports, coordinated through
    /// a three-member etcd cluster started for the demo.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub instances: u32,
}

/// Database, user and password the demo creates.
pub const DEMO_DATABASE: &str = "app";
/// Demo user.
pub const DEMO_USER: &str = "app";
/// Demo password.
pub const DEMO_PASSWORD: &str = "app";

/// `1 shard`, `2 shards`, `no shard`.
fn count(n: u32, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {one}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    println!(
        "starting PostgreSQL: {}, each a primary with {}, and {}{}",
        count(args.shards, "shard", "shards"),
        count(args.standbys, "standby", "standbys"),
        count(
            args.replicas,
            "replica-cluster node",
            "replica-cluster nodes"
        ),
        logging::file().map_or(String::new(), |f| format!(" (logs: {})", f.display()))
    );
    let rig = Rig::new().context("creating the rig")?;
    let topo = topology::start(&rig, args.shards, args.standbys, args.replicas).await?;
    if args.instances > 1 {
        return fleet::run(&rig, &topo, &args).await;
    }
    println!("starting shardwire on 127.0.0.1:{}", args.port);
    let config = config::demo_config(args.port, &args.pool_mode, &topo)?;
    let proxy = RunningProxy::start(config)
        .await
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let scripts = workload::write_pgbench_scripts(rig.dir(), &topo)?;
    workload::print_guide(&rig, &topo, &proxy, &args, &scripts);
    logging::terminal(true);
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    logging::terminal(false);
    println!("stopping...");
    proxy.stop();
    drop(proxy);
    rig.stop_all();
    drop(rig);
    println!("stopped.");
    Ok(())
}
