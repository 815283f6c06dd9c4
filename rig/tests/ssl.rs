//! TLS on rig nodes against real PostgreSQL: certificates made at test time
//! with rcgen, checked with the machine's `psql`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use shardwire_rig::{
    enable_ssl, require_ssl, AuthMethod, Node, NodeOptions, Rig, SUPERUSER, SUPERUSER_PASSWORD,
};

const CLIENT_CN: &str = "shardwire-client";

/// A test CA, a server certificate for `localhost`/`127.0.0.1` and a client
/// certificate, all signed by the CA, in PEM.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> anyhow::Result<Pki> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "shardwire-rig test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key)?;

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &ca, &ca_key)?;

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, CLIENT_CN);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &ca, &ca_key)?;

    Ok(Pki {
        ca: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    })
}

/// Where psql and its files live for one test: `HOME` (so no
/// `~/.postgresql/root.crt` or `.psqlrc` of the machine interferes) and the
/// client-side PEM files.
struct Client {
    dir: tempfile::TempDir,
}

impl Client {
    fn new(pki: &Pki) -> anyhow::Result<Client> {
        let dir = tempfile::tempdir()?;
        for (name, text) in [
            ("ca.crt", &pki.ca),
            ("client.crt", &pki.client_cert),
            ("client.key", &pki.client_key),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text)?;
            // libpq refuses keys readable by others.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Client { dir })
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Runs `sql` with psql against `node` over TCP as `user`; `conn` adds
    /// libpq settings (`sslmode=...`). `Ok(stdout)` or `Err(stderr)`.
    async fn psql(
        &self,
        node: &Node,
        user: &str,
        password: &str,
        conn: &str,
        sql: &str,
    ) -> anyhow::Result<Result<String, String>> {
        let conninfo = format!(
            "host={} port={} user={user} dbname=postgres connect_timeout=10 {conn}",
            node.host(),
            node.port()
        );
        let mut cmd = tokio::process::Command::new(psql_path()?);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("PG") {
                cmd.env_remove(var);
            }
        }
        let out = cmd
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, "-d"])
            .arg(&conninfo)
            .env("PGPASSWORD", password)
            .env("HOME", self.dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .await?;
        Ok(if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        })
    }

    /// Whether this session is encrypted, per `pg_stat_ssl`.
    async fn ssl_in_use(&self, node: &Node, conn: &str) -> anyhow::Result<Result<String, String>> {
        self.psql(
            node,
            SUPERUSER,
            SUPERUSER_PASSWORD,
            conn,
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        )
        .await
    }
}

/// psql from PostgreSQL's bin directory, else from `PATH`.
fn psql_path() -> anyhow::Result<PathBuf> {
    let in_bindir = shardwire_rig::pg_bindir()?.join("psql");
    Ok(if in_bindir.is_file() {
        in_bindir
    } else {
        PathBuf::from("psql")
    })
}

/// `path` is mode 0600 and owned like the data directory (by the user
/// PostgreSQL runs as).
fn assert_private_and_owned(path: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)?;
    let dir = std::fs::metadata(data_dir)?;
    assert_eq!(meta.mode() & 0o777, 0o600, "{}", path.display());
    assert_eq!(
        (meta.uid(), meta.gid()),
        (dir.uid(), dir.gid()),
        "{}",
        path.display()
    );
    Ok(())
}

#[tokio::test]
async fn enable_ssl_serves_tls_next_to_plain_connections() -> anyhow::Result<()> {
    let pki = pki()?;
    let client = Client::new(&pki)?;
    let rig = Rig::new()?;
    let node = rig.start_primary("tls", NodeOptions::default()).await?;

    enable_ssl(&node, &pki.server_cert, &pki.server_key, None).await?;

    let data = node.data_dir();
    assert_private_and_owned(&data.join("server.crt"), data)?;
    assert_private_and_owned(&data.join("server.key"), data)?;
    assert!(!data.join("root.crt").exists());
    let su = node.connect_superuser().await?;
    let ssl: String = su.query_one("SHOW ssl", &[]).await?.get(0);
    assert_eq!(ssl, "on");
    assert!(!node.tls_required());

    assert_eq!(
        client.ssl_in_use(&node, "sslmode=require").await?,
        Ok("t".to_owned())
    );
    // The server presents our certificate: full verification against our CA
    // by host name.
    let verify = format!(
        "sslmode=verify-full sslrootcert={} host=localhost hostaddr=127.0.0.1",
        client.file("ca.crt")
    );
    assert_eq!(client.ssl_in_use(&node, &verify).await?, Ok("t".to_owned()));
    // TLS is offered, not required.
    assert_eq!(
        client.ssl_in_use(&node, "sslmode=disable").await?,
        Ok("f".to_owned())
    );
    node.connect(SUPERUSER, SUPERUSER_PASSWORD, "postgres")
        .await?;

    // Enabling again replaces the files (here with a client CA).
    enable_ssl(&node, &pki.server_cert, &pki.server_key, Some(&pki.ca)).await?;
    assert_private_and_owned(&data.join("root.crt"), data)?;
    let ca_file: String = node
        .connect_superuser()
        .await?
        .query_one("SHOW ssl_ca_file", &[])
        .await?
        .get(0);
    assert_eq!(ca_file, "root.crt");
    Ok(())
}

