//! TLS with rustls (one crypto provider, ring, for the whole binary): the
//! acceptor for clients (`acceptor`), the connectors towards servers with
//! libpq's sslmode semantics (`connector`), and the bridge that turns a
//! TLS stream into a plain socket for the relay loop (`bridge`).

mod acceptor;
mod bridge;
mod connector;

pub use acceptor::{load_acceptor, ClientTls};
pub use bridge::bridge;
pub use connector::ServerTls;

/// The process-wide crypto provider.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file.
fn read_certs(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut text.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

/// A root store of the certificates in `path`.
fn read_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: unusable CA certificate: {e}", path.display()))?;
    }
    Ok(roots)
}
