//! Reading a configuration file and checking it. Errors name the offending
//! key and say what is wrong with it.

use super::schema::{AuthMethod, Config};
use crate::auth::scram::ScramVerifier;
use std::path::Path;

/// A configuration that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax or a type/unknown-key error.
    #[error("{0}")]
    Syntax(String),
    /// A value that parses but cannot be used.
    #[error("{key}: {problem}")]
    Invalid {
        /// Dotted key, e.g. `pool.size` or `users[1].password`.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Reads and validates a configuration file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_str(&text)
}

/// Parses and validates configuration text.
pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    validate(&config)?;
    Ok(config)
}

fn validate(c: &Config) -> Result<(), ConfigError> {
    if c.proxy.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(invalid(
            "proxy.listen",
            format!("`{}` is not an address like 127.0.0.1:6432", c.proxy.listen),
        ));
    }
    if c.proxy.database.is_empty() {
        return Err(invalid("proxy.database", "must not be empty"));
    }
    if c.proxy.max_message_size < 1024 {
        return Err(invalid(
            "proxy.max_message_size",
            "must be at least 1024 bytes",
        ));
    }
    if c.pool.size == 0 {
        return Err(invalid("pool.size", "must be at least 1"));
    }
    if c.pool.min_idle > c.pool.size {
        return Err(invalid(
            "pool.min_idle",
            format!(
                "{} is larger than pool.size ({})",
                c.pool.min_idle, c.pool.size
            ),
        ));
    }
    if c.pool.checkout_timeout.is_zero() {
        return Err(invalid(
            "pool.checkout_timeout",
            "must be greater than zero",
        ));
    }
    if c.users.is_empty() {
        return Err(invalid("users", "at least one [[users]] entry is required"));
    }
    for (i, u) in c.users.iter().enumerate() {
        let key = |field: &str| format!("users[{i}].{field}");
        if u.name.is_empty() {
            return Err(invalid(key("name"), "must not be empty"));
        }
        if c.users[..i].iter().any(|o| o.name == u.name) {
            return Err(invalid(
                key("name"),
                format!("user `{}` is listed twice", u.name),
            ));
        }
        if let Some(v) = &u.scram_verifier {
            ScramVerifier::parse(v).map_err(|e| invalid(key("scram_verifier"), e))?;
        }
        match u.auth {
            AuthMethod::ScramSha256 if u.password.is_none() && u.scram_verifier.is_none() => {
                return Err(invalid(
                    key("password"),
                    "scram-sha-256 needs `password` or `scram_verifier`",
                ))
            }
            AuthMethod::Md5 if u.password.is_none() => {
                return Err(invalid(key("password"), "md5 needs the plain `password`"))
            }
            _ => {}
        }
        if u.server_password().is_none() && u.auth == AuthMethod::Md5 {
            return Err(invalid(key("password"), "md5 needs the plain `password`"));
        }
    }
    for (i, name) in c.admin.users.iter().chain(&c.admin.stats_users).enumerate() {
        if !c.users.iter().any(|u| &u.name == name) {
            return Err(invalid(
                format!("admin.users[{i}]"),
                format!("`{name}` is not one of the [[users]]; admins log in with their [[users]] credentials"),
            ));
        }
    }
    if let Some(listen) = &c.metrics.listen {
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "metrics.listen",
                format!("`{listen}` is not an address like 127.0.0.1:9930"),
            ));
        }
    }
    if c.shards.is_empty() {
        return Err(invalid(
            "shards",
            "at least one [[shards]] entry is required",
        ));
    }
    if let Some(n) = c.sharding.shards {
        if n as usize != c.shards.len() {
            return Err(invalid(
                "sharding.shards",
                format!(
                    "says {n} but {} [[shards]] entries are listed",
                    c.shards.len()
                ),
            ));
        }
    }
    if c.sharding.key_columns.is_empty() {
        return Err(invalid("sharding.key_columns", "name at least one column"));
    }
    for (i, t) in c.sharding.tables.iter().enumerate() {
        if t.name.is_empty() || t.key.is_empty() {
            return Err(invalid(
                format!("sharding.tables[{i}]"),
                "name and key must not be empty",
            ));
        }
        if c.sharding
            .global_tables
            .iter()
            .any(|g| g.eq_ignore_ascii_case(&t.name))
        {
            return Err(invalid(
                format!("sharding.tables[{i}].name"),
                format!("`{}` is also listed in sharding.global_tables", t.name),
            ));
        }
    }
    for (i, s) in c.shards.iter().enumerate() {
        if s.primary.host.is_empty() {
            return Err(invalid(
                format!("shards[{i}].primary.host"),
                "must not be empty",
            ));
        }
        if s.primary.port == 0 {
            return Err(invalid(
                format!("shards[{i}].primary.port"),
                "must not be 0",
            ));
        }
    }
    validate_replication(c)?;
    validate_coordination(c)?;
    validate_limits(c)?;
    validate_tls(c)?;
    if c.auth_query.query.is_some() && c.auth_query.user.is_none() {
        return Err(invalid(
            "auth_query.user",
            "the lookup needs a login on the servers",
        ));
    }
    Ok(())
}

