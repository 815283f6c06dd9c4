//! A node's address as the configuration and the topology name it.

use serde::Deserialize;

/// A server address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// Whether `host`:`port`, as another program names a server, is this
    /// endpoint (loopback spellings count as one host).
    pub fn is(&self, host: &str, port: &str) -> bool {
        let loopback = |h: &str| matches!(h, "127.0.0.1" | "localhost" | "::1");
        port == self.port.to_string()
            && (host == self.host || (loopback(host) && loopback(&self.host)))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}
