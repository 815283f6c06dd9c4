//! `shardwire demo`: starts a local PostgreSQL topology with the rig (one
//! primary with a synchronous streaming standby), puts the proxy in front of
//! it, prints how to connect, and tears everything down on Ctrl-C.

use crate::config::{parse_str, Config};
use crate::proxy::RunningProxy;
use anyhow::Context as _;
use shardwire_rig::{primary_with_standbys, NodeOptions, Rig};

/// Demo options.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Port the proxy listens on.
    #[arg(long, default_value_t = 6432)]
    pub port: u16,
    /// Pool mode: transaction or session.
    #[arg(long, default_value = "transaction")]
    pub pool_mode: String,
}

/// Database, user and password the demo creates.
pub const DEMO_DATABASE: &str = "app";
/// Demo user.
pub const DEMO_USER: &str = "app";
/// Demo password.
pub const DEMO_PASSWORD: &str = "app";

/// The proxy configuration for a primary at `primary_port` and standby.
pub fn demo_config(
    listen_port: u16,
    pool_mode: &str,
    primary_port: u16,
    standby_ports: &[u16],
) -> anyhow::Result<Config> {
    let standbys: Vec<String> = standby_ports
        .iter()
        .map(|p| format!("{{ host = \"127.0.0.1\", port = {p} }}"))
        .collect();
    let text = format!(
        r#"
[proxy]
listen = "127.0.0.1:{listen_port}"
database = "{DEMO_DATABASE}"
pool_mode = "{pool_mode}"

[pool]
size = 20

[[users]]
name = "{DEMO_USER}"
password = "{DEMO_PASSWORD}"

[[shards]]
primary = {{ host = "127.0.0.1", port = {primary_port} }}
standbys = [{}]
"#,
        standbys.join(", ")
    );
    Ok(parse_str(&text)?)
}

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    println!("starting PostgreSQL (primary + synchronous standby)...");
    let rig = Rig::new().context("creating the rig")?;
    let (primary, standbys) =
        primary_with_standbys(&rig, "shard0", 1, true, NodeOptions::default())
            .await
            .context("starting the primary and its standby")?;
    rig.create_user(&primary, DEMO_USER, DEMO_PASSWORD).await?;
    rig.create_database(&primary, DEMO_DATABASE, DEMO_USER)
        .await?;
    let standby_ports: Vec<u16> = standbys.iter().map(|s| s.port()).collect();
    let config = demo_config(args.port, &args.pool_mode, primary.port(), &standby_ports)?;
    let proxy = RunningProxy::start(config)
        .await
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let port = proxy.addr.port();
    println!();
    println!("shardwire demo is running.");
    println!(
        "  primary  127.0.0.1:{} (data in {})",
        primary.port(),
        rig.dir().display()
    );
    for s in &standbys {
        println!("  standby  127.0.0.1:{} (synchronous)", s.port());
    }
    println!("  proxy    127.0.0.1:{port} ({} pooling)", args.pool_mode);
    println!();
    println!("connect:");
    println!(
        "  PGPASSWORD={DEMO_PASSWORD} psql -h 127.0.0.1 -p {port} -U {DEMO_USER} {DEMO_DATABASE}"
    );
    println!("load:");
    println!("  PGPASSWORD={DEMO_PASSWORD} pgbench -h 127.0.0.1 -p {port} -U {DEMO_USER} -i {DEMO_DATABASE}");
    println!("  PGPASSWORD={DEMO_PASSWORD} pgbench -h 127.0.0.1 -p {port} -U {DEMO_USER} -c 20 -j 2 -T 10 -M prepared {DEMO_DATABASE}");
    println!();
    println!("press Ctrl-C to stop everything.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    println!("stopping...");
    proxy.stop();
    drop(proxy);
    rig.stop_all();
    drop(rig);
    println!("stopped.");
    Ok(())
}
