//! Session state never crosses clients under transaction pooling. Two
//! clients of one user share a single server connection (pool size 1):
//! whatever the first leaves behind — a temporary table, a `WITH HOLD`
//! cursor, a session advisory lock, a SQL-prepared statement, a role, a
//! `LISTEN` — the second never sees it. In the default mode the first
//! client keeps its connection (it is *pinned*) while it holds such state,
//! and the state works for its whole session; the second client then
//! waits with the pool's usual timeout (53300). With
//! `[proxy.session_state]` set to `refuse`, the statements are refused
//! with 0A000 and a hint.

mod support;

use std::collections::HashMap;
use support::{sqlstate, Options, Setup};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// One server connection, and a short wait for it.
fn one_connection() -> Options {
    Options {
        pool_size: 1,
        checkout_timeout: "1s",
        ..Options::default()
    }
}

/// The first column of the first row of `sql`'s answer.
async fn value(c: &Client, sql: &str) -> Option<String> {
    let messages = c
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
        _ => None,
    })?
}

async fn backend_pid(c: &Client) -> String {
    value(c, "SELECT pg_backend_pid()").await.expect("pid")
}

/// What a backend holds, by kind: temp relations, held cursors, advisory
/// locks, SQL-prepared statements, channels listened to, and whether its
/// role differs from the login.
const LEFTOVER_QUERIES: [(&str, &str); 6] = [
    (
        "temp relations",
        "SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relkind IN ('r', 'v', 'S')",
    ),
    (
        "held cursors",
        "SELECT count(*) FROM pg_cursors WHERE is_holdable",
    ),
    (
        "advisory locks",
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    ),
    (
        "SQL-prepared statements",
        "SELECT count(*) FROM pg_prepared_statements WHERE from_sql",
    ),
    (
        "channels",
        "SELECT count(*) FROM pg_listening_channels()",
    ),
    (
        "role changes",
        "SELECT count(*) FROM (SELECT 1 WHERE current_user <> session_user OR session_user <> 'app') s",
    ),
];

/// Asserts the backend `c` is on holds none of the state above.
async fn assert_clean(c: &Client, context: &str) {
    for (what, sql) in LEFTOVER_QUERIES {
        assert_eq!(
            value(c, sql).await.as_deref(),
            Some("0"),
            "{context}: the backend still holds {what}"
        );
    }
}

/// Asserts `c` cannot get a server connection now: 53300 after the
/// pool's checkout timeout, not a hang.
async fn assert_waits_out(c: &Client, context: &str) {
    let e = c
        .simple_query("SELECT 1")
        .await
        .expect_err("the only server connection is pinned by another client");
    assert_eq!(sqlstate(&e).as_deref(), Some("53300"), "{context}: {e}");
}

async fn console(setup: &Setup) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=shardwire",
            setup.port()
        ),
        NoTls,
    )
    .await
    .expect("admin console");
    tokio::spawn(conn);
    client
}

async fn metrics_text(setup: &Setup) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = setup.proxy.metrics_addr.expect("metrics listener");
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect metrics");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut response = String::new();
    s.read_to_string(&mut response).await.expect("read");
    response
}

async fn show_clients(admin: &Client) -> Vec<HashMap<String, String>> {
    show(admin, "SHOW CLIENTS").await
}

