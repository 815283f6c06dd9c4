//! The fleet bench: shardwire instances (release processes) coordinated
//! through a three-member etcd on loopback, in front of shards with a
//! synchronous standby each.
//!
//! 1. Failover through two instances: kill -9 of the primary under a
//!    writer on each instance; kill → first acknowledged write through
//!    each, over several runs (median printed).
//! 2. etcd load at steady state: requests per second of the whole fleet,
//!    idle and under a query load (it must not grow with the query rate).
//! 3. Scale: N instances (default 20): how long a topology change (a
//!    SWITCHOVER) takes to reach every instance, the controller's
//!    re-election after a kill -9, and etcd's requests per second.
//!
//! `bash scripts/bench.sh --fleet` (or `cargo bench -p shardwire-benches
//! --bench fleet -- [--runs N] [--instances N]`).

#[path = "fleet/instance.rs"]
mod instance;

use instance::{Instance, Topo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let runs = arg("--runs", 5);
    let scale = arg("--instances", 20);
    let mut per_instance: Vec<Vec<f64>> = vec![Vec::new(), Vec::new()];
    println!("== failover through two instances ({runs} runs) ==");
    for run in 0..runs {
        let topo = Topo::start(1).await?;
        let mut fleet = Vec::new();
        for i in 0..2 {
            fleet.push(Instance::start(&topo, i).await?);
        }
        instance::wait_formed(&fleet).await?;
        let times = failover_once(&topo, &fleet).await?;
        println!(
            "run {}: kill -> first acknowledged write: sw0 {:.2}s, sw1 {:.2}s",
            run + 1,
            times[0],
            times[1]
        );
        for (i, t) in times.into_iter().enumerate() {
            per_instance[i].push(t);
        }
        if run + 1 == runs {
            etcd_rate(&fleet).await?;
        }
    }
    for (i, v) in per_instance.iter_mut().enumerate() {
        println!(
            "failover through sw{i}: median {:.2}s (min {:.2}s, max {:.2}s, {} runs)",
            median(v),
            v.first().copied().unwrap_or(f64::NAN),
            v.last().copied().unwrap_or(f64::NAN),
            v.len()
        );
    }

    println!("== {scale} instances against a three-member etcd ==");
    // One shard with a standby per change: each SWITCHOVER moves the
    // primary to the next standby (the others are repointed to it).
    let topo = Topo::start_with(1, runs, false).await?;
    let mut fleet = Vec::new();
    for i in 0..scale {
        fleet.push(Instance::start(&topo, i).await?);
    }
    instance::wait_formed(&fleet).await?;
    let mut spread = Vec::new();
    let controller = instance::controller_index(&fleet).await?;
    for change in 0..runs {
        let target = topo.standbys[0][change].port();
        let asked = Instant::now();
        if let Err(e) = fleet[controller]
            .admin(&format!("SWITCHOVER 0 TO 127.0.0.1:{target}"))
            .await
        {
            println!(
                "topology change {}: switchover refused ({e}); skipped",
                change + 1
            );
            continue;
        }
        // SWITCHOVER returns once the controller published the new
        // primary: from here on it is the fleet's watch.
        let started = Instant::now();
        let switchover = started.duration_since(asked).as_secs_f64();
        let mut last = 0.0f64;
        for inst in &fleet {
            let t = inst
                .wait_primary(0, target, Duration::from_secs(60))
                .await?;
            last = last.max(t.duration_since(started).as_secs_f64());
        }
        println!(
            "topology change {}: switchover (handshake with all {scale}) {switchover:.3}s; published -> every instance routes to it {last:.3}s",
            change + 1
        );
        spread.push(last);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let max = spread.iter().copied().fold(0.0, f64::max);
    println!(
        "topology change to all {scale} instances: median {:.3}s, max {max:.3}s over {} changes",
        median(&mut spread),
        runs
    );
    let rate = instance::etcd_requests(&fleet).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rate = (instance::etcd_requests(&fleet).await - rate) as f64 / 10.0;
    println!(
        "etcd requests per second, {scale} instances at rest: {rate:.1} ({:.2} per instance)",
        rate / scale as f64
    );
    let killed = Instant::now();
    fleet[controller].kill9().await;
    let survivor = (controller + 1) % scale;
    loop {
        if let Some(name) = fleet[survivor].controller().await {
            if name != fleet[controller].name {
                println!(
                    "controller re-election after kill -9 of {}: {:.2}s (lease_ttl {})",
                    fleet[controller].name,
                    killed.elapsed().as_secs_f64(),
                    instance::LEASE_TTL
                );
                break;
            }
        }
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(60),
            "no new controller"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// When an INSERT was sent, and when it was acknowledged.
type Ack = (Instant, Instant);

/// Kills the primary under a writer per instance; returns, per instance,
/// the seconds from the kill to its first acknowledged write.
async fn failover_once(topo: &Topo, fleet: &[Instance]) -> anyhow::Result<Vec<f64>> {
    let stop = Arc::new(AtomicBool::new(false));
    let acks: Vec<Arc<Mutex<Vec<Ack>>>> = fleet.iter().map(|_| Arc::default()).collect();
    let mut writers = Vec::new();
    for (i, inst) in fleet.iter().enumerate() {
        let (conn, stop, acks) = (inst.conn_str("app"), stop.clone(), acks[i].clone());
        writers.push(tokio::spawn(async move {
            let mut client: Option<tokio_postgres::Client> = None;
            let mut seq = 0i64;
            while !stop.load(Ordering::Relaxed) {
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    match tokio_postgres::connect(&conn, tokio_postgres::NoTls).await {
                        Ok((c, connection)) => {
                            tokio::spawn(connection);
                            client = Some(c);
                        }
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    }
                }
                let Some(c) = client.as_ref() else { continue };
                seq += 1;
                let user = i as i64;
                let sent = Instant::now();
                if c.execute(
                    "INSERT INTO writes (user_id, seq) VALUES ($1, $2)",
                    &[&user, &seq],
                )
                .await
                .is_ok()
                {
                    acks.lock().map(|mut a| a.push((sent, Instant::now()))).ok();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    topo.kill_primary(0)?;
    // From the moment the primary is gone: only a write sent after that
    // can show the fleet serving the shard again.
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(60);
    let mut times = vec![None; fleet.len()];
    while times.iter().any(Option::is_none) && Instant::now() < deadline {
        for (i, a) in acks.iter().enumerate() {
            if times[i].is_none() {
                let first = a.lock().ok().and_then(|a| {
                    a.iter()
                        .find(|(sent, _)| *sent > killed)
                        .map(|(_, acked)| *acked)
                });
                times[i] = first.map(|t| t.duration_since(killed).as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    times
        .into_iter()
        .enumerate()
        .map(|(i, t)| t.ok_or_else(|| anyhow::anyhow!("no write through sw{i} within 60 s")))
        .collect()
}

/// Prints the fleet's etcd requests per second, idle and under load.
async fn etcd_rate(fleet: &[Instance]) -> anyhow::Result<()> {
    let window = Duration::from_secs(10);
    let before = instance::etcd_requests(fleet).await;
    tokio::time::sleep(window).await;
    let idle = (instance::etcd_requests(fleet).await - before) as f64 / window.as_secs_f64();
    let stop = Arc::new(AtomicBool::new(false));
    let queries = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut load = Vec::new();
    for inst in fleet {
        for _ in 0..4 {
            let (conn, stop, queries) = (inst.conn_str("app"), stop.clone(), queries.clone());
            load.push(tokio::spawn(async move {
                let Ok((c, connection)) =
                    tokio_postgres::connect(&conn, tokio_postgres::NoTls).await
                else {
                    return;
                };
                tokio::spawn(connection);
                while !stop.load(Ordering::Relaxed) {
                    if c.query("SELECT count(*) FROM writes WHERE user_id = $1", &[&1i64])
                        .await
                        .is_ok()
                    {
                        queries.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    let before = instance::etcd_requests(fleet).await;
    tokio::time::sleep(window).await;
    let busy = (instance::etcd_requests(fleet).await - before) as f64 / window.as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for l in load {
        let _ = l.await;
    }
    let qps = queries.load(Ordering::Relaxed) as f64 / window.as_secs_f64();
    println!(
        "etcd requests per second, 2 instances: idle {idle:.1}, under {qps:.0} queries/s {busy:.1}"
    );
    Ok(())
}
