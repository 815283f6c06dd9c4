//! Real etcd clusters on this machine, for tests and the demo.
//!
//! An [`EtcdCluster`] owns one directory and the `etcd` member processes
//! started in it, each on two free loopback ports (client and peer):
//!
//! ```text
//! <dir>/
//!   m<i>/        member i's data dir (--data-dir)
//!   m<i>.log     member i's stdout and stderr, appended to across restarts
//! ```
//!
//! Members can be SIGKILLed and restarted on the same ports and data to
//! simulate crashes. Dropping the cluster SIGKILLs every member and, for a
//! directory the cluster created itself, removes it. Clusters of processes
//! that died without dropping theirs (SIGKILL, or a signal teardown that
//! exits the process) are cleaned up by the next [`EtcdCluster::start`] under
//! the same rig root.
//!
//! etcd runs as the current user, root included (unlike PostgreSQL).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use shardwire_rig::EtcdCluster;
//! let etcd = EtcdCluster::start(3).await?;
//! let endpoints = etcd.endpoints(); // ["http://127.0.0.1:<port>", ...]
//! etcd.kill_member(0)?;
//! etcd.restart_member(0).await?;
//! # drop(endpoints);
//! # Ok(())
//! # }
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::layout;
use crate::log_tail;
use crate::ports::free_port;
use crate::process;
use crate::HOST;

/// Environment variable naming the `etcd` binary to run (default: `etcd`
/// on `PATH`, e.g. Debian's `etcd-server` package).
pub const ETCD_ENV: &str = "SHARDWIRE_ETCD";

const DEFAULT_ETCD: &str = "etcd";
/// Prefix of the cluster directories [`EtcdCluster::start`] creates under
/// the rig root: `etcd-<pid>-<random>`.
const DIR_PREFIX: &str = "etcd-";
/// How long a start or restart may take to make the members healthy.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one `/health` request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long SIGKILLed stale members may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// Log lines per member carried by an error.
const ERROR_TAIL_LINES: usize = 15;
/// etcd's own variable for running on non-amd64; every other `ETCD_*`
/// variable is removed from members' environment because etcd 3.4 refuses
/// to start when one shadows a command-line flag.
const KEPT_ENV: &str = "ETCD_UNSUPPORTED_ARCH";

/// A running etcd cluster of local member processes on 127.0.0.1.
///
/// Member `i` is named `m<i>`. Dropping the cluster SIGKILLs every member and
/// removes the directory unless it was given to [`EtcdCluster::start_in`].
pub struct EtcdCluster {
    dir: PathBuf,
    /// Whether `dir` was created by us and is removed on drop.
    owns_dir: bool,
    token: String,
    members: Vec<Member>,
}

/// One member: its ports, files and process.
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data: PathBuf,
    log: PathBuf,
    process: Mutex<Process>,
}

/// A member's process as last seen.
enum Process {
    /// Never started, or killed by us.
    Stopped,
    Running(Child),
    /// Exited on its own (e.g. a port was taken, or bad flags).
    Exited(ExitStatus),
}

/// Whether a member is being created or rejoins with its existing data.
#[derive(Clone, Copy)]
enum ClusterState {
    New,
    Existing,
}

impl EtcdCluster {
    /// Starts a cluster of `members` etcd members (1 or 3 typically) on free
    /// 127.0.0.1 ports, in a fresh directory under the rig root
    /// (`$SHARDWIRE_RIG_ROOT`, else `<temp>/shardwire-rig`), after cleaning
    /// up clusters left there by dead processes.
    ///
    /// Returns once every member's `/health` says `true` (at most ~20 s);
    /// the error otherwise carries the tail of every member's log.
    pub async fn start(members: usize) -> anyhow::Result<EtcdCluster> {
        let ports = pick_ports(members)?;
        let root = layout::rig_root();
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        clean_stale(&root);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .rand_bytes(6)
            .tempdir_in(&root)
            .with_context(|| format!("creating an etcd directory in {}", root.display()))?
            .keep();
        EtcdCluster::new(dir, true, &ports).launch().await
    }

    /// Like [`EtcdCluster::start`] but with every member's data and log
    /// directly in `dir` (created if missing), which is kept on drop. `dir`
    /// must not already hold member data: a cluster cannot be resumed on new
    /// ports.
    pub async fn start_in(dir: &Path, members: usize) -> anyhow::Result<EtcdCluster> {
        let ports = pick_ports(members)?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        EtcdCluster::new(dir.to_owned(), false, &ports)
            .launch()
            .await
    }

