//! A six-shard topology: six primaries from the rig, each with the test
//! schema whose CHECK constraints make a misrouted row fail loudly, one
//! unsharded reference server holding every row, and shardwire in front
//! of the six. Optionally (`ShardedOptions::replica_cluster`) a
//! leaderboard replica node subscribed to every shard, with the control
//! plane measuring its lag, and the admin console.

use shardwire::config::parse_str;
use shardwire::proxy::RunningProxy;
use shardwire_rig::{logical, Node, NodeOptions, Rig};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

pub const SHARDS: i64 = 6;

/// The shard of a user id (modulo, never negative).
pub fn shard_of(user_id: i64) -> usize {
    user_id.rem_euclid(SHARDS) as usize
}

pub struct Sharded {
    pub proxy: RunningProxy,
    pub shards: Vec<Node>,
    pub reference: Node,
    /// The leaderboard replica node, with `replica_cluster`.
    pub replica: Option<Node>,
    pub rig: Rig,
    /// The configuration the proxy was started with.
    pub config: String,
}

/// What to start besides the six shards.
#[derive(Clone, Copy)]
pub struct ShardedOptions {
    pub pool_mode: &'static str,
    pub pool_size: usize,
    /// A replica node subscribed to every shard's `leaderboard` (reads of
    /// `leaderboard*` go there), the control plane on, user `app` an admin.
    pub replica_cluster: bool,
    /// Extra lines for the `[sharding]` section.
    pub sharding_extra: &'static str,
}

impl Default for ShardedOptions {
    fn default() -> Self {
        ShardedOptions {
            pool_mode: "transaction",
            pool_size: 4,
            replica_cluster: false,
            sharding_extra: "",
        }
    }
}

/// Tables for the replica cluster: the leaderboard and the heartbeat the
/// control plane writes on each shard to measure the replica's lag.
const LEADERBOARD: &str =
    "CREATE TABLE leaderboard (user_id bigint PRIMARY KEY, score int NOT NULL);
     CREATE TABLE shardwire_heartbeat (shard int PRIMARY KEY, beat timestamptz NOT NULL);";

/// The driver programs' table (integration/drivers/): one row per
/// (driver, user_id), a column of each type they check.
const DRIVER_ROWS: &str = "CREATE TABLE driver_rows (driver text NOT NULL, user_id bigint NOT NULL,
       n int, amount numeric, name text, at timestamptz, flag bool, blob bytea, tags int[],
       note text, PRIMARY KEY (driver, user_id), CHECK_CLAUSE);";

fn schema(check: &dyn Fn(&str) -> String) -> String {
    format!(
        "CREATE TABLE users (user_id bigint PRIMARY KEY, name text NOT NULL, {u});
         CREATE TABLE scores (id bigint, player_id bigint NOT NULL, points int, {p});
         CREATE TABLE events (user_id bigint NOT NULL, kind text, amount numeric, {e});
         CREATE TABLE countries (code text PRIMARY KEY, name text);
         {d}",
        d = DRIVER_ROWS.replace("CHECK_CLAUSE", &check("user_id")),
        u = check("user_id"),
        p = check("player_id"),
        e = check("user_id"),
    )
}

impl Sharded {
    pub async fn start(pool_mode: &'static str) -> Sharded {
        Sharded::start_with(ShardedOptions {
            pool_mode,
            ..ShardedOptions::default()
        })
        .await
    }

