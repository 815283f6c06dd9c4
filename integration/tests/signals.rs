//! PgBouncer's pause signals: SIGUSR1 pauses (SHOW STATE says paused, new
//! transactions wait) and SIGUSR2 resumes (the waiting transaction runs).
//! The proxy runs in this test's process, so the signals go to it.

mod support;

use std::time::{Duration, Instant};
use support::{Options, Setup};
use tokio_postgres::{NoTls, SimpleQueryMessage};

fn signal_self(name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &std::process::id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name}");
}

async fn paused(admin: &tokio_postgres::Client) -> String {
    let messages = admin.simple_query("SHOW STATE").await.expect("SHOW STATE");
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) if r.get(0) == Some("paused") => r.get(1).map(str::to_owned),
            _ => None,
        })
        .expect("a paused row")
}

async fn wait_for(admin: &tokio_postgres::Client, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while paused(admin).await != want {
        assert!(
            Instant::now() < deadline,
            "SHOW STATE never said paused={want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigusr1_pauses_and_sigusr2_resumes() {
    let setup = Setup::start(Options::default()).await;
    shardwire::signals::spawn(setup.proxy.context.clone());
    let (admin, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=pgbouncer",
            setup.port()
        ),
        NoTls,
    )
    .await
    .expect("admin console");
    tokio::spawn(conn);
    let app = setup.client().await;
    assert_eq!(paused(&admin).await, "no");

    signal_self("USR1");
    wait_for(&admin, "yes").await;
    let waiting = tokio::spawn(async move { app.simple_query("SELECT 1").await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a transaction ran while paused");

    signal_self("USR2");
    wait_for(&admin, "no").await;
    waiting
        .await
        .expect("task")
        .expect("the held transaction runs after SIGUSR2");
}