    /// Client URLs of every member, in member order, e.g.
    /// `["http://127.0.0.1:23791", ...]`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster has no members (never true for a started one).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The directory holding the members' data dirs and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Member `i`'s log (its stdout and stderr, across restarts).
    pub fn log_path(&self, i: usize) -> anyhow::Result<&Path> {
        Ok(&self.member(i)?.log)
    }

    /// SIGKILLs member `i` and reaps it. Its data stays, so it can be
    /// restarted with [`EtcdCluster::restart_member`]. Killing a member that
    /// is not running does nothing.
    pub fn kill_member(&self, i: usize) -> anyhow::Result<()> {
        self.member(i)?.kill()
    }

    /// Starts member `i` again after [`EtcdCluster::kill_member`]: same
    /// ports and data dir, `--initial-cluster-state existing`. Returns once
    /// its `/health` says `true`; fails if it is already running.
    pub async fn restart_member(&self, i: usize) -> anyhow::Result<()> {
        let member = self.member(i)?;
        ensure!(
            !member.running(),
            "etcd member {} is running; kill it first",
            member.name
        );
        self.spawn(member, ClusterState::Existing)?;
        self.wait_members_healthy(&[i]).await
    }

    /// SIGKILLs every member. Never fails (problems are logged).
    pub fn kill_all(&self) {
        for member in &self.members {
            if let Err(e) = member.kill() {
                tracing::warn!(member = %member.name, error = %e, "could not kill etcd member");
            }
        }
    }

    /// Restarts every member that is not running (as in
    /// [`EtcdCluster::restart_member`]) and returns once every member's
    /// `/health` says `true`.
    pub async fn restart_all(&self) -> anyhow::Result<()> {
        for member in self.members.iter().filter(|m| !m.running()) {
            self.spawn(member, ClusterState::Existing)?;
        }
        self.wait_members_healthy(&self.all()).await
    }

