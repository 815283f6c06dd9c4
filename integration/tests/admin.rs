//! The admin console and monitoring endpoints against real PostgreSQL:
//! every SHOW command answers with its columns, the numbers move with
//! traffic, `/metrics` parses as Prometheus text and agrees with SHOW
//! STATS, `/ready` turns 503 when the primary is gone, and refusals carry
//! their SQLSTATE.

mod support;

use std::collections::HashMap;
use support::{sqlstate, Options, Setup};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::{NoTls, SimpleQueryMessage};

async fn console(
    setup: &Setup,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname=shardwire",
            setup.port()
        ),
        NoTls,
    )
    .await?;
    tokio::spawn(conn);
    Ok(client)
}

/// Rows of a SHOW as column-name → value maps.
async fn show(c: &tokio_postgres::Client, command: &str) -> Vec<HashMap<String, String>> {
    let messages = c
        .simple_query(command)
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                r.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, col)| (col.name().to_string(), r.get(i).unwrap_or("").to_string()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn sum(rows: &[HashMap<String, String>], column: &str) -> u64 {
    rows.iter()
        .map(|r| r[column].parse::<u64>().expect("number"))
        .sum()
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect metrics");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut response = String::new();
    s.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_commands_answer_and_count_traffic() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let expectations: [(&str, &[&str]); 9] = [
        (
            "SHOW POOLS",
            &[
                "database",
                "user",
                "cl_active",
                "cl_waiting",
                "sv_active",
                "sv_idle",
                "sv_used",
                "sv_tested",
                "sv_login",
                "maxwait",
                "maxwait_us",
                "pool_mode",
                "shard",
                "role",
            ],
        ),
        (
            "SHOW STATS",
            &[
                "database",
                "total_xact_count",
                "total_query_count",
                "total_received",
                "total_sent",
                "total_xact_time",
                "total_query_time",
                "total_wait_time",
                "avg_xact_count",
                "avg_query_count",
                "avg_recv",
                "avg_sent",
                "avg_xact_time",
                "avg_query_time",
                "avg_wait_time",
            ],
        ),
        ("SHOW STATS_TOTALS", &["xact_count", "query_count"]),
        ("SHOW STATS_AVERAGES", &["xact_count", "query_count"]),
        (
            "SHOW DATABASES",
            &[
                "name",
                "host",
                "port",
                "database",
                "pool_size",
                "pool_mode",
                "current_connections",
            ],
        ),
        ("SHOW SHARDS", &["shard", "primary", "standbys", "state"]),
        ("SHOW CONFIG", &["key", "value", "default", "changeable"]),
        ("SHOW LISTS", &["list", "items"]),
        ("SHOW VERSION", &["version"]),
    ];
    for (command, columns) in expectations {
        let rows = show(&admin, command).await;
        assert!(!rows.is_empty(), "{command} returned no rows");
        for column in columns {
            assert!(
                rows[0].contains_key(*column),
                "{command} lacks column {column}: {:?}",
                rows[0]
            );
        }
    }
    let help = show(&admin, "SHOW HELP").await;
    assert!(help.iter().any(|r| r["command"] == "SHOW POOLS"));

    let before = show(&admin, "SHOW STATS").await;
    let app = setup.client().await;
    for i in 0..100 {
        app.simple_query(&format!("SELECT {i}"))
            .await
            .expect("query");
    }
    let after = show(&admin, "SHOW STATS").await;
    assert!(sum(&after, "total_query_count") >= sum(&before, "total_query_count") + 100);
    assert!(sum(&after, "total_xact_count") >= sum(&before, "total_xact_count") + 100);
    assert!(sum(&after, "total_received") > sum(&before, "total_received"));
    assert!(sum(&after, "total_sent") > sum(&before, "total_sent"));
    let pools = show(&admin, "SHOW POOLS").await;
    let app_pool = pools.iter().find(|r| r["user"] == "app").expect("app pool");
    assert!(
        app_pool["sv_idle"].parse::<u64>().expect("n") >= 1,
        "{app_pool:?}"
    );
    let clients = show(&admin, "SHOW CLIENTS").await;
    let mine = clients
        .iter()
        .find(|r| r["user"] == "app")
        .expect("the app client is listed");
    for column in [
        "type",
        "user",
        "database",
        "state",
        "addr",
        "port",
        "connect_time",
    ] {
        assert!(mine.contains_key(column), "SHOW CLIENTS lacks {column}");
    }
    assert_eq!(mine["addr"], "127.0.0.1");
    assert!(
        ["idle", "active"].contains(&mine["state"].as_str()),
        "{mine:?}"
    );
    let servers = show(&admin, "SHOW SERVERS").await;
    let pid: i32 = app
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let servers_after = show(&admin, "SHOW SERVERS").await;
    assert!(!servers.is_empty());
    assert!(
        servers_after
            .iter()
            .any(|r| r["remote_pid"] == pid.to_string() && r["shard"] == "0"),
        "backend {pid} not in SHOW SERVERS: {servers_after:?}"
    );
    let config = show(&admin, "SHOW CONFIG").await;
    let size = config
        .iter()
        .find(|r| r["key"] == "pool.size")
        .expect("pool.size");
    assert_eq!(size["value"], "4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_refusals_carry_their_sqlstate() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let err = admin
        .simple_query("SHOW NONSENSE")
        .await
        .expect_err("unknown command");
    assert_eq!(sqlstate(&err).as_deref(), Some("42601"));
    let hint = err
        .as_db_error()
        .and_then(|d| d.hint())
        .unwrap_or("")
        .to_string();
    assert!(hint.contains("SHOW POOLS"), "{hint}");
    // The console keeps working after an error.
    assert!(!show(&admin, "SHOW VERSION").await.is_empty());
    let Err(err) = console(&setup, "md5user", "md5pw").await else {
        panic!("a non-admin must not get in");
    };
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    let Err(err) = console(&setup, "app", "wrong").await else {
        panic!("a wrong password must not get in");
    };
    assert_eq!(sqlstate(&err).as_deref(), Some("28P01"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_match_show_stats_and_ready_follows_the_primary() {
    let setup = Setup::start(Options::default()).await;
    let addr = setup.proxy.metrics_addr.expect("metrics listener");
    let app = setup.client().await;
    for i in 0..50 {
        app.simple_query(&format!("SELECT {i}"))
            .await
            .expect("query");
    }
    let (status, body) = http_get(addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let metric_sum = |name: &str| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let stats = show(&admin, "SHOW STATS").await;
    assert_eq!(
        metric_sum("shardwire_queries_total") as u64,
        sum(&stats, "total_query_count")
    );
    assert_eq!(
        metric_sum("shardwire_transactions_total") as u64,
        sum(&stats, "total_xact_count")
    );
    assert!(metric_sum("shardwire_queries_total") >= 50.0);
    assert!(
        metric_sum("shardwire_clients") >= 1.0,
        "the app client is connected"
    );

    // The latency histogram saw every request routed to shard 0.
    let observed: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "shardwire_query_duration_seconds")
        .filter_map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => buckets
                .iter()
                .map(|b| b.count)
                .fold(None, |m: Option<f64>, c| Some(m.map_or(c, |m| m.max(c)))),
            _ => None,
        })
        .sum();
    assert!(
        observed >= 50.0,
        "latency histogram counted {observed} requests"
    );
    let (status, _) = http_get(addr, "/health").await;
    assert!(status.contains("200"), "{status}");
    let (status, body) = http_get(addr, "/ready").await;
    assert!(status.contains("200"), "{status} {body}");

    setup.primary.kill().expect("kill primary");
    drop(app);
    // Idle pooled connections to the dead primary fail their next use; the
    // readiness probe must see that the shard has no primary.
    let mut last = (String::new(), String::new());
    for _ in 0..20 {
        last = http_get(addr, "/ready").await;
        if last.0.contains("503") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(last.0.contains("503"), "{last:?}");
    assert!(last.1.contains("shard 0"), "{}", last.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_new_transactions_and_resume_releases_them() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let app = setup.client().await;
    // A transaction in progress: PAUSE waits for it.
    app.batch_execute("BEGIN; SELECT 1").await.expect("begin");
    let pause = {
        let admin_conn_str = format!(
            "host=127.0.0.1 port={} user=app password=app dbname=shardwire",
            setup.port()
        );
        tokio::spawn(async move {
            let (c, conn) = tokio_postgres::connect(&admin_conn_str, NoTls).await?;
            tokio::spawn(conn);
            c.simple_query("PAUSE").await.map(|_| ())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !pause.is_finished(),
        "PAUSE returned while a transaction was running"
    );
    app.batch_execute("COMMIT")
        .await
        .expect("commit finishes while pausing");
    tokio::time::timeout(std::time::Duration::from_secs(10), pause)
        .await
        .expect("PAUSE returns once idle")
        .expect("join")
        .expect("PAUSE");
    // New work waits, without an error, until RESUME.
    let held = tokio::spawn(async move {
        app.query_one("SELECT 7", &[])
            .await
            .map(|r| r.get::<_, i32>(0))
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "a query ran while paused");
    admin.simple_query("RESUME").await.expect("RESUME");
    let v = tokio::time::timeout(std::time::Duration::from_secs(10), held)
        .await
        .expect("released by RESUME")
        .expect("join")
        .expect("query");
    assert_eq!(v, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_pool_settings_and_keeps_clients() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let app = setup.client().await;
    app.simple_query("SELECT 1").await.expect("before");
    let value = |rows: &[HashMap<String, String>], key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .map(|r| r["value"].clone())
            .unwrap_or_default()
    };
    assert_eq!(value(&show(&admin, "SHOW CONFIG").await, "pool.size"), "4");

    let bigger = setup.config_text.replace("size = 4", "size = 7");
    assert_ne!(
        bigger, setup.config_text,
        "the test config must name the pool size"
    );
    std::fs::write(&setup.config_path, &bigger).expect("rewrite config");
    admin.simple_query("RELOAD").await.expect("RELOAD");
    assert_eq!(value(&show(&admin, "SHOW CONFIG").await, "pool.size"), "7");
    let dbs = show(&admin, "SHOW DATABASES").await;
    assert_eq!(dbs[0]["pool_size"], "7");
    // The client connected before the reload was not dropped.
    app.simple_query("SELECT 2").await.expect("after reload");

    // An invalid file is refused, naming the key; nothing changes.
    std::fs::write(&setup.config_path, bigger.replace("size = 7", "size = 0"))
        .expect("rewrite config");
    let err = admin
        .simple_query("RELOAD")
        .await
        .expect_err("invalid config");
    assert_eq!(sqlstate(&err).as_deref(), Some("F0000"), "{err}");
    let message = err
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    assert!(message.contains("pool.size"), "{message}");
    assert_eq!(value(&show(&admin, "SHOW CONFIG").await, "pool.size"), "7");
    app.simple_query("SELECT 3").await.expect("still fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_and_removes_users_without_dropping_clients() {
    let setup = Setup::start(Options::default()).await;
    setup
        .rig
        .create_user(&setup.primary, "latecomer", "late-pw")
        .await
        .expect("server role");
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let app = setup.client().await;
    let login = |user: &'static str, pw: &'static str| {
        let port = setup.port();
        async move {
            tokio_postgres::connect(
                &format!("host=127.0.0.1 port={port} user={user} password={pw} dbname=app"),
                NoTls,
            )
            .await
            .map(|(client, conn)| {
                tokio::spawn(conn);
                client
            })
        }
    };
    let Err(refused) = login("latecomer", "late-pw").await else {
        panic!("unknown user must be refused");
    };
    assert_eq!(sqlstate(&refused).as_deref(), Some("28P01"));

    let with_user = format!(
        "{}\n[[users]]\nname = \"latecomer\"\npassword = \"late-pw\"\n",
        setup.config_text
    );
    std::fs::write(&setup.config_path, &with_user).expect("rewrite config");
    admin.simple_query("RELOAD").await.expect("RELOAD");
    let late = login("latecomer", "late-pw")
        .await
        .expect("added user logs in");
    let rows = late
        .simple_query("SELECT current_user")
        .await
        .expect("query");
    let who = rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
        _ => None,
    });
    assert_eq!(who.as_deref(), Some("latecomer"));
    app.simple_query("SELECT 1")
        .await
        .expect("older client untouched");

    // Removed again: new logins are refused, the open session goes on.
    std::fs::write(&setup.config_path, &setup.config_text).expect("rewrite config");
    admin.simple_query("RELOAD").await.expect("RELOAD");
    let Err(refused) = login("latecomer", "late-pw").await else {
        panic!("removed user must be refused");
    };
    assert_eq!(sqlstate(&refused).as_deref(), Some("28P01"));
    late.simple_query("SELECT 2")
        .await
        .expect("its open session continues");

    let (_, metrics) = http_get(setup.proxy.metrics_addr.expect("metrics"), "/metrics").await;
    assert!(
        metrics.contains("shardwire_config_reloads_total{outcome=\"ok\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_replaces_server_connections_and_kill_ends_client_sessions() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let app = setup.client().await;
    let before = pid(&app).await;
    assert_eq!(pid(&app).await, before, "the idle connection is reused");
    admin.simple_query("RECONNECT").await.expect("RECONNECT");
    assert_ne!(pid(&app).await, before, "RECONNECT replaced the connection");

    admin.simple_query("KILL").await.expect("KILL");
    let err = app.simple_query("SELECT 1").await.expect_err("killed");
    assert!(err.is_closed() || app.is_closed(), "{err}");
    // The admin console survives KILL, and new clients are welcome.
    show(&admin, "SHOW POOLS").await;
    setup
        .client()
        .await
        .simple_query("SELECT 1")
        .await
        .expect("new client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_transactions_finish_and_refuses_new_clients() {
    let setup = Setup::start(Options::default()).await;
    let direct = setup
        .primary
        .connect("app", "app", "app")
        .await
        .expect("direct");
    direct
        .batch_execute("CREATE TABLE shutdown_probe (v int)")
        .await
        .expect("table");
    let admin = console(&setup, "app", "app").await.expect("admin console");
    let app = setup.client().await;
    app.batch_execute("BEGIN; INSERT INTO shutdown_probe VALUES (1)")
        .await
        .expect("open transaction");
    let shutdown = tokio::spawn(async move { admin.simple_query("SHUTDOWN").await });
    // New clients are refused while the transaction runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let refused = loop {
        match tokio_postgres::connect(&setup.conn_str("app", "app"), NoTls).await {
            Err(e) => break e,
            Ok(_) => {
                assert!(std::time::Instant::now() < deadline, "never refused");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(sqlstate(&refused).as_deref(), Some("57P01"), "{refused}");
    assert!(
        !shutdown.is_finished(),
        "SHUTDOWN waits for the transaction"
    );
    app.batch_execute("COMMIT")
        .await
        .expect("the transaction finishes");
    shutdown
        .await
        .expect("task")
        .expect("SHUTDOWN completes once nothing runs");
    let v: i64 = direct
        .query_one("SELECT count(*) FROM shutdown_probe", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(v, 1, "the committed row is there");
    assert!(
        app.simple_query("SELECT 1").await.is_err(),
        "sessions ended"
    );
}

async fn pid(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}
