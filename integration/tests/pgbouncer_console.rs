//! PgBouncer's console as tools expect it: each SHOW command PgBouncer 1.25
//! has starts with PgBouncer's columns, named and ordered as its
//! documentation lists them (doc/usage.md of PgBouncer; shardwire's own
//! columns may follow), SHOW LISTS has PgBouncer's rows in its order, and
//! every PgBouncer command shardwire does not run is refused with 0A000
//! and a hint, not "unknown command".

mod support;

use support::{Options, Setup};
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// PgBouncer 1.25's column names per SHOW command, from its documentation.
const PGBOUNCER_COLUMNS: &[(&str, &[&str])] = &[
    (
        "SHOW CLIENTS",
        &[
            "type",
            "user",
            "database",
            "replication",
            "state",
            "addr",
            "port",
            "local_addr",
            "local_port",
            "connect_time",
            "request_time",
            "wait",
            "wait_us",
            "close_needed",
            "ptr",
            "link",
            "remote_pid",
            "tls",
            "application_name",
            "prepared_statements",
            "id",
        ],
    ),
    (
        "SHOW SERVERS",
        &[
            "type",
            "user",
            "database",
            "replication",
            "state",
            "addr",
            "port",
            "local_addr",
            "local_port",
            "connect_time",
            "request_time",
            "wait",
            "wait_us",
            "close_needed",
            "ptr",
            "link",
            "remote_pid",
            "tls",
            "application_name",
            "prepared_statements",
            "id",
        ],
    ),
    (
        "SHOW POOLS",
        &[
            "database",
            "user",
            "cl_active",
            "cl_waiting",
            "cl_active_cancel_req",
            "cl_waiting_cancel_req",
            "sv_active",
            "sv_active_cancel",
            "sv_being_canceled",
            "sv_idle",
            "sv_used",
            "sv_tested",
            "sv_login",
            "maxwait",
            "maxwait_us",
            "pool_mode",
            "load_balance_hosts",
        ],
    ),
    (
        "SHOW STATS",
        &[
            "database",
            "total_xact_count",
            "total_query_count",
            "total_server_assignment_count",
            "total_server_closed_count",
            "total_received",
            "total_sent",
            "total_xact_time",
            "total_query_time",
            "total_wait_time",
            "total_server_lifetime",
            "total_client_parse_count",
            "total_server_parse_count",
            "total_bind_count",
            "avg_xact_count",
            "avg_query_count",
            "avg_server_assignment_count",
            "avg_recv",
            "avg_sent",
            "avg_xact_time",
            "avg_query_time",
            "avg_wait_time",
            "avg_server_lifetime",
            "avg_client_parse_count",
            "avg_server_parse_count",
            "avg_bind_count",
        ],
    ),
    (
        "SHOW STATS_TOTALS",
        &[
            "database",
            "total_xact_count",
            "total_query_count",
            "total_server_assignment_count",
            "total_server_closed_count",
            "total_received",
            "total_sent",
            "total_xact_time",
            "total_query_time",
            "total_wait_time",
            "total_server_lifetime",
            "total_client_parse_count",
            "total_server_parse_count",
            "total_bind_count",
        ],
    ),
    (
        "SHOW STATS_AVERAGES",
        &[
            "database",
            "avg_xact_count",
            "avg_query_count",
            "avg_server_assignment_count",
            "avg_recv",
            "avg_sent",
            "avg_xact_time",
            "avg_query_time",
            "avg_wait_time",
            "avg_server_lifetime",
            "avg_client_parse_count",
            "avg_server_parse_count",
            "avg_bind_count",
        ],
    ),
    (
        "SHOW DATABASES",
        &[
            "name",
            "host",
            "port",
            "database",
            "force_user",
            "pool_size",
            "min_pool_size",
            "reserve_pool_size",
            "server_lifetime",
            "pool_mode",
            "load_balance_hosts",
            "max_connections",
            "current_connections",
            "max_client_connections",
            "current_client_connections",
            "paused",
            "disabled",
        ],
    ),
    ("SHOW CONFIG", &["key", "value", "default", "changeable"]),
    ("SHOW LISTS", &["list", "items"]),
    (
        "SHOW USERS",
        &[
            "name",
            "pool_size",
            "reserve_pool_size",
            "pool_mode",
            "max_user_connections",
            "current_connections",
            "max_user_client_connections",
            "current_client_connections",
        ],
    ),
    ("SHOW DNS_HOSTS", &["hostname", "ttl", "addrs"]),
    ("SHOW DNS_ZONES", &["zonename", "serial", "count"]),
    ("SHOW PEERS", &["peer_id", "host", "port", "pool_size"]),
    (
        "SHOW PEER_POOLS",
        &[
            "database",
            "cl_active_cancel_req",
            "cl_waiting_cancel_req",
            "sv_active_cancel",
            "sv_login",
        ],
    ),
];

