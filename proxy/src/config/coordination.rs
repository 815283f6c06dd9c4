//! `[coordination]`: running as one of a fleet of instances coordinated
//! through etcd (see the README's "Running several instances"). Absent,
//! shardwire runs as a single instance with no etcd.

use serde::Deserialize;
use std::time::Duration;

/// `[coordination]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinationSection {
    /// etcd client URLs, e.g. `["http://10.0.0.5:2379", …]`.
    pub endpoints: Vec<String>,
    /// Cluster name: the key prefix `/shardwire/<cluster>/` in etcd.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    /// This instance's name in the fleet (default: its listen address).
    pub name: Option<String>,
    /// TTL of the registration and of the controller role.
    #[serde(
        default = "default_lease_ttl",
        deserialize_with = "super::duration::deserialize"
    )]
    pub lease_ttl: Duration,
    /// Without an answer from etcd for this long, writes are refused
    /// (must be shorter than `lease_ttl`).
    #[serde(
        default = "default_coordination_timeout",
        deserialize_with = "super::duration::deserialize"
    )]
    pub coordination_timeout: Duration,
    /// Keep writes going without etcd while each primary's synchronous
    /// standbys are seen streaming from it.
    #[serde(default)]
    pub failsafe: bool,
    /// etcd user (when etcd authentication is on).
    pub user: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// CA certificate (PEM file) for `https://` endpoints.
    pub ca_file: Option<String>,
    /// Client certificate (PEM file) for etcd's client authentication.
    pub cert_file: Option<String>,
    /// Its key (PEM file).
    pub key_file: Option<String>,
    /// The address the listener is bound to (set at start, not read from
    /// the file).
    #[serde(skip)]
    pub bound: Option<String>,
}

fn default_cluster() -> String {
    "default".into()
}

fn default_lease_ttl() -> Duration {
    Duration::from_secs(5)
}

fn default_coordination_timeout() -> Duration {
    Duration::from_secs(3)
}