    pub async fn start_with(opts: ShardedOptions) -> Sharded {
        let pool_mode = opts.pool_mode;
        let pool_size = opts.pool_size;
        let rig = Rig::new().expect("rig");
        let mut shards = Vec::new();
        for k in 0..SHARDS {
            let node = rig
                .start_primary(&format!("shard{k}"), NodeOptions::default())
                .await
                .expect("shard primary");
            shards.push(node);
        }
        let reference = rig
            .start_primary("reference", NodeOptions::default())
            .await
            .expect("reference");
        for node in shards.iter().chain(std::iter::once(&reference)) {
            rig.create_user(node, "app", "app").await.expect("user");
            rig.create_user(node, "trustuser", "trustpw")
                .await
                .expect("user");
            rig.create_database(node, "app", "app").await.expect("db");
        }
        for (k, node) in shards.iter().enumerate() {
            let c = node.connect("app", "app", "app").await.expect("shard");
            let check = |col: &str| format!("CHECK ((({col} % 6) + 6) % 6 = {k})");
            c.batch_execute(&schema(&check))
                .await
                .expect("shard schema");
            c.batch_execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO trustuser")
                .await
                .expect("grant");
        }
        let r = reference
            .connect("app", "app", "app")
            .await
            .expect("reference");
        r.batch_execute(&schema(&|_| "CHECK (true)".to_string()))
            .await
            .expect("reference schema");
        let replica = if opts.replica_cluster {
            Some(start_replica(&rig, &shards).await)
        } else {
            None
        };
        let replica_sections = match &replica {
            Some(node) => format!(
                r#"
[admin]
users = ["app"]

[replication]
user = "postgres"
password = "postgres"

[replica_cluster]
nodes = [{{ host = "127.0.0.1", port = {} }}]
max_lag = "5s"

[[routes]]
name = "leaderboards"
tables = ["leaderboard*"]
"#,
                node.port()
            ),
            None => String::new(),
        };

        let shard_entries: String = shards
            .iter()
            .map(|n| {
                format!(
                    "[[shards]]\nprimary = {{ host = \"127.0.0.1\", port = {} }}\n",
                    n.port()
                )
            })
            .collect();
        let config = format!(
            r#"
[proxy]
listen = "127.0.0.1:0"
database = "app"
pool_mode = "{pool_mode}"

[pool]
size = {pool_size}
checkout_timeout = "5s"

[sharding]
key_columns = ["user_id"]
shards = 6
global_tables = ["countries"]
{sharding_extra}

[[sharding.tables]]
name = "scores"
key = "player_id"

[[users]]
name = "app"
password = "app"

[[users]]
name = "trustuser"
password = "trustpw"
auth = "trust"

{replica_sections}

{shard_entries}
"#,
            sharding_extra = opts.sharding_extra,
        );
        let proxy = RunningProxy::start(parse_str(&config).expect("config"))
            .await
            .expect("proxy");
        let sharded = Sharded {
            proxy,
            shards,
            reference,
            replica,
            rig,
            config,
        };
        if sharded.replica.is_some() {
            sharded.wait_replica_serving().await;
        }
        sharded
    }

    /// The proxy's connection URL for user `app`.
    pub fn url(&self) -> String {
        format!(
            "postgres://app:app@127.0.0.1:{}/app",
            self.proxy.addr.port()
        )
    }

    /// Waits until the control plane has checked every node, so that
    /// leaderboard reads go to the replica (within its lag bound).
    pub async fn wait_replica_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let nodes = self.proxy.context.topology.nodes.all();
            if !nodes.is_empty() && nodes.iter().all(|n| n.checked_at.is_some() && n.up) {
                let c = self.client().await;
                let port: i32 = c
                    .query_one("SELECT inet_server_port() FROM leaderboard LIMIT 1", &[])
                    .await
                    .ok()
                    .map(|r| r.get(0))
                    .unwrap_or(0);
                if self.replica.as_ref().map(|r| i32::from(r.port())) == Some(port) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the replica never served leaderboard reads: {nodes:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn client(&self) -> Client {
        let (client, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=app password=app dbname=app",
                self.proxy.addr.port()
            ),
            NoTls,
        )
        .await
        .expect("connect through proxy");
        tokio::spawn(conn);
        client
    }

    pub async fn shard(&self, k: usize) -> Client {
        self.shards[k]
            .connect("app", "app", "app")
            .await
            .expect("shard direct")
    }

    pub async fn reference(&self) -> Client {
        self.reference
            .connect("app", "app", "app")
            .await
            .expect("reference direct")
    }

    /// The port of the server that answered, as seen through the proxy.
    pub fn shard_with_port(&self, port: &str) -> Option<usize> {
        self.shards
            .iter()
            .position(|n| n.port().to_string() == port)
    }
}

/// Starts the leaderboard replica node: the tables, a publication of
/// `leaderboard` and the heartbeat on every shard, a subscription to each,
/// and one leaderboard row per shard (written on the shards, waited for on
/// the replica).
async fn start_replica(rig: &Rig, shards: &[Node]) -> Node {
    let replica = rig
        .start_primary(
            "replica0",
            // One apply worker per shard, plus table sync workers.
            NodeOptions::default()
                .with_setting("max_logical_replication_workers", "16")
                .with_setting("max_worker_processes", "24"),
        )
        .await
        .expect("replica node");
    rig.create_user(&replica, "app", "app").await.expect("user");
    rig.create_database(&replica, "app", "app")
        .await
        .expect("db");
    replica
        .connect("app", "app", "app")
        .await
        .expect("replica")
        .batch_execute(LEADERBOARD)
        .await
        .expect("replica schema");
    for (k, shard) in shards.iter().enumerate() {
        let c = shard.connect("app", "app", "app").await.expect("shard");
        c.batch_execute(LEADERBOARD).await.expect("leaderboard");
        c.execute(
            "INSERT INTO leaderboard VALUES ($1, $2)",
            &[&(k as i64), &(100 * k as i32)],
        )
        .await
        .expect("leaderboard row");
        logical::publish(
            shard,
            "app",
            &format!("shard{k}_pub"),
            &["leaderboard", "shardwire_heartbeat"],
        )
        .await
        .expect("publication");
        logical::subscribe(
            &replica,
            "app",
            &format!("r0_s{k}"),
            shard,
            &format!("shard{k}_pub"),
        )
        .await
        .expect("subscription");
    }
    replica
}
