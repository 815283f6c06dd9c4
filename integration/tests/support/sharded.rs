//! A six-shard topology: six primaries from the rig, each with the test
//! schema whose CHECK constraints make a misrouted row fail loudly, one
//! unsharded reference server holding every row, and shardwire in front
//! of the six.

use shardwire::config::parse_str;
use shardwire::proxy::RunningProxy;
use shardwire_rig::{Node, NodeOptions, Rig};
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
    pub rig: Rig,
}

fn schema(check: &dyn Fn(&str) -> String) -> String {
    format!(
        "CREATE TABLE users (user_id bigint PRIMARY KEY, name text NOT NULL, {u});
         CREATE TABLE scores (id bigint, player_id bigint NOT NULL, points int, {p});
         CREATE TABLE events (user_id bigint NOT NULL, kind text, amount numeric, {e});
         CREATE TABLE countries (code text PRIMARY KEY, name text);",
        u = check("user_id"),
        p = check("player_id"),
        e = check("user_id"),
    )
}

impl Sharded {
    pub async fn start(pool_mode: &str) -> Sharded {
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
size = 4
checkout_timeout = "5s"

[sharding]
key_columns = ["user_id"]
shards = 6
global_tables = ["countries"]

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

{shard_entries}
"#
        );
        let proxy = RunningProxy::start(parse_str(&config).expect("config"))
            .await
            .expect("proxy");
        Sharded {
            proxy,
            shards,
            reference,
            rig,
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