/// SHOW LISTS rows, in PgBouncer's order.
const PGBOUNCER_LISTS: &[&str] = &[
    "databases",
    "users",
    "pools",
    "free_clients",
    "used_clients",
    "login_clients",
    "free_servers",
    "used_servers",
    "dns_names",
    "dns_zones",
    "dns_queries",
    "dns_pending",
];

/// PgBouncer commands shardwire refuses with a reason.
const REFUSED: &[&str] = &[
    "SHOW FDS",
    "SHOW MEM",
    "SHOW SOCKETS",
    "SHOW ACTIVE_SOCKETS",
    "SHOW PREPARED_STATEMENTS",
    "SUSPEND",
    "SET log_connections = 1",
    "DISABLE app",
    "ENABLE app",
    "KILL_CLIENT 1",
    "WAIT_CLOSE",
];

async fn console(setup: &Setup) -> tokio_postgres::Client {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_columns_and_refusals_match_pgbouncer() {
    let setup = Setup::start(Options::default()).await;
    let admin = console(&setup).await;
    // A client and a server connection, so the lists are not empty.
    let app = setup.client().await;
    app.simple_query("SELECT 1").await.expect("query");

    for (command, expected) in PGBOUNCER_COLUMNS {
        let messages = admin
            .simple_query(command)
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        let columns: Vec<String> = messages
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::RowDescription(cols) => {
                    Some(cols.iter().map(|c| c.name().to_string()).collect())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("{command} sent no RowDescription"));
        assert!(
            columns.len() >= expected.len() && columns[..expected.len()] == **expected,
            "{command}: columns {columns:?}\n  PgBouncer 1.25 has {expected:?} (shardwire's own may only follow)"
        );
        if *command == "SHOW LISTS" {
            let names: Vec<String> = messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                    _ => None,
                })
                .collect();
            assert_eq!(names, PGBOUNCER_LISTS, "SHOW LISTS rows");
        }
    }

    for command in REFUSED {
        let e = admin
            .simple_query(command)
            .await
            .expect_err(&format!("{command} should be refused"));
        let db = e.as_db_error().expect("an ErrorResponse");
        assert_eq!(db.code().code(), "0A000", "{command}: {db:?}");
        assert!(
            db.message().contains("not supported by shardwire"),
            "{command}: {db:?}"
        );
        assert!(db.hint().is_some(), "{command} has no hint: {db:?}");
    }

    // Answered: SHOW STATE, SHOW TOTALS, SHOW USERS with the app user.
    let rows = |messages: Vec<SimpleQueryMessage>| -> Vec<Vec<String>> {
        messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("").to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    };
    let state = rows(admin.simple_query("SHOW STATE").await.expect("state"));
    assert_eq!(
        state,
        vec![
            vec!["active".to_string(), "yes".to_string()],
            vec!["paused".to_string(), "no".to_string()],
            vec!["suspended".to_string(), "no".to_string()],
        ]
    );
    let totals = rows(admin.simple_query("SHOW TOTALS").await.expect("totals"));
    assert!(
        totals
            .iter()
            .any(|r| r[0] == "total_query_count" && r[1].parse::<u64>().unwrap_or(0) >= 1),
        "{totals:?}"
    );
    let users = rows(admin.simple_query("SHOW USERS").await.expect("users"));
    assert!(users.iter().any(|r| r[0] == "app"), "{users:?}");
}
