//! The console's computed numbers mean what PgBouncer's mean: `maxwait` /
//! `maxwait_us` in SHOW POOLS are the wait of the oldest client still
//! waiting (0 on an idle pool, even after checkouts that waited), and grow
//! while a client waits on an exhausted pool; `cl_active`, `cl_waiting`,
//! `sv_active` and `sv_idle` count what is linked, queued and idle; SHOW
//! CLIENTS gives the waiting client `state = waiting` and its current wait
//! in `wait` / `wait_us`, 0 for the others; SHOW LISTS' `login_clients`
//! counts the connections still logging in; SHOW STATS counts the wait
//! once it ended, SHOW DATABASES and SHOW USERS the open server connection.

mod support;

use std::collections::HashMap;
use std::time::Duration;
use support::{Options, Setup};
use tokio_postgres::{NoTls, SimpleQueryMessage};

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

/// The SHOW POOLS row of user `app`.
async fn app_pool(admin: &tokio_postgres::Client) -> HashMap<String, String> {
    show(admin, "SHOW POOLS")
        .await
        .into_iter()
        .find(|r| r["user"] == "app")
        .expect("a pool of user app")
}

fn number(row: &HashMap<String, String>, column: &str) -> u64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {:?} is not a number", row[column]))
}

/// `maxwait` and `maxwait_us` (or `wait` and `wait_us`) as one duration.
fn wait_of(row: &HashMap<String, String>, secs: &str, micros: &str) -> Duration {
    Duration::from_secs(number(row, secs)) + Duration::from_micros(number(row, micros))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxwait_is_the_oldest_waiting_clients_wait() {
    let setup = Setup::start(Options {
        pool_size: 1,
        checkout_timeout: "20s",
        ..Options::default()
    })
    .await;
    let (admin, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=shardwire",
            setup.port()
        ),
        NoTls,
    )
    .await
    .expect("console");
    tokio::spawn(conn);

    // Traffic whose checkouts waited (the first one for the connection to
    // open), then nothing: an idle pool has no waiting client, so maxwait
    // is 0 (it used to report the longest checkout wait ever seen).
    let holder = setup.client().await;
    for _ in 0..3 {
        holder.simple_query("SELECT 1").await.expect("select");
    }
    let idle = app_pool(&admin).await;
    assert_eq!(number(&idle, "cl_waiting"), 0, "{idle:?}");
    assert_eq!(number(&idle, "maxwait"), 0, "{idle:?}");
    assert_eq!(number(&idle, "maxwait_us"), 0, "{idle:?}");
    assert_eq!(number(&idle, "sv_active"), 0, "{idle:?}");
    assert_eq!(number(&idle, "sv_idle"), 1, "{idle:?}");

    // One client holds the only connection in a transaction; a second one
    // (logged in before: a login takes a connection for a moment) queues
    // behind it.
    let waiter = setup.client().await;
    holder.batch_execute("BEGIN").await.expect("begin");
    holder.simple_query("SELECT 1").await.expect("select in tx");
    let queued = tokio::spawn(async move {
        waiter
            .simple_query("SELECT 2")
            .await
            .expect("waiter's select");
        waiter
    });
    tokio::time::sleep(Duration::from_millis(400)).await;

    let busy = app_pool(&admin).await;
    assert_eq!(number(&busy, "cl_waiting"), 1, "{busy:?}");
    assert_eq!(number(&busy, "cl_active"), 1, "{busy:?}");
    assert_eq!(number(&busy, "sv_active"), 1, "{busy:?}");
    assert_eq!(number(&busy, "sv_idle"), 0, "{busy:?}");
    let maxwait = wait_of(&busy, "maxwait", "maxwait_us");
    assert!(
        maxwait >= Duration::from_millis(300) && maxwait < Duration::from_secs(20),
        "maxwait {maxwait:?} while a client has waited about 400 ms: {busy:?}"
    );

    let clients: Vec<_> = show(&admin, "SHOW CLIENTS")
        .await
        .into_iter()
        .filter(|r| r["user"] == "app" && r["database"] == "app")
        .collect();
    let waiting: Vec<_> = clients.iter().filter(|r| r["state"] == "waiting").collect();
    assert_eq!(waiting.len(), 1, "{clients:?}");
    let wait = wait_of(waiting[0], "wait", "wait_us");
    assert!(wait >= Duration::from_millis(300), "{wait:?}: {clients:?}");
    for other in clients.iter().filter(|r| r["state"] != "waiting") {
        assert_eq!(
            wait_of(other, "wait", "wait_us"),
            Duration::ZERO,
            "{other:?}"
        );
    }

    // The holder commits: the waiter gets the connection and nobody waits.
    holder.batch_execute("COMMIT").await.expect("commit");
    let waiter = tokio::time::timeout(Duration::from_secs(10), queued)
        .await
        .expect("the waiter is served once the holder commits")
        .expect("waiter task");
    let after = app_pool(&admin).await;
    assert_eq!(number(&after, "cl_waiting"), 0, "{after:?}");
    assert_eq!(wait_of(&after, "maxwait", "maxwait_us"), Duration::ZERO);

    // The wait is counted once the waiter got its connection: SHOW STATS'
    // total_wait_time (microseconds) holds at least those 400 ms, and the
    // transactions so far are counted.
    let stats = show(&admin, "SHOW STATS").await;
    let shard0 = stats.iter().find(|r| r["shard"] == "0").expect("shard 0");
    assert!(
        number(shard0, "total_wait_time") >= 300_000,
        "total_wait_time: {shard0:?}"
    );
    assert!(number(shard0, "total_xact_count") >= 5, "{shard0:?}");

    // One server connection is open: SHOW DATABASES and SHOW USERS count it.
    let databases = show(&admin, "SHOW DATABASES").await;
    let db = databases
        .iter()
        .find(|r| r["shard"] == "0")
        .expect("shard 0");
    assert_eq!(number(db, "pool_size"), 1, "{db:?}");
    assert_eq!(number(db, "current_connections"), 1, "{db:?}");
    let users = show(&admin, "SHOW USERS").await;
    let app = users.iter().find(|r| r["name"] == "app").expect("user app");
    assert_eq!(number(app, "current_connections"), 1, "{app:?}");
    drop(waiter);
}

