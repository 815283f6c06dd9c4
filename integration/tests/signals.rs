//! PgBouncer's signals. SIGUSR1 pauses (SHOW STATE says paused, new
//! transactions wait) and SIGUSR2 resumes (the waiting transaction runs):
//! that proxy runs in this test's process, so the signals go to it.
//! SIGINT is PgBouncer 1.23+'s safe shutdown: a shardwire process started
//! from the binary lets the running transaction commit, refuses new
//! clients with 57P01 meanwhile, and exits by itself once it is done.

mod support;

use std::time::{Duration, Instant};
use support::fleet::shardwire_binary;
use support::{sqlstate, Options, Setup, DB};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_lets_the_running_transaction_finish_then_exits() {
    let setup = Setup::start(Options::default()).await;
    let port = shardwire_rig::free_port().expect("free port");
    let config = setup.config_text.replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
        1,
    );
    let path = setup.rig.dir().join("sigint.toml");
    std::fs::write(&path, config).expect("write config");
    let log = setup.rig.dir().join("sigint.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let mut child = tokio::process::Command::new(shardwire_binary())
        .arg("run")
        .arg("--config")
        .arg(&path)
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .expect("start shardwire");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let conn_str = format!("host=127.0.0.1 port={port} user=app password=app dbname={DB}");
    let connect = || async {
        let (client, conn) = tokio_postgres::connect(&conn_str, NoTls).await?;
        tokio::spawn(conn);
        Ok::<_, tokio_postgres::Error>(client)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let busy = loop {
        match connect().await {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "shardwire did not start: {e}\n{}",
                    log_text()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    busy.batch_execute(
        "CREATE TABLE IF NOT EXISTS t_sigint (v int); BEGIN; INSERT INTO t_sigint VALUES (1)",
    )
    .await
    .expect("begin");

    let pid = child.id().expect("pid");
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -INT");

    // New clients are refused once the shutdown has begun.
    loop {
        match connect().await {
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => {
                assert_eq!(
                    sqlstate(&e).as_deref(),
                    Some("57P01"),
                    "{e}\n{}",
                    log_text()
                );
                break;
            }
        }
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "shardwire exited while a transaction was running:\n{}",
        log_text()
    );
    busy.batch_execute("INSERT INTO t_sigint VALUES (2); COMMIT")
        .await
        .expect("the running transaction finishes after SIGINT");
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap_or_else(|_| panic!("shardwire did not exit after SIGINT:\n{}", log_text()))
        .expect("wait");
    assert!(exit.success(), "{exit:?}\n{}", log_text());
    let direct = setup
        .primary
        .connect("app", "app", DB)
        .await
        .expect("direct");
    let n: i64 = direct
        .query_one("SELECT count(*) FROM t_sigint", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 2, "both rows of the running transaction are committed");
}
