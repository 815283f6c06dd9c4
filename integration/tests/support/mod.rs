//! Shared fixtures for the end-to-end tests: a real PostgreSQL primary from
//! the rig with the test users, a shardwire instance in front of it, and
//! small helpers for real clients (tokio-postgres, psql, pgbench) and for
//! raw protocol bytes.
#![allow(dead_code)]

pub mod certs;
pub mod fleet;
pub mod raw;
pub mod replicated;
pub mod sharded;
pub mod writers;

use shardwire::config::parse_str;
use shardwire::proxy::RunningProxy;
use shardwire_rig::{AuthMethod, Node, NodeOptions, Rig};
use std::path::PathBuf;
use tokio_postgres::{Client, NoTls};

/// The database the proxy serves.
pub const DB: &str = "app";

/// Knobs for a test topology.
#[derive(Clone)]
pub struct Options {
    pub pool_mode: &'static str,
    pub pool_size: usize,
    pub checkout_timeout: &'static str,
    pub node_auth: AuthMethod,
    pub max_message_size: usize,
    pub auth_timeout: &'static str,
    /// Extra lines for the `[proxy]` section.
    pub proxy_extra: &'static str,
    /// Extra lines for user `app`'s `[[users]]` entry.
    pub app_extra: &'static str,
    /// Extra sections at the end of the file.
    pub extra: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_mode: "transaction",
            pool_size: 4,
            checkout_timeout: "5s",
            node_auth: AuthMethod::ScramSha256,
            max_message_size: 64 * 1024 * 1024,
            auth_timeout: "15s",
            proxy_extra: "",
            app_extra: "",
            extra: String::new(),
        }
    }
}

/// A primary with users `app` (SCRAM), `md5user` (md5) and `trustuser`
/// (trust), and a proxy in front of it.
pub struct Setup {
    pub proxy: RunningProxy,
    pub primary: Node,
    pub rig: Rig,
    /// The configuration file the proxy was started from (RELOAD reads it).
    pub config_path: PathBuf,
    /// Its text as written.
    pub config_text: String,
}

impl Setup {
    pub async fn start(opts: Options) -> Setup {
        let rig = Rig::new().expect("rig");
        let primary = rig
            .start_primary("p", NodeOptions::default().with_auth(opts.node_auth))
            .await
            .expect("primary");
        for (user, pw) in [
            ("app", "app"),
            ("md5user", "md5pw"),
            ("trustuser", "trustpw"),
        ] {
            rig.create_user(&primary, user, pw).await.expect("user");
        }
        rig.create_database(&primary, DB, "app").await.expect("db");
        let su = primary.connect_superuser().await.expect("superuser");
        su.batch_execute("GRANT ALL ON DATABASE app TO md5user, trustuser")
            .await
            .expect("grant");
        let db = primary.connect("app", "app", DB).await.expect("app db");
        db.batch_execute("GRANT ALL ON SCHEMA public TO PUBLIC")
            .await
            .expect("grant schema");
        let config = format!(
            r#"
[proxy]
listen = "127.0.0.1:0"
database = "{DB}"
pool_mode = "{mode}"
max_message_size = {max_message}
auth_timeout = "{auth_timeout}"
{proxy_extra}

[pool]
size = {size}
checkout_timeout = "{checkout}"

[[users]]
name = "app"
password = "app"
{app_extra}

[[users]]
name = "md5user"
password = "md5pw"
auth = "md5"

[[users]]
name = "trustuser"
password = "trustpw"
auth = "trust"

[admin]
users = ["app"]

[metrics]
listen = "127.0.0.1:0"

[[shards]]
primary = {{ host = "127.0.0.1", port = {port} }}

{extra}
"#,
            mode = opts.pool_mode,
            max_message = opts.max_message_size,
            auth_timeout = opts.auth_timeout,
            proxy_extra = opts.proxy_extra,
            app_extra = opts.app_extra,
            extra = opts.extra,
            size = opts.pool_size,
            checkout = opts.checkout_timeout,
            port = primary.port(),
        );
        parse_str(&config).expect("config");
        let config_path = rig.dir().join("shardwire.toml");
        std::fs::write(&config_path, &config).expect("write config");
        let proxy = RunningProxy::start_from_file(&config_path)
            .await
            .expect("proxy");
        Setup {
            proxy,
            primary,
            rig,
            config_path,
            config_text: config,
        }
    }

    pub fn port(&self) -> u16 {
        self.proxy.addr.port()
    }

    pub fn conn_str(&self, user: &str, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname={DB}",
            self.port()
        )
    }

    /// A tokio-postgres client through the proxy as `app`.
    pub async fn client(&self) -> Client {
        self.client_as("app", "app")
            .await
            .expect("connect through proxy")
    }

    pub async fn client_as(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.conn_str(user, password), NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// A superuser client straight to PostgreSQL, bypassing the proxy.
    pub async fn direct(&self) -> Client {
        self.primary.connect_superuser().await.expect("direct")
    }
}

/// Path of a PostgreSQL client binary (psql, pgbench).
pub fn pg_bin(name: &str) -> PathBuf {
    shardwire_rig::pg_bindir().expect("bindir").join(name)
}

/// SQLSTATE of a tokio-postgres error, if it carries one.
pub fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.code().map(|c| c.code().to_string())
}
