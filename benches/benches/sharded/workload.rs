//! The sharded workload: pgbench scripts of the demo's mix (a game result
//! updates one player's score, reads the player, and upserts the player
//! row, in one transaction keyed by `user_id`; and the leaderboard's top
//! ten), pgbench runs with per-transaction logs, and their throughput and
//! latency percentiles. A direct run is several pgbench processes at once
//! (one per shard, each with its own slice of keys), merged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::Command;

use crate::pgbench::QueryMode;

/// The demo's sample users: `user_id` 1..=USERS.
const USERS: u32 = 60_000;
/// The demo's login.
pub const USER: &str = "app";
pub const PASSWORD: &str = "app";
pub const DATABASE: &str = "app";

/// Statements of one keyed transaction, routed one by one by shardwire.
pub const KEYED_STATEMENTS: [&str; 5] = [
    "BEGIN",
    "UPDATE leaderboard SET score = score + 7, updated_at = now() WHERE user_id = 4242",
    "SELECT name FROM users WHERE user_id = 4242",
    "INSERT INTO users (user_id, name) VALUES (4242, 'player 4242') ON CONFLICT (user_id) DO UPDATE SET name = excluded.name",
    "END",
];

/// The keyed transaction for keys drawn by `uid` (a pgbench expression).
fn keyed_script(uid: &str) -> String {
    format!(
        "\\set uid {uid}\n\\set points random(1, 100)\nBEGIN;\n\
         UPDATE leaderboard SET score = score + :points, updated_at = now() WHERE user_id = :uid;\n\
         SELECT name FROM users WHERE user_id = :uid;\n\
         INSERT INTO users (user_id, name) VALUES (:uid, 'player ' || :uid) \
         ON CONFLICT (user_id) DO UPDATE SET name = excluded.name;\n\
         END;\n"
    )
}

/// A transfer of points between two players `offset` ids apart, the lower
/// id first (one order for every transaction: no deadlocks). Offset 1 puts
/// them on different shards (cross-shard: two-phase commit), offset =
/// shards on the same shard.
fn transfer_script(offset: u32) -> String {
    format!(
        "\\set a random(1, {})\n\\set b :a + {offset}\nBEGIN;\n\
         UPDATE leaderboard SET score = score - 1 WHERE user_id = :a;\n\
         UPDATE leaderboard SET score = score + 1 WHERE user_id = :b;\n\
         END;\n",
        USERS - offset
    )
}

/// The scripts a run uses, written once.
pub struct Scripts {
    /// Transfers between players on different shards.
    pub transfer_cross: PathBuf,
    /// The same between players on one shard.
    pub transfer_same: PathBuf,
    /// Any key (through shardwire).
    pub keyed: PathBuf,
    /// Shard k's keys only (`user_id % shards = k`), for the direct runs.
    pub keyed_on_shard: Vec<PathBuf>,
    pub top10: PathBuf,
}

impl Scripts {
    pub fn write(dir: &Path, shards: u32) -> anyhow::Result<Scripts> {
        let write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        };
        let keyed = write(
            "keyed.pgbench",
            &keyed_script(&format!("random(1, {USERS})")),
        )?;
        let per_shard = USERS / shards;
        let mut keyed_on_shard = Vec::new();
        for k in 0..shards {
            // k = 0 owns shards, 2·shards, …; k > 0 owns k, k + shards, …
            let (lo, hi) = if k == 0 {
                (1, per_shard)
            } else {
                (0, per_shard - 1)
            };
            let uid = format!("{k} + {shards} * random({lo}, {hi})");
            keyed_on_shard.push(write(&format!("keyed-{k}.pgbench"), &keyed_script(&uid))?);
        }
        let top10 = write(
            "top10.pgbench",
            "SELECT user_id, score FROM leaderboard ORDER BY score DESC LIMIT 10;\n",
        )?;
        let transfer_cross = write("transfer-cross.pgbench", &transfer_script(1))?;
        let transfer_same = write("transfer-same.pgbench", &transfer_script(shards))?;
        Ok(Scripts {
            transfer_cross,
            transfer_same,
            keyed,
            keyed_on_shard,
            top10,
        })
    }
}

/// One pgbench process of a run.
pub struct Load<'a> {
    pub port: u16,
    pub script: &'a Path,
    pub clients: u32,
}

/// What a run (one or several pgbench processes at once) did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub transactions: u64,
    pub tps: f64,
    pub failed: u64,
    /// Per-transaction latencies in microseconds, sorted.
    latencies_us: Vec<u64>,
}

impl Outcome {
    /// The latency at `p` (0..=1), in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[i.min(self.latencies_us.len() - 1)] as f64 / 1000.0
    }
}

/// Runs every load at once for `secs` and merges their results.
pub async fn run(
    pgbench: &Path,
    loads: &[Load<'_>],
    mode: QueryMode,
    secs: u64,
    log_dir: &Path,
) -> anyhow::Result<Outcome> {
    let mut children = Vec::new();
    for (i, load) in loads.iter().enumerate() {
        let prefix = log_dir.join(format!("run{i}"));
        let mut cmd = Command::new(pgbench);
        cmd.args([
            "-h",
            shardwire_rig::HOST,
            "-p",
            &load.port.to_string(),
            "-U",
            USER,
        ])
        .args(["-n", "-M", mode.as_str(), "-c", &load.clients.to_string()])
        .args([
            "-j",
            &load.clients.min(2).to_string(),
            "-T",
            &secs.to_string(),
        ])
        .arg("-f")
        .arg(load.script)
        .arg("-l")
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg(DATABASE)
        .env("PGPASSWORD", PASSWORD)
        .env("PGSSLMODE", "disable")
        .env_remove("PGSERVICE")
        .env_remove("PGOPTIONS")
        .kill_on_drop(true);
        let child = cmd.output();
        children.push(tokio::time::timeout(Duration::from_secs(secs + 120), child));
    }
    let mut merged = Outcome {
        transactions: 0,
        tps: 0.0,
        failed: 0,
        latencies_us: Vec::new(),
    };
    for (i, child) in children.into_iter().enumerate() {
        let out = child
            .await
            .context("pgbench did not finish in time")?
            .context("running pgbench")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!("pgbench exited with {}:\n{}", out.status, tail(&text, 20));
        }
        let (transactions, tps, failed) = summary(&text)
            .with_context(|| format!("reading pgbench's summary:\n{}", tail(&text, 20)))?;
        merged.transactions += transactions;
        merged.tps += tps;
        merged.failed += failed;
        merged
            .latencies_us
            .extend(read_logs(log_dir, &format!("run{i}"))?);
    }
    merged.latencies_us.sort_unstable();
    // Fresh logs for the next run.
    for entry in std::fs::read_dir(log_dir)?.flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
    Ok(merged)
}

/// (transactions, tps, failed) from pgbench's summary.
fn summary(text: &str) -> anyhow::Result<(u64, f64, u64)> {
    let mut transactions = None;
    let mut tps = None;
    let mut failed = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("number of transactions actually processed:") {
            transactions = rest.trim().split('/').next().and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("number of failed transactions:") {
            failed = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("tps = ") {
            tps = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    Ok((
        transactions.context("no transaction count")?,
        tps.context("no tps line")?,
        failed,
    ))
}

/// The latencies (third field, µs) of every log file `<prefix>.*`.
fn read_logs(dir: &Path, prefix: &str) -> anyhow::Result<Vec<u64>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&format!("{prefix}.")));
        if !is_log {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        latencies.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
    }
    Ok(latencies)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
