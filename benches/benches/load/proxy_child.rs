//! shardwire as a child process, so its CPU time and memory can be read from
//! /proc apart from the bench's own: the bench binary re-executes itself with
//! [`CHILD_ARG`] and a configuration file, and in that mode only runs the
//! proxy until it is killed. Also owns the configuration the bench gives it.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context;
use tempfile::TempDir;

use crate::pgbench;
use crate::postgres::IDLE_USER;
use crate::process::{free_port, ChildGuard};

/// First argument that makes the bench binary run the proxy instead.
pub const CHILD_ARG: &str = "--proxy-child";

/// Server connections per (node, user) pool, as for pgbouncer.
pub const POOL_SIZE: u32 = 20;

/// The shardwire child process; killed when dropped.
pub struct ProxyChild {
    guard: ChildGuard,
    port: u16,
    _dir: TempDir,
}

impl ProxyChild {
    /// Writes the configuration, starts the child in front of PostgreSQL
    /// at `pg_port`, and waits until it listens.
    #[allow(dead_code)] // each bench binary uses one of the two
    pub async fn start(pg_port: u16) -> anyhow::Result<ProxyChild> {
        ProxyChild::start_under(pg_port, &[], Duration::from_secs(15)).await
    }

    /// As [`ProxyChild::start`], with the child run by `wrapper` (a program
    /// and its arguments, e.g. valgrind) and `listen_within` to start.
    pub async fn start_under(
        pg_port: u16,
        wrapper: &[String],
        listen_within: Duration,
    ) -> anyhow::Result<ProxyChild> {
        let dir = tempfile::Builder::new()
            .prefix("shardwire-bench-proxy-")
            .tempdir()
            .context("creating a temp dir for the shardwire child")?;
        let port = free_port()?;
        let config = dir.path().join("shardwire.toml");
        std::fs::write(&config, config_toml(port, pg_port))
            .with_context(|| format!("writing {}", config.display()))?;
        let exe = std::env::current_exe().context("finding the bench executable")?;
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        cmd.arg(CHILD_ARG).arg(&config);
        let mut guard = ChildGuard::spawn("shardwire", cmd, &dir.path().join("shardwire.log"))?;
        guard.wait_listening(port, listen_within).await?;
        Ok(ProxyChild {
            guard,
            port,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fails if the child has died (e.g. panicked), with its log.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.guard.ensure_running()
    }

    /// The end of the child's log (warnings and errors).
    pub fn log_tail(&self, lines: usize) -> String {
        self.guard.log_tail(lines)
    }
}

fn config_toml(port: u16, pg_port: u16) -> String {
    let host = shardwire_rig::HOST;
    let (user, password, database) = (pgbench::USER, pgbench::PASSWORD, pgbench::DATABASE);
    format!(
        r#"[proxy]
listen = "{host}:{port}"
database = "{database}"
pool_mode = "transaction"

[pool]
size = {POOL_SIZE}

[[users]]
name = "{user}"
password = "{password}"

# Idle clients log in without a password; the proxy logs in to PostgreSQL
# with this one.
[[users]]
name = "{IDLE_USER}"
password = "{password}"
auth = "trust"

[[shards]]
primary = {{ host = "{host}", port = {pg_port} }}
"#
    )
}

/// The child's whole life: load `config`, run the proxy on a multi-thread
/// runtime until killed. Logs (warnings and up, or `RUST_LOG`) go to stderr,
/// which the parent sends to a file.
pub fn run(config: &Path) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shardwire bench child: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: &Path) -> anyhow::Result<()> {
    let config = shardwire::config::load_file(config)
        .with_context(|| format!("loading {}", config.display()))?;
    let runtime =
        shardwire::runtime::build(config.proxy.workers).context("building the runtime")?;
    runtime.block_on(async {
        let _proxy = shardwire::proxy::RunningProxy::start(config)
            .await
            .context("starting the proxy")?;
        // Runs until the bench kills this process.
        std::future::pending::<()>().await;
        Ok(())
    })
}
