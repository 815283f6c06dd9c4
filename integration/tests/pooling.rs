//! Transaction pooling semantics: session state never leaks between
//! clients sharing a server connection, pool exhaustion is a clear 53300,
//! and session mode keeps LISTEN/NOTIFY working.

mod support;

use std::time::Duration;
use support::{sqlstate, Options, Setup};
use tokio_postgres::AsyncMessage;

async fn show(c: &tokio_postgres::Client, name: &str) -> String {
    let rows = c.simple_query(&format!("SHOW {name}")).await.expect("show");
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("").to_string()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("SHOW {name} returned no row"))
}

async fn backend_pid(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_settings_do_not_leak_between_clients() {
    // One server connection: every client lands on the same backend.
    let setup = Setup::start(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let a = setup.client().await;
    let b = setup.client().await;
    let default_path = show(&b, "search_path").await;
    let default_timeout = show(&b, "statement_timeout").await;

    a.batch_execute("SET search_path TO pg_catalog, public")
        .await
        .expect("set");
    a.batch_execute("SET statement_timeout = '1234ms'")
        .await
        .expect("set");
    a.batch_execute("SET application_name = 'client-a'")
        .await
        .expect("set");
    a.batch_execute("SET TIME ZONE 'Asia/Tokyo'")
        .await
        .expect("set");
    a.batch_execute("BEGIN; SET LOCAL work_mem = '7MB'; COMMIT")
        .await
        .expect("set local");
    assert_eq!(
        backend_pid(&a).await,
        backend_pid(&b).await,
        "test needs a shared backend"
    );

    assert_eq!(show(&b, "search_path").await, default_path);
    assert_eq!(show(&b, "statement_timeout").await, default_timeout);
    assert_ne!(show(&b, "application_name").await, "client-a");
    assert_ne!(show(&b, "TimeZone").await, "Asia/Tokyo");
    assert_ne!(show(&b, "work_mem").await, "7MB");

    // …and A gets its own settings back on the shared connection.
    assert_eq!(show(&a, "search_path").await, "pg_catalog, public");
    assert_eq!(show(&a, "statement_timeout").await, "1234ms");
    assert_eq!(show(&a, "application_name").await, "client-a");
    assert_eq!(show(&a, "TimeZone").await, "Asia/Tokyo");

    // A rolled-back SET is rolled back for A too, as in PostgreSQL.
    a.batch_execute("BEGIN; SET search_path TO public; ROLLBACK")
        .await
        .expect("rollback");
    assert_eq!(show(&a, "search_path").await, "pg_catalog, public");

    // RESET ALL returns A to its defaults.
    a.batch_execute("RESET ALL").await.expect("reset all");
    assert_eq!(show(&a, "search_path").await, default_path);
    assert_eq!(show(&b, "search_path").await, default_path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_parameters_are_applied_per_client() {
    let setup = Setup::start(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let (a, conn) = tokio_postgres::connect(
        &format!(
            "{} application_name=alpha options='-c search_path=pg_catalog'",
            setup.conn_str("app", "app")
        ),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect a");
    tokio::spawn(conn);
    let b = setup.client().await;
    assert_eq!(show(&a, "application_name").await, "alpha");
    assert_eq!(show(&a, "search_path").await, "pg_catalog");
    assert_ne!(show(&b, "application_name").await, "alpha");
    assert_ne!(show(&b, "search_path").await, "pg_catalog");
    assert_eq!(show(&a, "search_path").await, "pg_catalog");

    // An invalid startup parameter is refused at login, as PostgreSQL does.
    let err = tokio_postgres::connect(
        &format!(
            "{} options='-c DateStyle=nonsense'",
            setup.conn_str("app", "app")
        ),
        tokio_postgres::NoTls,
    )
    .await
    .map(|_| ())
    .expect_err("bad DateStyle must be refused");
    assert_eq!(sqlstate(&err).as_deref(), Some("22023"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_exhaustion_gives_53300_after_the_checkout_timeout() {
    let setup = Setup::start(Options {
        pool_size: 1,
        checkout_timeout: "300ms",
        ..Options::default()
    })
    .await;
    let holder = setup.client().await;
    let waiter = setup.client().await;
    holder
        .batch_execute("BEGIN; SELECT 1")
        .await
        .expect("begin");
    let err = waiter
        .simple_query("SELECT 2")
        .await
        .expect_err("pool is exhausted");
    assert_eq!(sqlstate(&err).as_deref(), Some("53300"));
    let db = err.as_db_error().expect("db error");
    assert!(db.message().contains("busy"), "{}", db.message());
    assert!(db.hint().is_some_and(|h| h.contains("pool.size")));
    // Once the holder commits, the waiter gets through on the same session.
    holder.batch_execute("COMMIT").await.expect("commit");
    let rows = waiter
        .query_one("SELECT 2", &[])
        .await
        .expect("after release");
    assert_eq!(rows.get::<_, i32>(0), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_mode_keeps_listen_notify_and_discards_state_after() {
    let setup = Setup::start(Options {
        pool_mode: "session",
        pool_size: 2,
        ..Options::default()
    })
    .await;
    let (listener, mut conn) =
        tokio_postgres::connect(&setup.conn_str("app", "app"), tokio_postgres::NoTls)
            .await
            .expect("connect");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = futures_util::StreamExt::next(&mut messages).await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send((n.channel().to_string(), n.payload().to_string()));
            }
        }
    });
    listener
        .batch_execute("LISTEN events")
        .await
        .expect("listen");
    let notifier = setup.client().await;
    notifier
        .batch_execute("NOTIFY events, 'hello'")
        .await
        .expect("notify");
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no notification within 10 s")
        .expect("channel");
    assert_eq!(got, ("events".to_string(), "hello".to_string()));

    // A temp table and SET of one session are gone for the next session on
    // the same backend.
    let pid = backend_pid(&notifier).await;
    notifier
        .batch_execute("CREATE TEMP TABLE mine (x int); SET search_path TO pg_catalog")
        .await
        .expect("state");
    drop(notifier);
    drop(listener);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Hold both sessions at once so they land on both backends.
    let both = [setup.client().await, setup.client().await];
    for next in &both {
        if backend_pid(next).await == pid {
            assert_ne!(show(next, "search_path").await, "pg_catalog");
            let exists: bool = next
                .query_one("SELECT to_regclass('pg_temp.mine') IS NOT NULL", &[])
                .await
                .expect("regclass")
                .get(0);
            assert!(!exists, "temp table leaked to the next session");
            return;
        }
    }
    panic!("no later session landed on backend {pid}");
}
