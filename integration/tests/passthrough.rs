//! No plaintext password in the configuration: users listed with only the
//! `scram_verifier` the server stores (copied from `pg_authid`) log in to
//! shardwire, and shardwire logs in to the server with the ClientKey their
//! proof revealed (SCRAM passthrough). A verifier that is not the server's
//! gives a clear error.

mod support;

use shardwire::auth::scram::ScramVerifier;
use shardwire::config::parse_str;
use shardwire::proxy::RunningProxy;
use shardwire_rig::{NodeOptions, Rig};
use tokio_postgres::NoTls;

/// Logs in to the proxy's database `app` as `user`.
async fn login(
    proxy: &RunningProxy,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conn_str = format!(
        "host=127.0.0.1 port={} user={user} password={password} dbname=app",
        proxy.addr.port()
    );
    let (client, conn) = tokio_postgres::connect(&conn_str, NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifier_only_users_reach_the_server_without_a_password_in_the_config() {
    let rig = Rig::new().expect("rig");
    let node = rig
        .start_primary("p", NodeOptions::default())
        .await
        .expect("primary");
    rig.create_user(&node, "app", "app-secret")
        .await
        .expect("user");
    rig.create_user(&node, "other", "other-secret")
        .await
        .expect("user");
    rig.create_database(&node, "app", "app").await.expect("db");
    let su = node.connect_superuser().await.expect("superuser");
    su.batch_execute("GRANT CONNECT ON DATABASE app TO other")
        .await
        .expect("grant");
    let stored: String = su
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'",
            &[],
        )
        .await
        .expect("pg_authid")
        .get(0);
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
    // "other" gets a verifier of the right password but another salt.
    let foreign = ScramVerifier::from_password("other-secret").to_text();
    let config = format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
database = "app"

[[users]]
name = "app"
scram_verifier = "{stored}"

[[users]]
name = "other"
scram_verifier = "{foreign}"

[[shards]]
primary = {{ host = "127.0.0.1", port = {} }}
"#,
        node.port()
    );
    assert!(!config.contains("app-secret") && !config.contains("other-secret"));
    let proxy = RunningProxy::start(parse_str(&config).expect("config"))
        .await
        .expect("proxy");
    let connect = |user: &'static str, password: &'static str| login(&proxy, user, password);
    let client = connect("app", "app-secret")
        .await
        .expect("passthrough login");
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("query on the server");
    assert_eq!(row.get::<_, String>(0), "app");
    // Another session reuses the learned key for new server connections.
    let second = connect("app", "app-secret").await.expect("second login");
    second.simple_query("SELECT 1").await.expect("works");

    let Err(wrong) = connect("app", "guess").await else {
        panic!("a wrong password must be refused");
    };
    assert_eq!(wrong.code().map(|c| c.code()), Some("28P01"), "{wrong}");

    let Err(e) = connect("other", "other-secret").await else {
        panic!("a verifier that is not the server's cannot log in to it");
    };
    assert!(
        message(&e).contains("different SCRAM verifier"),
        "{}",
        message(&e)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_query_looks_users_up_on_the_server() {
    let rig = Rig::new().expect("rig");
    let node = rig
        .start_primary("p", NodeOptions::default())
        .await
        .expect("primary");
    rig.create_user(&node, "app", "app").await.expect("user");
    rig.create_user(&node, "lookup", "lookup-pw")
        .await
        .expect("lookup user");
    rig.create_user(&node, "dynamic", "dyn-secret")
        .await
        .expect("user");
    rig.create_database(&node, "app", "app").await.expect("db");
    let su = node.connect_superuser().await.expect("superuser");
    // The lookup runs through a SECURITY DEFINER function, as with PgBouncer.
    su.batch_execute("GRANT CONNECT ON DATABASE app TO dynamic, lookup;")
        .await
        .expect("grants");
    let db = node
        .connect("postgres", "postgres", "app")
        .await
        .expect("superuser in app");
    db.batch_execute(
        "CREATE FUNCTION user_lookup(name text) RETURNS text LANGUAGE sql SECURITY DEFINER \
           AS $$ SELECT rolpassword FROM pg_authid WHERE rolname = name $$; \
         REVOKE ALL ON FUNCTION user_lookup(text) FROM PUBLIC; \
         GRANT EXECUTE ON FUNCTION user_lookup(text) TO lookup;",
    )
    .await
    .expect("lookup function");
    let config = format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
database = "app"

[auth_query]
query = "SELECT user_lookup($1)"
user = "lookup"
password = "lookup-pw"
cache_ttl = "1s"

[[users]]
name = "app"
password = "app"

[[shards]]
primary = {{ host = "127.0.0.1", port = {} }}
"#,
        node.port()
    );
    let proxy = RunningProxy::start(parse_str(&config).expect("config"))
        .await
        .expect("proxy");
    let connect = |user: &'static str, password: &'static str| login(&proxy, user, password);
    let client = connect("dynamic", "dyn-secret")
        .await
        .expect("a user found by auth_query logs in");
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("query as that user on the server");
    assert_eq!(row.get::<_, String>(0), "dynamic");
    let Err(e) = connect("dynamic", "nope").await else {
        panic!("wrong password refused");
    };
    assert_eq!(e.code().map(|c| c.code()), Some("28P01"));
    let Err(e) = connect("ghost", "whatever").await else {
        panic!("a user the query does not find is refused");
    };
    assert_eq!(e.code().map(|c| c.code()), Some("28P01"));
    // A password change on the server applies after the cache TTL.
    su.batch_execute("ALTER ROLE dynamic PASSWORD 'changed'")
        .await
        .expect("alter role");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    connect("dynamic", "changed")
        .await
        .expect("the new password after the TTL");
}
