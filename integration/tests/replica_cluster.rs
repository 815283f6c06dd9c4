//! Drill 4, the leaderboard replica cluster: two shards, two replica nodes
//! subscribed to both. Reads of `leaderboard*` go to the replicas; a
//! replica whose subscription stops falls behind and gets no reads; when
//! all lag the reads fall back to scatter-gather over the shards; when
//! they catch up, reads return to them.

mod support;

use shardwire::config::parse_str;
use shardwire::proxy::RunningProxy;
use shardwire_rig::{logical, Node, Rig};
use std::time::{Duration, Instant};
use support::replicated::{admin_rows, drill_options};
use tokio_postgres::{Client, NoTls};

const SCHEMA: &str = "CREATE TABLE leaderboard (user_id bigint PRIMARY KEY, score int NOT NULL); \
     CREATE TABLE shardwire_heartbeat (shard int PRIMARY KEY, beat timestamptz NOT NULL);";

struct Cluster {
    proxy: RunningProxy,
    shards: Vec<Node>,
    replicas: Vec<Node>,
    standby0: Option<Node>,
    _rig: Rig,
}

/// Two shards and `replicas` replica nodes; with `standby0`, shard 0 has a
/// synchronous standby shardwire can promote.
async fn start(replicas: usize, standby0: bool) -> Cluster {
    let rig = Rig::new().expect("rig");
    let mut nodes = Vec::new();
    let names: Vec<String> = ["shard0".to_owned(), "shard1".to_owned()]
        .into_iter()
        .chain((0..replicas).map(|i| format!("replica{i}")))
        .collect();
    for name in &names {
        let node = rig
            .start_primary(name, drill_options())
            .await
            .expect("node");
        rig.create_user(&node, "app", "app").await.expect("user");
        rig.create_database(&node, "app", "app").await.expect("db");
        node.connect("app", "app", "app")
            .await
            .expect("connect")
            .batch_execute(SCHEMA)
            .await
            .expect("schema");
        nodes.push(node);
    }
    let replicas = nodes.split_off(2);
    let shards = nodes;
    let standby0 = if standby0 {
        Some(
            rig.start_standby("shard0_s1", &shards[0], true)
                .await
                .expect("standby"),
        )
    } else {
        None
    };
    for (k, shard) in shards.iter().enumerate() {
        logical::publish(
            shard,
            "app",
            &format!("shard{k}_pub"),
            &["leaderboard", "shardwire_heartbeat"],
        )
        .await
        .expect("publication");
    }
    for (i, replica) in replicas.iter().enumerate() {
        for (k, shard) in shards.iter().enumerate() {
            logical::subscribe(
                replica,
                "app",
                &format!("r{i}_s{k}"),
                shard,
                &format!("shard{k}_pub"),
            )
            .await
            .expect("subscription");
        }
    }
    let endpoint = |n: &Node| format!("{{ host = \"127.0.0.1\", port = {} }}", n.port());
    let mut shard_entries: String = shards
        .iter()
        .map(|n| format!("[[shards]]\nprimary = {}\n", endpoint(n)))
        .collect();
    if let Some(s) = &standby0 {
        // Shard 0's entry is first: give it its standby.
        let first_end = shard_entries
            .find("\n[[shards]]")
            .unwrap_or(shard_entries.len());
        shard_entries.insert_str(first_end, &format!("\nstandbys = [{}]", endpoint(s)));
    }
    let replica_list: Vec<String> = replicas.iter().map(endpoint).collect();
    let config = format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
database = "app"

[admin]
users = ["app"]

[replication]
user = "postgres"
password = "postgres"

[replica_cluster]
nodes = [{}]
max_lag = "2s"

[[routes]]
name = "leaderboards"
tables = ["leaderboard*"]

[[users]]
name = "app"
password = "app"

{shard_entries}
"#,
        replica_list.join(", ")
    );
    let proxy = RunningProxy::start(parse_str(&config).expect("config"))
        .await
        .expect("proxy");
    Cluster {
        proxy,
        shards,
        replicas,
        standby0,
        _rig: rig,
    }
}

async fn connect(port: u16, db: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=app password=app dbname={db}"),
        NoTls,
    )
    .await
    .expect("connect through proxy");
    tokio::spawn(conn);
    client
}

