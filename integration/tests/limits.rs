//! Client limits against real PostgreSQL: the global connection ceiling,
//! a user's `max_connections`, the cap on connections still logging in
//! (slow clients holding startup open), and the per-user statement rate
//! (53400, the connection stays usable).

mod support;

use std::time::Duration;
use support::{sqlstate, Options, Setup};
use tokio::io::AsyncWriteExt;
use tokio_postgres::NoTls;

async fn try_connect(setup: &Setup) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(&setup.conn_str("app", "app"), NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

fn refusal(r: Result<tokio_postgres::Client, tokio_postgres::Error>) -> tokio_postgres::Error {
    match r {
        Ok(_) => panic!("the connection must be refused"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_global_connection_limits_refuse_with_53300() {
    let setup = Setup::start(Options {
        proxy_extra: "max_client_connections = 3",
        app_extra: "max_connections = 2",
        ..Options::default()
    })
    .await;
    let a = try_connect(&setup).await.expect("first");
    let b = try_connect(&setup).await.expect("second");
    let e = refusal(try_connect(&setup).await);
    assert_eq!(sqlstate(&e).as_deref(), Some("53300"), "{e}");
    assert!(message(&e).contains("max_connections"), "{e}");
    // Another user still fits under the global ceiling, then it is full.
    let (other, conn) = tokio_postgres::connect(&setup.conn_str("md5user", "md5pw"), NoTls)
        .await
        .expect("another user");
    tokio::spawn(conn);
    let fourth = tokio_postgres::connect(&setup.conn_str("trustuser", "x"), NoTls).await;
    let e = refusal(fourth.map(|(client, _)| client));
    assert_eq!(sqlstate(&e).as_deref(), Some("53300"), "{e}");
    assert!(message(&e).contains("max_client_connections"), "{e}");
    // Closing a session frees its slot.
    drop(a);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let c = loop {
        match try_connect(&setup).await {
            Ok(c) => break c,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("slot never freed: {e}"),
        }
    };
    for client in [&b, &c, &other] {
        client
            .simple_query("SELECT 1")
            .await
            .expect("the others work");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_stuck_in_startup_cannot_crowd_out_others() {
    let setup = Setup::start(Options {
        proxy_extra: "max_unauthenticated = 2",
        auth_timeout: "3s",
        ..Options::default()
    })
    .await;
    // Two slowloris clients: a connection and half a startup packet.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", setup.port()))
            .await
            .expect("connect");
        s.write_all(&[0, 0, 0, 40, 0, 3])
            .await
            .expect("partial startup");
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = refusal(try_connect(&setup).await);
    assert_eq!(sqlstate(&e).as_deref(), Some("53300"), "{e}");
    assert!(message(&e).contains("logging in"), "{e}");
    // auth_timeout ends them; then everyone is welcome again.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let client = loop {
        match try_connect(&setup).await {
            Ok(c) => break c,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("never admitted: {e}"),
        }
    };
    client.simple_query("SELECT 1").await.expect("works");
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_refuses_with_53400_and_keeps_the_connection() {
    let setup = Setup::start(Options {
        app_extra: "rate_limit = { per_minute = 60, burst = 3 }",
        ..Options::default()
    })
    .await;
    let c = try_connect(&setup).await.expect("connect");
    for i in 0..3 {
        c.simple_query("SELECT 1")
            .await
            .unwrap_or_else(|e| panic!("statement {i} is within the burst: {e}"));
    }
    let e = c.simple_query("SELECT 1").await.expect_err("over the rate");
    assert_eq!(sqlstate(&e).as_deref(), Some("53400"), "{e}");
    let message = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("retry in"), "{message}");
    // The extended protocol is limited too, and the session survives.
    let e = c
        .query("SELECT $1::int", &[&1i32])
        .await
        .expect_err("Bind over the rate");
    assert_eq!(sqlstate(&e).as_deref(), Some("53400"), "{e}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let row = c
        .query_one("SELECT $1::int", &[&7i32])
        .await
        .expect("a token refilled");
    assert_eq!(row.get::<_, i32>(0), 7);
    // Other users are not limited.
    let (other, conn) = tokio_postgres::connect(&setup.conn_str("md5user", "md5pw"), NoTls)
        .await
        .expect("md5user");
    tokio::spawn(conn);
    for _ in 0..10 {
        other.simple_query("SELECT 1").await.expect("unlimited");
    }
}
