//! Fleet drills: two shardwire processes coordinated through a real
//! three-member etcd cluster, in front of real PostgreSQL shards with
//! synchronous standbys, with writers going through both instances.
//! Each drill ends with an acknowledged-write check on the shard's
//! current primary.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::fleet::{Fleet, FleetLayout, Instance};
use support::replicated::user_on;

/// What a writer saw.
#[derive(Default)]
struct Log {
    /// (user_id, seq, ms since the drill's epoch when acknowledged).
    acknowledged: Mutex<Vec<(i64, i64, u64)>>,
    /// (SQLSTATE or "-", message).
    errors: Mutex<Vec<(String, String)>>,
    successes: AtomicU64,
}

impl Log {
    fn acked(&self) -> Vec<(i64, i64, u64)> {
        self.acknowledged.lock().unwrap().clone()
    }

    fn errors(&self) -> Vec<(String, String)> {
        self.errors.lock().unwrap().clone()
    }

    /// The first acknowledgement at or after `ms`.
    fn first_ack_after(&self, ms: u64) -> Option<u64> {
        self.acked().iter().map(|a| a.2).filter(|&t| t >= ms).min()
    }
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map_or("-".into(), |c| c.code().to_owned())
}

/// Inserts rows for `user_id` through `conn_str` until `stop`, one
/// autocommit INSERT at a time, reconnecting after a lost connection.
fn spawn_writer(
    conn_str: String,
    user_id: i64,
    stop: Arc<AtomicBool>,
    log: Arc<Log>,
    epoch: Instant,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seq = 0i64;
        let mut client: Option<tokio_postgres::Client> = None;
        while !stop.load(Ordering::Relaxed) {
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                match tokio_postgres::connect(&conn_str, tokio_postgres::NoTls).await {
                    Ok((c, conn)) => {
                        tokio::spawn(conn);
                        client = Some(c);
                    }
                    Err(e) => {
                        log.errors
                            .lock()
                            .unwrap()
                            .push((sqlstate(&e), format!("connect: {e}")));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
            }
            let Some(c) = client.as_ref() else { continue };
            seq += 1;
            match c
                .execute(
                    "INSERT INTO writes (user_id, seq) VALUES ($1, $2)",
                    &[&user_id, &seq],
                )
                .await
            {
                Ok(_) => {
                    let at = epoch.elapsed().as_millis() as u64;
                    log.acknowledged.lock().unwrap().push((user_id, seq, at));
                    log.successes.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    log.errors
                        .lock()
                        .unwrap()
                        .push((sqlstate(&e), e.to_string()));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

/// Every acknowledged row of `log` for shard `shard` is on its primary.
async fn assert_nothing_lost(fleet: &Fleet, shard_primary: &shardwire_rig::Node, log: &Log) {
    let acked = log.acked();
    let mut users: Vec<i64> = acked.iter().map(|a| a.0).collect();
    users.sort();
    users.dedup();
    let mut lost = Vec::new();
    for user in users {
        let present = fleet.rows_on(shard_primary, user).await;
        for (u, seq, _) in acked.iter().filter(|a| a.0 == user) {
            if !present.contains(seq) {
                lost.push((*u, *seq));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "acknowledged writes lost: {lost:?} (of {})",
        acked.len()
    );
}

async fn wait_for_successes(log: &Log, more_than: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while log.successes.load(Ordering::Relaxed) <= more_than {
        assert!(
            Instant::now() < deadline,
            "writers made no progress; errors: {:?}",
            log.errors()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Same rows of SHOW FAILOVERS on every running instance (waits for the
/// shared log to reach them all).
async fn failovers_agree(fleet: &Fleet) -> Vec<Vec<Option<String>>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut all = Vec::new();
        for i in fleet.instances.iter().filter(|i| i.is_running()) {
            all.push(i.admin("SHOW FAILOVERS").await);
        }
        if all.windows(2).all(|w| w[0] == w[1]) {
            return all.into_iter().next().unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "SHOW FAILOVERS differs: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn promotions_of(rows: &[Vec<Option<String>>], shard: usize) -> usize {
    rows.iter()
        .filter(|r| {
            r[0].as_deref() == Some(&shard.to_string()) && r[5].as_deref() == Some("promoted")
        })
        .count()
}

struct Writers {
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    fn start(
        instances: &[&Instance],
        shard: usize,
        shards: usize,
        per_instance: usize,
        first_user: usize,
        log: &Arc<Log>,
        epoch: Instant,
    ) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        let mut n = first_user;
        for instance in instances {
            for _ in 0..per_instance {
                handles.push(spawn_writer(
                    instance.conn_str("app"),
                    user_on(shard, shards, n),
                    stop.clone(),
                    log.clone(),
                    epoch,
                ));
                n += 1;
            }
        }
        Writers { stop, handles }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

/// Drills 1 and 5: kill -9 of shard 0's primary under writers going
/// through both instances → exactly one promotion, the same SHOW FAILOVERS
/// on both, both route to the new primary, nothing acknowledged lost, the
/// other shard sees no error; then an instance restarted with its original
/// config file routes to the new primary at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_primary_is_promoted_once_for_the_whole_fleet() {
    let mut fleet = Fleet::start(FleetLayout::default()).await;
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let other = Arc::new(Log::default());
    let both: Vec<&Instance> = fleet.instances.iter().collect();
    let writers = Writers::start(&both, 0, 2, 2, 0, &log, epoch);
    let bystanders = Writers::start(&both, 1, 2, 1, 100, &other, epoch);
    wait_for_successes(&log, 20, Duration::from_secs(20)).await;
    let standby = fleet.standbys[0][0].port();

    let killed_at = epoch.elapsed().as_millis() as u64;
    fleet.primaries[0].kill().expect("kill primary");
    let took = fleet
        .wait_primary(0, standby, Duration::from_secs(45))
        .await;
    let before = log.successes.load(Ordering::Relaxed);
    wait_for_successes(&log, before + 20, Duration::from_secs(20)).await;
    writers.stop().await;
    bystanders.stop().await;

    let first = log.first_ack_after(killed_at + 1).map(|t| t - killed_at);
    println!(
        "FLEET FAILOVER: kill -> every instance routes to the new primary {:.2}s; kill -> first acknowledged write {:.2}s",
        took.as_secs_f64(),
        first.unwrap_or(0) as f64 / 1000.0
    );
    let failovers = failovers_agree(&fleet).await;
    assert_eq!(
        promotions_of(&failovers, 0),
        1,
        "exactly one promotion expected: {failovers:#?}"
    );
    let new_primary = fleet.standbys[0][0].clone();
    assert_nothing_lost(&fleet, &new_primary, &log).await;
    assert!(
        other.errors().is_empty(),
        "the other shard's writers saw errors: {:?}",
        other.errors()
    );
    assert_nothing_lost(&fleet, &fleet.primaries[1].clone(), &other).await;
    for i in &fleet.instances {
        let shards = i.admin("SHOW SHARDS").await;
        assert_eq!(
            shards[0][1].as_deref(),
            Some(format!("127.0.0.1:{standby}").as_str())
        );
        assert!(i.metrics().await.contains("shardwire_coordination_up 1"));
    }

    // Drill 5: restart instance 1 with its original file: it must route
    // to the new primary at once (the topology comes from etcd).
    fleet.instances[1].kill9().await;
    fleet.instances[1].start().await;
    assert_eq!(fleet.instances[1].primary_port(0).await, Some(standby));
    let c = fleet.instances[1].try_client().await.expect("client");
    c.execute(
        "INSERT INTO writes (user_id, seq) VALUES ($1, 1000000)",
        &[&user_on(0, 2, 50)],
    )
    .await
    .expect("write after restart");
    assert_eq!(
        fleet.rows_on(&new_primary, user_on(0, 2, 50)).await,
        vec![1000000]
    );
}

/// Drill 2: kill -9 of a primary and, right after, of the controller
/// instance → the other instance becomes the controller and completes the
/// failover (one promotion), nothing acknowledged lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn controller_killed_after_a_primary_is_replaced_and_the_failover_completes() {
    let mut fleet = Fleet::start(FleetLayout::default()).await;
    let controller = fleet.controller_index().await;
    let survivor = 1 - controller;
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let both: Vec<&Instance> = fleet.instances.iter().collect();
    let writers = Writers::start(&both, 0, 2, 2, 0, &log, epoch);
    wait_for_successes(&log, 20, Duration::from_secs(20)).await;
    let standby = fleet.standbys[0][0].port();

    let killed_at = epoch.elapsed().as_millis() as u64;
    fleet.primaries[0].kill().expect("kill primary");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    fleet.instances[controller].kill9().await;
    let took = fleet
        .wait_primary(0, standby, Duration::from_secs(45))
        .await;
    let before = log.successes.load(Ordering::Relaxed);
    wait_for_successes(&log, before + 10, Duration::from_secs(20)).await;
    writers.stop().await;
    let first = log.first_ack_after(killed_at + 1).map(|t| t - killed_at);
    println!(
        "CONTROLLER LOSS: kill primary, then the controller 1.5s later -> the survivor routes to the new primary {:.2}s after the primary's kill; first acknowledged write {:.2}s",
        took.as_secs_f64() + 1.5,
        first.unwrap_or(0) as f64 / 1000.0
    );
    assert_eq!(
        fleet.instances[survivor].controller().await.as_deref(),
        Some(fleet.instances[survivor].name.as_str())
    );
    let failovers = failovers_agree(&fleet).await;
    assert_eq!(promotions_of(&failovers, 0), 1, "{failovers:#?}");
    assert_nothing_lost(&fleet, &fleet.standbys[0][0].clone(), &log).await;
}
