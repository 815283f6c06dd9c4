//! Turns on TLS on a running node, and optionally makes TCP clients use it.
//!
//! [`enable_ssl`] writes the server certificate and key (and optionally a CA
//! for client certificates) into the node's data directory, owned by the OS
//! user PostgreSQL runs as (the `postgres` user when this process is root)
//! with mode 0600, turns `ssl` on with `ALTER SYSTEM`, reloads, and waits
//! until the postmaster answers an `SSLRequest` with `S`. Clients may then
//! use TLS; plain connections still work.
//!
//! [`require_ssl`] then rewrites `pg_hba.conf` so TCP clients must use TLS
//! (`hostssl` with the node's auth method, `hostnossl ... reject`), keeping
//! the unix socket (`local`) lines; the rig's own superuser connections
//! ([`Node::connect_superuser`]) switch to the unix socket, while
//! [`Node::connect`] (TCP without TLS) is refused from then on.
//!
//! The files keep PostgreSQL's default names, relative to the data
//! directory, so a standby cloned with `pg_basebackup` afterwards serves TLS
//! too (and requires it, if its upstream did).
//!
//! ```no_run
//! # async fn demo(cert_pem: &str, key_pem: &str) -> anyhow::Result<()> {
//! use shardwire_rig::{enable_ssl, require_ssl, NodeOptions, Rig};
//! let rig = Rig::new()?;
//! let node = rig.start_primary("p", NodeOptions::default()).await?;
//! enable_ssl(&node, cert_pem, key_pem, None).await?;
//! require_ssl(&node).await?;
//! # Ok(())
//! # }
//! ```

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use crate::admin::quote_literal;
use crate::log_tail;
use crate::node::Node;
use crate::os_user::{self, OsUser};
use crate::HOST;

/// The server certificate, relative to the data directory.
pub const CERT_FILE: &str = "server.crt";
/// The server's private key, relative to the data directory.
pub const KEY_FILE: &str = "server.key";
/// The CA that client certificates are checked against, relative to the
/// data directory.
pub const CA_FILE: &str = "root.crt";

/// How long a reload may take to show up.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The protocol's `SSLRequest` message: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// What the postmaster logs when a reload cannot load the TLS files.
const SSL_NOT_LOADED: &str = "SSL configuration was not reloaded";

/// Marks the lines [`require_ssl`] adds to `pg_hba.conf`.
const HBA_MARKER: &str = "# shardwire-rig: TCP clients must use TLS";

/// Turns TLS on for `node`.
///
/// Writes `cert_pem` (the server certificate, optionally followed by
/// intermediates), `key_pem` (its unencrypted private key) and, if given,
/// `client_ca_pem` (the CA client certificates are verified against) into
/// the data directory as [`CERT_FILE`], [`KEY_FILE`] and [`CA_FILE`]: mode
/// 0600, owned by the user PostgreSQL runs as. Then `ALTER SYSTEM SET ssl =
/// on` with `ssl_cert_file`, `ssl_key_file` and `ssl_ca_file` (reset when no
/// CA is given), `pg_reload_conf()`, and waits until `SHOW ssl` is `on` and
/// the postmaster accepts an `SSLRequest`. If the postmaster cannot load
/// the files (say, the key does not match the certificate) it keeps serving
/// without TLS and the call fails at once with its log.
///
/// Client authentication is unchanged; with a CA, clients that present a
/// certificate must present one the CA signed. Can be called again to
/// replace the files.
pub async fn enable_ssl(
    node: &Node,
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
) -> anyhow::Result<()> {
    let context = || format!("enabling TLS on node {}", node.name());
    check_pem("certificate", cert_pem, "CERTIFICATE").with_context(context)?;
    check_pem("key", key_pem, "PRIVATE KEY").with_context(context)?;
    if let Some(ca) = client_ca_pem {
        check_pem("client CA", ca, "CERTIFICATE").with_context(context)?;
    }

    let data = node.data_dir();
    let user = node.os_user();
    write_private(&data.join(CERT_FILE), cert_pem, user).with_context(context)?;
    write_private(&data.join(KEY_FILE), key_pem, user).with_context(context)?;
    if let Some(ca) = client_ca_pem {
        write_private(&data.join(CA_FILE), ca, user).with_context(context)?;
    }

    let statements = [
        format!(
            "ALTER SYSTEM SET ssl_cert_file = {}",
            quote_literal(CERT_FILE)
        ),
        format!(
            "ALTER SYSTEM SET ssl_key_file = {}",
            quote_literal(KEY_FILE)
        ),
        match client_ca_pem {
            Some(_) => format!("ALTER SYSTEM SET ssl_ca_file = {}", quote_literal(CA_FILE)),
            None => "ALTER SYSTEM RESET ssl_ca_file".to_owned(),
        },
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ];
    let client = node.connect_superuser().await.with_context(context)?;
    let log_start = log_len(node);
    for sql in &statements {
        // ALTER SYSTEM refuses to run in a transaction block: one query each.
        client
            .batch_execute(sql)
            .await
            .with_context(|| with_log(node, &format!("{}: {sql}", context())))?;
    }
    drop(client);

    wait_for(
        node,
        "SHOW ssl to say on and the server to accept TLS",
        || async move {
            // The postmaster logs this (and why) when it cannot load the files.
            if logged_since(node, log_start).contains(SSL_NOT_LOADED) {
                bail!(with_log(
                    node,
                    &format!("{}: the server could not load the TLS files", context())
                ));
            }
            Ok(serves_tls(node).await)
        },
    )
    .await
}

