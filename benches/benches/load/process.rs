//! Child processes the bench starts (the shardwire child, pgbouncer): a
//! guard that kills the child when dropped — on error paths too — picking a
//! free loopback port for them, and waiting until they listen.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A running child process, SIGKILLed and reaped when dropped.
pub struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout and stderr appended to `log`. The child also
    /// gets SIGKILL if this process dies without running the guard's drop.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<ChildGuard> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("duplicating the handle of {}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        kill_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({cmd:?})"))?;
        Ok(ChildGuard {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails (with the end of its log) if the child has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!("{} exited ({status}); {}", self.name, self.log_summary()),
            Err(e) => Err(e).with_context(|| format!("checking on {}", self.name)),
        }
    }

    /// Waits until the child accepts TCP connections on 127.0.0.1:`port`.
    pub async fn wait_listening(&mut self, port: u16, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.ensure_running()?;
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not listen on port {port} within {timeout:?}; {}",
                    self.name,
                    self.log_summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// "its log ends with: …" or "its log is empty".
    fn log_summary(&self) -> String {
        let tail = self.log_tail(30);
        if tail.trim().is_empty() {
            "its log is empty".to_owned()
        } else {
            format!("its log ends with:\n{tail}")
        }
    }

    /// The last `lines` lines of the child's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks the kernel to SIGKILL the child when the thread that spawned it
/// dies, so a bench killed with SIGKILL leaves nothing behind. The bench
/// spawns children from the main thread only (current-thread runtime).
fn kill_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only makes the
    // async-signal-safe prctl system call. std runs it after switching
    // uid/gid, which would otherwise clear the setting.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A loopback port that was free a moment ago, chosen below the kernel's
/// ephemeral range so that no outgoing connection (pgbench's, the idle
/// clients') can take it before the child binds it.
pub fn free_port() -> anyhow::Result<u16> {
    let low_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let first = 20_000u16;
    if low_ephemeral > first {
        let span = u32::from(low_ephemeral - first);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let seed = std::process::id() ^ nanos;
        for i in 0..span.min(2_000) {
            let offset = (seed.wrapping_mul(2_654_435_761).wrapping_add(i * 7_919)) % span;
            let port = first + u16::try_from(offset).unwrap_or(0);
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0 for a port")?;
    Ok(listener.local_addr()?.port())
}

/// The uid and gid of OS user `name`, via `id`.
pub fn os_user_ids(name: &str) -> anyhow::Result<(u32, u32)> {
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id")
            .args([flag, name])
            .output()
            .context("running `id`")?;
        if !out.status.success() {
            bail!(
                "`id {flag} {name}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .with_context(|| format!("`id {flag} {name}` printed {text:?}"))
    };
    Ok((id("-u")?, id("-g")?))
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
