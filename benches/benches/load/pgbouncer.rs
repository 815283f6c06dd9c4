//! pgbouncer, the yardstick: finding it and its version, writing its
//! configuration (transaction pooling, pool 20, SCRAM for the bench user and
//! trust for the idle user), and running it — as the `postgres` OS user when
//! we are root, since pgbouncer refuses to run as root.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use tempfile::TempDir;

use crate::pgbench;
use crate::postgres::IDLE_USER;
use crate::process::{free_port, is_root, os_user_ids, ChildGuard};
use crate::proxy_child::POOL_SIZE;

/// The first pgbouncer with protocol-level prepared statements in
/// transaction mode (`max_prepared_statements`).
const PREPARED_SINCE: (u32, u32) = (1, 21);

/// The OS user pgbouncer runs as when we are root.
const OS_USER: &str = "postgres";

/// The installed pgbouncer.
#[derive(Clone, Debug)]
pub struct Installed {
    /// First line of `pgbouncer --version`, e.g. "PgBouncer 1.18.0".
    pub version: String,
    /// (major, minor) parsed from it.
    numbers: Option<(u32, u32)>,
}

/// Finds pgbouncer on PATH. `Ok(None)` if it is not installed.
pub fn installed() -> anyhow::Result<Option<Installed>> {
    let out = match Command::new("pgbouncer").arg("--version").output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context("running `pgbouncer --version`"),
    };
    if !out.status.success() {
        bail!(
            "`pgbouncer --version` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next().unwrap_or("").trim().to_owned();
    let numbers = parse_version(&version);
    Ok(Some(Installed { version, numbers }))
}

/// "PgBouncer 1.18.0" → (1, 18).
fn parse_version(line: &str) -> Option<(u32, u32)> {
    let number = line.split_whitespace().nth(1)?;
    let mut parts = number.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// How pgbouncer is started: by `wrapper` (a program and its arguments,
/// empty for none), listening within `listen_within`.
pub struct Launch<'a> {
    pub wrapper: &'a [String],
    pub listen_within: Duration,
}

/// A running pgbouncer; killed when dropped.
pub struct Pgbouncer {
    guard: ChildGuard,
    port: u16,
    /// `None` if prepared statements work in transaction mode, else why not.
    pub prepared_unsupported: Option<String>,
    _dir: TempDir,
}

impl Pgbouncer {
    /// Starts pgbouncer in front of PostgreSQL at `pg_port`, accepting up to
    /// `max_clients` clients. With a version that has them, prepared
    /// statements are enabled (`max_prepared_statements = 100`); if
    /// pgbouncer refuses that setting it is started without it.
    pub async fn start(
        installed: &Installed,
        pg_port: u16,
        max_clients: usize,
    ) -> anyhow::Result<Pgbouncer> {
        let plain = Launch {
            wrapper: &[],
            listen_within: Duration::from_secs(15),
        };
        Pgbouncer::start_under(installed, pg_port, max_clients, &plain).await
    }

    /// As [`Pgbouncer::start`], run by `launch.wrapper` (e.g. valgrind).
    pub async fn start_under(
        installed: &Installed,
        pg_port: u16,
        max_clients: usize,
        launch: &Launch<'_>,
    ) -> anyhow::Result<Pgbouncer> {
        let too_old = installed.numbers.is_none_or(|v| v < PREPARED_SINCE);
        if too_old {
            let why = format!(
                "{} lacks prepared statements in transaction mode",
                installed.version
            );
            return Pgbouncer::start_with(launch, pg_port, max_clients, false, Some(why)).await;
        }
        match Pgbouncer::start_with(launch, pg_port, max_clients, true, None).await {
            Ok(p) => Ok(p),
            Err(e) => {
                let why = format!(
                    "{} refused max_prepared_statements: {e:#}",
                    installed.version
                );
                Pgbouncer::start_with(launch, pg_port, max_clients, false, Some(why)).await
            }
        }
    }

    async fn start_with(
        launch: &Launch<'_>,
        pg_port: u16,
        max_clients: usize,
        prepared: bool,
        prepared_unsupported: Option<String>,
    ) -> anyhow::Result<Pgbouncer> {
        let dir = tempfile::Builder::new()
            .prefix("shardwire-bench-pgbouncer-")
            .tempdir()
            .context("creating a temp dir for pgbouncer")?;
        let port = free_port()?;
        let ini = dir.path().join("pgbouncer.ini");
        write(
            &ini,
            &ini_text(dir.path(), port, pg_port, max_clients, prepared),
        )?;
        write(&dir.path().join("userlist.txt"), &userlist())?;
        write(&dir.path().join("hba.conf"), &hba())?;
        let mut cmd = match launch.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg("pgbouncer");
                cmd
            }
            None => Command::new("pgbouncer"),
        };
        cmd.arg(&ini);
        if is_root() {
            let (uid, gid) = os_user_ids(OS_USER)
                .with_context(|| format!("pgbouncer refuses root; looking up `{OS_USER}`"))?;
            hand_over(dir.path(), uid, gid)?;
            cmd.uid(uid).gid(gid);
        }
        let log = dir.path().join("pgbouncer.log");
        let mut guard = ChildGuard::spawn("pgbouncer", cmd, &log)?;
        guard.wait_listening(port, launch.listen_within).await?;
        Ok(Pgbouncer {
            guard,
            port,
            prepared_unsupported,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fails if pgbouncer has died, with its log.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.guard.ensure_running()
    }
}

fn ini_text(dir: &Path, port: u16, pg_port: u16, max_clients: usize, prepared: bool) -> String {
    let host = shardwire_rig::HOST;
    let db = pgbench::DATABASE;
    let dir = dir.display();
    let prepared = if prepared {
        "max_prepared_statements = 100\n"
    } else {
        ""
    };
    format!(
        "[databases]
{db} = host={host} port={pg_port} dbname={db}

[pgbouncer]
listen_addr = {host}
listen_port = {port}
listen_backlog = 1024
unix_socket_dir =
pidfile =
auth_type = hba
auth_hba_file = {dir}/hba.conf
auth_file = {dir}/userlist.txt
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = {max_clients}
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
{prepared}"
    )
}

/// Plain passwords: pgbouncer answers SCRAM with them and logs in to
/// PostgreSQL (SCRAM) with them.
fn userlist() -> String {
    format!(
        "\"{}\" \"{}\"\n\"{IDLE_USER}\" \"{}\"\n",
        pgbench::USER,
        pgbench::PASSWORD,
        pgbench::PASSWORD
    )
}

/// SCRAM for everyone but the idle clients' user, like the shardwire config.
fn hba() -> String {
    format!(
        "host {db} {IDLE_USER} 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        db = pgbench::DATABASE
    )
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Gives `dir` and the files in it to uid/gid so pgbouncer can read its
/// configuration and write its log.
fn hand_over(dir: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", dir.display()))?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(())
}
