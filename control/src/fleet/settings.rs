//! `[coordination]` in the control plane's terms: where etcd is, the
//! cluster's key prefix, this instance's name, and the timings of leases,
//! contact loss and the failsafe mode.

use std::time::Duration;

/// How an instance takes part in a fleet.
#[derive(Debug, Clone)]
pub struct CoordinationSettings {
    /// etcd client URLs (`http://host:port`).
    pub endpoints: Vec<String>,
    /// Cluster name: every key lives under `/shardwire/<cluster>/`.
    pub cluster: String,
    /// This instance's name (unique in the fleet).
    pub name: String,
    /// The address clients reach this instance at (shown in SHOW FLEET).
    pub listen: String,
    /// TTL of this instance's registration and of the controller key.
    pub lease_ttl: Duration,
    /// Without an answer from etcd for this long the instance refuses
    /// writes (shorter than `lease_ttl`, so it stops before anyone else
    /// may act on its silence).
    pub coordination_timeout: Duration,
    /// Keep writes flowing without etcd while the primary's synchronous
    /// standbys are seen streaming from it.
    pub failsafe: bool,
    /// etcd user and password, if etcd has authentication on.
    pub credentials: Option<(String, String)>,
    /// CA certificate (PEM) for `https://` endpoints.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key (PEM) for etcd's client authentication.
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl CoordinationSettings {
    /// The key prefix of this cluster.
    pub fn prefix(&self) -> String {
        format!("/shardwire/{}/", self.cluster)
    }

    /// How often membership is renewed and views are published.
    pub fn heartbeat(&self) -> Duration {
        (self.lease_ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(1))
    }

    /// Bound on one etcd request.
    pub fn request_timeout(&self) -> Duration {
        (self.coordination_timeout / 3).clamp(Duration::from_millis(300), Duration::from_secs(2))
    }
}
