//! One PostgreSQL server the rig started: its address, files and lifecycle
//! (connect, stop, start, kill).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio_postgres::NoTls;

use crate::command;
use crate::conf::AuthMethod;
use crate::layout::NodePaths;
use crate::log_tail;
use crate::os_user::OsUser;
use crate::process;
use crate::{HOST, SUPERUSER, SUPERUSER_PASSWORD};

/// Seconds `pg_ctl` waits for a start or stop.
const PG_CTL_TIMEOUT_SECS: &str = "60";
/// How long a killed process tree may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// A PostgreSQL server started by a [`Rig`](crate::Rig). Cloning is cheap;
/// clones refer to the same server. The owning `Rig` stops it on drop.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    name: String,
    port: u16,
    paths: NodePaths,
    bindir: PathBuf,
    user: Option<OsUser>,
    auth: AuthMethod,
    /// Whether `pg_hba.conf` refuses TCP clients without TLS (see
    /// [`crate::ssl::require_ssl`]); the rig's own admin connections then go
    /// over the unix socket.
    tls_required: AtomicBool,
}

impl Node {
    pub(crate) fn new(
        name: &str,
        port: u16,
        paths: NodePaths,
        bindir: &Path,
        user: Option<OsUser>,
        auth: AuthMethod,
    ) -> Node {
        Node {
            inner: Arc::new(NodeInner {
                name: name.to_owned(),
                port,
                paths,
                bindir: bindir.to_owned(),
                user,
                auth,
                tls_required: AtomicBool::new(false),
            }),
        }
    }

    /// The node's name (also its `cluster_name`, and for a standby its
    /// `application_name` and replication slot).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The address the node listens on: always `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The node's TCP port.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// The node's PGDATA.
    pub fn data_dir(&self) -> &Path {
        &self.inner.paths.data
    }

    /// The node's directory (holds the data dir, the log and the unix socket).
    pub fn dir(&self) -> &Path {
        &self.inner.paths.dir
    }

    /// The server log file.
    pub fn log_file(&self) -> PathBuf {
        self.inner.paths.log.clone()
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail::tail(&self.inner.paths.log, lines)
    }

    /// How clients authenticate to this node.
    pub fn auth(&self) -> AuthMethod {
        self.inner.auth
    }

