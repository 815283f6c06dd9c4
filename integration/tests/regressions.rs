//! Regression tests for protocol-state bugs found in review: each sends
//! the exact message sequence over a raw socket and checks that no state
//! leaks to the next client sharing the server connection.

mod support;

use support::raw::{self, Raw};
use support::{Options, Setup};

fn one_server() -> Options {
    Options {
        pool_size: 1,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_pipelined_batch_keeps_its_server() {
    let setup = Setup::start(one_server()).await;
    let mut a = Raw::login(setup.port()).await;
    // Batch 1 (closed by Sync), then batch 2 without its Sync yet: the
    // server is inside batch 2's implicit transaction after batch 1's Z.
    let mut bytes = raw::parse("", "CREATE TEMP TABLE IF NOT EXISTS t (x int)");
    bytes.extend(raw::bind("", "", &[]));
    bytes.extend(raw::execute(""));
    bytes.extend(raw::sync());
    bytes.extend(raw::parse("", "SELECT pg_backend_pid()"));
    bytes.extend(raw::bind("", "", &[]));
    bytes.extend(raw::execute(""));
    // Flush: the server sends batch 2's replies now, before its Sync.
    bytes.extend(raw::frame(b'H', &[]));
    a.send(&bytes).await;
    let first = a.until_ready().await;
    assert!(first.iter().all(|m| m.tag != b'E'), "{first:?}");
    loop {
        let m = a.recv().await.expect("batch 2 replies");
        if m.tag == b'C' {
            break;
        }
    }
    // Another client must not get the server while batch 2 is open: with a
    // pool of one it waits (and times out) rather than joining that batch.
    // Same user as the raw client, so the same pool of one connection.
    let conn_str = setup.conn_str("trustuser", "any");
    let waiter = tokio::spawn(async move {
        let (b, conn) = tokio_postgres::connect(&conn_str, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        b.simple_query("SELECT 1").await.map(|_| ())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    if waiter.is_finished() {
        let result = waiter.await.expect("join");
        panic!("a second client was handed the busy server: {result:?}");
    }
    a.send(&raw::sync()).await;
    let rest = a.until_ready().await;
    assert_eq!(rest.last().map(|m| m.tag), Some(b'Z'), "{rest:?}");
    drop(a);
    waiter
        .await
        .expect("join")
        .expect("the waiter runs once the batch is done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_query_text_is_fine() {
    let setup = Setup::start(one_server()).await;
    let c = setup.client().await;
    let rows = c
        .simple_query("SELECT 'aé€ü' AS v")
        .await
        .expect("non-ASCII text");
    assert!(rows
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_drop_the_proxys_statements() {
    let setup = Setup::start(one_server()).await;
    let a = setup.client().await;
    let stmt = a.prepare("SELECT 41 + 1").await.expect("prepare");
    assert_eq!(
        a.query_one(&stmt, &[]).await.expect("run").get::<_, i32>(0),
        42
    );
    let b = setup.client().await;
    let err = b
        .simple_query("DEALLOCATE sw_1")
        .await
        .expect_err("not b's statement");
    assert_eq!(support::sqlstate(&err).as_deref(), Some("26000"));
    // A failing DISCARD ALL (inside a transaction) changes nothing either.
    let err = b
        .batch_execute("BEGIN; DISCARD ALL")
        .await
        .expect_err("DISCARD ALL cannot run inside a transaction block");
    assert_eq!(support::sqlstate(&err).as_deref(), Some("25001"));
    b.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(
        a.query_one(&stmt, &[])
            .await
            .expect("still prepared")
            .get::<_, i32>(0),
        42
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_in_transaction_mode_does_not_follow_the_connection() {
    let setup = Setup::start(one_server()).await;
    let a = setup.client().await;
    let pid_a: i32 = a
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    a.batch_execute("LISTEN leaked").await.expect("listen");
    // The client that LISTENed keeps (is pinned to) its connection; when it
    // leaves, the connection is cleaned before it is handed on.
    drop(a);
    let b = setup.client().await;
    let pid_b: i32 = b
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    assert_eq!(pid_a, pid_b, "one server connection");
    let listening: i64 = b
        .query_one("SELECT count(*) FROM pg_listening_channels()", &[])
        .await
        .expect("channels")
        .get(0);
    assert_eq!(listening, 0);
}