/// Makes TCP clients of `node` use TLS; call [`enable_ssl`] first.
///
/// Rewrites `pg_hba.conf`: every `host` line becomes `hostssl` (same
/// method, so the node's [`AuthMethod`](crate::AuthMethod) still applies)
/// and `hostnossl` lines rejecting everything else over TCP are added;
/// `local` (unix socket) lines stay as they are. Reloads, then waits until a
/// TCP connection without TLS is refused. From then on
/// [`Node::tls_required`] is true and the rig connects to the node as the
/// superuser over its unix socket.
pub async fn require_ssl(node: &Node) -> anyhow::Result<()> {
    let context = || format!("requiring TLS on node {}", node.name());
    let client = node.connect_superuser().await.with_context(context)?;
    let ssl: String = client
        .query_one("SHOW ssl", &[])
        .await
        .with_context(|| with_log(node, &format!("{}: SHOW ssl", context())))?
        .get(0);
    ensure!(
        ssl == "on",
        "{}: ssl is {ssl}; call enable_ssl first",
        context()
    );

    let hba = node.data_dir().join("pg_hba.conf");
    let text =
        std::fs::read_to_string(&hba).with_context(|| format!("reading {}", hba.display()))?;
    // Overwriting in place keeps the file's owner and mode.
    std::fs::write(&hba, hba_requiring_tls(&text))
        .with_context(|| format!("writing {}", hba.display()))?;

    // pg_hba_file_rules parses the file as it is now: refuse to reload a
    // file the server would reject (it would keep the old rules, and fail
    // on its next start).
    let errors: Vec<String> = client
        .query(
            "SELECT format('line %s: %s', line_number, error) FROM pg_hba_file_rules \
             WHERE error IS NOT NULL",
            &[],
        )
        .await
        .with_context(|| with_log(node, &format!("{}: reading pg_hba_file_rules", context())))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !errors.is_empty() {
        // Put the old file back so a restart does not trip over it.
        std::fs::write(&hba, &text).with_context(|| format!("restoring {}", hba.display()))?;
        bail!(
            "{}: {} has errors: {}",
            context(),
            hba.display(),
            errors.join("; ")
        );
    }
    client
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .with_context(|| with_log(node, &format!("{}: pg_reload_conf()", context())))?;
    drop(client);
    node.set_tls_required(true);

    wait_for(
        node,
        "TCP connections without TLS to be refused",
        || async { Ok(plain_tcp_refused(node).await) },
    )
    .await
}

/// `pg_hba.conf` text with `host` lines turned into `hostssl` and the
/// `hostnossl ... reject` lines appended (once).
fn hba_requiring_tls(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim() == HBA_MARKER {
            // Added by an earlier call; added again below.
            break;
        }
        let trimmed = line.trim_start();
        let first = trimmed.split_whitespace().next();
        if first == Some("host") {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}hostssl{}\n", &trimmed["host".len()..]));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "{HBA_MARKER}\n\
         hostnossl all all all reject\n\
         hostnossl replication all all reject\n"
    ));
    out
}

