//! Sharded workload bench: the demo's keyed mix on six shards through
//! shardwire, against the same mix sent by pgbench directly to each shard
//! (six pgbench processes, each with its own slice of keys) as the no-proxy
//! ceiling; and the leaderboard read through shardwire (served by the
//! replica cluster) against the same read sent to the replica node
//! directly. Prints tps, latency p50/p99, shardwire's CPU per transaction
//! and routing's share of it, for the simple and the prepared protocol.
//!
//! `bash scripts/bench.sh --sharded` (or `cargo bench -p shardwire-benches
//! --bench sharded`); `SHARDWIRE_BENCH_SECS` (default 15) sets each run's
//! length. The topology is `shardwire demo --shards 6 --standbys 0
//! --replicas 1` run as a child process (shardwire's CPU is that
//! process's); on this machine everything — six primaries, the replica,
//! pgbench and shardwire — shares the same cores, so the ratios matter
//! more than the absolute figures.

#[path = "sharded/demo_child.rs"]
mod demo_child;
#[allow(dead_code)]
#[path = "load/pgbench.rs"]
mod pgbench;
#[allow(dead_code)]
#[path = "load/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "load/procstat.rs"]
mod procstat;
#[path = "sharded/routing_cost.rs"]
mod routing_cost;
#[path = "sharded/workload.rs"]
mod workload;

use std::process::ExitCode;

use anyhow::{bail, Context};

use demo_child::{DemoChild, SHARDS};
use pgbench::QueryMode;
use workload::{Load, Outcome, Scripts};

const SECS_ENV: &str = "SHARDWIRE_BENCH_SECS";
/// Clients through shardwire; the direct runs split them over the shards.
const KEYED_CLIENTS: u32 = 24;
const READ_CLIENTS: u32 = 8;
/// Clients of the transfer workloads.
const TRANSFER_CLIENTS: u32 = 16;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == demo_child::CHILD_ARG) {
        return demo_child::run(args.get(2).map_or("", String::as_str));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sharded bench: cannot build a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sharded bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One row of the report.
struct Row {
    what: String,
    proxied: Outcome,
    direct: Outcome,
    /// shardwire's CPU (user + system) per transaction, µs.
    cpu_us: f64,
    /// Routing's nanoseconds per transaction, if this row routes by key.
    routing_ns: Option<f64>,
}

async fn bench() -> anyhow::Result<()> {
    let secs: u64 = match std::env::var(SECS_ENV) {
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|&s| s > 0)
            .with_context(|| format!("{SECS_ENV}={v:?} is not a positive number"))?,
        Err(_) => 15,
    };
    let pgbench_bin = pgbench::binary()?;
    eprintln!("measuring routing cost in-process ...");
    let (route_simple_ns, route_prepared_ns) = routing_cost::per_transaction_ns()?;
    eprintln!(
        "starting the demo topology: {SHARDS} shards, one replica node (a minute or two) ..."
    );
    let mut demo = DemoChild::start().await?;
    let dir = tempfile::Builder::new()
        .prefix("shardwire-bench-sharded-work-")
        .tempdir()
        .context("creating a work dir")?;
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    let scripts = Scripts::write(dir.path(), SHARDS)?;
    let topo = &demo.topology;
    let (proxy, shard_ports, replica) =
        (topo.proxy_port, topo.shard_ports.clone(), topo.replica_port);

    let mut rows = Vec::new();
    for mode in [QueryMode::Simple, QueryMode::Prepared] {
        eprintln!(
            "keyed mix, {} protocol: warm-up, through shardwire, direct ...",
            mode.as_str()
        );
        let through = [Load {
            port: proxy,
            script: &scripts.keyed,
            clients: KEYED_CLIENTS,
        }];
        workload::run(&pgbench_bin, &through, mode, 3, &logs).await?;
        let cpu_before = procstat::cpu_seconds(demo.pid())?;
        let proxied = workload::run(&pgbench_bin, &through, mode, secs, &logs).await?;
        let cpu = procstat::cpu_seconds(demo.pid())? - cpu_before;
        demo.ensure_running()?;
        let direct_loads: Vec<Load> = shard_ports
            .iter()
            .zip(&scripts.keyed_on_shard)
            .map(|(&port, script)| Load {
                port,
                script,
                clients: KEYED_CLIENTS / SHARDS,
            })
            .collect();
        let direct = workload::run(&pgbench_bin, &direct_loads, mode, secs, &logs).await?;
        rows.push(Row {
            what: format!("keyed mix ({})", mode.as_str()),
            cpu_us: cpu * 1e6 / proxied.transactions.max(1) as f64,
            proxied,
            direct,
            routing_ns: Some(match mode {
                QueryMode::Simple => route_simple_ns,
                QueryMode::Prepared => route_prepared_ns,
            }),
        });
    }
    eprintln!("leaderboard read: through shardwire (replica cluster), direct to the replica ...");
    let through = [Load {
        port: proxy,
        script: &scripts.top10,
        clients: READ_CLIENTS,
    }];
    workload::run(&pgbench_bin, &through, QueryMode::Simple, 3, &logs).await?;
    let cpu_before = procstat::cpu_seconds(demo.pid())?;
    let proxied = workload::run(&pgbench_bin, &through, QueryMode::Simple, secs, &logs).await?;
    let cpu = procstat::cpu_seconds(demo.pid())? - cpu_before;
    let direct_read = [Load {
        port: replica,
        script: &scripts.top10,
        clients: READ_CLIENTS,
    }];
    let direct = workload::run(&pgbench_bin, &direct_read, QueryMode::Simple, secs, &logs).await?;
    rows.push(Row {
        what: "leaderboard top 10 (simple)".into(),
        cpu_us: cpu * 1e6 / proxied.transactions.max(1) as f64,
        proxied,
        direct,
        routing_ns: None,
    });
    demo.ensure_running()?;
    eprintln!("transfers: across two shards (two-phase commit), then within one shard ...");
    let mut transfers = Vec::new();
    for script in [&scripts.transfer_cross, &scripts.transfer_same] {
        let load = [Load {
            port: proxy,
            script,
            clients: TRANSFER_CLIENTS,
        }];
        workload::run(&pgbench_bin, &load, QueryMode::Simple, 3, &logs).await?;
        let cpu_before = procstat::cpu_seconds(demo.pid())?;
        let outcome = workload::run(&pgbench_bin, &load, QueryMode::Simple, secs, &logs).await?;
        let cpu = procstat::cpu_seconds(demo.pid())? - cpu_before;
        transfers.push((outcome, cpu));
    }
    demo.ensure_running()?;
    drop(demo);
    print(&rows, secs);
    print_transfers(&transfers);
    let failed: u64 = rows
        .iter()
        .map(|r| r.proxied.failed + r.direct.failed)
        .sum();
    if failed > 0 {
        bail!("{failed} transactions failed (see above)");
    }
    Ok(())
}

