//! TLS towards the PostgreSQL servers with libpq's `sslmode` meanings:
//! `prefer` and `require` encrypt without checking the certificate,
//! `verify-ca` checks the chain against `[server_tls] ca_file`,
//! `verify-full` also matches the host name. The SSLRequest negotiation
//! happens here; the caller gets a [`Socket`] either way.

use crate::config::{Config, ServerTlsMode};
use crate::socket::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The server-side TLS setup for every shard.
pub struct ServerTls {
    default_mode: ServerTlsMode,
    per_shard: Vec<Option<ServerTlsMode>>,
    encrypt_only: TlsConnector,
    verify_ca: Option<TlsConnector>,
    verify_full: Option<TlsConnector>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("default_mode", &self.default_mode)
            .field("per_shard", &self.per_shard)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Builds the connectors from `[server_tls]` and the shards' overrides.
    pub fn from_config(config: &Config) -> Result<ServerTls, String> {
        let section = &config.server_tls;
        let per_shard: Vec<Option<ServerTlsMode>> =
            config.shards.iter().map(|s| s.server_tls).collect();
        let verifying = std::iter::once(section.mode)
            .chain(per_shard.iter().flatten().copied())
            .any(|m| matches!(m, ServerTlsMode::VerifyCa | ServerTlsMode::VerifyFull));
        let provider = super::provider();
        let versions = |b: rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVersions>| {
            b.with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())
        };
        let encrypt_only = versions(rustls::ClientConfig::builder_with_provider(
            provider.clone(),
        ))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate {
            provider: provider.clone(),
        }))
        .with_no_client_auth();
        let (verify_ca, verify_full) = if verifying {
            let ca = section
                .ca_file
                .as_deref()
                .ok_or("server_tls.ca_file is needed for verify-ca and verify-full")?;
            let roots = Arc::new(super::read_roots(ca)?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots.clone(),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("{}: {e}", ca.display()))?;
            let full = versions(rustls::ClientConfig::builder_with_provider(
                provider.clone(),
            ))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let ca_only = versions(rustls::ClientConfig::builder_with_provider(provider))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly { inner: webpki }))
                .with_no_client_auth();
            (
                Some(TlsConnector::from(Arc::new(ca_only))),
                Some(TlsConnector::from(Arc::new(full))),
            )
        } else {
            (None, None)
        };
        Ok(ServerTls {
            default_mode: section.mode,
            per_shard,
            encrypt_only: TlsConnector::from(Arc::new(encrypt_only)),
            verify_ca,
            verify_full,
        })
    }

    /// The rustls client configuration for `mode` (None: `disable`), for
    /// the control plane's tokio-postgres connections.
    pub fn client_config(&self, mode: ServerTlsMode) -> Option<rustls::ClientConfig> {
        let connector = match mode {
            ServerTlsMode::Disable => return None,
            ServerTlsMode::Prefer | ServerTlsMode::Require => &self.encrypt_only,
            ServerTlsMode::VerifyCa => self.verify_ca.as_ref()?,
            ServerTlsMode::VerifyFull => self.verify_full.as_ref()?,
        };
        Some((**connector.config()).clone())
    }

    /// The mode for a node of `shard` (replica nodes: the default).
    pub fn mode_for(&self, shard: u32) -> ServerTlsMode {
        self.per_shard
            .get(shard as usize)
            .copied()
            .flatten()
            .unwrap_or(self.default_mode)
    }

    /// Negotiates TLS on a fresh connection to `host` as `mode` says.
    pub async fn negotiate(
        &self,
        mode: ServerTlsMode,
        mut stream: TcpStream,
        host: &str,
    ) -> Result<Socket, String> {
        let connector = match mode {
            ServerTlsMode::Disable => return Ok(Socket::Tcp(stream)),
            ServerTlsMode::Prefer | ServerTlsMode::Require => &self.encrypt_only,
            ServerTlsMode::VerifyCa => self.verify_ca.as_ref().ok_or("no CA loaded")?,
            ServerTlsMode::VerifyFull => self.verify_full.as_ref().ok_or("no CA loaded")?,
        };
        let mut request = Vec::with_capacity(8);
        request.extend_from_slice(&8u32.to_be_bytes());
        request.extend_from_slice(&80_877_103u32.to_be_bytes());
        stream
            .write_all(&request)
            .await
            .map_err(|e| format!("sending SSLRequest: {e}"))?;
        let answer = stream
            .read_u8()
            .await
            .map_err(|e| format!("reading the SSLRequest answer: {e}"))?;
        match answer {
            b'S' => {}
            b'N' if mode == ServerTlsMode::Prefer => return Ok(Socket::Tcp(stream)),
            b'N' => {
                return Err(format!(
                    "the server does not accept TLS, and server_tls mode is {mode:?}"
                ))
            }
            other => return Err(format!("unexpected answer {other:#04x} to SSLRequest")),
        }
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
        let tls = connector
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        super::bridge(tls)
            .map(Socket::Bridged)
            .map_err(|e| format!("TLS bridge: {e}"))
    }
}

/// `prefer` / `require`: any certificate (the handshake itself is still
/// verified, so the session is encrypted to whoever holds the key).
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the CA; the name is not checked.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
