//! The TLS sections of the configuration: `[tls]` for clients connecting
//! to shardwire and `[server_tls]` for shardwire's connections to the
//! PostgreSQL servers (overridable per shard).

use serde::Deserialize;
use std::path::PathBuf;

/// `[tls]`: TLS for clients.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// `disable` (default), `allow` or `require`.
    pub mode: ClientTlsMode,
    /// Server certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca_file: Option<PathBuf>,
}

/// What shardwire offers clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientTlsMode {
    /// SSLRequest is answered `N`; direct TLS is refused.
    #[default]
    Disable,
    /// TLS for clients that ask; plaintext for the others.
    Allow,
    /// TLS only: plaintext startup packets are refused.
    Require,
}

/// `[server_tls]`: TLS towards the PostgreSQL servers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerTlsSection {
    /// Default for every node; `[[shards]] server_tls` overrides it.
    pub mode: ServerTlsMode,
    /// CA certificates (PEM) for `verify-ca` / `verify-full`.
    pub ca_file: Option<PathBuf>,
}

/// libpq's `sslmode`, for shardwire's server connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerTlsMode {
    /// Plaintext.
    #[default]
    Disable,
    /// TLS if the server offers it, without checking its certificate.
    Prefer,
    /// TLS or fail, without checking the certificate.
    Require,
    /// TLS, the certificate chain checked against `ca_file`.
    VerifyCa,
    /// TLS, chain checked and the host name matched.
    VerifyFull,
}