/// The `items` of a SHOW LISTS row.
async fn list_item(admin: &tokio_postgres::Client, name: &str) -> u64 {
    let rows = show(admin, "SHOW LISTS").await;
    let row = rows
        .iter()
        .find(|r| r["list"] == name)
        .unwrap_or_else(|| panic!("SHOW LISTS has no {name}: {rows:?}"));
    number(row, "items")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_clients_counts_connections_still_logging_in() {
    let setup = Setup::start(Options::default()).await;
    let (admin, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=shardwire",
            setup.port()
        ),
        NoTls,
    )
    .await
    .expect("console");
    tokio::spawn(conn);
    assert_eq!(list_item(&admin, "login_clients").await, 0);

    // Two connections that never send their startup packet.
    let silent: Vec<_> = futures_util::future::join_all(
        (0..2).map(|_| tokio::net::TcpStream::connect(("127.0.0.1", setup.port()))),
    )
    .await
    .into_iter()
    .map(|s| s.expect("connect"))
    .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while list_item(&admin, "login_clients").await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "login_clients never reached 2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let used_before = list_item(&admin, "used_clients").await;
    let client = setup.client().await;
    client.simple_query("SELECT 1").await.expect("select");
    assert_eq!(list_item(&admin, "login_clients").await, 2);
    assert_eq!(list_item(&admin, "used_clients").await, used_before + 1);

    drop(silent);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while list_item(&admin, "login_clients").await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "login_clients stayed above 0 after the connections closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
