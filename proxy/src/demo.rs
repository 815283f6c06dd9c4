//! `shardwire demo`: starts a local PostgreSQL topology with the rig — by
//! default one primary with a synchronous streaming standby, or with
//! `--shards N` N such shards holding a sample `users` table — puts the
//! proxy in front of it, prints how to connect, and tears everything down
//! on Ctrl-C.

use crate::config::{parse_str, Config};
use crate::proxy::RunningProxy;
use anyhow::Context as _;
use shardwire_rig::{primary_with_standbys, Node, NodeOptions, Rig};

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
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub shards: u32,
}

/// Database, user and password the demo creates.
pub const DEMO_DATABASE: &str = "app";
/// Demo user.
pub const DEMO_USER: &str = "app";
/// Demo password.
pub const DEMO_PASSWORD: &str = "app";

/// One shard of the demo: its primary and standbys.
pub struct DemoShard {
    /// The primary.
    pub primary: Node,
    /// Its streaming standbys.
    pub standbys: Vec<Node>,
}

/// The proxy configuration for the demo's shards.
pub fn demo_config(
    listen_port: u16,
    pool_mode: &str,
    shards: &[DemoShard],
) -> anyhow::Result<Config> {
    let mut text = format!(
        r#"
[proxy]
listen = "127.0.0.1:{listen_port}"
database = "{DEMO_DATABASE}"
pool_mode = "{pool_mode}"

[pool]
size = 20

[sharding]
key_columns = ["user_id"]
shards = {}

[[users]]
name = "{DEMO_USER}"
password = "{DEMO_PASSWORD}"

[admin]
users = ["{DEMO_USER}"]

[metrics]
listen = "127.0.0.1:0"
"#,
        shards.len()
    );
    for shard in shards {
        let standbys: Vec<String> = shard
            .standbys
            .iter()
            .map(|s| format!("{{ host = \"127.0.0.1\", port = {} }}", s.port()))
            .collect();
        text.push_str(&format!(
            "\n[[shards]]\nprimary = {{ host = \"127.0.0.1\", port = {} }}\nstandbys = [{}]\n",
            shard.primary.port(),
            standbys.join(", ")
        ));
    }
    Ok(parse_str(&text)?)
}

/// Starts shard `k` of `count`: primary, synchronous standby, user,
/// database, and (when sharded) the sample table whose CHECK constraint
/// rejects rows of other shards.
async fn start_shard(rig: &Rig, k: u32, count: u32) -> anyhow::Result<DemoShard> {
    let (primary, standbys) =
        primary_with_standbys(rig, &format!("shard{k}"), 1, true, NodeOptions::default())
            .await
            .with_context(|| format!("starting shard {k}"))?;
    rig.create_user(&primary, DEMO_USER, DEMO_PASSWORD).await?;
    rig.create_database(&primary, DEMO_DATABASE, DEMO_USER)
        .await?;
    if count > 1 {
        let client = primary
            .connect(DEMO_USER, DEMO_PASSWORD, DEMO_DATABASE)
            .await?;
        client
            .batch_execute(&format!(
                "CREATE TABLE users (user_id bigint PRIMARY KEY, name text NOT NULL, \
                 CHECK (((user_id % {count}) + {count}) % {count} = {k}))"
            ))
            .await
            .context("creating the sample table")?;
    }
    Ok(DemoShard { primary, standbys })
}

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    println!(
        "starting PostgreSQL: {} shard(s), each a primary with a synchronous standby...",
        args.shards
    );
    let rig = Rig::new().context("creating the rig")?;
    let mut shards = Vec::new();
    for k in 0..args.shards {
        shards.push(start_shard(&rig, k, args.shards).await?);
    }
    let config = demo_config(args.port, &args.pool_mode, &shards)?;
    let proxy = RunningProxy::start(config)
        .await
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let port = proxy.addr.port();
    println!();
    println!(
        "shardwire demo is running (data in {}).",
        rig.dir().display()
    );
    for (k, shard) in shards.iter().enumerate() {
        let standbys: Vec<String> = shard
            .standbys
            .iter()
            .map(|s| s.port().to_string())
            .collect();
        println!(
            "  shard {k}: primary 127.0.0.1:{}, synchronous standby port {}",
            shard.primary.port(),
            standbys.join(", ")
        );
    }
    println!("  proxy:   127.0.0.1:{port} ({} pooling)", args.pool_mode);
    if let Some(metrics) = proxy.metrics_addr {
        println!("  metrics: http://{metrics}/metrics  (also /health, /ready)");
    }
    println!();
    println!("connect:");
    println!(
        "  PGPASSWORD={DEMO_PASSWORD} psql -h 127.0.0.1 -p {port} -U {DEMO_USER} {DEMO_DATABASE}"
    );
    println!("admin console (SHOW HELP, SHOW POOLS, SHOW STATS, ...):");
    println!("  PGPASSWORD={DEMO_PASSWORD} psql -h 127.0.0.1 -p {port} -U {DEMO_USER} shardwire -c 'SHOW POOLS'");
    if args.shards == 1 {
        println!("load:");
        println!("  PGPASSWORD={DEMO_PASSWORD} pgbench -h 127.0.0.1 -p {port} -U {DEMO_USER} -i {DEMO_DATABASE}");
        println!("  PGPASSWORD={DEMO_PASSWORD} pgbench -h 127.0.0.1 -p {port} -U {DEMO_USER} -c 20 -j 2 -T 10 -M prepared {DEMO_DATABASE}");
    } else {
        println!("try (rows go to shard user_id % {}):", args.shards);
        let n = args.shards;
        println!(
            "  INSERT INTO users (user_id, name) VALUES (1, 'ada'), ({}, 'grace');  -- one shard",
            1 + n
        );
        println!("  INSERT INTO users (user_id, name) VALUES (2, 'alan');");
        println!(
            "  SELECT * FROM users WHERE user_id = 2;                  -- routed to one shard"
        );
        println!(
            "  SELECT user_id, name FROM users ORDER BY user_id;       -- scatter-gather, merged"
        );
        println!(
            "  SELECT count(*) FROM users;                             -- aggregated over shards"
        );
        println!(
            "  /* shardwire: user_id=2 */ SHOW port;                   -- which shard answers"
        );
    }
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
