//! Node options and the configuration files the rig writes from them:
//! the shared `postgresql.conf` block, the per-node include file, and
//! `pg_hba.conf`.
//!
//! Settings shared by a primary and its standbys go into `postgresql.conf`
//! (which `pg_basebackup` copies); what differs per node — port, socket
//! directory, `cluster_name` — lives in [`NODE_CONF`], included from it and
//! rewritten for each standby.

use std::path::Path;

use anyhow::{bail, ensure};

/// How clients (and standbys) authenticate over TCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `scram-sha-256` in `pg_hba.conf`; passwords stored as SCRAM verifiers.
    #[default]
    ScramSha256,
    /// `md5` in `pg_hba.conf`; passwords (the superuser's too) stored as MD5
    /// hashes so clients really do the MD5 exchange.
    Md5,
    /// `trust`: no password asked.
    Trust,
}

impl AuthMethod {
    /// The method's keyword in `pg_hba.conf`.
    pub fn hba_keyword(self) -> &'static str {
        match self {
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Md5 => "md5",
            AuthMethod::Trust => "trust",
        }
    }

    /// The `password_encryption` that stores passwords for this method.
    pub(crate) fn password_encryption(self) -> &'static str {
        match self {
            AuthMethod::Md5 => "md5",
            AuthMethod::ScramSha256 | AuthMethod::Trust => "scram-sha-256",
        }
    }
}

/// How to set up a primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeOptions {
    /// Client authentication method (default SCRAM-SHA-256).
    pub auth: AuthMethod,
    /// Extra `postgresql.conf` settings, written after the rig's own (so they
    /// win) as `name = 'value'`; the rig quotes the value.
    pub settings: Vec<(String, String)>,
    /// `max_connections` (default 300).
    pub max_connections: u32,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            auth: AuthMethod::default(),
            settings: Vec::new(),
            max_connections: 300,
        }
    }
}

impl NodeOptions {
    /// These options with `auth` as the authentication method.
    pub fn with_auth(mut self, auth: AuthMethod) -> Self {
        self.auth = auth;
        self
    }

    /// These options plus one `postgresql.conf` setting.
    pub fn with_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// These options with `max_connections` set to `n`.
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.max_connections > 0, "max_connections must be positive");
        for (name, value) in &self.settings {
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !name_ok {
                bail!("invalid setting name {name:?}");
            }
            if value.contains(['\n', '\r', '\0']) {
                bail!("setting {name} has a line break or NUL in its value");
            }
        }
        Ok(())
    }
}

/// The per-node include file, relative to the data directory.
pub(crate) const NODE_CONF: &str = "shardwire_node.conf";

/// The block appended to `postgresql.conf` of a new primary.
pub(crate) fn shared_conf(opts: &NodeOptions) -> anyhow::Result<String> {
    opts.validate()?;
    let mut lines = vec![
        "# --- added by shardwire-rig ---".to_owned(),
        "listen_addresses = '127.0.0.1'".to_owned(),
        "fsync = off".to_owned(),
        "synchronous_commit = on".to_owned(),
        // pg_rewind (re-attaching a former primary) needs both.
        "full_page_writes = on".to_owned(),
        "wal_log_hints = on".to_owned(),
        "wal_level = logical".to_owned(),
        "max_wal_senders = 20".to_owned(),
        "max_replication_slots = 20".to_owned(),
        "hot_standby = on".to_owned(),
        "wal_keep_size = '256MB'".to_owned(),
        format!("max_connections = {}", opts.max_connections),
        // Two-phase commit of cross-shard transactions (PREPARE TRANSACTION).
        "max_prepared_transactions = 100".to_owned(),
        "shared_buffers = '128MB'".to_owned(),
        "log_min_messages = warning".to_owned(),
        format!(
            "password_encryption = '{}'",
            opts.auth.password_encryption()
        ),
        format!("include_if_exists '{NODE_CONF}'"),
    ];
    lines.extend(
        opts.settings
            .iter()
            .map(|(name, value)| format!("{name} = {}", quote(value))),
    );
    Ok(lines.join("\n") + "\n")
}

/// The contents of [`NODE_CONF`] for one node.
pub(crate) fn node_conf(port: u16, socket_dir: &Path, cluster_name: &str) -> String {
    format!(
        "port = {port}\nunix_socket_directories = {}\ncluster_name = {}\n",
        quote(&socket_dir.to_string_lossy()),
        quote(cluster_name),
    )
}

/// The whole `pg_hba.conf` of a node.
pub(crate) fn hba(auth: AuthMethod) -> String {
    let m = auth.hba_keyword();
    format!(
        "# written by shardwire-rig\n\
         local all all {m}\n\
         local replication all {m}\n\
         host all all 127.0.0.1/32 {m}\n\
         host replication all 127.0.0.1/32 {m}\n"
    )
}

/// A `postgresql.conf` string literal.
pub(crate) fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_conf_has_rig_settings_then_extras() {
        let opts = NodeOptions::default()
            .with_auth(AuthMethod::Md5)
            .with_max_connections(50)
            .with_setting("log_statement", "all");
        let conf = shared_conf(&opts).unwrap();
        assert!(conf.contains("max_connections = 50\n"));
        assert!(conf.contains("password_encryption = 'md5'\n"));
        assert!(conf.contains("wal_level = logical\n"));
        let include = conf.find("include_if_exists").unwrap();
        let extra = conf.find("log_statement = 'all'").unwrap();
        assert!(include < extra, "user settings must come last");
    }

    #[test]
    fn rejects_bad_settings() {
        let bad_name = NodeOptions::default().with_setting("a = 1\nb", "x");
        assert!(shared_conf(&bad_name).is_err());
        let bad_value = NodeOptions::default().with_setting("work_mem", "1\nfsync = on");
        assert!(shared_conf(&bad_value).is_err());
    }

    #[test]
    fn quotes_values() {
        assert_eq!(quote(r"it's a\b"), r"'it''s a\\b'");
    }

    #[test]
    fn hba_uses_the_method_everywhere() {
        let text = hba(AuthMethod::Trust);
        assert!(text.contains("host all all 127.0.0.1/32 trust"));
        assert!(text.contains("host replication all 127.0.0.1/32 trust"));
        assert!(!text.contains("scram"));
    }
}
