//! Three copies, kept: each shard a primary with two standbys under a
//! quorum (`ANY 1 (s1, s2)`). A killed primary leaves two copies with the
//! remaining standby synchronous to the new primary; a second failure of
//! the same shard loses nothing; a stopped standby stalls nothing; a
//! former primary re-attached with pg_rewind is adopted back as a copy
//! and can be promoted later.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::replicated::{user_on, Layout, Replicated};
use support::writers::{missing_on, spawn_writer, wait_for_successes, Log};

/// SHOW SHARDS columns.
const PRIMARY: usize = 1;
const STANDBYS: usize = 2;
const FENCED: usize = 3;
const COPIES: usize = 9;
const CONFIGURED: usize = 10;

async fn shard0(topo: &Replicated) -> Vec<Option<String>> {
    topo.admin("SHOW SHARDS").await.remove(0)
}

/// Waits until SHOW SHARDS' row of shard 0 satisfies `check`.
async fn wait_shard0(
    topo: &Replicated,
    what: &str,
    check: impl Fn(&[Option<String>]) -> bool,
) -> Vec<Option<String>> {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let row = shard0(topo).await;
        if check(&row) {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn port_of(text: &Option<String>) -> Option<u16> {
    text.as_deref()?.rsplit_once(':')?.1.parse().ok()
}

fn col(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// `(application_name, state, sync_state)` of every standby of `node`.
async fn replication_of(node: &shardwire_rig::Node) -> Vec<(String, String, String)> {
    let c = node.connect_superuser().await.expect("direct");
    c.query(
        "SELECT application_name, state, sync_state FROM pg_stat_replication",
        &[],
    )
    .await
    .expect("pg_stat_replication")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// Waits until `node` has `name` streaming as a synchronous (or quorum)
/// standby.
async fn wait_synchronous(node: &shardwire_rig::Node, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = replication_of(node).await;
        if rows.iter().any(|(n, state, sync)| {
            n == name && state == "streaming" && (sync == "sync" || sync == "quorum")
        }) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became a synchronous standby of {}: {rows:?}",
            node.name()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn node_by_port(topo: &Replicated, port: u16) -> shardwire_rig::Node {
    topo.node_at(port).clone()
}

async fn start_topology() -> Arc<Replicated> {
    let topo = Replicated::start(Layout {
        shards: 1,
        standbys: 2,
        sync: true,
        relay_shard0: false,
    })
    .await;
    topo.wait_monitored().await;
    Arc::new(topo)
}

/// Tests 1 and 2: kill -9 of the primary under writers → promoted, 2 of 3
/// copies, the remaining standby synchronous to the new primary; then
/// kill -9 of the new primary → promoted from the last copy; 0
/// acknowledged writes lost over both failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_failures_of_one_shard_lose_nothing() {
    let topo = start_topology().await;
    let row = wait_shard0(&topo, "three copies", |r| col(r, COPIES) == "3").await;
    assert_eq!(col(&row, CONFIGURED), "3");
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for i in 0..3 {
        writers.push(spawn_writer(
            topo.conn_str("app"),
            user_on(0, 1, i),
            stop.clone(),
            log.clone(),
            epoch,
        ));
    }
    wait_for_successes(&log, 20, Duration::from_secs(20)).await;

    // First failure.
    let first = topo.primaries[0].clone();
    first.kill().expect("kill primary");
    let row = wait_shard0(&topo, "a promotion", |r| {
        port_of(&r[PRIMARY]) != Some(first.port())
    })
    .await;
    let second = node_by_port(&topo, port_of(&row[PRIMARY]).expect("primary port"));
    let row = wait_shard0(&topo, "two copies", |r| col(r, COPIES) == "2").await;
    assert_eq!(col(&row, CONFIGURED), "3");
    let remaining_port = port_of(&row[STANDBYS]).expect("one standby left");
    let remaining = node_by_port(&topo, remaining_port);
    wait_synchronous(&second, remaining.name()).await;
    let before = log.successes.load(std::sync::atomic::Ordering::Relaxed);
    wait_for_successes(&log, before + 20, Duration::from_secs(30)).await;
    shardwire::metrics::snapshot::refresh(&topo.proxy.context);
    let metrics = topo.proxy.context.metrics.encode();
    assert!(
        metrics.contains("shardwire_shard_copies{shard=\"0\"} 2"),
        "{metrics}"
    );

    // Second failure of the same shard: the last copy is promoted.
    second.kill().expect("kill the new primary");
    wait_shard0(&topo, "a second promotion", |r| {
        port_of(&r[PRIMARY]) == Some(remaining_port)
    })
    .await;
    let before = log.successes.load(std::sync::atomic::Ordering::Relaxed);
    wait_for_successes(&log, before + 20, Duration::from_secs(30)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    let lost = missing_on(&remaining, &log).await;
    assert!(
        lost.is_empty(),
        "acknowledged writes lost over two failures: {lost:?} of {}",
        log.acked().len()
    );
    let row = wait_shard0(&topo, "one copy", |r| col(r, COPIES) == "1").await;
    assert_eq!(col(&row, CONFIGURED), "3");
    let failovers = topo.admin("SHOW FAILOVERS").await;
    let promoted = failovers
        .iter()
        .filter(|r| r[5].as_deref() == Some("promoted"))
        .count();
    assert_eq!(promoted, 2, "{failovers:#?}");
}

/// Test 3: one standby stopped while writers run → writes go on (the
/// quorum needs one of the two), the shard shows 2 of 3 copies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_standby_stalls_nothing() {
    let topo = start_topology().await;
    wait_shard0(&topo, "three copies", |r| col(r, COPIES) == "3").await;
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = spawn_writer(
        topo.conn_str("app"),
        user_on(0, 1, 0),
        stop.clone(),
        log.clone(),
        epoch,
    );
    wait_for_successes(&log, 10, Duration::from_secs(20)).await;
    topo.standbys[0][0].stop().expect("stop a standby");
    let before = log.successes.load(std::sync::atomic::Ordering::Relaxed);
    wait_for_successes(&log, before + 50, Duration::from_secs(20)).await;
    let row = wait_shard0(&topo, "two copies", |r| col(r, COPIES) == "2").await;
    assert_eq!(col(&row, CONFIGURED), "3");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer.await;
    assert!(
        log.errors().is_empty(),
        "writers saw errors: {:?}",
        log.errors()
    );
    let lost = missing_on(&topo.primaries[0], &log).await;
    assert!(lost.is_empty(), "{lost:?}");
    topo.standbys[0][0].start().expect("restart the standby");
    wait_shard0(&topo, "three copies again", |r| col(r, COPIES) == "3").await;
}

/// Test 4: the old primary re-attached with pg_rewind is adopted as a
/// standby (no restart, no config edit): 3 of 3 copies, in the new
/// primary's synchronous set, and promotable in a later failover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewound_former_primary_is_adopted_back() {
    let topo = start_topology().await;
    wait_shard0(&topo, "three copies", |r| col(r, COPIES) == "3").await;
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = spawn_writer(
        topo.conn_str("app"),
        user_on(0, 1, 0),
        stop.clone(),
        log.clone(),
        epoch,
    );
    wait_for_successes(&log, 10, Duration::from_secs(20)).await;
    let old = topo.primaries[0].clone();
    old.kill().expect("kill primary");
    let row = wait_shard0(&topo, "a promotion", |r| {
        port_of(&r[PRIMARY]) != Some(old.port())
    })
    .await;
    let new_primary = node_by_port(&topo, port_of(&row[PRIMARY]).expect("port"));
    assert!(
        col(&row, FENCED).contains(&old.port().to_string()),
        "{row:?}"
    );

    topo.rig
        .rejoin_with_rewind(&old, &new_primary)
        .await
        .expect("pg_rewind re-attach");
    let row = wait_shard0(&topo, "the old primary adopted back", |r| {
        col(r, COPIES) == "3" && col(r, STANDBYS).contains(&old.port().to_string())
    })
    .await;
    assert!(
        !col(&row, FENCED).contains(&old.port().to_string()),
        "{row:?}"
    );
    wait_synchronous(&new_primary, old.name()).await;

    // Promotable later: kill the new primary; one of the two standbys
    // (the adopted one among the candidates) takes over, nothing lost.
    new_primary.kill().expect("kill the new primary");
    let row = wait_shard0(&topo, "another promotion", |r| {
        port_of(&r[PRIMARY]) != Some(new_primary.port())
    })
    .await;
    let third = node_by_port(&topo, port_of(&row[PRIMARY]).expect("port"));
    let before = log.successes.load(std::sync::atomic::Ordering::Relaxed);
    wait_for_successes(&log, before + 10, Duration::from_secs(30)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer.await;
    let lost = missing_on(&third, &log).await;
    assert!(lost.is_empty(), "{lost:?}");
}
