//! Control-plane connections: one tokio-postgres client per node, opened
//! on demand as the `[replication]` user, every call bounded by the check
//! timeout, and dropped after any failure so the next call reconnects.

use crate::settings::{NodeTls, ReplicationSettings};
use crate::Endpoint;
use std::time::Duration;
use tokio_postgres::{Client, NoTls, Row};

/// Login details for control-plane connections.
#[derive(Clone)]
pub struct ControlLogin {
    /// User name.
    pub user: String,
    /// Password, if any.
    pub password: Option<String>,
    /// Database.
    pub database: String,
    /// Bound on connect and on each query.
    pub timeout: Duration,
    /// TLS towards the node, as `[server_tls]` says for it.
    pub tls: Option<NodeTls>,
}

impl ControlLogin {
    /// The login from `[replication]`, with `default_db` when it names none.
    pub fn from_settings(r: &ReplicationSettings, default_db: &str) -> Option<ControlLogin> {
        Some(ControlLogin {
            user: r.user.clone()?,
            password: r.password.clone(),
            database: r.database.clone().unwrap_or_else(|| default_db.to_owned()),
            timeout: r.check_timeout,
            tls: None,
        })
    }
}

/// A (re)connecting control connection to one node.
pub struct ControlConn {
    /// The node.
    pub endpoint: Endpoint,
    login: ControlLogin,
    client: Option<Client>,
}

impl ControlConn {
    /// Not connected until first used.
    pub fn new(endpoint: Endpoint, login: ControlLogin) -> ControlConn {
        ControlConn {
            endpoint,
            login,
            client: None,
        }
    }

    async fn client(&mut self) -> Result<&Client, String> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        if self.client.is_none() {
            let mut config = tokio_postgres::Config::new();
            config
                .host(&self.endpoint.host)
                .port(self.endpoint.port)
                .user(&self.login.user)
                .dbname(&self.login.database)
                .application_name("shardwire-monitor")
                .connect_timeout(self.login.timeout);
            if let Some(p) = &self.login.password {
                config.password(p);
            }
            let connected =
                tokio::time::timeout(self.login.timeout, open(config, self.login.tls.as_ref()))
                    .await;
            let client = match connected {
                Ok(Ok(client)) => client,
                Ok(Err(e)) => return Err(describe(&e)),
                Err(_) => return Err(format!("no connection within {:?}", self.login.timeout)),
            };
            self.client = Some(client);
        }
        self.client
            .as_ref()
            .ok_or_else(|| "not connected".to_owned())
    }

    /// The time limit of one check.
    pub fn timeout(&self) -> Duration {
        self.login.timeout
    }

    /// Runs `sql` (no parameters) and returns its rows, within the timeout.
    pub async fn query(&mut self, sql: &str) -> Result<Vec<Row>, String> {
        self.query_within(sql, self.login.timeout).await
    }

    /// Like [`ControlConn::query`] with its own time limit (promotion and
    /// catch-up waits take longer than a check).
    pub async fn query_within(&mut self, sql: &str, limit: Duration) -> Result<Vec<Row>, String> {
        let client = self.client().await?;
        let result = tokio::time::timeout(limit, client.query(sql, &[])).await;
        self.settle(result, limit)
    }

    /// Runs one or more statements in the simple protocol (`ALTER SYSTEM`
    /// needs a query of its own) and returns the text rows of all of them.
    pub async fn simple(
        &mut self,
        sql: &str,
        limit: Duration,
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        let client = self.client().await?;
        let result = tokio::time::timeout(limit, client.simple_query(sql)).await;
        let messages = self.settle(result, limit)?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Runs statements whose results are not needed.
    pub async fn execute(&mut self, sql: &str, limit: Duration) -> Result<(), String> {
        self.simple(sql, limit).await.map(|_| ())
    }

    /// Maps a bounded call's outcome, dropping the connection unless the
    /// server merely reported an SQL error.
    fn settle<T>(
        &mut self,
        result: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
        limit: Duration,
    ) -> Result<T, String> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_closed() || e.as_db_error().is_none() {
                    self.client = None;
                }
                Err(describe(&e))
            }
            Err(_) => {
                self.client = None;
                Err(format!("no answer within {limit:?}"))
            }
        }
    }
}

/// Connects with or without TLS and drives the connection in a task.
pub async fn open(
    mut config: tokio_postgres::Config,
    tls: Option<&NodeTls>,
) -> Result<Client, tokio_postgres::Error> {
    use tokio_postgres::config::SslMode;
    match tls {
        None => {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Some(tls) => {
            config.ssl_mode(if tls.prefer {
                SslMode::Prefer
            } else {
                SslMode::Require
            });
            let connector =
                tokio_postgres_rustls::MakeRustlsConnect::new(tls.client_config.clone());
            let (client, connection) = config.connect(connector).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
    }
}

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// Parses a `pg_lsn` text like `16/B374D848`.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    Some((hi << 32) | lo)
}

/// Formats an LSN the way PostgreSQL does.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests;
