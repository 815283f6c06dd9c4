//! PgBouncer's console as tools expect it: each SHOW command PgBouncer 1.25
//! has starts with PgBouncer's columns, named and ordered as its
//! source sends them, with their types (shardwire's own
//! columns may follow), SHOW LISTS has PgBouncer's rows in its order, and
//! every PgBouncer command shardwire does not run is refused with 0A000
//! and a hint, not "unknown command".

mod support;

use support::raw::{self, Raw};
use support::{Options, Setup};
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// Column type OIDs PgBouncer declares: text, int4, int8, numeric.
type Type = u32;
const T: Type = 25;
const I4: Type = 23;
const I8: Type = 20;
const N: Type = 1700;

/// PgBouncer 1.25's columns per SHOW command — name and type, in order —
/// as its source sends them (src/admin.c and src/stats.c at tag
/// pgbouncer_1_25_2; where its documentation differs, as for the order of
/// SHOW STATS and the names of STATS_TOTALS / STATS_AVERAGES, the source
/// wins: tools see what PgBouncer sends).
const PGBOUNCER_COLUMNS: &[(&str, &[(&str, Type)])] = &[
    (
        "SHOW CLIENTS",
        &[
            ("type", T),
            ("user", T),
            ("database", T),
            ("replication", T),
            ("state", T),
            ("addr", T),
            ("port", I4),
            ("local_addr", T),
            ("local_port", I4),
            ("connect_time", T),
            ("request_time", T),
            ("wait", I4),
            ("wait_us", I4),
            ("close_needed", I4),
            ("ptr", T),
            ("link", T),
            ("remote_pid", I4),
            ("tls", T),
            ("application_name", T),
            ("prepared_statements", I4),
            ("id", I4),
        ],
    ),
    (
        "SHOW SERVERS",
        &[
            ("type", T),
            ("user", T),
            ("database", T),
            ("replication", T),
            ("state", T),
            ("addr", T),
            ("port", I4),
            ("local_addr", T),
            ("local_port", I4),
            ("connect_time", T),
            ("request_time", T),
            ("wait", I4),
            ("wait_us", I4),
            ("close_needed", I4),
            ("ptr", T),
            ("link", T),
            ("remote_pid", I4),
            ("tls", T),
            ("application_name", T),
            ("prepared_statements", I4),
            ("id", I4),
        ],
    ),
    (
        "SHOW POOLS",
        &[
            ("database", T),
            ("user", T),
            ("cl_active", I4),
            ("cl_waiting", I4),
            ("cl_active_cancel_req", I4),
            ("cl_waiting_cancel_req", I4),
            ("sv_active", I4),
            ("sv_active_cancel", I4),
            ("sv_being_canceled", I4),
            ("sv_idle", I4),
            ("sv_used", I4),
            ("sv_tested", I4),
            ("sv_login", I4),
            ("maxwait", I4),
            ("maxwait_us", I4),
            ("pool_mode", T),
            ("load_balance_hosts", T),
        ],
    ),
    (
        "SHOW STATS",
        &[
            ("database", T),
            ("total_server_assignment_count", N),
            ("total_xact_count", N),
            ("total_query_count", N),
            ("total_received", N),
            ("total_sent", N),
            ("total_xact_time", N),
            ("total_query_time", N),
            ("total_wait_time", N),
            ("total_client_parse_count", N),
            ("total_server_parse_count", N),
            ("total_bind_count", N),
            ("avg_server_assignment_count", N),
            ("avg_xact_count", N),
            ("avg_query_count", N),
            ("avg_recv", N),
            ("avg_sent", N),
            ("avg_xact_time", N),
            ("avg_query_time", N),
            ("avg_wait_time", N),
            ("avg_client_parse_count", N),
            ("avg_server_parse_count", N),
            ("avg_bind_count", N),
        ],
    ),
    (
        "SHOW STATS_TOTALS",
        &[
            ("database", T),
            ("server_assignment_count", N),
            ("xact_count", N),
            ("query_count", N),
            ("bytes_received", N),
            ("bytes_sent", N),
            ("xact_time", N),
            ("query_time", N),
            ("wait_time", N),
            ("client_parse_count", N),
            ("server_parse_count", N),
            ("bind_count", N),
        ],
    ),
    (
        "SHOW STATS_AVERAGES",
        &[
            ("database", T),
            ("server_assignment_count", N),
            ("xact_count", N),
            ("query_count", N),
            ("bytes_received", N),
            ("bytes_sent", N),
            ("xact_time", N),
            ("query_time", N),
            ("wait_time", N),
            ("avg_client_parse_count", N),
            ("avg_server_parse_count", N),
            ("avg_bind_count", N),
        ],
    ),
    ("SHOW TOTALS", &[("name", T), ("value", N)]),
    (
        "SHOW DATABASES",
        &[
            ("name", T),
            ("host", T),
            ("port", I4),
            ("database", T),
            ("force_user", T),
            ("pool_size", I4),
            ("min_pool_size", I4),
            ("reserve_pool_size", I4),
            ("server_lifetime", I4),
            ("pool_mode", T),
            ("load_balance_hosts", T),
            ("max_connections", I4),
            ("current_connections", I4),
            ("max_client_connections", I4),
            ("current_client_connections", I4),
            ("paused", I4),
            ("disabled", I4),
        ],
    ),
    (
        "SHOW CONFIG",
        &[("key", T), ("value", T), ("default", T), ("changeable", T)],
    ),
    ("SHOW LISTS", &[("list", T), ("items", I4)]),
    (
        "SHOW USERS",
        &[
            ("name", T),
            ("pool_size", T),
            ("reserve_pool_size", T),
            ("pool_mode", T),
            ("max_user_connections", I4),
            ("current_connections", I4),
            ("max_user_client_connections", I4),
            ("current_client_connections", I4),
        ],
    ),
    ("SHOW STATE", &[("key", T), ("value", T)]),
    ("SHOW VERSION", &[("version", T)]),
    (
        "SHOW DNS_HOSTS",
        &[("hostname", T), ("ttl", I8), ("addrs", T)],
    ),
    (
        "SHOW DNS_ZONES",
        &[("zonename", T), ("serial", I8), ("count", I4)],
    ),
    (
        "SHOW PEERS",
        &[
            ("peer_id", I4),
            ("host", T),
            ("port", I4),
            ("pool_size", I4),
        ],
    ),
    (
        "SHOW PEER_POOLS",
        &[
            ("peer_id", I4),
            ("cl_active_cancel_req", I4),
            ("cl_waiting_cancel_req", I4),
            ("sv_active_cancel", I4),
            ("sv_login", I4),
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

/// PgBouncer commands shardwire refuses with a reason: online restart and
/// PgBouncer's own memory and socket views (the other commands are
/// answered; integration/tests/console_commands.rs runs them).
const REFUSED: &[&str] = &[
    "SHOW FDS",
    "SHOW MEM",
    "SHOW SOCKETS",
    "SHOW ACTIVE_SOCKETS",
    "SUSPEND",
];

/// A raw console session on `port` as the trust user.
async fn raw_console(port: u16) -> Raw {
    let mut raw = Raw::connect(port).await;
    raw.send(&raw::startup_packet(&[
        ("user", "trustuser"),
        ("database", "pgbouncer"),
    ]))
    .await;
    let login = raw.until_ready().await;
    assert!(
        login.iter().all(|m| m.tag != b'E'),
        "console login refused: {login:?}"
    );
    raw
}

/// Runs `command`: its columns (name, type OID) and each row's first value.
async fn describe(raw: &mut Raw, command: &str) -> (Vec<(String, Type)>, Vec<String>) {
    raw.send(&raw::query(command)).await;
    let messages = raw.until_ready().await;
    let mut columns = Vec::new();
    let mut firsts = Vec::new();
    for m in &messages {
        match m.tag {
            b'E' => panic!("{command}: {:?}", m.field(b'M')),
            b'T' => columns = row_description(&m.body),
            b'D' => firsts.push(first_value(&m.body)),
            _ => {}
        }
    }
    assert!(!columns.is_empty(), "{command} sent no RowDescription");
    (columns, firsts)
}

fn row_description(body: &[u8]) -> Vec<(String, Type)> {
    let n = u16::from_be_bytes([body[0], body[1]]) as usize;
    let mut at = 2;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let end = at + body[at..].iter().position(|&b| b == 0).expect("name");
        let name = String::from_utf8_lossy(&body[at..end]).into_owned();
        // name\0, table oid (4), column (2), type oid (4), size (2), typmod (4), format (2)
        let oid_at = end + 1 + 4 + 2;
        let oid = u32::from_be_bytes(body[oid_at..oid_at + 4].try_into().expect("oid"));
        out.push((name, oid));
        at = oid_at + 4 + 2 + 4 + 2;
    }
    out
}

fn first_value(body: &[u8]) -> String {
    let len = i32::from_be_bytes(body[2..6].try_into().expect("length"));
    if len < 0 {
        return String::new();
    }
    String::from_utf8_lossy(&body[6..6 + len as usize]).into_owned()
}

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

    // tokio-postgres's simple query does not expose column types: read the
    // RowDescriptions raw, from a second instance of the same configuration
    // where the trust user may use the console.
    let config = shardwire::config::parse_str(
        &setup
            .config_text
            .replace("users = [\"app\"]", "users = [\"app\", \"trustuser\"]"),
    )
    .expect("config");
    let second = shardwire::proxy::RunningProxy::start(config)
        .await
        .expect("second proxy");
    let (app2, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=app",
            second.addr.port()
        ),
        NoTls,
    )
    .await
    .expect("client of the second proxy");
    tokio::spawn(conn);
    app2.simple_query("SELECT 1").await.expect("query");
    let mut raw = raw_console(second.addr.port()).await;
    for (command, expected) in PGBOUNCER_COLUMNS {
        let (columns, first_values) = describe(&mut raw, command).await;
        let got: Vec<(&str, Type)> = columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        assert!(
            got.len() >= expected.len() && got[..expected.len()] == **expected,
            "{command}: columns {columns:?}\n  PgBouncer 1.25 sends {expected:?} (name, type OID; shardwire's own may only follow)"
        );
        if *command == "SHOW LISTS" {
            assert_eq!(first_values, PGBOUNCER_LISTS, "SHOW LISTS rows");
        }
        // The same names through a real driver on the first instance.
        let messages = admin
            .simple_query(command)
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        let names: Option<Vec<String>> = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::RowDescription(cols) => {
                Some(cols.iter().map(|c| c.name().to_string()).collect())
            }
            _ => None,
        });
        let raw_names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, Some(raw_names), "{command}");
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

    // SHOW CLIENTS: the proxy's end of the connection and the login's
    // application_name; SHOW SERVERS: the proxy's end towards PostgreSQL.
    let (named, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=app application_name=probe",
            setup.port()
        ),
        NoTls,
    )
    .await
    .expect("named client");
    tokio::spawn(conn);
    named.simple_query("SELECT 1").await.expect("query");
    let clients = rows(admin.simple_query("SHOW CLIENTS").await.expect("clients"));
    // Columns 7, 8 and 18: local_addr, local_port, application_name.
    let probe = clients
        .iter()
        .find(|r| r[18] == "probe")
        .unwrap_or_else(|| panic!("no client with application_name probe: {clients:?}"));
    assert_eq!(probe[7], "127.0.0.1", "{probe:?}");
    assert_eq!(probe[8], setup.port().to_string(), "{probe:?}");
    let servers = rows(admin.simple_query("SHOW SERVERS").await.expect("servers"));
    assert!(
        servers
            .iter()
            .all(|r| r[7] == "127.0.0.1" && r[8].parse::<u16>().is_ok_and(|p| p > 0)),
        "{servers:?}"
    );
}
