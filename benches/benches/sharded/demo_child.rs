//! The sharded topology and shardwire in front of it, as one child process
//! (this bench binary re-executed with [`CHILD_ARG`]) running `shardwire
//! demo` — six shards, one replica-cluster node, no standbys — so that
//! shardwire's CPU time can be read from /proc apart from the bench's and
//! PostgreSQL's. The child prints where everything listens; the parent
//! reads that from its log, and stops it with SIGINT so that the demo
//! tears its PostgreSQL servers down.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::process::{free_port, ChildGuard};

/// First argument that makes the bench binary run the demo instead.
pub const CHILD_ARG: &str = "--demo-child";
/// Shards of the bench topology.
pub const SHARDS: u32 = 6;
/// How long the topology (initdb, data, subscriptions) may take to start.
const START_WITHIN: Duration = Duration::from_secs(600);

/// Where the running topology listens.
pub struct Topology {
    pub proxy_port: u16,
    /// Each shard's primary, by shard number.
    pub shard_ports: Vec<u16>,
    pub replica_port: u16,
}

/// The demo child; stopped (SIGINT, then SIGKILL) when dropped.
pub struct DemoChild {
    guard: Option<ChildGuard>,
    pub topology: Topology,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl DemoChild {
    /// Starts the demo and waits until it prints its guide.
    pub async fn start() -> anyhow::Result<DemoChild> {
        let dir = tempfile::Builder::new()
            .prefix("shardwire-bench-sharded-")
            .tempdir()
            .context("creating a temp dir for the demo child")?;
        let port = free_port()?;
        let exe = std::env::current_exe().context("finding the bench executable")?;
        let mut cmd = Command::new(exe);
        cmd.arg(CHILD_ARG).arg(port.to_string());
        let log = dir.path().join("demo.log");
        let guard = ChildGuard::spawn("shardwire demo", cmd, &log)?;
        let mut child = DemoChild {
            guard: Some(guard),
            topology: Topology {
                proxy_port: port,
                shard_ports: Vec::new(),
                replica_port: 0,
            },
            log,
            _dir: dir,
        };
        child.topology = child.wait_for_guide().await?;
        Ok(child)
    }

    async fn wait_for_guide(&mut self) -> anyhow::Result<Topology> {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            if let Some(guard) = self.guard.as_mut() {
                guard.ensure_running()?;
            }
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains("press Ctrl-C to stop everything") {
                return parse_guide(&text, self.topology.proxy_port);
            }
            if Instant::now() > deadline {
                bail!("the demo did not start within {START_WITHIN:?}:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The child's process id (shardwire's).
    pub fn pid(&self) -> u32 {
        self.guard.as_ref().map_or(0, ChildGuard::pid)
    }

    /// Fails if the demo has died, with its log.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.guard.as_mut() {
            Some(g) => g.ensure_running(),
            None => bail!("the demo was stopped"),
        }
    }
}

impl Drop for DemoChild {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        // SAFETY: kill only sends a signal to the child we started.
        unsafe {
            libc::kill(guard.pid() as libc::pid_t, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Path::new(&format!("/proc/{}", guard.pid())).exists()
            && Instant::now() < deadline
            && !is_zombie(guard.pid())
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(guard); // SIGKILL if still there, and reap
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Reads the ports from the demo's guide ("shard 3: primary
/// 127.0.0.1:PORT …", "replica 0: 127.0.0.1:PORT …").
fn parse_guide(text: &str, proxy_port: u16) -> anyhow::Result<Topology> {
    let port_after = |line: &str, marker: &str| -> Option<u16> {
        let rest = &line[line.find(marker)? + marker.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let mut shard_ports = vec![0u16; SHARDS as usize];
    let mut replica_port = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("shard ") {
            let k: Option<usize> = rest.split(':').next().and_then(|n| n.parse().ok());
            if let (Some(k), Some(port)) = (k, port_after(line, "primary 127.0.0.1:")) {
                if let Some(slot) = shard_ports.get_mut(k) {
                    *slot = port;
                }
            }
        } else if line.starts_with("replica 0:") {
            replica_port = port_after(line, "127.0.0.1:");
        }
    }
    if shard_ports.contains(&0) {
        bail!("the demo's guide does not name every shard's primary:\n{text}");
    }
    Ok(Topology {
        proxy_port,
        shard_ports,
        replica_port: replica_port.context("the demo's guide names no replica node")?,
    })
}

/// The child's whole life: run the demo until SIGINT.
pub fn run(port: &str) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("{CHILD_ARG} needs a port, not {port:?}");
        return ExitCode::from(2);
    };
    let args = shardwire::demo::DemoArgs {
        port,
        pool_mode: "transaction".into(),
        shards: SHARDS,
        standbys: 0,
        replicas: 1,
        instances: 1,
    };
    let runtime = match shardwire::runtime::build(0) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(shardwire::demo::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