fn validate_tls(c: &Config) -> Result<(), ConfigError> {
    let t = &c.tls;
    if t.mode != super::ClientTlsMode::Disable && (t.cert_file.is_none() || t.key_file.is_none()) {
        return Err(invalid(
            "tls.cert_file",
            "tls.mode allow/require needs cert_file and key_file",
        ));
    }
    let verifying = |m: super::ServerTlsMode| {
        matches!(
            m,
            super::ServerTlsMode::VerifyCa | super::ServerTlsMode::VerifyFull
        )
    };
    let any_verify =
        verifying(c.server_tls.mode) || c.shards.iter().filter_map(|s| s.server_tls).any(verifying);
    if any_verify && c.server_tls.ca_file.is_none() {
        return Err(invalid(
            "server_tls.ca_file",
            "verify-ca and verify-full need the CA certificates to check against",
        ));
    }
    Ok(())
}

fn validate_limits(c: &Config) -> Result<(), ConfigError> {
    if c.proxy.max_client_connections == 0 {
        return Err(invalid(
            "proxy.max_client_connections",
            "must be at least 1",
        ));
    }
    if c.proxy.max_unauthenticated == 0 {
        return Err(invalid("proxy.max_unauthenticated", "must be at least 1"));
    }
    for (i, u) in c.users.iter().enumerate() {
        if u.max_connections == Some(0) {
            return Err(invalid(
                format!("users[{i}].max_connections"),
                "must be at least 1 (remove the user to refuse it)",
            ));
        }
        if let Some(r) = u.rate_limit {
            if r.per_minute == 0 || r.burst == Some(0) {
                return Err(invalid(
                    format!("users[{i}].rate_limit"),
                    "per_minute and burst must be at least 1",
                ));
            }
        }
    }
    Ok(())
}

fn validate_coordination(c: &Config) -> Result<(), ConfigError> {
    let Some(co) = &c.coordination else {
        return Ok(());
    };
    if co.endpoints.is_empty() {
        return Err(invalid(
            "coordination.endpoints",
            "name at least one etcd client URL",
        ));
    }
    if let Some(bad) = co
        .endpoints
        .iter()
        .find(|e| !(e.starts_with("http://") || e.starts_with("https://")))
    {
        return Err(invalid(
            "coordination.endpoints",
            format!("{bad}: must start with http:// or https://"),
        ));
    }
    if co.lease_ttl < std::time::Duration::from_secs(2) {
        return Err(invalid("coordination.lease_ttl", "must be at least 2s"));
    }
    if co.coordination_timeout.is_zero() || co.coordination_timeout >= co.lease_ttl {
        return Err(invalid(
            "coordination.coordination_timeout",
            "must be greater than zero and shorter than lease_ttl (an instance must stop writing before its registration can expire)",
        ));
    }
    if co.cluster.is_empty() || co.cluster.contains('/') {
        return Err(invalid(
            "coordination.cluster",
            "must be a non-empty name without '/'",
        ));
    }
    if co.cert_file.is_some() != co.key_file.is_some() {
        return Err(invalid(
            "coordination.cert_file",
            "cert_file and key_file go together",
        ));
    }
    if co.user.is_some() != co.password.is_some() {
        return Err(invalid(
            "coordination.user",
            "user and password go together",
        ));
    }
    if !c.replication.enabled() {
        return Err(invalid(
            "coordination",
            "a fleet needs the control plane: set [replication] user",
        ));
    }
    Ok(())
}

fn validate_replication(c: &Config) -> Result<(), ConfigError> {
    let r = &c.replication;
    if r.failure_threshold == 0 {
        return Err(invalid(
            "replication.failure_threshold",
            "must be at least 1",
        ));
    }
    if r.check_interval.is_zero() || r.check_timeout.is_zero() {
        return Err(invalid(
            "replication.check_interval",
            "check_interval and check_timeout must be greater than zero",
        ));
    }
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            && !s.starts_with(|ch: char| ch.is_ascii_digit())
    };
    if !ident_ok(&r.heartbeat_table) {
        return Err(invalid(
            "replication.heartbeat_table",
            "must be a plain table name (letters, digits, _)",
        ));
    }
    if r.user.is_none() && !c.replica_cluster.nodes.is_empty() {
        return Err(invalid(
            "replication.user",
            "the replica cluster needs lag tracking: set a control-plane user",
        ));
    }
    let rc = &c.replica_cluster;
    if rc.min_serving == 0 && !rc.nodes.is_empty() {
        return Err(invalid("replica_cluster.min_serving", "must be at least 1"));
    }
    for (i, route) in c.routes.iter().enumerate() {
        if route.tables.is_empty() {
            return Err(invalid(
                format!("routes[{i}].tables"),
                "name at least one table or prefix*",
            ));
        }
        if rc.nodes.is_empty() {
            return Err(invalid(
                format!("routes[{i}]"),
                "routes send reads to [replica_cluster] nodes, but none are configured",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