/// The cross-shard transfer against the same transfer on one shard, both
/// through shardwire in this run.
fn print_transfers(runs: &[(Outcome, f64)]) {
    let [(cross, cross_cpu), (same, same_cpu)] = runs else {
        return;
    };
    println!();
    println!(
        "transfer = BEGIN; UPDATE leaderboard -1 WHERE user_id = a; UPDATE … +1 WHERE user_id = b; END, {TRANSFER_CLIENTS} clients, simple protocol, through shardwire"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>14}",
        "workload", "tps", "p50 ms", "p99 ms", "sw CPU µs/tx"
    );
    for (what, o, cpu) in [
        ("transfer across shards (2PC)", cross, cross_cpu),
        ("transfer within one shard", same, same_cpu),
    ] {
        println!(
            "{:<34} {:>10.0} {:>10.2} {:>10.2} {:>14.1}",
            what,
            o.tps,
            o.percentile_ms(0.5),
            o.percentile_ms(0.99),
            cpu * 1e6 / o.transactions.max(1) as f64
        );
    }
    println!(
        "cross-shard / one-shard tps ratio: {:.2}",
        cross.tps / same.tps.max(1e-9)
    );
}

fn print(rows: &[Row], secs: u64) {
    println!();
    println!(
        "sharded bench: {SHARDS} shards + 1 replica node on this machine, {secs} s per run; \
         keyed mix = BEGIN; UPDATE leaderboard; SELECT users; INSERT … ON CONFLICT; END by user_id, \
         {KEYED_CLIENTS} clients through shardwire vs {SHARDS} × {} directly; leaderboard read with {READ_CLIENTS} clients",
        KEYED_CLIENTS / SHARDS
    );
    println!(
        "{:<30} {:>10} {:>10} {:>7} {:>17} {:>17} {:>12} {:>14}",
        "workload",
        "tps sw",
        "tps direct",
        "ratio",
        "p50 ms sw/direct",
        "p99 ms sw/direct",
        "sw CPU µs/tx",
        "routing share"
    );
    for r in rows {
        let share = r.routing_ns.map_or("-".to_string(), |ns| {
            format!("{:.1} µs {:.0}%", ns / 1000.0, ns / 10.0 / r.cpu_us)
        });
        println!(
            "{:<30} {:>10.0} {:>10.0} {:>7.2} {:>17} {:>17} {:>12.1} {:>14}",
            r.what,
            r.proxied.tps,
            r.direct.tps,
            r.proxied.tps / r.direct.tps.max(1e-9),
            format!(
                "{:.2}/{:.2}",
                r.proxied.percentile_ms(0.5),
                r.direct.percentile_ms(0.5)
            ),
            format!(
                "{:.2}/{:.2}",
                r.proxied.percentile_ms(0.99),
                r.direct.percentile_ms(0.99)
            ),
            r.cpu_us,
            share
        );
    }
    println!(
        "(routing share: the router's in-process time for the transaction's statements over shardwire's CPU per transaction)"
    );
}