/// The ports of the servers that answered a leaderboard read, and the
/// rows each counted: one row from a replica (all rows), one per shard
/// after a fallback to scatter-gather (each shard's rows).
async fn who_answers(c: &Client) -> Vec<(u16, i64)> {
    let rows = c
        .simple_query("SELECT inet_server_port(), count(*) FROM leaderboard GROUP BY 1")
        .await
        .expect("leaderboard read");
    rows.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some((
                r.get(0).and_then(|p| p.parse().ok()).unwrap_or(0),
                r.get(1).and_then(|n| n.parse().ok()).unwrap_or(-1),
            )),
            _ => None,
        })
        .collect()
}

/// Waits until `check` holds for the set of ports answering 10 reads.
async fn wait_for_ports(c: &Client, what: &str, check: impl Fn(&[u16]) -> bool) -> Vec<u16> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut ports = Vec::new();
        for _ in 0..10 {
            ports.extend(who_answers(c).await.iter().map(|(p, _)| *p));
        }
        ports.sort_unstable();
        ports.dedup();
        if check(&ports) {
            return ports;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: reads still answered by {ports:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn set_subscription(node: &Node, name: &str, enabled: bool) {
    let verb = if enabled { "ENABLE" } else { "DISABLE" };
    node.connect("postgres", "postgres", "app")
        .await
        .expect("superuser")
        .batch_execute(&format!("ALTER SUBSCRIPTION {name} {verb}"))
        .await
        .expect("alter subscription");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaderboard_reads_follow_replica_lag() {
    let cl = start(2, false).await;
    let c = connect(cl.proxy.addr.port(), "app").await;
    for user_id in 0..40i64 {
        c.execute(
            "INSERT INTO leaderboard (user_id, score) VALUES ($1, $2)",
            &[&user_id, &(user_id as i32 * 10)],
        )
        .await
        .expect("keyed write goes to a shard");
    }
    for shard in &cl.shards {
        for i in 0..2 {
            let k = cl
                .shards
                .iter()
                .position(|s| s.port() == shard.port())
                .expect("shard");
            logical::wait_subscription_caught_up(shard, &format!("r{i}_s{k}"))
                .await
                .expect("caught up");
        }
    }
    let mut replica_ports: Vec<u16> = cl.replicas.iter().map(|r| r.port()).collect();
    replica_ports.sort_unstable();
    let mut shard_ports: Vec<u16> = cl.shards.iter().map(|s| s.port()).collect();
    shard_ports.sort_unstable();

    // Both replicas serve, with every shard's rows.
    let ports = wait_for_ports(&c, "both replicas serving", |p| {
        p == replica_ports.as_slice()
    })
    .await;
    assert_eq!(ports, replica_ports);
    for (_, count) in who_answers(&c).await {
        assert_eq!(count, 40, "a replica holds all shards' rows");
    }
    // The extended protocol takes the same route.
    let row = c
        .query_one(
            "SELECT inet_server_port(), count(*) FROM leaderboard WHERE score >= $1 GROUP BY 1",
            &[&0i32],
        )
        .await
        .expect("extended-protocol leaderboard read");
    assert!(replica_ports.contains(&(row.get::<_, i32>(0) as u16)));
    assert_eq!(row.get::<_, i64>(1), 40);
    // Non-leaderboard reads and writes never go there.
    let rows = c
        .simple_query("SELECT inet_server_port() FROM shardwire_heartbeat")
        .await
        .expect("scatter read");
    assert!(rows.iter().all(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) =>
            shard_ports.contains(&r.get(0).and_then(|p| p.parse().ok()).unwrap_or(0)),
        _ => true,
    }));

    // BAN takes a node out of the rotation; UNBAN brings it back.
    let admin = connect(cl.proxy.addr.port(), "shardwire").await;
    let replica0 = format!("127.0.0.1:{}", cl.replicas[0].port());
    admin_rows(&admin, &format!("BAN {replica0}"))
        .await
        .expect("BAN");
    wait_for_ports(&c, "replica 0 banned", |p| p == [cl.replicas[1].port()]).await;
    admin_rows(&admin, &format!("UNBAN {replica0}"))
        .await
        .expect("UNBAN");
    wait_for_ports(&c, "replica 0 back", |p| p == replica_ports.as_slice()).await;

    // Replica 0 stops applying shard 0: it falls behind and loses its reads.
    set_subscription(&cl.replicas[0], "r0_s0", false).await;
    wait_for_ports(&c, "only replica 1 serving", |p| {
        p == [cl.replicas[1].port()]
    })
    .await;

    // Both lag: the reads fall back to scatter-gather over the shards.
    set_subscription(&cl.replicas[1], "r1_s1", false).await;
    wait_for_ports(&c, "fallback to the shards", |p| {
        p == shard_ports.as_slice()
    })
    .await;
    let answers = who_answers(&c).await;
    assert_eq!(answers.len(), 2, "one row per shard: {answers:?}");
    assert_eq!(answers.iter().map(|(_, n)| n).sum::<i64>(), 40);
    let metrics = cl.proxy.context.metrics.encode();
    assert!(
        metrics
            .contains("shardwire_replica_fallbacks_total{reason=\"lag\",route=\"leaderboards\"}"),
        "{metrics}"
    );

    // They catch up: reads return to both.
    set_subscription(&cl.replicas[0], "r0_s0", true).await;
    set_subscription(&cl.replicas[1], "r1_s1", true).await;
    wait_for_ports(&c, "replicas serving again", |p| {
        p == replica_ports.as_slice()
    })
    .await;

    // SHOW NODES shows the replicas' lag per shard.
    let nodes = admin_rows(&admin, "SHOW NODES").await.expect("SHOW NODES");
    let replica_rows: Vec<_> = nodes
        .iter()
        .filter(|r| r[1].as_deref() == Some("replica"))
        .collect();
    assert_eq!(replica_rows.len(), 2, "{nodes:?}");
    assert!(replica_rows.iter().all(|r| r[11]
        .as_deref()
        .is_some_and(|s| s.contains("0:") && s.contains("1:"))));
    assert!(
        replica_rows
            .iter()
            .all(|r| r[4].as_deref().is_some_and(|s| s.starts_with("yes"))),
        "{nodes:?}"
    );
    let routes = admin_rows(&admin, "SHOW ROUTES")
        .await
        .expect("SHOW ROUTES");
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0][0].as_deref(), Some("leaderboards"));
    let number = |i: usize| {
        routes[0][i]
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(number(3) > 0, "replica reads counted: {routes:?}");
    assert!(number(4) > 0, "lag fallbacks counted: {routes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_resubscribes_after_a_shard_fails_over() {
    let cl = start(1, true).await;
    let c = connect(cl.proxy.addr.port(), "app").await;
    for user_id in 0..20i64 {
        c.execute(
            "INSERT INTO leaderboard (user_id, score) VALUES ($1, 1)",
            &[&user_id],
        )
        .await
        .expect("write");
    }
    let replica = cl.replicas[0].port();
    let serves_all = |n: i64| move |answers: &[(u16, i64)]| answers == [(replica, n)];
    wait_for_answers(&c, "the replica serving all rows", serves_all(20)).await;

    cl.shards[0].kill().expect("kill shard 0's primary");
    let standby = cl.standby0.as_ref().expect("standby").port();
    let state = cl.proxy.context.topology.shard(0).expect("shard 0").clone();
    let deadline = Instant::now() + Duration::from_secs(45);
    while state.primary().port != standby {
        assert!(Instant::now() < deadline, "shard 0 never failed over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // New rows of shard 0 land on the new primary; the replica gets them
    // once it has resubscribed there (and re-copied the shard's rows).
    for user_id in (20..40i64).filter(|u| u % 2 == 0) {
        c.execute(
            "INSERT INTO leaderboard (user_id, score) VALUES ($1, 2)",
            &[&user_id],
        )
        .await
        .expect("write after the failover");
    }
    wait_for_answers(&c, "the replica serving shard 0's new rows", serves_all(30)).await;
}

/// Waits until a leaderboard read's answers satisfy `check`.
async fn wait_for_answers(c: &Client, what: &str, check: impl Fn(&[(u16, i64)]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answers = who_answers(c).await;
        if check(&answers) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last answers {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