/// Whether `SHOW ssl` says `on` and the postmaster answers an `SSLRequest`
/// with `S`; `Err` describes what is not there yet.
async fn serves_tls(node: &Node) -> Result<(), String> {
    let client = node
        .connect_superuser()
        .await
        .map_err(|e| format!("cannot connect: {e:#}"))?;
    let ssl: String = client
        .query_one("SHOW ssl", &[])
        .await
        .map_err(|e| format!("SHOW ssl: {e}"))?
        .get(0);
    if ssl != "on" {
        return Err(format!("ssl is {ssl}"));
    }
    match ssl_request(node.port()).await {
        Ok(b'S') => Ok(()),
        Ok(answer) => Err(format!(
            "the server answers an SSLRequest with {:?}",
            answer as char
        )),
        Err(e) => Err(format!("SSLRequest: {e}")),
    }
}

/// Sends an `SSLRequest` to the node's port and returns the one-byte answer
/// (`S`: TLS may start; `N`: no TLS). The connection is then closed, which
/// the server may log as an SSL accept error.
async fn ssl_request(port: u16) -> std::io::Result<u8> {
    let mut stream = TcpStream::connect((HOST, port)).await?;
    stream.write_all(&SSL_REQUEST).await?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await?;
    Ok(answer[0])
}

/// Whether a superuser connection over TCP without TLS is refused by
/// `pg_hba.conf`; `Err` describes what happened instead.
async fn plain_tcp_refused(node: &Node) -> Result<(), String> {
    let conn = node.conn_string(crate::SUPERUSER, crate::SUPERUSER_PASSWORD, "postgres");
    match tokio_postgres::connect(&conn, NoTls).await {
        Ok(_) => Err("a connection without TLS was accepted".to_owned()),
        Err(e) if e.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION) => Ok(()),
        Err(e) => Err(format!("a connection without TLS failed otherwise: {e}")),
    }
}

/// Polls `check` until it returns `Ok(Ok(()))`, for at most
/// [`RELOAD_TIMEOUT`]. `Ok(Err(state))` means not yet; `Err` gives up.
async fn wait_for<F, Fut>(node: &Node, what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Result<(), String>>>,
{
    let deadline = Instant::now() + RELOAD_TIMEOUT;
    loop {
        let last = match check().await? {
            Ok(()) => return Ok(()),
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            bail!(with_log(
                node,
                &format!(
                    "node {}: waited {RELOAD_TIMEOUT:?} for {what} ({last})",
                    node.name()
                )
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The size of the node's server log now.
fn log_len(node: &Node) -> u64 {
    std::fs::metadata(node.log_file()).map_or(0, |m| m.len())
}

/// What the node logged after byte `start` (empty if unreadable).
fn logged_since(node: &Node, start: u64) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = std::fs::File::open(node.log_file())?;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_default()
}

fn with_log(node: &Node, what: &str) -> String {
    log_tail::with_tail(what, &node.log_file())
}

/// Fails unless `pem` holds a PEM block whose label ends with `label`.
fn check_pem(what: &str, pem: &str, label: &str) -> anyhow::Result<()> {
    let found = pem.lines().any(|l| {
        l.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|l| l.ends_with(label))
    });
    ensure!(found, "the {what} is not PEM with a {label} block");
    Ok(())
}

/// Writes `text` to `path` with mode 0600 and hands it to `user`.
fn write_private(path: &Path, text: &str, user: Option<OsUser>) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| {
            // `mode` only applies to new files.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(text.as_bytes())
        })
        .with_context(|| format!("writing {}", path.display()))?;
    os_user::give(path, user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_turns_host_lines_into_hostssl() {
        let text = crate::conf::hba(crate::AuthMethod::Md5);
        let out = hba_requiring_tls(&text);
        assert!(out.contains("local all all md5\n"));
        assert!(out.contains("local replication all md5\n"));
        assert!(out.contains("hostssl all all 127.0.0.1/32 md5\n"));
        assert!(out.contains("hostssl replication all 127.0.0.1/32 md5\n"));
        assert!(out.contains("hostnossl all all all reject\n"));
        assert!(out.contains("hostnossl replication all all reject\n"));
        assert!(!out.lines().any(|l| l.starts_with("host ")));
        // Idempotent.
        assert_eq!(hba_requiring_tls(&out), out);
    }

    #[test]
    fn pem_labels_are_checked() {
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(check_pem("certificate", cert, "CERTIFICATE").is_ok());
        assert!(check_pem("key", key, "PRIVATE KEY").is_ok());
        assert!(check_pem("key", cert, "PRIVATE KEY").is_err());
        assert!(check_pem("certificate", "not pem", "CERTIFICATE").is_err());
    }

    #[test]
    fn private_files_are_0600_even_when_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "new", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