#[tokio::test]
async fn require_ssl_refuses_plain_tcp_and_keeps_the_auth_method() -> anyhow::Result<()> {
    let pki = pki()?;
    let client = Client::new(&pki)?;
    let rig = Rig::new()?;
    let node = rig
        .start_primary("req", NodeOptions::default().with_auth(AuthMethod::Md5))
        .await?;

    // Not before TLS is on.
    let early = require_ssl(&node).await.unwrap_err();
    assert!(format!("{early:#}").contains("enable_ssl"), "{early:#}");

    enable_ssl(&node, &pki.server_cert, &pki.server_key, Some(&pki.ca)).await?;
    require_ssl(&node).await?;
    assert!(node.tls_required());

    let refused = client.ssl_in_use(&node, "sslmode=disable").await?;
    let stderr = refused.expect_err("a connection without TLS must be refused");
    assert!(stderr.contains("no encryption"), "{stderr}");
    assert!(node
        .connect(SUPERUSER, SUPERUSER_PASSWORD, "postgres")
        .await
        .is_err());
    assert_eq!(
        client.ssl_in_use(&node, "sslmode=require").await?,
        Ok("t".to_owned())
    );

    // The rig's admin connections now use the unix socket.
    let su = node.connect_superuser().await?;
    let rules: Vec<(String, String)> = su
        .query(
            "SELECT type, auth_method FROM pg_hba_file_rules WHERE error IS NULL ORDER BY line_number",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (kind, method) in &rules {
        match kind.as_str() {
            "local" | "hostssl" => assert_eq!(method, "md5", "{rules:?}"),
            "hostnossl" => assert_eq!(method, "reject", "{rules:?}"),
            _ => panic!("unexpected rule {kind} in {rules:?}"),
        }
    }
    assert!(rules.iter().any(|(k, _)| k == "hostssl"), "{rules:?}");

    // A new user logs in over TLS with its MD5 password, presenting a
    // client certificate the CA signed.
    rig.create_user(&node, "app", "app-pw").await?;
    let with_cert = format!(
        "sslmode=require sslcert={} sslkey={}",
        client.file("client.crt"),
        client.file("client.key")
    );
    let seen = client
        .psql(
            &node,
            "app",
            "app-pw",
            &with_cert,
            "SELECT current_user || ' ' || ssl::text || ' ' || coalesce(client_dn, '-') \
             FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        )
        .await?;
    let seen = seen.map_err(anyhow::Error::msg)?;
    assert!(
        seen.starts_with("app true ") && seen.contains(&format!("CN={CLIENT_CN}")),
        "{seen}"
    );
    let wrong = client
        .psql(&node, "app", "nope", "sslmode=require", "SELECT 1")
        .await?;
    assert!(wrong.is_err(), "wrong password must be refused: {wrong:?}");

    // A standby cloned afterwards serves and requires TLS as well, and the
    // rig still manages it.
    let standby = rig.start_standby("req_s", &node, false).await?;
    assert!(standby.tls_required());
    assert_eq!(
        client.ssl_in_use(&standby, "sslmode=require").await?,
        Ok("t".to_owned())
    );
    assert!(client
        .ssl_in_use(&standby, "sslmode=disable")
        .await?
        .is_err());
    let in_recovery: bool = standby
        .connect_superuser()
        .await?
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await?
        .get(0);
    assert!(in_recovery);
    Ok(())
}

#[tokio::test]
async fn enable_ssl_fails_fast_on_bad_files_and_recovers() -> anyhow::Result<()> {
    let pki = pki()?;
    let client = Client::new(&pki)?;
    let rig = Rig::new()?;
    let node = rig.start_primary("badtls", NodeOptions::default()).await?;

    // Not PEM of the right kind: refused before anything is written.
    let err = enable_ssl(&node, &pki.server_key, &pki.server_key, None)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("certificate"), "{err:#}");
    assert!(!node.data_dir().join("server.key").exists());

    // A key that does not match the certificate: the server cannot load
    // it, and the error (well before the timeout) carries its log.
    let start = std::time::Instant::now();
    let err = enable_ssl(&node, &pki.server_cert, &pki.client_key, None)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("key values mismatch"), "{msg}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{msg}"
    );
    assert!(client.ssl_in_use(&node, "sslmode=require").await?.is_err());

    // The right files fix it.
    enable_ssl(&node, &pki.server_cert, &pki.server_key, None).await?;
    assert_eq!(
        client.ssl_in_use(&node, "sslmode=require").await?,
        Ok("t".to_owned())
    );
    Ok(())
}