    /// Waits (at most ~20 s) until every running member answers `/health`
    /// with `true`: after [`EtcdCluster::kill_member`] hit the leader, until
    /// the others elected a new one. Fails if no member is running.
    pub async fn wait_healthy(&self) -> anyhow::Result<()> {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.member_running(i))
            .collect();
        ensure!(!running.is_empty(), "no etcd member is running");
        self.wait_members_healthy(&running).await
    }

    /// Whether member `i`'s process is running (`false` for a bad index).
    pub fn member_running(&self, i: usize) -> bool {
        self.members.get(i).is_some_and(Member::running)
    }

    /// Whether member `i` answers `/health` with `true` right now.
    pub async fn member_healthy(&self, i: usize) -> bool {
        match self.members.get(i) {
            Some(member) => healthy(member.client_port).await,
            None => false,
        }
    }

    /// A cluster in `dir` with one member per (client, peer) port pair,
    /// none started yet.
    fn new(dir: PathBuf, owns_dir: bool, ports: &[(u16, u16)]) -> EtcdCluster {
        let (first_client, first_peer) = ports[0];
        EtcdCluster {
            token: format!(
                "shardwire-{}-{first_client}-{first_peer}",
                std::process::id()
            ),
            members: ports
                .iter()
                .enumerate()
                .map(|(i, &(client, peer))| Member::new(&dir, i, client, peer))
                .collect(),
            dir,
            owns_dir,
        }
    }

    /// Starts every member and waits for health. On failure the cluster is
    /// dropped (members killed, `dir` removed if owned).
    async fn launch(self) -> anyhow::Result<EtcdCluster> {
        for member in &self.members {
            ensure!(
                !member.data.exists(),
                "{} already holds etcd data; use an empty directory",
                member.data.display()
            );
        }
        for member in &self.members {
            self.spawn(member, ClusterState::New)?;
        }
        self.wait_members_healthy(&self.all()).await?;
        tracing::debug!(dir = %self.dir.display(), endpoints = ?self.endpoints(), "etcd cluster started");
        Ok(self)
    }

    fn member(&self, i: usize) -> anyhow::Result<&Member> {
        self.members
            .get(i)
            .with_context(|| format!("no etcd member {i}: the cluster has {}", self.members.len()))
    }

    fn all(&self) -> Vec<usize> {
        (0..self.members.len()).collect()
    }

    /// `--initial-cluster`: every member's name and peer URL.
    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts `member`'s etcd process, output appended to its log.
    fn spawn(&self, member: &Member, state: ClusterState) -> anyhow::Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&member.log)
            .with_context(|| format!("opening {}", member.log.display()))?;
        let stderr = log.try_clone().context("duplicating the log handle")?;
        let mut cmd = self.etcd_command(member, state);
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .current_dir(&self.dir);
        let child = cmd.spawn().with_context(|| {
            format!(
                "cannot run {:?} for etcd member {} (install etcd-server or set {ETCD_ENV})",
                cmd.get_program(),
                member.name
            )
        })?;
        tracing::debug!(member = %member.name, pid = child.id(), "etcd member started");
        *member.process() = Process::Running(child);
        Ok(())
    }

    fn etcd_command(&self, member: &Member, state: ClusterState) -> Command {
        let mut cmd = Command::new(etcd_program());
        let client = member.endpoint();
        let peer = member.peer_url();
        let state = match state {
            ClusterState::New => "new",
            ClusterState::Existing => "existing",
        };
        cmd.arg("--name")
            .arg(&member.name)
            .arg("--data-dir")
            .arg(&member.data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.initial_cluster()])
            .args(["--initial-cluster-state", state])
            .args(["--initial-cluster-token", &self.token])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            .args(["--logger", "zap", "--log-outputs", "stderr"]);
        for (name, _) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("ETCD_") && name != KEPT_ENV {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// Polls until every member in `indices` answers `/health` with `true`.
    /// Fails at once if one of them exits, or after [`HEALTH_TIMEOUT`].
    async fn wait_members_healthy(&self, indices: &[usize]) -> anyhow::Result<()> {
        let deadline = Instant::now() + HEALTH_TIMEOUT;
        loop {
            let mut all_healthy = true;
            for &i in indices {
                let member = self.member(i)?;
                if !member.running() {
                    let what = format!("etcd member {} {}", member.name, member.stopped_how());
                    bail!(self.with_logs(&what));
                }
                all_healthy &= healthy(member.client_port).await;
            }
            if all_healthy {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let names: Vec<&str> = indices.iter().map(|&i| &*self.members[i].name).collect();
                bail!(self.with_logs(&format!(
                    "etcd members {names:?} not healthy after {HEALTH_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// `what` followed by the tail of every member's log.
    fn with_logs(&self, what: &str) -> String {
        let mut msg = what.to_owned();
        for member in &self.members {
            msg.push_str(&format!(
                "\n--- last lines of {} ---\n{}",
                member.log.display(),
                log_tail::tail(&member.log, ERROR_TAIL_LINES)
            ));
        }
        msg
    }
}

impl std::fmt::Debug for EtcdCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdCluster")
            .field("dir", &self.dir)
            .field("endpoints", &self.endpoints())
            .finish()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.kill_all();
        if !self.owns_dir {
            return;
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => tracing::debug!(dir = %self.dir.display(), "etcd cluster removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove etcd dir")
            }
        }
    }
}

impl Member {
    fn new(dir: &Path, i: usize, client_port: u16, peer_port: u16) -> Member {
        let name = format!("m{i}");
        Member {
            data: dir.join(&name),
            log: dir.join(format!("{name}.log")),
            name,
            client_port,
            peer_port,
            process: Mutex::new(Process::Stopped),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{HOST}:{}", self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("http://{HOST}:{}", self.peer_port)
    }

    fn process(&self) -> MutexGuard<'_, Process> {
        self.process.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the process is running; reaps it if it exited.
    fn running(&self) -> bool {
        let mut process = self.process();
        let Process::Running(child) = &mut *process else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                tracing::debug!(member = %self.name, %status, "etcd member exited");
                *process = Process::Exited(status);
                false
            }
            Err(e) => {
                tracing::warn!(member = %self.name, error = %e, "cannot check etcd member");
                true
            }
        }
    }

    /// How a member that is not running got there, for error messages.
    fn stopped_how(&self) -> String {
        match &*self.process() {
            Process::Exited(status) => format!("exited ({status})"),
            Process::Stopped => "is not running".to_owned(),
            Process::Running(_) => "is running".to_owned(),
        }
    }

    /// SIGKILLs and reaps the process, if running.
    fn kill(&self) -> anyhow::Result<()> {
        let mut process = self.process();
        let Process::Running(child) = &mut *process else {
            *process = Process::Stopped;
            return Ok(());
        };
        // Fails only if it already exited; wait() reaps it either way.
        let _ = child.kill();
        child
            .wait()
            .with_context(|| format!("reaping etcd member {}", self.name))?;
        *process = Process::Stopped;
        tracing::debug!(member = %self.name, "etcd member killed");
        Ok(())
    }
}

/// The etcd binary: `$SHARDWIRE_ETCD`, else `etcd` on `PATH`.
fn etcd_program() -> std::ffi::OsString {
    std::env::var_os(ETCD_ENV).unwrap_or_else(|| DEFAULT_ETCD.into())
}

/// A (client, peer) pair of free loopback ports per member, all different.
fn pick_ports(members: usize) -> anyhow::Result<Vec<(u16, u16)>> {
    ensure!(members > 0, "an etcd cluster needs at least one member");
    let ports = distinct_free_ports(2 * members)?;
    Ok(ports.chunks(2).map(|pair| (pair[0], pair[1])).collect())
}

/// `count` different free loopback ports.
fn distinct_free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut ports = Vec::with_capacity(count);
    while ports.len() < count {
        let port = free_port()?;
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    Ok(ports)
}

/// Whether the member on client port `port` answers `GET /health` with
/// `{"health":"true"}`.
async fn healthy(port: u16) -> bool {
    match tokio::time::timeout(PROBE_TIMEOUT, get_health(port)).await {
        Ok(Ok(response)) => health_ok(&response),
        _ => false,
    }
}

/// The raw HTTP response to `GET /health` on `port`.
async fn get_health(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect((HOST, port)).await?;
    let request =
        format!("GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Whether an HTTP response is a 200 whose body says `"health":"true"`.
fn health_ok(response: &str) -> bool {
    let Some((head, body)) = response.split_once("\r\n\r\n") else {
        return false;
    };
    let status_ok = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        == Some("200");
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    status_ok && compact.contains(r#""health":"true""#)
}

/// Kills the members of, and removes, every cluster directory under `root`
/// whose creating process is gone. Best effort: problems are logged.
fn clean_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(stale_dir_pid) else {
            continue;
        };
        if pid == std::process::id() || process::pid_alive(pid) {
            continue;
        }
        let dir = entry.path();
        let pids = etcd_pids_in(&dir);
        if !pids.is_empty() {
            tracing::info!(dir = %dir.display(), ?pids, "killing etcd members of a stale cluster");
            if let Err(e) = process::kill_all(&pids, KILL_WAIT) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not kill stale etcd");
                continue;
            }
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(dir = %dir.display(), pid, "removed stale etcd cluster"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove stale etcd")
            }
        }
    }
}

/// The creating pid in a cluster directory name `etcd-<pid>-<random>`.
fn stale_dir_pid(name: &str) -> Option<u32> {
    let (pid, rest) = name.strip_prefix(DIR_PREFIX)?.split_once('-')?;
    if rest.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// Live `etcd` processes whose working directory is `dir` (members run in
/// their cluster directory).
fn etcd_pids_in(dir: &Path) -> Vec<u32> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "etcd")
        })
        .filter(|&pid| process::pid_alive(pid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_health_responses() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"health\":\"true\"}";
        assert!(health_ok(ok));
        let spaced = "HTTP/1.1 200 OK\r\n\r\n{\"health\": \"true\", \"reason\": \"\"}";
        assert!(health_ok(spaced));
        let down = "HTTP/1.1 503 Service Unavailable\r\n\r\n{\"health\":\"false\"}";
        assert!(!health_ok(down));
        assert!(!health_ok("HTTP/1.1 200 OK\r\n\r\n{\"health\":\"false\"}"));
        assert!(!health_ok(""));
    }

    #[test]
    fn stale_dir_names_carry_the_pid() {
        assert_eq!(stale_dir_pid("etcd-4242-abc123"), Some(4242));
        assert_eq!(stale_dir_pid("etcd-4242-"), None);
        assert_eq!(stale_dir_pid("4242-abc123"), None);
        assert_eq!(stale_dir_pid("etcd-x-abc"), None);
    }

    #[test]
    fn ports_are_distinct() {
        let ports = distinct_free_ports(6).unwrap();
        for (i, p) in ports.iter().enumerate() {
            assert!(!ports[i + 1..].contains(p));
        }
    }
}
