//! TLS between clients and shardwire, with certificates generated at test
//! time: psql with `sslmode=require` and `verify-full`, tokio-postgres
//! over rustls, PostgreSQL 17 style direct TLS (ALPN `postgresql`),
//! plaintext refused under `tls.mode = require`, bytes smuggled after an
//! SSLRequest refused, client certificates checked against a CA, and
//! rotated certificate files picked up by RELOAD.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::certs::Ca;
use support::{pg_bin, sqlstate, Options, Setup};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Tls {
    setup: Setup,
    ca: PathBuf,
    dir: PathBuf,
    ca_signer: Ca,
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start(mode: &str, client_ca: bool) -> Tls {
    let dir = tempfile_dir();
    let ca = Ca::new("shardwire test CA");
    let ca_path = ca.write(&dir, "ca");
    let server = ca.issue(&dir, "server", "localhost", &["localhost", "127.0.0.1"]);
    let mut extra = format!(
        "[tls]\nmode = \"{mode}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        server.cert.display(),
        server.key.display()
    );
    if client_ca {
        extra.push_str(&format!("client_ca_file = \"{}\"\n", ca_path.display()));
    }
    let setup = Setup::start(Options {
        extra,
        ..Options::default()
    })
    .await;
    Tls {
        setup,
        ca: ca_path,
        dir,
        ca_signer: ca,
    }
}

/// A fresh directory for one test's certificate files.
fn tempfile_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("shardwire-tls-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs psql with `conninfo`; returns (success, stdout, stderr).
fn psql(port: u16, conninfo: &str, sql: &str) -> (bool, String, String) {
    let out = std::process::Command::new(pg_bin("psql"))
        .arg(format!("port={port} user=app dbname=app {conninfo}"))
        .args(["-X", "-A", "-t", "-c", sql])
        .env("PGPASSWORD", "app")
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_and_tokio_postgres_connect_over_tls() {
    let t = start("require", false).await;
    let port = t.setup.port();
    let (ok, out, err) = psql(port, "host=127.0.0.1 sslmode=require", "SELECT 40 + 2");
    assert!(ok, "{err}");
    assert_eq!(out, "42");
    for host in ["localhost", "127.0.0.1"] {
        let (ok, out, err) = psql(
            port,
            &format!(
                "host={host} sslmode=verify-full sslrootcert={}",
                t.ca.display()
            ),
            "SELECT 'verified'",
        );
        assert!(ok, "verify-full to {host}: {err}");
        assert_eq!(out, "verified");
    }
    // A wrong CA is rejected by the client.
    let other = Ca::new("another CA");
    let other_path = other.write(&t.dir, "other-ca");
    let (ok, _, err) = psql(
        port,
        &format!(
            "host=localhost sslmode=verify-full sslrootcert={}",
            other_path.display()
        ),
        "SELECT 1",
    );
    assert!(!ok, "a certificate from another CA must not verify");
    assert!(err.contains("certificate"), "{err}");

    // tokio-postgres over rustls, checking the certificate.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&t.ca) {
        roots.add(cert).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(config);
    let (client, conn) = tokio_postgres::connect(
        &format!("host=localhost port={port} user=app password=app dbname=app sslmode=require"),
        tls,
    )
    .await
    .expect("tokio-postgres over TLS");
    tokio::spawn(conn);
    let row = client
        .query_one("SELECT $1::text || ' over TLS'", &[&"prepared"])
        .await
        .expect("extended protocol over TLS");
    assert_eq!(row.get::<_, String>(0), "prepared over TLS");
    // Enough data to cross many TLS records both ways.
    let big = "x".repeat(300_000);
    let row = client
        .query_one("SELECT length($1::text)", &[&big])
        .await
        .expect("large value");
    assert_eq!(row.get::<_, i32>(0), 300_000);
}

fn rustls_pemfile_certs(path: &Path) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let pem = std::fs::read(path).expect("read pem");
    rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_when_tls_is_required() {
    let t = start("require", false).await;
    let (ok, _, err) = psql(t.setup.port(), "host=127.0.0.1 sslmode=disable", "SELECT 1");
    assert!(!ok);
    assert!(err.contains("requires TLS"), "{err}");
    let e = tokio_postgres::connect(&t.setup.conn_str("app", "app"), tokio_postgres::NoTls)
        .await
        .err()
        .expect("plaintext refused");
    assert_eq!(sqlstate(&e).as_deref(), Some("28000"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_mode_serves_both_and_disable_declines() {
    let t = start("allow", false).await;
    let port = t.setup.port();
    let (ok, _, err) = psql(port, "host=127.0.0.1 sslmode=require", "SELECT 1");
    assert!(ok, "{err}");
    let (ok, _, err) = psql(port, "host=127.0.0.1 sslmode=disable", "SELECT 1");
    assert!(ok, "{err}");

    let plain = Setup::start(Options::default()).await;
    let (ok, _, err) = psql(plain.port(), "host=127.0.0.1 sslmode=require", "SELECT 1");
    assert!(!ok, "TLS is off: sslmode=require cannot succeed");
    assert!(err.contains("SSL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_after_sslrequest_are_a_protocol_violation() {
    let t = start("require", false).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", t.setup.port()))
        .await
        .expect("connect");
    // SSLRequest immediately followed by a plaintext startup packet that
    // must never reach the TLS session.
    let mut bytes = vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    bytes.extend_from_slice(&[0, 0, 0, 9, 0, 3, 0, 0, 0]);
    s.write_all(&bytes).await.expect("send");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut reply = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut reply)).await;
    assert_eq!(
        reply.first(),
        Some(&b'E'),
        "an ErrorResponse, then close: {reply:?}"
    );
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("08P01") && text.contains("after SSLRequest"),
        "{text}"
    );
}

async fn direct_tls(port: u16, ca: &Path, alpn: bool) -> Result<Vec<u8>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(ca) {
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    if alpn {
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    // A startup packet inside TLS: user app, database app.
    let mut body = vec![0, 3, 0, 0];
    for s in ["user", "app", "database", "app"] {
        body.extend_from_slice(s.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    tls.write_all(&packet).await.map_err(|e| e.to_string())?;
    let mut reply = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tls.read(&mut reply))
        .await
        .map_err(|_| "timeout".to_owned())?
        .map_err(|e| e.to_string())?;
    reply.truncate(n);
    Ok(reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_tls_needs_alpn_postgresql() {
    let t = start("require", false).await;
    let reply = direct_tls(t.setup.port(), &t.ca, true)
        .await
        .expect("direct TLS with ALPN");
    assert_eq!(
        reply.first(),
        Some(&b'R'),
        "an authentication request: {reply:?}"
    );
    let refused = direct_tls(t.setup.port(), &t.ca, false).await;
    assert!(
        refused.is_err() || matches!(&refused, Ok(r) if r.is_empty()),
        "without ALPN the connection is closed: {refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_checked_against_the_ca() {
    let t = start("require", true).await;
    let port = t.setup.port();
    let client = t.ca_signer.issue(&t.dir, "client", "app", &["app"]);
    let (ok, out, err) = psql(
        port,
        &format!(
            "host=localhost sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
            t.ca.display(),
            client.cert.display(),
            client.key.display()
        ),
        "SELECT 'with a client certificate'",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "with a client certificate");
    let (ok, _, _) = psql(
        port,
        &format!("host=localhost sslmode=verify-full sslrootcert={} sslcert=/nonexistent sslkey=/nonexistent", t.ca.display()),
        "SELECT 1",
    );
    assert!(!ok, "no client certificate: refused");
    let stranger = Ca::new("stranger CA").issue(&t.dir, "stranger", "app", &["app"]);
    let (ok, _, _) = psql(
        port,
        &format!(
            "host=localhost sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
            t.ca.display(),
            stranger.cert.display(),
            stranger.key.display()
        ),
        "SELECT 1",
    );
    assert!(!ok, "a certificate from another CA is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_picks_up_rotated_certificate_files() {
    let t = start("require", false).await;
    let port = t.setup.port();
    let verify = |ca: &Path| {
        psql(
            port,
            &format!(
                "host=localhost sslmode=verify-full sslrootcert={}",
                ca.display()
            ),
            "SELECT 1",
        )
        .0
    };
    assert!(verify(&t.ca));
    // Rotate: a new CA issues a new server certificate, same file names.
    let rotated = Ca::new("rotated CA");
    let rotated_ca = rotated.write(&t.dir, "rotated-ca");
    rotated.issue(&t.dir, "server", "localhost", &["localhost", "127.0.0.1"]);
    let (admin, conn) = tokio_postgres::connect(
        &format!(
            "host=localhost port={port} user=app password=app dbname=shardwire sslmode=require"
        ),
        tokio_postgres_rustls::MakeRustlsConnect::new(any_server_config()),
    )
    .await
    .expect("admin console over TLS");
    tokio::spawn(conn);
    admin.simple_query("RELOAD").await.expect("RELOAD");
    assert!(verify(&rotated_ca), "the rotated certificate is served");
    assert!(!verify(&t.ca), "the old one is gone");
    // A broken key file refuses the reload and keeps the running setup.
    std::fs::write(t.dir.join("server.key"), "not a key").expect("break key");
    let e = admin.simple_query("RELOAD").await.expect_err("bad key");
    assert_eq!(sqlstate(&e).as_deref(), Some("F0000"), "{e}");
    assert!(verify(&rotated_ca), "still served after a refused reload");
}

/// A client config that accepts any server certificate (for the admin
/// connection of the rotation test, which checks certificates with psql).
fn any_server_config() -> rustls::ClientConfig {
    #[derive(Debug)]
    struct Any(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for Any {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Any(provider)))
        .with_no_client_auth()
}
