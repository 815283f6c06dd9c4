//! The demo's sample workload: the schema and seed data of each shard and
//! replica, the pgbench scripts (keyed game writes, leaderboard reads), and
//! the guide printed at start.

use super::topology::DemoTopology;
use super::{DemoArgs, DEMO_DATABASE, DEMO_PASSWORD, DEMO_USER};
use crate::proxy::RunningProxy;
use anyhow::Context as _;
use shardwire_rig::Rig;
use std::path::{Path, PathBuf};

/// The heartbeat table the control plane writes (the default name).
pub const HEARTBEAT_TABLE: &str = "shardwire_heartbeat";

/// Sample users (spread over the shards by `user_id % shards`).
const USERS: u32 = 60_000;

const SHARED_TABLES: &str = "CREATE TABLE leaderboard (user_id bigint PRIMARY KEY, \
     score bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now()); \
     CREATE INDEX leaderboard_score ON leaderboard (score DESC); \
     CREATE TABLE shardwire_heartbeat (shard int PRIMARY KEY, beat timestamptz NOT NULL);";

/// Schema and data of shard `k` of `count`: `users` and `leaderboard`
/// rows of this shard only, with CHECK constraints that refuse rows of
/// other shards (a misrouted write fails loudly).
pub fn shard_schema(k: u32, count: u32) -> String {
    let check = |col: &str| format!("CHECK ((({col} % {count}) + {count}) % {count} = {k})");
    format!(
        "CREATE TABLE users (user_id bigint PRIMARY KEY, name text NOT NULL, {users_check}); \
         {SHARED_TABLES} \
         ALTER TABLE leaderboard ADD {lb_check}; \
         INSERT INTO users SELECT g, 'player ' || g FROM generate_series(1, {USERS}) g \
           WHERE ((g % {count}) + {count}) % {count} = {k}; \
         INSERT INTO leaderboard (user_id, score) SELECT user_id, (user_id * 7919) % 10000 FROM users;",
        users_check = check("user_id"),
        lb_check = check("user_id"),
    )
}

/// Schema of a replica-cluster node: the leaderboard of every shard.
pub fn replica_schema() -> String {
    SHARED_TABLES.to_owned()
}

/// The pgbench scripts the guide points at.
pub struct Scripts {
    /// Keyed writes: a game result updates one player's score.
    pub play: PathBuf,
    /// Leaderboard read: the top ten (served by the replica cluster).
    pub top10: PathBuf,
}

/// Writes the pgbench scripts into the rig directory.
pub fn write_pgbench_scripts(dir: &Path, topo: &DemoTopology) -> anyhow::Result<Scripts> {
    let _ = topo;
    let play = dir.join("play.pgbench");
    let top10 = dir.join("top10.pgbench");
    std::fs::write(
        &play,
        format!(
            "\\set uid random(1, {USERS})\n\\set points random(1, 100)\nBEGIN;\n\
             UPDATE leaderboard SET score = score + :points, updated_at = now() WHERE user_id = :uid;\n\
             SELECT name FROM users WHERE user_id = :uid;\nEND;\n"
        ),
    )
    .with_context(|| format!("writing {}", play.display()))?;
    std::fs::write(
        &top10,
        "SELECT user_id, score FROM leaderboard ORDER BY score DESC LIMIT 10;\n",
    )
    .with_context(|| format!("writing {}", top10.display()))?;
    Ok(Scripts { play, top10 })
}

/// Prints each shard's primary (with its pid, for the failover drill)
/// and standbys.
pub fn print_shards(topo: &DemoTopology) {
    for (k, shard) in topo.shards.iter().enumerate() {
        let standbys: Vec<String> = shard
            .standbys
            .iter()
            .map(|s| s.port().to_string())
            .collect();
        println!(
            "  shard {k}: primary 127.0.0.1:{} (pid {}), standby port(s) {}",
            shard.primary.port(),
            shard
                .primary
                .postmaster_pid()
                .map_or("?".into(), |p| p.to_string()),
            standbys.join(", ")
        );
    }
}

/// Prints where everything runs and what to try.
pub fn print_guide(
    rig: &Rig,
    topo: &DemoTopology,
    proxy: &RunningProxy,
    args: &DemoArgs,
    scripts: &Scripts,
) {
    let port = proxy.addr.port();
    let env = format!("PGPASSWORD={DEMO_PASSWORD}");
    let psql = format!("{env} psql -h 127.0.0.1 -p {port} -U {DEMO_USER}");
    println!();
    println!(
        "shardwire demo is running (data in {}{}).",
        rig.dir().display(),
        super::logging::file().map_or(String::new(), |f| format!(", logs in {}", f.display()))
    );
    print_shards(topo);
    for (i, r) in topo.replicas.iter().enumerate() {
        println!(
            "  replica {i}: 127.0.0.1:{} (leaderboard of every shard)",
            r.port()
        );
    }
    println!("  proxy:   127.0.0.1:{port} ({} pooling)", args.pool_mode);
    if let Some(metrics) = proxy.metrics_addr {
        println!("  metrics: http://{metrics}/metrics  (also /health, /ready)");
    }
    println!();
    println!("connect:");
    println!("  {psql} {DEMO_DATABASE}");
    println!("admin console (SHOW HELP lists everything):");
    println!("  {psql} shardwire -c 'SHOW SHARDS' -c 'SHOW NODES' -c 'SHOW FAILOVERS'");
    if topo.shards.len() > 1 {
        println!("try (rows live on shard user_id % {}):", topo.shards.len());
        println!("  SELECT * FROM users WHERE user_id = 42;                          -- one shard");
        println!("  UPDATE leaderboard SET score = score + 5 WHERE user_id = 42;     -- one shard");
        println!("  SELECT count(*) FROM users;                                      -- all shards, merged");
        if !topo.replicas.is_empty() {
            println!("  SELECT user_id, score FROM leaderboard ORDER BY score DESC LIMIT 10;  -- replica cluster");
        }
        println!("  /* shardwire: user_id=42 */ SHOW port;                           -- which node answers");
        println!("  BEGIN; UPDATE leaderboard SET score = score - 5 WHERE user_id = 42;");
        println!("         UPDATE leaderboard SET score = score + 5 WHERE user_id = 43; COMMIT;  -- two shards, two-phase commit");
        println!("  UPDATE leaderboard SET score = score + 1;                        -- every shard, atomically");
        println!("load (keyed writes 9:1 with leaderboard reads):");
        println!(
            "  {env} pgbench -h 127.0.0.1 -p {port} -U {DEMO_USER} -n -c 8 -j 2 -T 60 -P 5 -f {}@9 -f {}@1 {DEMO_DATABASE}",
            scripts.play.display(),
            scripts.top10.display()
        );
        if let Some(pid) = topo.shards.get(2).and_then(|s| s.primary.postmaster_pid()) {
            println!("failover drill: kill shard 2's primary while the load runs, then watch:");
            println!("  kill -9 {pid}");
            println!("  {psql} shardwire -c 'SHOW FAILOVERS' -c 'SHOW SHARDS'");
            println!("planned switchover (no client errors):");
            println!("  {psql} shardwire -c 'SWITCHOVER 1'");
        }
    } else {
        println!("load:");
        println!("  {env} pgbench -h 127.0.0.1 -p {port} -U {DEMO_USER} -i {DEMO_DATABASE}");
        println!("  {env} pgbench -h 127.0.0.1 -p {port} -U {DEMO_USER} -c 20 -j 2 -T 10 -M prepared {DEMO_DATABASE}");
    }
    println!();
    println!("press Ctrl-C to stop everything.");
}
