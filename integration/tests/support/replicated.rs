//! Replicated topologies for the failover drills: shard primaries with
//! streaming standbys (sync or async), optionally a TCP relay between
//! shardwire and shard 0's primary (to cut shardwire off while the
//! standbys still stream), and shardwire in front with its control plane
//! on, the admin console and /metrics.

use shardwire::config::parse_str;
use shardwire::proxy::RunningProxy;
use shardwire_rig::{Node, NodeOptions, Rig, TcpRelay};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// What to start.
pub struct Layout {
    /// Number of shards.
    pub shards: usize,
    /// Standbys per shard.
    pub standbys: usize,
    /// Synchronous replication.
    pub sync: bool,
    /// Put a relay between shardwire and shard 0's primary.
    pub relay_shard0: bool,
}

pub struct Replicated {
    pub proxy: RunningProxy,
    pub primaries: Vec<Node>,
    pub standbys: Vec<Vec<Node>>,
    pub relay: Option<TcpRelay>,
    pub rig: Rig,
}

/// Settings every drill node gets: standbys retry their upstream quickly
/// after it changes (the default is 5 s).
pub fn drill_options() -> NodeOptions {
    NodeOptions::default().with_setting("wal_retrieve_retry_interval", "200ms")
}

pub const SCHEMA: &str = "CREATE TABLE writes (user_id bigint NOT NULL, seq bigint NOT NULL, \
     PRIMARY KEY (user_id, seq)); \
     CREATE TABLE shardwire_heartbeat (shard int PRIMARY KEY, beat timestamptz NOT NULL);";

impl Replicated {
    pub async fn start(layout: Layout) -> Replicated {
        let rig = Rig::new().expect("rig");
        let (primaries, standbys) =
            start_shards(&rig, layout.shards, layout.standbys, layout.sync).await;
        let relay = if layout.relay_shard0 {
            Some(TcpRelay::start(primaries[0].port()).expect("relay"))
        } else {
            None
        };
        let shard_entries = shard_entries(&primaries, &standbys, |k, primary| match (&relay, k) {
            (Some(r), 0) => r.port(),
            _ => primary.port(),
        });
        let config = format!(
            r#"
[proxy]
listen = "127.0.0.1:0"
database = "app"

[pool]
size = 8
checkout_timeout = "10s"
connect_timeout = "2s"

[admin]
users = ["app"]

[metrics]
listen = "127.0.0.1:0"

[replication]
user = "postgres"
password = "postgres"
pause_timeout = "40s"

[[users]]
name = "app"
password = "app"

{shard_entries}
"#
        );
        let proxy = RunningProxy::start(parse_str(&config).expect("config"))
            .await
            .expect("proxy");
        Replicated {
            proxy,
            primaries,
            standbys,
            relay,
            rig,
        }
    }

    pub fn conn_str(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=app password=app dbname={db} connect_timeout=5",
            self.proxy.addr.port()
        )
    }

    pub async fn try_client(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.conn_str("app"), NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    pub async fn client(&self) -> Client {
        self.try_client().await.expect("connect through proxy")
    }

    /// Rows of an admin command, as text.
    pub async fn admin(&self, command: &str) -> Vec<Vec<Option<String>>> {
        let (client, conn) = tokio_postgres::connect(&self.conn_str("shardwire"), NoTls)
            .await
            .expect("admin console");
        tokio::spawn(conn);
        admin_rows(&client, command).await.expect("admin command")
    }

    /// Waits until the control plane has checked every node once.
    pub async fn wait_monitored(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let nodes = self.proxy.context.topology.nodes.all();
            if nodes.iter().all(|n| n.checked_at.is_some() && n.up) {
                return;
            }
            assert!(Instant::now() < deadline, "nodes never all up: {nodes:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node with `port` among all primaries and standbys.
    pub fn node_at(&self, port: u16) -> &Node {
        self.primaries
            .iter()
            .chain(self.standbys.iter().flatten())
            .find(|n| n.port() == port)
            .expect("a rig node on that port")
    }
}

/// Starts `shards` primaries (user and database `app`, the drill schema)
/// with `standbys` streaming standbys each.
pub async fn start_shards(
    rig: &Rig,
    shards: usize,
    standbys_per_shard: usize,
    sync: bool,
) -> (Vec<Node>, Vec<Vec<Node>>) {
    let mut primaries = Vec::new();
    let mut standbys = Vec::new();
    for k in 0..shards {
        let primary = rig
            .start_primary(&format!("shard{k}"), drill_options())
            .await
            .expect("primary");
        rig.create_user(&primary, "app", "app").await.expect("user");
        rig.create_database(&primary, "app", "app")
            .await
            .expect("db");
        primary
            .connect("app", "app", "app")
            .await
            .expect("connect")
            .batch_execute(SCHEMA)
            .await
            .expect("schema");
        let mut mine = Vec::new();
        for i in 1..=standbys_per_shard {
            mine.push(
                rig.start_standby(&format!("shard{k}_s{i}"), &primary, sync)
                    .await
                    .expect("standby"),
            );
        }
        primaries.push(primary);
        standbys.push(mine);
    }
    (primaries, standbys)
}

/// The `[[shards]]` entries of a configuration for these nodes, shard k's
/// primary reached on `primary_port(k, primary)`.
pub fn shard_entries(
    primaries: &[Node],
    standbys: &[Vec<Node>],
    primary_port: impl Fn(usize, &Node) -> u16,
) -> String {
    let mut entries = String::new();
    for (k, primary) in primaries.iter().enumerate() {
        let standby_list: Vec<String> = standbys[k]
            .iter()
            .map(|s| format!("{{ host = \"127.0.0.1\", port = {} }}", s.port()))
            .collect();
        entries.push_str(&format!(
            "[[shards]]\nprimary = {{ host = \"127.0.0.1\", port = {} }}\nstandbys = [{}]\n",
            primary_port(k, primary),
            standby_list.join(", ")
        ));
    }
    entries
}

/// Runs `command` and returns its rows as text.
pub async fn admin_rows(
    client: &Client,
    command: &str,
) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    let messages = client.simple_query(command).await?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// A user id on `shard` of `shards` (modulo sharding), the `i`-th one.
pub fn user_on(shard: usize, shards: usize, i: usize) -> i64 {
    (i * shards + shard) as i64
}