async fn show(admin: &Client, command: &str) -> Vec<HashMap<String, String>> {
    admin
        .simple_query(command)
        .await
        .expect(command)
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                r.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name().to_string(), r.get(i).unwrap_or("").to_string()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temp_table_pins_its_client_and_leaves_with_it() {
    let setup = Setup::start(one_connection()).await;
    let a = setup.client().await;
    let b = setup.client().await;
    let admin = console(&setup).await;
    // The pattern of pgx and psycopg users: create in autocommit, use it
    // in later statements and transactions.
    a.batch_execute("CREATE TEMPORARY TABLE tt (x int)")
        .await
        .expect("create temp");
    a.batch_execute("INSERT INTO tt VALUES (1)")
        .await
        .expect("insert");
    a.batch_execute("BEGIN; INSERT INTO tt VALUES (2); COMMIT")
        .await
        .expect("txn");
    let n: i64 = a
        .query_one("SELECT count(*) FROM tt", &[])
        .await
        .expect("extended select")
        .get(0);
    assert_eq!(n, 2, "the temp table lives for the client's session");

    // While A holds it, B cannot have A's connection: it waits, then 53300.
    assert_waits_out(&b, "temp table").await;

    // The console and /metrics say who pins and why.
    let pinned: Vec<String> = show_clients(&admin)
        .await
        .into_iter()
        .filter(|r| r["database"] == "app")
        .map(|r| r["pinned"].clone())
        .collect();
    assert!(
        pinned.iter().any(|p| p == "temp_table"),
        "SHOW CLIENTS pinned column: {pinned:?}"
    );
    let pools = show(&admin, "SHOW POOLS").await;
    assert_eq!(
        pools
            .iter()
            .find(|r| r["user"] == "app")
            .map(|r| r["cl_pinned"].as_str()),
        Some("1"),
        "SHOW POOLS: {pools:?}"
    );
    let metrics = metrics_text(&setup).await;
    assert!(
        metrics.contains("shardwire_pinned_clients 1"),
        "pinned gauge:\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("pin"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(metrics.contains("shardwire_session_pins_total{state=\"temp_table\"} 1"));

    // A leaves: the next client gets the connection clean, and may create
    // a table of the same name (42P07 if A's had leaked).
    drop(a);
    let c = setup.client().await;
    assert_clean(&c, "after the temp table's client left").await;
    c.batch_execute("CREATE TEMPORARY TABLE tt (x int)")
        .await
        .expect("a new client creates its own tt");
    c.batch_execute("DISCARD TEMP").await.expect("discard temp");
    // DISCARD TEMP ended the pin: B (a fresh statement) gets the connection.
    assert_eq!(value(&b, "SELECT 1").await.as_deref(), Some("1"));
    assert_clean(&b, "after DISCARD TEMP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_kind_of_session_state_reaches_the_next_client() {
    let setup = Setup::start(one_connection()).await;
    let su = setup.direct().await;
    su.batch_execute("DO $$ BEGIN CREATE ROLE watcher; EXCEPTION WHEN duplicate_object THEN NULL; END $$; GRANT watcher TO app")
        .await
        .expect("role");
    let cases: [(&str, &str, &str); 7] = [
        (
            "temp table",
            "CREATE TEMP TABLE leak (x int); INSERT INTO leak VALUES (7)",
            "SELECT x FROM leak",
        ),
        (
            "held cursor",
            "DECLARE leak CURSOR WITH HOLD FOR SELECT generate_series(1, 5)",
            "FETCH 2 FROM leak",
        ),
        (
            "advisory lock",
            "SELECT pg_advisory_lock(42)",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
        ),
        ("SQL prepare", "PREPARE leak AS SELECT 42", "EXECUTE leak"),
        ("role", "SET ROLE watcher", "SELECT current_user"),
        (
            "listen",
            "LISTEN leak",
            "SELECT count(*) FROM pg_listening_channels()",
        ),
        (
            "temp table in a DO block (cleaned, not pinned)",
            "DO $$ BEGIN CREATE TEMP TABLE leak (x int); END $$",
            "SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relname = 'leak'",
        ),
    ];
    for (what, create, probe) in cases {
        let a = setup.client().await;
        let pid = backend_pid(&a).await;
        a.batch_execute(create)
            .await
            .unwrap_or_else(|e| panic!("{what}: {create}: {e}"));
        // The state works for its client in later statements (what a DO
        // block made is invisible to the proxy: the connection is cleaned
        // at the end of the transaction instead of pinned).
        let seen = value(&a, probe).await;
        let cleaned = what.contains("DO block");
        assert_eq!(
            seen.as_deref() == Some("0"),
            cleaned,
            "{what}: {probe} gave {seen:?} to the client that made it"
        );
        drop(a);
        let b = setup.client().await;
        assert_eq!(backend_pid(&b).await, pid, "{what}: one shared backend");
        assert_clean(&b, what).await;
        match what {
            "SQL prepare" => {
                let e = b.simple_query(probe).await.expect_err("no leak");
                assert_eq!(sqlstate(&e).as_deref(), Some("26000"), "{what}: {e}");
            }
            "held cursor" => {
                let e = b.simple_query(probe).await.expect_err("no leak");
                assert_eq!(sqlstate(&e).as_deref(), Some("34000"), "{what}: {e}");
            }
            "role" => assert_eq!(value(&b, probe).await.as_deref(), Some("app")),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_client_lets_go_when_its_state_ends() {
    let setup = Setup::start(one_connection()).await;
    let a = setup.client().await;
    let b = setup.client().await;
    let ends: [(&str, &str); 5] = [
        (
            "DECLARE c CURSOR WITH HOLD FOR SELECT generate_series(1, 5)",
            "CLOSE c",
        ),
        (
            "SELECT pg_advisory_lock(7), pg_advisory_lock(8)",
            "SELECT pg_advisory_unlock_all()",
        ),
        ("PREPARE p AS SELECT 1", "DEALLOCATE p"),
        ("LISTEN ch", "UNLISTEN *"),
        ("SET ROLE NONE; SET SESSION ROLE app", "RESET ROLE"),
    ];
    for (create, end) in ends {
        a.batch_execute(create)
            .await
            .unwrap_or_else(|e| panic!("{create}: {e}"));
        assert_waits_out(&b, create).await;
        a.batch_execute(end)
            .await
            .unwrap_or_else(|e| panic!("{end}: {e}"));
        assert_eq!(
            value(&b, "SELECT 1").await.as_deref(),
            Some("1"),
            "after {end}"
        );
        assert_clean(&b, end).await;
    }
    // A held cursor fetched in several statements, across transactions.
    a.batch_execute("DECLARE h CURSOR WITH HOLD FOR SELECT generate_series(1, 5)")
        .await
        .expect("declare");
    assert_eq!(value(&a, "FETCH 2 FROM h").await.as_deref(), Some("1"));
    assert_eq!(value(&a, "FETCH 2 FROM h").await.as_deref(), Some("3"));
    a.batch_execute("DISCARD ALL").await.expect("discard all");
    assert_eq!(value(&b, "SELECT 1").await.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_locks_pin_too() {
    let setup = Setup::start(one_connection()).await;
    let a = setup.client().await;
    let b = setup.client().await;
    let locked: bool = a
        .query_one("SELECT pg_try_advisory_lock($1)", &[&99i64])
        .await
        .expect("lock")
        .get(0);
    assert!(locked);
    assert_waits_out(&b, "extended-protocol advisory lock").await;
    let unlock = a
        .prepare("SELECT pg_advisory_unlock_all()")
        .await
        .expect("prepare");
    a.execute(&unlock, &[]).await.expect("unlock");
    assert_clean(&b, "after the unlock").await;
    // The named statement takes the lock again at each execution.
    let lock = a
        .prepare("SELECT pg_advisory_lock($1)")
        .await
        .expect("prepare");
    a.execute(&lock, &[&5i64]).await.expect("lock");
    a.execute(&unlock, &[]).await.expect("unlock");
    a.execute(&lock, &[&6i64]).await.expect("lock again");
    assert_waits_out(&b, "re-executed lock").await;
    drop(a);
    assert_clean(&b, "after the locking client left").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_mode_names_the_statement_and_what_to_use() {
    let setup = Setup::start(Options {
        proxy_extra: "session_state = { temp_tables = \"refuse\", hold_cursors = \"refuse\", advisory_locks = \"refuse\", sql_prepare = \"refuse\", listen = \"refuse\", role = \"refuse\", load = \"refuse\" }",
        ..one_connection()
    })
    .await;
    let a = setup.client().await;
    let cases: [(&str, &str); 7] = [
        ("CREATE TEMP TABLE t (x int)", "ON COMMIT DROP"),
        (
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "without WITH HOLD",
        ),
        ("SELECT pg_advisory_lock(1)", "pg_advisory_xact_lock"),
        ("PREPARE p AS SELECT 1", "prepared statements"),
        ("LISTEN ch", "session pooling"),
        ("SET ROLE app", "SET LOCAL ROLE"),
        ("LOAD 'plpgsql'", "session_preload_libraries"),
    ];
    for (sql, hint) in cases {
        let e = a.batch_execute(sql).await.expect_err(sql);
        let db = e.as_db_error().expect("server-style error");
        assert_eq!(db.code().code(), "0A000", "{sql}");
        let h = db.hint().unwrap_or_default();
        assert!(h.contains(hint), "{sql}: hint {h:?}");
        assert!(h.contains("pool_mode = \"session\""), "{sql}: hint {h:?}");
    }
    // Inside a transaction a refusal aborts it, as a server error would.
    a.batch_execute("BEGIN").await.expect("begin");
    a.batch_execute("SELECT 1").await.expect("select");
    let e = a
        .batch_execute("SELECT pg_advisory_lock(1)")
        .await
        .expect_err("refused");
    assert_eq!(sqlstate(&e).as_deref(), Some("0A000"));
    let e = a.batch_execute("SELECT 1").await.expect_err("aborted");
    assert_eq!(sqlstate(&e).as_deref(), Some("25P02"));
    a.batch_execute("ROLLBACK").await.expect("rollback");
    // What the hints suggest works.
    a.batch_execute(
        "BEGIN; CREATE TEMP TABLE t (x int) ON COMMIT DROP; INSERT INTO t VALUES (1); \
         SELECT pg_advisory_xact_lock(1); DECLARE c CURSOR FOR SELECT 1; FETCH c; COMMIT",
    )
    .await
    .expect("transaction-scoped state");
    let b = setup.client().await;
    assert_clean(&b, "refuse mode").await;
}
