//! Real clients through the proxy: psql, pgbench in all three query modes,
//! and tokio-postgres (prepared statements, pipelining, COPY both ways,
//! cancel).

mod support;

use futures_util::{SinkExt, StreamExt};
use std::process::Command;
use support::{pg_bin, sqlstate, Options, Setup, DB};

fn psql(setup: &Setup, args: &[&str]) -> std::process::Output {
    Command::new(pg_bin("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &setup.port().to_string(),
            "-U",
            "app",
            "-d",
            DB,
        ])
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .env("PGPASSWORD", "app")
        .output()
        .expect("run psql")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_runs_queries_scripts_and_copy() {
    let setup = Setup::start(Options::default()).await;
    let out = psql(&setup, &["-c", "SELECT 40 + 2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");

    let script = "CREATE TABLE t (id int primary key, v text);\n\
                  INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g;\n\
                  BEGIN; UPDATE t SET v = 'changed' WHERE id = 7; COMMIT;\n\
                  \\copy t TO '/tmp/shardwire-psql-copy.csv' CSV\n\
                  CREATE TABLE t2 (id int, v text);\n\
                  \\copy t2 FROM '/tmp/shardwire-psql-copy.csv' CSV\n\
                  SELECT count(*), max(v) FROM t2;";
    let out = psql(&setup, &["-c", "SELECT 1"]);
    assert!(out.status.success());
    let file = std::env::temp_dir().join(format!("shardwire-psql-{}.sql", std::process::id()));
    std::fs::write(&file, script).expect("write script");
    let out = psql(&setup, &["-f", file.to_str().expect("path")]);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file("/tmp/shardwire-psql-copy.csv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "500|row 99");

    // A failing statement is reported with its SQLSTATE-bearing message and
    // the session keeps working.
    let out = psql(&setup, &["-c", "SELECT 1/0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("division by zero"));
}

fn pgbench(setup: &Setup, args: &[&str]) -> (bool, String) {
    let out = Command::new(pg_bin("pgbench"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &setup.port().to_string(),
            "-U",
            "app",
        ])
        .args(args)
        .arg(DB)
        .env("PGPASSWORD", "app")
        .output()
        .expect("run pgbench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_runs_clean_in_simple_extended_and_prepared_modes() {
    let setup = Setup::start(Options::default()).await;
    let (ok, out) = pgbench(&setup, &["-i", "-s", "1", "-q"]);
    assert!(ok, "pgbench -i through the proxy failed:\n{out}");
    // 8 clients on a pool of 4: clients share server connections. In
    // prepared mode pgbench prepares each statement with a *blocking*
    // PQprepare on first use, which stalls the other clients of its thread
    // (some holding a server in a transaction) while it waits for a server:
    // with fewer servers than clients that deadlocks until the checkout
    // timeout, through any transaction pooler. So prepared mode runs 4
    // clients; they still move between the 4 server connections.
    for (mode, clients) in [("simple", 8), ("extended", 8), ("prepared", 4)] {
        let clients_arg = clients.to_string();
        let (ok, out) = pgbench(
            &setup,
            &["-M", mode, "-c", &clients_arg, "-j", "2", "-t", "150"],
        );
        assert!(ok, "pgbench -M {mode} failed:\n{out}");
        let total = clients * 150;
        assert!(
            out.contains(&format!(
                "number of transactions actually processed: {total}/{total}"
            )),
            "pgbench -M {mode}:\n{out}"
        );
        assert!(
            out.contains("number of failed transactions: 0 (0.000%)"),
            "pgbench -M {mode}:\n{out}"
        );
    }
    // The writes really happened: pgbench_history (emptied by pgbench before
    // each run) holds one row per transaction of the last run.
    let direct = setup
        .primary
        .connect("app", "app", DB)
        .await
        .expect("direct");
    let n: i64 = direct
        .query_one("SELECT count(*) FROM pgbench_history", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 4 * 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_prepared_statements_survive_pooling() {
    let setup = Setup::start(Options {
        pool_size: 2,
        ..Options::default()
    })
    .await;
    // tokio-postgres names statements s0, s1, … per connection, so several
    // clients use the same names for different texts.
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(setup.client().await);
    }
    let mut statements = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let text = format!("SELECT $1::int + {i} AS v, {i} AS who");
        statements.push(c.prepare(&text).await.expect("prepare"));
    }
    for round in 0..20 {
        for (i, (c, s)) in clients.iter().zip(&statements).enumerate() {
            let row = c.query_one(s, &[&round]).await.expect("execute");
            assert_eq!(row.get::<_, i32>(0), round + i as i32);
            assert_eq!(row.get::<_, i32>(1), i as i32);
        }
    }
    // Binary and text parameter types, a NULL, and a statement re-prepared
    // after being dropped.
    let c = &clients[0];
    let s = c
        .prepare("SELECT $1::bigint * 2, $2::text || '!', $3::int IS NULL")
        .await
        .expect("prepare");
    let row = c
        .query_one(&s, &[&21i64, &"hi", &None::<i32>])
        .await
        .expect("query");
    assert_eq!(row.get::<_, i64>(0), 42);
    assert_eq!(row.get::<_, String>(1), "hi!");
    assert!(row.get::<_, bool>(2));
    drop(s);
    let s = c.prepare("SELECT 'again'::text").await.expect("re-prepare");
    assert_eq!(
        c.query_one(&s, &[]).await.expect("q").get::<_, String>(0),
        "again"
    );

    // An error in a prepared statement leaves the session usable.
    let bad = c.prepare("SELECT 1 / $1::int").await.expect("prepare");
    let err = c
        .query_one(&bad, &[&0i32])
        .await
        .expect_err("division by zero");
    assert_eq!(sqlstate(&err).as_deref(), Some("22012"));
    assert_eq!(
        c.query_one(&bad, &[&1i32])
            .await
            .expect("ok")
            .get::<_, i32>(0),
        1
    );

    // A prepare that fails on the server reports the server's error.
    let err = c.prepare("SELEC broken").await.expect_err("syntax error");
    assert_eq!(sqlstate(&err).as_deref(), Some("42601"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_pipelines_many_queries() {
    let setup = Setup::start(Options::default()).await;
    let client = setup.client().await;
    let stmt = client
        .prepare("SELECT $1::int * 10")
        .await
        .expect("prepare");
    // Polled together, these queries are written back to back before the
    // first reply arrives.
    let futures = (0..200).map(|i| {
        let client = &client;
        let stmt = &stmt;
        async move {
            client
                .query_one(stmt, &[&i])
                .await
                .map(|r| r.get::<_, i32>(0))
        }
    });
    let results = futures_util::future::try_join_all(futures)
        .await
        .expect("pipeline");
    assert_eq!(results, (0..200).map(|i| i * 10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_copy_in_and_out() {
    let setup = Setup::start(Options::default()).await;
    let client = setup.client().await;
    client
        .batch_execute("CREATE TABLE c (id int, payload text)")
        .await
        .expect("create");
    let sink = client.copy_in("COPY c FROM STDIN").await.expect("copy in");
    futures_util::pin_mut!(sink);
    let big = "x".repeat(200_000); // rows larger than a socket buffer
    for i in 0..2000 {
        let payload = if i % 500 == 0 { big.as_str() } else { "small" };
        sink.send(bytes::Bytes::from(format!("{i}\t{payload}\n")))
            .await
            .expect("send");
    }
    let n = sink.finish().await.expect("finish");
    assert_eq!(n, 2000);

    let stream = client
        .copy_out("COPY (SELECT id, payload FROM c ORDER BY id) TO STDOUT")
        .await
        .expect("copy out");
    futures_util::pin_mut!(stream);
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk.expect("chunk"));
    }
    let text = String::from_utf8(data).expect("utf8");
    assert_eq!(text.lines().count(), 2000);
    assert_eq!(text.lines().filter(|l| l.len() > 100_000).count(), 4);

    // A COPY that fails mid-stream is reported and the session continues.
    let err = client
        .copy_in::<_, bytes::Bytes>("COPY c FROM STDIN")
        .await
        .expect("copy in");
    futures_util::pin_mut!(err);
    err.send(bytes::Bytes::from_static(b"not-a-number\tx\n"))
        .await
        .expect("send");
    assert!(err.finish().await.is_err());
    let n: i64 = client
        .query_one("SELECT count(*) FROM c", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_reaches_the_running_query() {
    let setup = Setup::start(Options::default()).await;
    let client = setup.client().await;
    let token = client.cancel_token();
    let bystander = setup.client().await;
    let sleeper = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(60)").await });
    // Wait until the sleep runs on the server.
    let direct = setup.direct().await;
    for _ in 0..100 {
        let n: i64 = direct
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
                &[],
            )
            .await
            .expect("activity")
            .get(0);
        if n == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    token
        .cancel_query(tokio_postgres::NoTls)
        .await
        .expect("cancel");
    let result = tokio::time::timeout(std::time::Duration::from_secs(20), sleeper)
        .await
        .expect("the cancel did not stop the query")
        .expect("join");
    let err = result.expect_err("query should have been cancelled");
    assert_eq!(sqlstate(&err).as_deref(), Some("57014"));
    // Another client was not affected.
    let row = bystander
        .query_one("SELECT 1", &[])
        .await
        .expect("bystander");
    assert_eq!(row.get::<_, i32>(0), 1);
}
