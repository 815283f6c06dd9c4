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
use support::writers::{missing_on, spawn_writer, sqlstate, wait_for_successes, Log};

/// Every acknowledged row of `log` is on `shard_primary`.
async fn assert_nothing_lost(_fleet: &Fleet, shard_primary: &shardwire_rig::Node, log: &Log) {
    let lost = missing_on(shard_primary, log).await;
    assert!(
        lost.is_empty(),
        "acknowledged writes lost: {lost:?} (of {})",
        log.acked().len()
    );
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

/// Drill 3: the controller alone is cut off from shard 0's primary (its
/// control-plane login is refused there) while the other instance still
/// reaches it → no promotion, the refusal names the instance that still
/// sees the primary, and clients go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_cut_off_from_a_primary_causes_no_promotion() {
    let fleet = Fleet::start(FleetLayout::default()).await;
    let controller = fleet.controller_index().await;
    let primary = fleet.primaries[0].port();
    let su = fleet.primaries[0]
        .connect_superuser()
        .await
        .expect("superuser");
    su.batch_execute(&format!(
        "ALTER ROLE ctl{controller} NOLOGIN; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'ctl{controller}'"
    ))
    .await
    .expect("cut the controller off");
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let both: Vec<&Instance> = fleet.instances.iter().collect();
    let writers = Writers::start(&both, 0, 2, 1, 0, &log, epoch);

    // Long enough for several detection windows (3 failed checks each).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut refused = Vec::new();
    while Instant::now() < deadline {
        for i in &fleet.instances {
            assert_eq!(
                i.primary_port(0).await,
                Some(primary),
                "shard 0 was failed over"
            );
        }
        refused = fleet.instances[controller].admin("SHOW FAILOVERS").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    writers.stop().await;
    assert_eq!(promotions_of(&refused, 0), 0, "{refused:#?}");
    let other = &fleet.instances[1 - controller].name;
    assert!(
        refused.iter().any(|r| r[5].as_deref() == Some("refused")
            && r[8].as_deref().is_some_and(|d| d.contains(other.as_str()))),
        "no refusal naming {other}: {refused:#?}"
    );
    assert!(
        log.errors().is_empty(),
        "clients saw errors: {:?}",
        log.errors()
    );
    assert_nothing_lost(&fleet, &fleet.primaries[0].clone(), &log).await;
    su.batch_execute(&format!("ALTER ROLE ctl{controller} LOGIN"))
        .await
        .expect("restore");
}

/// Drill 4: etcd fully down → reads go on; after coordination_timeout
/// writes are refused with 57P03; a primary killed meanwhile is not
/// promoted; etcd back → the failover happens and writes resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_etcd_reads_go_on_writes_stop_and_nothing_is_promoted() {
    let fleet = Fleet::start(FleetLayout::default()).await;
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let both: Vec<&Instance> = fleet.instances.iter().collect();
    let writers = Writers::start(&both, 1, 2, 1, 0, &log, epoch);
    wait_for_successes(&log, 10, Duration::from_secs(20)).await;

    fleet.etcd.kill_all();
    let lost_at = epoch.elapsed().as_millis() as u64;
    // Writes are refused once coordination_timeout passes.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let refused = log.errors().iter().filter(|e| e.0 == "57P03").count();
        if refused >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes never refused: {:?}",
            log.errors()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last_ack = log.acked().iter().map(|a| a.2).max().unwrap_or(0);
    println!(
        "ETCD LOSS: last write acknowledged {:.2}s after etcd was killed (coordination_timeout {})",
        last_ack.saturating_sub(lost_at) as f64 / 1000.0,
        support::fleet::COORDINATION_TIMEOUT
    );
    // Reads go on, through both instances.
    for i in &fleet.instances {
        let c = i.try_client().await.expect("connect without etcd");
        let rows = c
            .query(
                "SELECT count(*) FROM writes WHERE user_id = $1",
                &[&user_on(1, 2, 0)],
            )
            .await
            .expect("read without etcd");
        assert!(rows[0].get::<_, i64>(0) > 0);
        // Each instance stops on its own clock (coordination_timeout after
        // etcd last answered it): wait for this one's refusal.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seq = -1i64;
        let e = loop {
            match c
                .execute(
                    "INSERT INTO writes (user_id, seq) VALUES ($1, $2)",
                    &[&user_on(1, 2, 0), &seq],
                )
                .await
            {
                Err(e) => break e,
                Ok(_) => {
                    assert!(
                        Instant::now() < deadline,
                        "{} still writes without etcd",
                        i.name
                    );
                    seq -= 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        assert_eq!(sqlstate(&e), "57P03", "{e}");
        let message = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        assert!(message.contains("coordination"), "{message}");
        let fleet_rows = i.admin("SHOW FLEET").await;
        assert!(
            fleet_rows
                .iter()
                .any(|r| r[4].as_deref().is_some_and(|c| c.starts_with("LOST"))),
            "{fleet_rows:#?}"
        );
        assert!(i.metrics().await.contains("shardwire_coordination_up 0"));
        let ready = i.http_get("/ready").await;
        assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
        assert!(ready.contains("\"coordination\":\"lost\""), "{ready}");
    }
    // A primary killed while etcd is down is not promoted.
    let primary = fleet.primaries[0].port();
    fleet.primaries[0].kill().expect("kill primary");
    tokio::time::sleep(Duration::from_secs(8)).await;
    for i in &fleet.instances {
        assert_eq!(
            i.primary_port(0).await,
            Some(primary),
            "promoted without etcd"
        );
    }
    // etcd back: the failover happens, writes resume.
    fleet.etcd.restart_all().await.expect("etcd back");
    let standby = fleet.standbys[0][0].port();
    fleet
        .wait_primary(0, standby, Duration::from_secs(45))
        .await;
    let before = log.successes.load(Ordering::Relaxed);
    wait_for_successes(&log, before + 10, Duration::from_secs(20)).await;
    writers.stop().await;
    let c = fleet.instances[0].try_client().await.expect("client");
    c.execute(
        "INSERT INTO writes (user_id, seq) VALUES ($1, 1)",
        &[&user_on(0, 2, 77)],
    )
    .await
    .expect("write to the new primary");
    let failovers = failovers_agree(&fleet).await;
    assert_eq!(promotions_of(&failovers, 0), 1, "{failovers:#?}");
    assert_nothing_lost(&fleet, &fleet.primaries[1].clone(), &log).await;
}

/// Drill 4, failsafe mode: with etcd down, writes go on while the
/// primaries' synchronous standbys stream from them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failsafe_keeps_writes_while_synchronous_standbys_stream() {
    let fleet = Fleet::start(FleetLayout {
        failsafe: true,
        ..FleetLayout::default()
    })
    .await;
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let both: Vec<&Instance> = fleet.instances.iter().collect();
    let writers = Writers::start(&both, 1, 2, 1, 0, &log, epoch);
    wait_for_successes(&log, 10, Duration::from_secs(20)).await;
    fleet.etcd.kill_all();
    // Well past coordination_timeout.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = log.successes.load(Ordering::Relaxed);
    wait_for_successes(&log, before + 20, Duration::from_secs(10)).await;
    for i in &fleet.instances {
        let fleet_rows = i.admin("SHOW FLEET").await;
        assert!(
            fleet_rows
                .iter()
                .any(|r| r[4].as_deref().is_some_and(|c| c.contains("failsafe"))),
            "{fleet_rows:#?}"
        );
    }
    writers.stop().await;
    assert!(
        log.errors().is_empty(),
        "writes failed in failsafe mode: {:?}",
        log.errors()
    );
    assert_nothing_lost(&fleet, &fleet.primaries[1].clone(), &log).await;
}

/// Drill 6: instance 0 is cut off from etcd (not from the databases)
/// while instance 1 switches shard 0 over → instance 0 acknowledges no
/// write after the new primary is published, nothing acknowledged is
/// lost, and once it hears etcd again it routes to the new primary.
async fn isolated_instance_acknowledges_nothing_after_the_new_primary(failsafe: bool) {
    let fleet = Fleet::start(FleetLayout {
        failsafe,
        relayed_etcd: vec![true, false],
        ..FleetLayout::default()
    })
    .await;
    let epoch = Instant::now();
    let log = Arc::new(Log::default());
    let writers = Writers::start(&[&fleet.instances[0]], 0, 2, 2, 0, &log, epoch);
    wait_for_successes(&log, 10, Duration::from_secs(20)).await;
    for relay in &fleet.instances[0].etcd_relays {
        relay.cut();
    }
    // Instance 1 becomes (or stays) the controller.
    let deadline = Instant::now() + Duration::from_secs(20);
    while fleet.instances[1].controller().await.as_deref() != Some("sw1") {
        assert!(Instant::now() < deadline, "sw1 never became the controller");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let standby = fleet.standbys[0][0].port();
    let result = fleet.instances[1]
        .try_admin(&format!("SWITCHOVER 0 TO 127.0.0.1:{standby}"))
        .await;
    assert!(result.is_ok(), "switchover: {result:?}");
    // Published: instance 1 routes to the new primary.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fleet.instances[1].primary_port(0).await != Some(standby) {
        assert!(Instant::now() < deadline, "switchover never published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let published_at = epoch.elapsed().as_millis() as u64;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let late: Vec<_> = log
        .acked()
        .into_iter()
        .filter(|a| a.2 > published_at)
        .collect();
    assert!(
        late.is_empty(),
        "the isolated instance acknowledged writes after the new primary was published: {late:?}"
    );
    // Nothing it acknowledged is missing on the new primary.
    assert_nothing_lost(&fleet, &fleet.standbys[0][0].clone(), &log).await;
    // etcd back for instance 0: it re-reads the topology and writes again.
    for relay in &fleet.instances[0].etcd_relays {
        relay.restore();
    }
    fleet
        .wait_primary(0, standby, Duration::from_secs(30))
        .await;
    let before = log.successes.load(Ordering::Relaxed);
    wait_for_successes(&log, before + 10, Duration::from_secs(30)).await;
    writers.stop().await;
    assert_nothing_lost(&fleet, &fleet.standbys[0][0].clone(), &log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instance_cut_off_from_etcd_acknowledges_no_write_after_a_new_primary() {
    isolated_instance_acknowledges_nothing_after_the_new_primary(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instance_cut_off_from_etcd_in_failsafe_acknowledges_no_write_after_a_new_primary() {
    isolated_instance_acknowledges_nothing_after_the_new_primary(true).await;
}

/// Drill 7: rolling restart (SIGTERM one instance, start it again, then
/// the other) while clients use a multi-host connection string → no
/// transaction fails in flight (a client only sees its connection closed
/// between transactions), every committed row is there, and both
/// instances end with the same topology.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_restart_fails_no_transaction_in_flight() {
    let mut fleet = Fleet::start(FleetLayout::default()).await;
    let multi = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=app password=app dbname=app connect_timeout=5",
        fleet.instances[0].port, fleet.instances[1].port
    );
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(Mutex::new(Vec::<(i64, i64)>::new()));
    let in_flight = Arc::new(Mutex::new(Vec::<String>::new()));
    let between = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for n in 0..4usize {
        let (multi, stop, committed, in_flight, between) = (
            multi.clone(),
            stop.clone(),
            committed.clone(),
            in_flight.clone(),
            between.clone(),
        );
        let user = user_on(n % 2, 2, 200 + n);
        clients.push(tokio::spawn(async move {
            let mut seq = 0i64;
            let mut client: Option<tokio_postgres::Client> = None;
            while !stop.load(Ordering::Relaxed) {
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    if client.is_some() {
                        // The instance closed it after the last commit.
                        between.fetch_add(1, Ordering::Relaxed);
                    }
                    match tokio_postgres::connect(&multi, tokio_postgres::NoTls).await {
                        Ok((c, conn)) => {
                            tokio::spawn(conn);
                            client = Some(c);
                        }
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    }
                }
                let Some(c) = client.as_ref() else { continue };
                // The transaction's first statement: a closed connection
                // here is a clean close between transactions.
                if let Err(e) = c.batch_execute("BEGIN").await {
                    let code = sqlstate(&e);
                    if code == "57P01" || code == "-" {
                        between.fetch_add(1, Ordering::Relaxed);
                    } else {
                        in_flight.lock().unwrap().push(format!("BEGIN: {e}"));
                    }
                    client = None;
                    continue;
                }
                seq += 1;
                let body = async {
                    c.execute(
                        "INSERT INTO writes (user_id, seq) VALUES ($1, $2)",
                        &[&user, &seq],
                    )
                    .await?;
                    c.query("SELECT count(*) FROM writes WHERE user_id = $1", &[&user])
                        .await?;
                    c.batch_execute("COMMIT").await
                };
                match body.await {
                    Ok(()) => committed.lock().unwrap().push((user, seq)),
                    Err(e) => {
                        in_flight
                            .lock()
                            .unwrap()
                            .push(format!("in a transaction: {e}"));
                        client = None;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..2 {
        let exited = fleet.instances[i].sigterm(Duration::from_secs(30)).await;
        assert!(exited, "instance {i} did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_secs(1)).await;
        fleet.instances[i].start().await;
        fleet.wait_formed().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let in_flight = in_flight.lock().unwrap().clone();
    assert!(
        in_flight.is_empty(),
        "transactions failed in flight: {in_flight:?}"
    );
    let committed = committed.lock().unwrap().clone();
    assert!(
        committed.len() > 50,
        "too little work done: {}",
        committed.len()
    );
    println!(
        "ROLLING RESTART: {} transactions committed, {} clean closes between transactions, 0 failed in flight",
        committed.len(),
        between.load(Ordering::Relaxed)
    );
    let mut users: Vec<i64> = committed.iter().map(|c| c.0).collect();
    users.sort();
    users.dedup();
    for user in users {
        let rows = fleet
            .rows_on(&fleet.primaries[(user % 2) as usize], user)
            .await;
        for (_, seq) in committed.iter().filter(|c| c.0 == user) {
            assert!(rows.contains(seq), "committed row ({user}, {seq}) missing");
        }
    }
    let a = fleet.instances[0].admin("SHOW SHARDS").await;
    let b = fleet.instances[1].admin("SHOW SHARDS").await;
    let roles = |rows: &Vec<Vec<Option<String>>>| -> Vec<(Option<String>, Option<String>)> {
        rows.iter().map(|r| (r[1].clone(), r[7].clone())).collect()
    };
    assert_eq!(
        roles(&a),
        roles(&b),
        "the instances disagree on the topology"
    );
}

/// Runs `etcdctl` against the drill's etcd.
async fn etcdctl(fleet: &Fleet, args: &[&str]) -> String {
    let mut cmd = tokio::process::Command::new("etcdctl");
    for (name, _) in std::env::vars() {
        if name.starts_with("ETCDCTL_") {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", fleet.etcd.endpoints().join(",")))
        .args(["--dial-timeout=2s", "--command-timeout=5s"])
        .args(args)
        .output()
        .await
        .expect("etcdctl (scripts/setup.sh installs etcd-client)");
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A controller that died between the handshake and the promotion left
/// an intent in etcd (candidate chosen, shard published without a
/// primary): the next controller re-checks the candidate on the node and
/// finishes the failover with that candidate. Then a SWITCHOVER asked on
/// an instance that is not the controller is carried out by the
/// controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unfinished_failover_is_finished_by_the_next_controller() {
    let mut fleet = Fleet::start(FleetLayout::default()).await;
    // The whole fleet goes down; then shard 0's primary dies, and etcd
    // holds what a controller writes just before pg_promote.
    fleet.instances[0].kill9().await;
    fleet.instances[1].kill9().await;
    let old = fleet.primaries[0].port();
    let candidate = fleet.standbys[0][0].port();
    fleet.primaries[0].kill().expect("kill primary");
    let node = |port: u16| format!("{{\"host\":\"127.0.0.1\",\"port\":{port}}}");
    let record = format!(
        "{{\"shard\":0,\"primary\":null,\"standbys\":[{}],\"fenced\":[],\"generation\":100}}",
        node(candidate)
    );
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let intent = format!(
        "{{\"shard\":0,\"kind\":\"failover\",\"step\":\"promoting\",\"old_primary\":{},\"candidate\":{},\"standbys\":[{}],\"fenced\":[],\"generation\":100,\"controller\":\"sw0\",\"started\":{started}}}",
        node(old),
        node(candidate),
        node(candidate)
    );
    etcdctl(&fleet, &["put", "/shardwire/drill/topology/0", &record]).await;
    etcdctl(&fleet, &["put", "/shardwire/drill/intents/0", &intent]).await;

    // The next controller finishes it.
    fleet.instances[1].start().await;
    fleet
        .wait_primary(0, candidate, Duration::from_secs(45))
        .await;
    let failovers = fleet.instances[1].admin("SHOW FAILOVERS").await;
    assert!(
        failovers.iter().any(|r| r[5].as_deref() == Some("promoted")
            && r[8]
                .as_deref()
                .is_some_and(|d| d.contains("finished the failover sw0 started"))),
        "{failovers:#?}"
    );
    assert!(
        etcdctl(&fleet, &["get", "/shardwire/drill/intents/0"])
            .await
            .trim()
            .is_empty(),
        "the intent was not cleared"
    );
    let c = fleet.instances[1].try_client().await.expect("client");
    c.execute(
        "INSERT INTO writes (user_id, seq) VALUES ($1, 1)",
        &[&user_on(0, 2, 9)],
    )
    .await
    .expect("write to the finished failover's primary");

    // A SWITCHOVER asked on the member is carried out by the controller.
    fleet.instances[0].start().await;
    fleet.wait_formed().await;
    let controller = fleet.controller_index().await;
    let member = 1 - controller;
    let target = fleet.standbys[1][0].port();
    let done = fleet.instances[member]
        .try_admin(&format!("SWITCHOVER 1 TO 127.0.0.1:{target}"))
        .await;
    assert!(done.is_ok(), "switchover asked on the member: {done:?}");
    fleet.wait_primary(1, target, Duration::from_secs(30)).await;
    let failovers = failovers_agree(&fleet).await;
    assert!(
        failovers.iter().any(|r| r[0].as_deref() == Some("1")
            && r[1].as_deref() == Some("switchover")
            && r[5].as_deref() == Some("promoted")),
        "{failovers:#?}"
    );
}
