//! TLS from shardwire to PostgreSQL (`[server_tls]`), against a rig node
//! that accepts TCP connections only over TLS: `require` encrypts,
//! `disable` is refused by the server, `verify-full` checks the chain and
//! the host name, `verify-ca` only the chain, a per-shard override wins.

mod support;

use shardwire::config::parse_str;
use shardwire::proxy::RunningProxy;
use shardwire_rig::{Node, NodeOptions, Rig};
use support::certs::Ca;
use tokio_postgres::NoTls;

struct TlsNode {
    node: Node,
    ca: std::path::PathBuf,
    _rig: Rig,
}

/// A node whose certificate, signed by a fresh CA, names `names`; plain
/// TCP connections are refused.
async fn tls_only_node(names: &[&str]) -> TlsNode {
    let rig = Rig::new().expect("rig");
    let node = rig
        .start_primary("tls", NodeOptions::default())
        .await
        .expect("primary");
    rig.create_user(&node, "app", "app").await.expect("user");
    rig.create_database(&node, "app", "app").await.expect("db");
    let ca = Ca::new("server CA");
    let ca_path = ca.write(rig.dir(), "server-ca");
    let files = ca.issue(rig.dir(), "node", "node", names);
    let cert = std::fs::read_to_string(&files.cert).expect("cert");
    let key = std::fs::read_to_string(&files.key).expect("key");
    shardwire_rig::enable_ssl(&node, &cert, &key, None)
        .await
        .expect("enable ssl");
    shardwire_rig::require_ssl(&node)
        .await
        .expect("require ssl");
    TlsNode {
        node,
        ca: ca_path,
        _rig: rig,
    }
}

async fn proxy(node: &TlsNode, host: &str, server_tls: &str, shard_override: &str) -> RunningProxy {
    let config = format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
database = "app"

[pool]
size = 2
connect_timeout = "3s"
checkout_timeout = "3s"

[server_tls]
{server_tls}
ca_file = "{ca}"

[[users]]
name = "app"
password = "app"

[[shards]]
primary = {{ host = "{host}", port = {port} }}
{shard_override}
"#,
        ca = node.ca.display(),
        port = node.node.port(),
    );
    RunningProxy::start(parse_str(&config).expect("config"))
        .await
        .expect("proxy")
}

/// Runs a query through the proxy: Ok(whether the server connection is
/// encrypted) or the error message the client got.
async fn through(proxy: &RunningProxy) -> Result<bool, String> {
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=app password=app dbname=app",
            proxy.addr.port()
        ),
        NoTls,
    )
    .await
    .map_err(|e| message(&e))?;
    tokio::spawn(conn);
    match client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
    {
        Ok(row) => Ok(row.get(0)),
        Err(e) => Err(message(&e)),
    }
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_and_disable_is_refused_by_the_server() {
    let node = tls_only_node(&["localhost", "127.0.0.1"]).await;
    let p = proxy(&node, "127.0.0.1", "mode = \"require\"", "").await;
    assert_eq!(
        through(&p).await,
        Ok(true),
        "the server connection uses TLS"
    );
    let p = proxy(&node, "127.0.0.1", "mode = \"prefer\"", "").await;
    assert_eq!(through(&p).await, Ok(true), "prefer takes TLS when offered");
    let p = proxy(&node, "127.0.0.1", "mode = \"disable\"", "").await;
    let e = through(&p)
        .await
        .expect_err("plaintext is refused by the node");
    assert!(e.contains("no encryption") || e.contains("pg_hba"), "{e}");
    // A per-shard override wins over the default.
    let p = proxy(
        &node,
        "127.0.0.1",
        "mode = \"disable\"",
        "server_tls = \"require\"",
    )
    .await;
    assert_eq!(through(&p).await, Ok(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_chain_and_name_verify_ca_only_the_chain() {
    let node = tls_only_node(&["db.internal.example"]).await;
    // The certificate does not name 127.0.0.1: verify-full refuses,
    // verify-ca accepts (the chain is good).
    let p = proxy(&node, "127.0.0.1", "mode = \"verify-full\"", "").await;
    let e = through(&p).await.expect_err("name mismatch");
    assert!(e.contains("TLS") && e.contains("certificate"), "{e}");
    let p = proxy(&node, "127.0.0.1", "mode = \"verify-ca\"", "").await;
    assert_eq!(through(&p).await, Ok(true));

    // A certificate naming the host passes verify-full; another CA fails.
    let good = tls_only_node(&["localhost", "127.0.0.1"]).await;
    let p = proxy(&good, "127.0.0.1", "mode = \"verify-full\"", "").await;
    assert_eq!(through(&p).await, Ok(true));
    let wrong_ca = TlsNode {
        ca: node.ca.clone(),
        ..good
    };
    let p = proxy(&wrong_ca, "127.0.0.1", "mode = \"verify-ca\"", "").await;
    let e = through(&p).await.expect_err("unknown issuer");
    assert!(e.contains("certificate"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_checks_tls_only_nodes_over_tls() {
    let node = tls_only_node(&["localhost", "127.0.0.1"]).await;
    let config = format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
database = "app"

[server_tls]
mode = "verify-full"
ca_file = "{ca}"

[replication]
user = "postgres"
password = "postgres"

[[users]]
name = "app"
password = "app"

[[shards]]
primary = {{ host = "127.0.0.1", port = {port} }}
"#,
        ca = node.ca.display(),
        port = node.node.port(),
    );
    let proxy = RunningProxy::start(parse_str(&config).expect("config"))
        .await
        .expect("proxy");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let nodes = proxy.context.topology.nodes.all();
        if nodes.iter().all(|n| n.up && n.in_recovery == Some(false)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the health check never succeeded over TLS: {nodes:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
