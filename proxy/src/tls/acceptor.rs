//! The TLS acceptor for clients, built from the PEM files of `[tls]`
//! (reloaded by RELOAD so rotated certificates apply without a restart).
//! It offers ALPN `postgresql` (PostgreSQL 17's direct TLS requires it)
//! and, with `client_ca_file`, requires and verifies client certificates.

use crate::config::{ClientTlsMode, TlsSection};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// What the client side of the proxy offers, as loaded.
#[derive(Clone)]
pub struct ClientTls {
    /// The mode from the configuration.
    pub mode: ClientTlsMode,
    /// The acceptor (None when the mode is `disable`).
    pub acceptor: Option<TlsAcceptor>,
}

/// Builds the client-side TLS setup from `[tls]`.
pub fn load_acceptor(section: &TlsSection) -> Result<ClientTls, String> {
    if section.mode == ClientTlsMode::Disable {
        return Ok(ClientTls {
            mode: section.mode,
            acceptor: None,
        });
    }
    let cert_file = section
        .cert_file
        .as_deref()
        .ok_or("tls.cert_file is needed when tls.mode is allow or require")?;
    let key_file = section
        .key_file
        .as_deref()
        .ok_or("tls.key_file is needed when tls.mode is allow or require")?;
    let certs = super::read_certs(cert_file)?;
    let key_text =
        std::fs::read(key_file).map_err(|e| format!("reading {}: {e}", key_file.display()))?;
    let key = rustls_pemfile::private_key(&mut key_text.as_slice())
        .map_err(|e| format!("{}: not a PEM private key: {e}", key_file.display()))?
        .ok_or_else(|| format!("{}: no private key found", key_file.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &section.client_ca_file {
        Some(ca) => {
            let roots = Arc::new(super::read_roots(ca)?);
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots,
                super::provider(),
            )
            .build()
            .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("{} / {}: {e}", cert_file.display(), key_file.display()))?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(ClientTls {
        mode: section.mode,
        acceptor: Some(TlsAcceptor::from(Arc::new(config))),
    })
}
