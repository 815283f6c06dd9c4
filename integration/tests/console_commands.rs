//! The PgBouncer console commands that act, run against a real primary:
//! `SET` changes a live setting until RELOAD and refuses the others with a
//! reason, `DISABLE` / `ENABLE` close and open the database to new logins
//! without touching sessions already in, `KILL_CLIENT` ends exactly one
//! session and tells it why, `WAIT_CLOSE` returns once the connections
//! RECONNECT marked `close_needed` are gone, `SHOW PREPARED_STATEMENTS`
//! lists what clients prepared, and `SHUTDOWN WAIT_FOR_SERVERS` lets the
//! running transaction finish while refusing new clients.

mod support;

use support::raw::Raw;
use support::{sqlstate, Options, Setup};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

async fn console(setup: &Setup) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=pgbouncer",
            setup.port()
        ),
        NoTls,
    )
    .await
    .expect("admin console");
    tokio::spawn(conn);
    client
}

/// Rows of a console command as column name -> value maps.
async fn show(admin: &Client, command: &str) -> Vec<Vec<(String, String)>> {
    let messages = admin
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
                    .map(|(i, c)| (c.name().to_string(), r.get(i).unwrap_or("").to_string()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn get<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    row.iter()
        .find(|(c, _)| c == column)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
}

async fn config_value(admin: &Client, key: &str) -> String {
    let rows = show(admin, "SHOW CONFIG").await;
    let row = rows
        .iter()
        .find(|r| get(r, "key") == key)
        .unwrap_or_else(|| panic!("SHOW CONFIG has no {key}"));
    get(row, "value").to_string()
}

async fn refused(admin: &Client, command: &str) -> String {
    let e = admin
        .simple_query(command)
        .await
        .expect_err(&format!("{command} should fail"));
    let db = e.as_db_error().expect("an ErrorResponse");
    assert!(db.hint().is_some(), "{command}: no hint in {db:?}");
    db.code().code().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_changes_live_settings_until_reload() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup).await;
    assert_eq!(config_value(&admin, "pool.size").await, "4");
    admin
        .simple_query("SET pool.size = 7")
        .await
        .expect("SET pool.size");
    assert_eq!(config_value(&admin, "pool.size").await, "7");
    // PgBouncer's name for the same setting; a bare number is seconds.
    admin
        .simple_query("SET query_wait_timeout = 2")
        .await
        .expect("SET query_wait_timeout");
    assert_eq!(
        config_value(&admin, "pool.checkout_timeout").await,
        "2000ms"
    );
    assert_eq!(refused(&admin, "SET no_such_setting = 1").await, "42704");
    assert_eq!(
        refused(&admin, "SET proxy.listen = '0.0.0.0:1'").await,
        "55P02"
    );
    assert_eq!(refused(&admin, "SET pool.size = 0").await, "22023");
    // RELOAD puts the file's values back.
    admin.simple_query("RELOAD").await.expect("RELOAD");
    assert_eq!(config_value(&admin, "pool.size").await, "4");
    assert_eq!(
        config_value(&admin, "pool.checkout_timeout").await,
        "5000ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_refuses_new_logins_only() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup).await;
    let inside = setup.client().await;
    admin.simple_query("DISABLE app").await.expect("DISABLE");
    let dbs = show(&admin, "SHOW DATABASES").await;
    assert!(dbs.iter().all(|r| get(r, "disabled") == "1"), "{dbs:?}");
    let Err(e) = setup.client_as("app", "app").await else {
        panic!("a new login is accepted while disabled");
    };
    assert_eq!(sqlstate(&e).as_deref(), Some("57P03"), "{e}");
    inside
        .simple_query("SELECT 1")
        .await
        .expect("a session already in keeps working");
    assert_eq!(refused(&admin, "DISABLE nosuchdb").await, "3D000");
    assert_eq!(refused(&admin, "RECONNECT nosuchdb").await, "3D000");
    assert_eq!(refused(&admin, "DISABLE pgbouncer").await, "55000");
    admin.simple_query("ENABLE app").await.expect("ENABLE");
    let dbs = show(&admin, "SHOW DATABASES").await;
    assert!(dbs.iter().all(|r| get(r, "disabled") == "0"), "{dbs:?}");
    let again = setup.client().await;
    again.simple_query("SELECT 1").await.expect("login again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_client_ends_one_session() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup).await;
    let other = setup.client().await;
    other.simple_query("SELECT 1").await.expect("other client");
    // The victim logs in as the trust user, so SHOW CLIENTS tells it apart.
    let mut victim = Raw::login(setup.port()).await;
    let clients = show(&admin, "SHOW CLIENTS").await;
    let row = clients
        .iter()
        .find(|r| get(r, "user") == "trustuser")
        .expect("the victim is listed");
    let id = get(row, "id").to_string();
    admin
        .simple_query(&format!("KILL_CLIENT {id}"))
        .await
        .expect("KILL_CLIENT");
    let last = victim.until_closed().await;
    let error = last
        .iter()
        .find(|m| m.tag == b'E')
        .unwrap_or_else(|| panic!("the victim was not told why: {last:?}"));
    assert_eq!(error.sqlstate().as_deref(), Some("57P01"), "{last:?}");
    other
        .simple_query("SELECT 2")
        .await
        .expect("the other session is untouched");
    let clients = show(&admin, "SHOW CLIENTS").await;
    assert!(
        clients.iter().all(|r| get(r, "user") != "trustuser"),
        "{clients:?}"
    );
    assert_eq!(refused(&admin, &format!("KILL_CLIENT {id}")).await, "42704");
    assert_eq!(refused(&admin, "KILL_CLIENT x").await, "22023");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_close_waits_for_reconnected_servers() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup).await;
    let busy = setup.client().await;
    busy.batch_execute("BEGIN; SELECT 1").await.expect("begin");
    admin.simple_query("RECONNECT").await.expect("RECONNECT");
    let servers = show(&admin, "SHOW SERVERS").await;
    assert!(
        servers
            .iter()
            .any(|r| get(r, "close_needed") == "1" && get(r, "state") == "active"),
        "the busy connection is marked close_needed: {servers:?}"
    );
    let waiter = console(&setup).await;
    let wait = tokio::spawn(async move { waiter.simple_query("WAIT_CLOSE").await.map(|_| ()) });
    // Cannot have returned: the marked connection is still in use.
    assert!(!wait.is_finished(), "WAIT_CLOSE returned before the COMMIT");
    busy.batch_execute("COMMIT").await.expect("commit");
    wait.await
        .expect("task")
        .expect("WAIT_CLOSE returns once the transaction released it");
    let servers = show(&admin, "SHOW SERVERS").await;
    assert!(
        servers.iter().all(|r| get(r, "close_needed") == "0"),
        "{servers:?}"
    );
    busy.simple_query("SELECT 1")
        .await
        .expect("the client goes on with a new connection");
    assert_eq!(refused(&admin, "WAIT_CLOSE nosuchdb").await, "3D000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prepared_statements_lists_the_registry() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup).await;
    let app = setup.client().await;
    let statement = app.prepare("SELECT $1::int4 + 40").await.expect("prepare");
    let row = app.query_one(&statement, &[&2i32]).await.expect("execute");
    assert_eq!(row.get::<_, i32>(0), 42);
    let listed = show(&admin, "SHOW PREPARED_STATEMENTS").await;
    let mine = listed
        .iter()
        .find(|r| get(r, "sql") == "SELECT $1::int4 + 40")
        .unwrap_or_else(|| panic!("not listed: {listed:?}"));
    assert_eq!(get(mine, "name"), format!("sw_{}", get(mine, "id")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_wait_for_servers_lets_the_transaction_finish() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup).await;
    let busy = setup.client().await;
    busy.batch_execute(
        "CREATE TABLE IF NOT EXISTS t_shutdown (v int); BEGIN; INSERT INTO t_shutdown VALUES (1)",
    )
    .await
    .expect("begin");
    let shutdown = tokio::spawn(async move {
        admin
            .simple_query("SHUTDOWN WAIT_FOR_SERVERS")
            .await
            .map(|_| ())
    });
    // New clients are refused once the shutdown has begun.
    loop {
        match setup.client_as("app", "app").await {
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => {
                assert_eq!(sqlstate(&e).as_deref(), Some("57P01"), "{e}");
                break;
            }
        }
    }
    assert!(
        !shutdown.is_finished(),
        "SHUTDOWN returned while a transaction was running"
    );
    busy.batch_execute("INSERT INTO t_shutdown VALUES (2); COMMIT")
        .await
        .expect("the running transaction finishes");
    shutdown
        .await
        .expect("task")
        .expect("SHUTDOWN WAIT_FOR_SERVERS completes");
    let direct = setup
        .primary
        .connect("app", "app", support::DB)
        .await
        .expect("direct");
    let n: i64 = direct
        .query_one("SELECT count(*) FROM t_shutdown", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 2, "both rows of the running transaction are committed");
}