    /// A tokio-postgres `key=value` connection string for this node.
    pub fn conn_string(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "host={} port={} user={} password={} dbname={}",
            HOST,
            self.port(),
            conn_value(user),
            conn_value(password),
            conn_value(db)
        )
    }

    /// Connects over TCP without TLS; the connection runs on a spawned task.
    ///
    /// Refused once the node requires TLS ([`Node::tls_required`]); use
    /// [`Node::connect_socket`] or a TLS client then.
    pub async fn connect(
        &self,
        user: &str,
        password: &str,
        db: &str,
    ) -> anyhow::Result<tokio_postgres::Client> {
        let what = format!("{HOST}:{}", self.port());
        self.connect_to(&self.conn_string(user, password, db), &what, user, db)
            .await
    }

    /// A tokio-postgres `key=value` connection string for this node's unix
    /// socket (the socket lives in [`Node::dir`]).
    pub fn socket_conn_string(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "host={} port={} user={} password={} dbname={}",
            conn_value(&self.dir().to_string_lossy()),
            self.port(),
            conn_value(user),
            conn_value(password),
            conn_value(db)
        )
    }

    /// Connects over the node's unix socket (same auth method as TCP, never
    /// TLS); the connection runs on a spawned task.
    pub async fn connect_socket(
        &self,
        user: &str,
        password: &str,
        db: &str,
    ) -> anyhow::Result<tokio_postgres::Client> {
        let what = format!("socket {}", self.dir().display());
        self.connect_to(
            &self.socket_conn_string(user, password, db),
            &what,
            user,
            db,
        )
        .await
    }

    /// Connects as [`SUPERUSER`] to the `postgres` database: over TCP, or
    /// over the unix socket once the node requires TLS on TCP.
    pub async fn connect_superuser(&self) -> anyhow::Result<tokio_postgres::Client> {
        self.connect_superuser_to("postgres").await
    }

    /// Connects as [`SUPERUSER`] to database `db`, like
    /// [`Node::connect_superuser`].
    pub(crate) async fn connect_superuser_to(
        &self,
        db: &str,
    ) -> anyhow::Result<tokio_postgres::Client> {
        if self.tls_required() {
            self.connect_socket(SUPERUSER, SUPERUSER_PASSWORD, db).await
        } else {
            self.connect(SUPERUSER, SUPERUSER_PASSWORD, db).await
        }
    }

    async fn connect_to(
        &self,
        conn_string: &str,
        what: &str,
        user: &str,
        db: &str,
    ) -> anyhow::Result<tokio_postgres::Client> {
        let (client, connection) = tokio_postgres::connect(conn_string, NoTls)
            .await
            .with_context(|| {
                log_tail::with_tail(
                    &format!(
                        "connecting to node {} at {what} as {user} to {db}",
                        self.name(),
                    ),
                    &self.inner.paths.log,
                )
            })?;
        let name = self.inner.name.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(node = %name, error = %e, "rig connection ended with an error");
            }
        });
        Ok(client)
    }

    /// Whether the node refuses TCP connections without TLS (after
    /// [`require_ssl`](crate::require_ssl), or when it is a standby cloned
    /// from such a node). The rig's own superuser connections then use the
    /// unix socket.
    pub fn tls_required(&self) -> bool {
        self.inner.tls_required.load(Ordering::Relaxed)
    }

    pub(crate) fn set_tls_required(&self, required: bool) {
        self.inner.tls_required.store(required, Ordering::Relaxed);
    }

    /// The OS user the server runs as (`None`: this process's user).
    pub(crate) fn os_user(&self) -> Option<OsUser> {
        self.inner.user
    }

    /// The postmaster's pid from `postmaster.pid`, if the file exists.
    pub fn postmaster_pid(&self) -> Option<u32> {
        process::postmaster_pid(self.data_dir())
    }

    /// Whether the node's postmaster is alive.
    pub fn is_running(&self) -> bool {
        process::running_postmaster(self.data_dir()).is_some()
    }

    /// Crashes the node: SIGKILL to the postmaster and all its backends, then
    /// waits until they are gone. For failover drills. A no-op when the node
    /// is not running.
    pub fn kill(&self) -> anyhow::Result<()> {
        let context = || format!("killing node {}", self.name());
        if let Some(pid) = process::running_postmaster(self.data_dir()) {
            process::kill_tree(pid, KILL_WAIT).with_context(context)?;
        }
        let strays = process::pids_with_cwd(self.data_dir());
        if !strays.is_empty() {
            process::kill_all(&strays, KILL_WAIT).with_context(context)?;
        }
        self.clear_stale_locks()
    }

    /// Hangs the node: SIGSTOP to the postmaster and every backend, as a
    /// host that stops answering with its sockets still open (`docker
    /// pause`). Undo with [`Node::resume`]; a stopped node must be resumed
    /// before it can be stopped cleanly.
    pub fn pause(&self) -> anyhow::Result<()> {
        process::signal_all(&process::instance_pids(self.data_dir()), "STOP")
            .with_context(|| format!("pausing node {}", self.name()))
    }

    /// Continues a node stopped by [`Node::pause`] (SIGCONT to all its
    /// processes).
    pub fn resume(&self) -> anyhow::Result<()> {
        process::signal_all(&process::instance_pids(self.data_dir()), "CONT")
            .with_context(|| format!("resuming node {}", self.name()))
    }

    /// Removes the lock files (`postmaster.pid`, the socket's `.lock`) left
    /// by a postmaster that died.
    ///
    /// A dead postmaster whose parent (pg_ctl) is gone may stay a zombie when
    /// init does not reap orphans (as in some containers and VMs); a new
    /// postmaster sees `kill(pid, 0)` succeed on the zombie and refuses to
    /// start. The files are only removed once no process is left in the data
    /// directory.
    fn clear_stale_locks(&self) -> anyhow::Result<()> {
        let locks = [
            self.data_dir().join("postmaster.pid"),
            self.dir().join(format!(".s.PGSQL.{}.lock", self.port())),
        ];
        let stale: Vec<&PathBuf> = locks
            .iter()
            .filter(|lock| process::lock_file_pid(lock).is_some_and(|pid| !process::pid_alive(pid)))
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let strays = process::wait_gone(&process::pids_with_cwd(self.data_dir()), KILL_WAIT);
        if !strays.is_empty() {
            bail!(
                "node {}: postmaster is dead but processes {strays:?} still run in {}",
                self.name(),
                self.data_dir().display()
            );
        }
        for lock in stale {
            match std::fs::remove_file(lock) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing stale {}", lock.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Stops the node cleanly (`pg_ctl stop -m fast`). A no-op when it is
    /// not running.
    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl_stop("fast")
    }

    /// Starts the node again on the same port (`pg_ctl start -w`). A no-op
    /// when it is already running.
    pub fn start(&self) -> anyhow::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.clear_stale_locks()?;
        command::run(
            self.pg_ctl_start(),
            &self.what("pg_ctl start"),
            Some(&self.inner.paths.log),
        )?;
        Ok(())
    }

    /// Async [`Node::start`] for callers on a runtime.
    pub(crate) async fn start_async(&self) -> anyhow::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.clear_stale_locks()?;
        command::run_async(
            self.pg_ctl_start(),
            &self.what("pg_ctl start"),
            Some(&self.inner.paths.log),
        )
        .await?;
        Ok(())
    }

    /// Stops the node as fast as possible for teardown: `pg_ctl stop -m
    /// immediate`, and SIGKILL if that fails. Never fails; problems are
    /// logged.
    pub(crate) fn stop_immediate(&self) {
        if let Err(e) = self.pg_ctl_stop("immediate") {
            tracing::warn!(node = %self.name(), error = %e, "pg_ctl stop failed; killing");
        }
        if let Err(e) = self.kill() {
            tracing::warn!(node = %self.name(), error = %e, "could not kill node");
        }
    }

    /// A command for a PostgreSQL binary run as the server user.
    pub(crate) fn pg(&self, program: &str) -> Command {
        command::pg(
            &self.inner.bindir,
            program,
            self.inner.user,
            &self.inner.paths.dir,
        )
    }

    fn pg_ctl_start(&self) -> Command {
        let mut cmd = self.pg("pg_ctl");
        cmd.arg("start")
            .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(&self.inner.paths.log);
        cmd
    }

    fn pg_ctl_stop(&self, mode: &str) -> anyhow::Result<()> {
        let Some(pid) = process::running_postmaster(self.data_dir()) else {
            return Ok(());
        };
        let mut cmd = self.pg("pg_ctl");
        cmd.arg("stop")
            .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-m", mode, "-D"])
            .arg(self.data_dir());
        command::run(
            cmd,
            &self.what(&format!("pg_ctl stop -m {mode}")),
            Some(&self.inner.paths.log),
        )?;
        // pg_ctl returns once postmaster.pid is gone; the process may still be exiting.
        process::wait_gone(&[pid], KILL_WAIT);
        Ok(())
    }

    fn what(&self, action: &str) -> String {
        format!("{action} of node {} (port {})", self.name(), self.port())
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.inner.name)
            .field("port", &self.inner.port)
            .field("data_dir", &self.inner.paths.data)
            .finish()
    }
}

/// A value in a libpq-style `key=value` string: single-quoted, with `\` and
/// `'` backslash-escaped.
fn conn_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_strings_parse_back() {
        let node = Node::new(
            "n",
            5433,
            NodePaths::new(Path::new("/tmp/x"), "n"),
            Path::new("/bin"),
            None,
            AuthMethod::Md5,
        );
        let s = node.conn_string("us'er", r"p a\ss", "db");
        let config: tokio_postgres::Config = s.parse().unwrap();
        assert_eq!(config.get_user(), Some("us'er"));
        assert_eq!(config.get_password(), Some(&br"p a\ss"[..]));
        assert_eq!(config.get_dbname(), Some("db"));
        assert_eq!(config.get_ports(), &[5433]);
    }
}
