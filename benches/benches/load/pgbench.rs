//! Running pgbench — the `-i` initialisation and the `-S` select-only runs —
//! and reading its summary (tps, transactions, failures).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::Command;

/// Where pgbench connects (always as the bench user to the bench database).
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub port: u16,
}

/// The login every pgbench run uses.
pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench";
pub const DATABASE: &str = "bench";

/// pgbench's `-M`: how queries are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryMode {
    Simple,
    Prepared,
}

impl QueryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryMode::Simple => "simple",
            QueryMode::Prepared => "prepared",
        }
    }
}

/// One select-only run.
#[derive(Clone, Copy, Debug)]
pub struct RunSpec {
    pub mode: QueryMode,
    pub clients: u32,
    pub secs: u64,
}

/// pgbench's summary of a run.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// "tps = … (without initial connection time)".
    pub tps: f64,
    /// "number of transactions actually processed".
    pub transactions: u64,
    /// "number of failed transactions".
    pub failed: u64,
}

/// The pgbench binary next to the rig's PostgreSQL.
pub fn binary() -> anyhow::Result<PathBuf> {
    let bindir = shardwire_rig::pg_bindir()?;
    let pgbench = bindir.join("pgbench");
    if !pgbench.is_file() {
        bail!("no pgbench in {}", bindir.display());
    }
    Ok(pgbench)
}

/// `pgbench -i -s <scale>`: creates and fills the pgbench tables.
pub async fn initialise(pgbench: &Path, at: Endpoint, scale: u32) -> anyhow::Result<()> {
    let mut cmd = command(pgbench, at);
    cmd.args(["-i", "-q", "-s", &scale.to_string(), DATABASE]);
    let out = output(cmd, Duration::from_secs(300)).await?;
    if !out.status.success() {
        bail!("pgbench -i failed ({}):\n{}", out.status, both(&out));
    }
    Ok(())
}

/// `pgbench -S -M <mode> -c <clients> -j 2 -T <secs> -n`. Fails if pgbench
/// exits non-zero (e.g. a client aborted) or prints no summary.
pub async fn select_only(pgbench: &Path, at: Endpoint, spec: RunSpec) -> anyhow::Result<Summary> {
    let mut cmd = command(pgbench, at);
    cmd.args([
        "-S",
        "-M",
        spec.mode.as_str(),
        "-c",
        &spec.clients.to_string(),
        "-j",
        "2",
        "-T",
        &spec.secs.to_string(),
        "-n",
        DATABASE,
    ]);
    // Connecting 200 clients and the run itself, with room for a slow proxy.
    let limit = Duration::from_secs(spec.secs + 120);
    summary_of(cmd, limit).await
}

/// `pgbench -S -c <clients> -j 2 -t 1 -n`: every client logs in and runs
/// one transaction — to see what logins cost a pooler.
pub async fn logins(pgbench: &Path, at: Endpoint, clients: u32) -> anyhow::Result<Summary> {
    let mut cmd = command(pgbench, at);
    cmd.args([
        "-S",
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-t",
        "1",
        "-n",
        DATABASE,
    ]);
    summary_of(cmd, Duration::from_secs(120)).await
}

/// `pgbench -S -M <mode> -c <clients> -j 2 -t <per_client> -n` as `user`
/// (whose password, if the pooler asks, is [`PASSWORD`]): a fixed number
/// of transactions, for measurements that count work rather than time.
#[allow(dead_code)] // the instructions bench's; the load bench times runs
pub async fn fixed_count(
    pgbench: &Path,
    at: Endpoint,
    user: &str,
    mode: QueryMode,
    clients: u32,
    per_client: u32,
) -> anyhow::Result<Summary> {
    let mut cmd = command_as(pgbench, at, user);
    cmd.args([
        "-S",
        "-M",
        mode.as_str(),
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-t",
        &per_client.to_string(),
        "-n",
        DATABASE,
    ]);
    // Under valgrind a pooler runs some fifty times slower than natively.
    summary_of(cmd, Duration::from_secs(1_800)).await
}

fn command(pgbench: &Path, at: Endpoint) -> Command {
    command_as(pgbench, at, USER)
}

fn command_as(pgbench: &Path, at: Endpoint, user: &str) -> Command {
    let mut cmd = Command::new(pgbench);
    cmd.args([
        "-h",
        shardwire_rig::HOST,
        "-p",
        &at.port.to_string(),
        "-U",
        user,
    ])
    .env("PGPASSWORD", PASSWORD)
    .env("PGSSLMODE", "disable")
    .env("PGGSSENCMODE", "disable")
    .env_remove("PGSERVICE")
    .env_remove("PGOPTIONS")
    .kill_on_drop(true);
    cmd
}

/// Runs pgbench to completion (killed after `limit`) and reads its summary;
/// fails if it exits non-zero (e.g. a client aborted) or prints none.
async fn summary_of(cmd: Command, limit: Duration) -> anyhow::Result<Summary> {
    let out = output(cmd, limit).await?;
    if !out.status.success() {
        bail!(
            "pgbench exited with {}:\n{}",
            out.status,
            tail(&both(&out), 25)
        );
    }
    parse_summary(&String::from_utf8_lossy(&out.stdout))
        .with_context(|| format!("reading pgbench's summary from:\n{}", tail(&both(&out), 25)))
}

/// Runs `cmd` to completion, killing it after `limit`.
async fn output(mut cmd: Command, limit: Duration) -> anyhow::Result<Output> {
    let what = format!("{:?}", cmd.as_std());
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(out) => out.with_context(|| format!("running {what}")),
        Err(_) => bail!("{what} did not finish within {limit:?}; killed"),
    }
}

fn parse_summary(stdout: &str) -> anyhow::Result<Summary> {
    let mut tps = None;
    let mut transactions = None;
    let mut failed = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("number of transactions actually processed:") {
            // "123456" or "123456/200000" when -t was given.
            let n = rest.trim().split('/').next().unwrap_or("");
            transactions = Some(n.parse::<u64>().with_context(|| format!("in {line:?}"))?);
        } else if let Some(rest) = line.strip_prefix("number of failed transactions:") {
            // "0 (0.000%)"
            let n = rest.split_whitespace().next().unwrap_or("");
            failed = Some(n.parse::<u64>().with_context(|| format!("in {line:?}"))?);
        } else if let Some(rest) = line.strip_prefix("tps = ") {
            if line.contains("without initial connection time") {
                let n = rest.split_whitespace().next().unwrap_or("");
                tps = Some(n.parse::<f64>().with_context(|| format!("in {line:?}"))?);
            }
        }
    }
    Ok(Summary {
        tps: tps.context("no \"tps = … (without initial connection time)\" line")?,
        transactions: transactions
            .context("no \"number of transactions actually processed\" line")?,
        // pgbench before 15 has no such line and no retries: nothing failed
        // unless it exited non-zero, which is checked before.
        failed: failed.unwrap_or(0),
    })
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
