//! Failover drills against real PostgreSQL: a shard primary killed under a
//! synchronous write load (nothing acknowledged is lost, other shards see
//! no error, the restarted old primary gets no traffic), a partition where
//! only shardwire lost the primary (no promotion), a planned switchover
//! under load (no client error), and a transaction open on a primary that
//! hangs (it ends with 08006 once the primary is replaced).

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::replicated::{user_on, Layout, Replicated};

/// What a writer saw.
#[derive(Default)]
struct Log {
    acknowledged: Mutex<Vec<(i64, i64)>>,
    errors: Mutex<Vec<String>>,
    successes: AtomicU64,
    /// Instant (as ms since the drill started) of the last success.
    last_success_ms: AtomicU64,
}

/// Inserts rows for `user_id` through the proxy until `stop`, one
/// autocommit INSERT at a time, reconnecting after a lost connection.
fn spawn_writer(
    topo: &Arc<Replicated>,
    user_id: i64,
    stop: Arc<AtomicBool>,
    log: Arc<Log>,
    epoch: Instant,
) -> tokio::task::JoinHandle<()> {
    let topo = topo.clone();
    tokio::spawn(async move {
        let mut seq = 0i64;
        let mut client = None;
        while !stop.load(Ordering::Relaxed) {
            if client.is_none() {
                match topo.try_client().await {
                    Ok(c) => client = Some(c),
                    Err(e) => {
                        log.errors.lock().unwrap().push(format!("connect: {e}"));
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
                    log.acknowledged.lock().unwrap().push((user_id, seq));
                    log.successes.fetch_add(1, Ordering::Relaxed);
                    log.last_success_ms
                        .store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    log.errors.lock().unwrap().push(format!(
                        "insert {seq} at {:?}: {e} (sqlstate {:?}: {:?})",
                        epoch.elapsed(),
                        e.code().map(|c| c.code().to_owned()),
                        e.as_db_error().map(|d| d.message().to_owned())
                    ));
                    if c.is_closed() {
                        client = None;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
}

async fn rows_on(node: &shardwire_rig::Node, user_id: i64) -> Vec<i64> {
    let c = node.connect("app", "app", "app").await.expect("direct");
    c.query("SELECT seq FROM writes WHERE user_id = $1", &[&user_id])
        .await
        .expect("read back")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn in_recovery(node: &shardwire_rig::Node) -> bool {
    let c = node.connect_superuser().await.expect("direct");
    c.query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .expect("recovery")
        .get(0)
}

async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_primary_is_replaced_without_losing_acknowledged_writes() {
    let topo = Arc::new(
        Replicated::start(Layout {
            shards: 2,
            standbys: 2,
            sync: true,
            relay_shard0: false,
        })
        .await,
    );
    topo.wait_monitored().await;
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let shard0 = Arc::new(Log::default());
    let shard1 = Arc::new(Log::default());
    let mut writers = Vec::new();
    for i in 0..3 {
        writers.push(spawn_writer(
            &topo,
            user_on(0, 2, i),
            stop.clone(),
            shard0.clone(),
            epoch,
        ));
    }
    writers.push(spawn_writer(
        &topo,
        user_on(1, 2, 0),
        stop.clone(),
        shard1.clone(),
        epoch,
    ));
    wait_until("writes on both shards", Duration::from_secs(20), || {
        shard0.successes.load(Ordering::Relaxed) >= 30
            && shard1.successes.load(Ordering::Relaxed) >= 10
    })
    .await;

    let old_primary = topo.primaries[0].clone();
    old_primary.kill().expect("kill -9 the primary");
    // Measured once every process of the node is gone: acknowledgements
    // after this point come from the new primary.
    let killed_at = epoch.elapsed();
    let before_kill = shard0.successes.load(Ordering::Relaxed);

    // The first acknowledged write after the kill.
    wait_until(
        "a write acknowledged after the kill",
        Duration::from_secs(45),
        || {
            shard0.last_success_ms.load(Ordering::Relaxed) > killed_at.as_millis() as u64
                && shard0.successes.load(Ordering::Relaxed) > before_kill
        },
    )
    .await;
    let recovered =
        Duration::from_millis(shard0.last_success_ms.load(Ordering::Relaxed)) - killed_at;
    println!(
        "FAILOVER kill -9 to first acknowledged write: {:.2} s",
        recovered.as_secs_f64()
    );
    assert!(
        recovered < Duration::from_secs(45),
        "mission bound is 45 s, took {recovered:?}"
    );

    // Keep writing a little on the new primary, then stop.
    let target = shard0.successes.load(Ordering::Relaxed) + 20;
    wait_until("writes on the new primary", Duration::from_secs(20), || {
        shard0.successes.load(Ordering::Relaxed) >= target
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }

    // A standby was promoted and is what shardwire routes to.
    let state = topo
        .proxy
        .context
        .topology
        .shard(0)
        .expect("shard 0")
        .clone();
    let new_port = state.primary().port;
    assert_ne!(new_port, old_primary.port());
    let new_primary = topo.node_at(new_port);
    assert!(
        !in_recovery(new_primary).await,
        "the new primary left recovery"
    );

    // Every acknowledged write is on the new primary.
    let acked = shard0.acknowledged.lock().unwrap().clone();
    assert!(acked.len() > 50);
    for i in 0..3 {
        let uid = user_on(0, 2, i);
        let present: std::collections::HashSet<i64> =
            rows_on(new_primary, uid).await.into_iter().collect();
        let missing: Vec<i64> = acked
            .iter()
            .filter(|(u, s)| *u == uid && !present.contains(s))
            .map(|(_, s)| *s)
            .collect();
        assert!(
            missing.is_empty(),
            "acknowledged rows of user {uid} lost: {missing:?}"
        );
    }
    // The other shard never saw an error.
    assert!(
        shard1.errors.lock().unwrap().is_empty(),
        "shard 1 saw errors: {:?}\nshard1 log:\n{}\nshard0_s1 log:\n{}",
        shard1.errors.lock().unwrap(),
        topo.primaries[1].log_tail(40),
        topo.standbys[0][0].log_tail(40),
    );
    let errors0 = shard0.errors.lock().unwrap().clone();
    println!("killed at {killed_at:?}; shard 0 errors: {errors0:#?}");
    println!(
        "shard 0 client errors during the failover: {}",
        errors0.len()
    );
    for e in &errors0 {
        assert!(
            e.contains("08006")
                || e.contains("08001")
                || e.contains("closed")
                || e.contains("connect"),
            "unexpected error class on shard 0: {e}"
        );
    }

    // The remaining standby follows the new primary.
    let other = topo.standbys[0]
        .iter()
        .find(|s| s.port() != new_port)
        .expect("second standby");
    let c = topo.client().await;
    c.execute("INSERT INTO writes (user_id, seq) VALUES (0, -1)", &[])
        .await
        .expect("write after failover");
    shardwire_rig::logical::wait_standby_caught_up(new_primary, other)
        .await
        .expect("the other standby replays from the new primary");
    assert!(rows_on(other, 0).await.contains(&-1));

    // SHOW FAILOVERS and /metrics tell the story.
    let failovers = topo.admin("SHOW FAILOVERS").await;
    let promoted: Vec<_> = failovers
        .iter()
        .filter(|r| r[0].as_deref() == Some("0") && r[5].as_deref() == Some("promoted"))
        .collect();
    assert_eq!(promoted.len(), 1, "{failovers:?}");
    assert_eq!(
        promoted[0][4].as_deref(),
        Some(format!("127.0.0.1:{new_port}").as_str())
    );
    let metrics = fetch_metrics(&topo).await;
    assert!(
        metrics.contains(
            "shardwire_failovers_total{kind=\"failover\",outcome=\"promoted\",shard=\"0\"} 1"
        ),
        "{metrics}"
    );

    // Drill 5: the old primary comes back, still a primary on the old
    // timeline: it is fenced and gets no traffic.
    old_primary.start().expect("restart the old primary");
    assert!(!in_recovery(&old_primary).await);
    let old_rows = rows_on(&old_primary, 0).await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for seq in 1000i64..1020 {
        c.execute("INSERT INTO writes (user_id, seq) VALUES (0, $1)", &[&seq])
            .await
            .expect("write with the old primary back");
        let port: String = c
            .query_one(
                "SELECT current_setting('port') FROM writes WHERE user_id = $1 LIMIT 1",
                &[&0i64],
            )
            .await
            .expect("port")
            .get(0);
        assert_eq!(
            port,
            new_port.to_string(),
            "traffic went to the fenced node"
        );
    }
    assert_eq!(
        rows_on(&old_primary, 0).await.len(),
        old_rows,
        "the fenced node got writes"
    );
    let nodes = topo.admin("SHOW NODES").await;
    let old_row = nodes
        .iter()
        .find(|r| r[0].as_deref() == Some(format!("127.0.0.1:{}", old_primary.port()).as_str()))
        .expect("old primary in SHOW NODES");
    assert_eq!(old_row[1].as_deref(), Some("fenced"), "{nodes:?}");
}

async fn fetch_metrics(topo: &Replicated) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = topo.proxy.metrics_addr.expect("metrics listener");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("metrics");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    s.read_to_string(&mut body).await.expect("response");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_cut_off_from_shardwire_only_is_not_promoted() {
    let topo = Replicated::start(Layout {
        shards: 1,
        standbys: 1,
        sync: false,
        relay_shard0: true,
    })
    .await;
    topo.wait_monitored().await;
    let relay = topo.relay.as_ref().expect("relay");
    relay.cut();
    // Well past the failure threshold (3 checks at 1 s).
    let state = topo.proxy.context.topology.shard(0).expect("shard").clone();
    wait_until(
        "the shard to be judged unreachable",
        Duration::from_secs(20),
        || state.phase() == shardwire::topology::ShardPhase::Unreachable,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(state.phase(), shardwire::topology::ShardPhase::Unreachable);
    assert!(
        in_recovery(&topo.standbys[0][0]).await,
        "the standby must not be promoted"
    );
    assert_eq!(state.generation(), 0, "routing must not change");
    let failovers = topo.admin("SHOW FAILOVERS").await;
    assert_eq!(failovers.len(), 1, "{failovers:?}");
    assert_eq!(failovers[0][5].as_deref(), Some("refused"));
    assert!(
        failovers[0][8]
            .as_deref()
            .unwrap_or("")
            .contains("still streams"),
        "{failovers:?}"
    );

    // The link comes back: the shard serves again through the same primary.
    relay.restore();
    wait_until("the shard to serve again", Duration::from_secs(20), || {
        state.phase() == shardwire::topology::ShardPhase::Serving
    })
    .await;
    let c = topo.client().await;
    c.execute("INSERT INTO writes (user_id, seq) VALUES (0, 1)", &[])
        .await
        .expect("write after the partition healed");
    assert_eq!(rows_on(&topo.primaries[0], 0).await, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_switchover_under_load_gives_no_client_error() {
    let topo = Arc::new(
        Replicated::start(Layout {
            shards: 2,
            standbys: 2,
            sync: true,
            relay_shard0: false,
        })
        .await,
    );
    topo.wait_monitored().await;
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Log::default());
    let mut tasks = Vec::new();
    for i in 0..3 {
        tasks.push(spawn_writer(
            &topo,
            user_on(0, 2, i),
            stop.clone(),
            log.clone(),
            epoch,
        ));
    }
    tasks.push(spawn_writer(
        &topo,
        user_on(1, 2, 0),
        stop.clone(),
        log.clone(),
        epoch,
    ));
    // Readers in explicit transactions on shard 0.
    let reads = Arc::new(AtomicU64::new(0));
    for _ in 0..2 {
        let topo = topo.clone();
        let stop = stop.clone();
        let log = log.clone();
        let reads = reads.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = topo.client().await;
            while !stop.load(Ordering::Relaxed) {
                let result = async {
                    let tx = c.transaction().await?;
                    tx.query("SELECT count(*) FROM writes WHERE user_id = $1", &[&0i64])
                        .await?;
                    tx.commit().await
                }
                .await;
                match result {
                    Ok(()) => {
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => log.errors.lock().unwrap().push(format!("read: {e}")),
                }
            }
        }));
    }
    wait_until("load to run", Duration::from_secs(20), || {
        log.successes.load(Ordering::Relaxed) >= 40 && reads.load(Ordering::Relaxed) >= 20
    })
    .await;

    let old_port = topo.primaries[0].port();
    // Name the standby that takes over (the other one is repointed).
    let target = topo.standbys[0][1].port();
    let rows = topo
        .admin(&format!("SWITCHOVER 0 TO 127.0.0.1:{target}"))
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let new_port = topo
        .proxy
        .context
        .topology
        .shard(0)
        .expect("shard")
        .primary()
        .port;
    assert_ne!(new_port, old_port);
    assert_eq!(new_port, target, "the named standby was promoted");
    println!(
        "SWITCHOVER paused shard 0 for {} s",
        rows[0][3].as_deref().unwrap_or("?")
    );

    let target = log.successes.load(Ordering::Relaxed) + 40;
    wait_until(
        "writes after the switchover",
        Duration::from_secs(30),
        || log.successes.load(Ordering::Relaxed) >= target,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("load task");
    }
    let errors = log.errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "clients saw errors: {errors:?}");
    let new_primary = topo.node_at(new_port);
    assert!(!in_recovery(new_primary).await);
    let acked = log.acknowledged.lock().unwrap().clone();
    for i in 0..3 {
        let uid = user_on(0, 2, i);
        let present: std::collections::HashSet<i64> =
            rows_on(new_primary, uid).await.into_iter().collect();
        assert!(
            acked
                .iter()
                .filter(|(u, _)| *u == uid)
                .all(|(_, s)| present.contains(s)),
            "acknowledged rows of {uid} missing on the new primary"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_promoted_behind_shardwires_back_is_adopted_and_the_old_primary_fenced() {
    // As after a restart of shardwire with the configuration from before
    // a failover: the "standby" is a primary on a newer timeline.
    let topo = Replicated::start(Layout {
        shards: 1,
        standbys: 1,
        sync: false,
        relay_shard0: false,
    })
    .await;
    topo.wait_monitored().await;
    let standby = &topo.standbys[0][0];
    standby
        .connect_superuser()
        .await
        .expect("standby")
        .batch_execute("SELECT pg_promote(true, 30)")
        .await
        .expect("promote by hand");
    let state = topo.proxy.context.topology.shard(0).expect("shard").clone();
    wait_until(
        "routing to move to the newer timeline",
        Duration::from_secs(20),
        || state.primary().port == standby.port(),
    )
    .await;
    let failovers = topo.admin("SHOW FAILOVERS").await;
    assert!(
        failovers.iter().any(|r| r[5].as_deref() == Some("adopted")),
        "{failovers:?}"
    );
    // The old primary is fenced and made read-only.
    let old = &topo.primaries[0];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ro: String = old
            .connect_superuser()
            .await
            .expect("old primary")
            .query_one("SHOW default_transaction_read_only", &[])
            .await
            .expect("show")
            .get(0);
        if ro == "on" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old primary was never made read-only"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = topo.client().await;
    c.execute("INSERT INTO writes (user_id, seq) VALUES (0, 1)", &[])
        .await
        .expect("writes go to the adopted primary");
    assert_eq!(rows_on(standby, 0).await, vec![1]);
}

/// Continues a paused node when dropped, so a failed assertion does not
/// leave stopped processes the rig cannot stop.
struct ResumeOnDrop(shardwire_rig::Node);

impl Drop for ResumeOnDrop {
    fn drop(&mut self) {
        let _ = self.0.resume();
    }
}

/// A transaction open on a primary that hangs (SIGSTOP of the postmaster
/// and its backends: sockets open, nothing answers) ends with 08006 as
/// soon as the shard is failed over, instead of waiting until TCP gives
/// up: shardwire shuts down the server connections still open to the
/// replaced primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_on_a_hung_primary_ends_with_08006_once_it_is_replaced() {
    let topo = Replicated::start(Layout {
        shards: 1,
        standbys: 2,
        sync: true,
        relay_shard0: false,
    })
    .await;
    // A hung primary's standbys must stop counting as streaming for the
    // promotion to go ahead: give up on a silent upstream after 2 s (the
    // default is 60 s).
    for standby in &topo.standbys[0] {
        let c = standby.connect_superuser().await.expect("standby");
        c.batch_execute("ALTER SYSTEM SET wal_receiver_timeout = '2s'")
            .await
            .expect("wal_receiver_timeout");
        c.batch_execute("SELECT pg_reload_conf()")
            .await
            .expect("reload");
    }
    topo.wait_monitored().await;

    let client = topo.client().await;
    client
        .batch_execute("BEGIN; INSERT INTO writes (user_id, seq) VALUES (0, 1);")
        .await
        .expect("open a transaction on the primary");

    let state = topo.proxy.context.topology.shard(0).expect("shard").clone();
    let generation = state.generation();
    let old_primary = topo.primaries[0].clone();
    old_primary.pause().expect("SIGSTOP the primary");
    let resume = ResumeOnDrop(old_primary.clone());

    // The transaction's next statement goes to the hung primary and waits.
    let pending = tokio::spawn(async move {
        client
            .execute("INSERT INTO writes (user_id, seq) VALUES (0, 2)", &[])
            .await
    });
    wait_until(
        "the hung primary to be replaced",
        Duration::from_secs(60),
        || state.generation() != generation,
    )
    .await;
    // Generous: without the fix it waits for TCP (many minutes).
    let result = tokio::time::timeout(Duration::from_secs(60), pending)
        .await
        .expect("the open transaction still hangs 60 s after the failover")
        .expect("client task");
    let error = result.expect_err("a statement on the replaced primary cannot succeed");
    assert_eq!(
        support::sqlstate(&error).as_deref(),
        Some("08006"),
        "unexpected error: {error:?}"
    );
    let message = error
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        message.contains("former primary") && message.contains(&format!(":{}", old_primary.port())),
        "the error names the replaced node, not the new primary: {message}"
    );
    let servers = topo.proxy.context.servers.clone();
    wait_until(
        "every connection to the replaced primary to close",
        Duration::from_secs(10),
        || servers.entries().iter().all(|s| !s.close_needed()),
    )
    .await;

    // New transactions go to the new primary; the old one, continued, is
    // fenced and gets nothing.
    drop(resume);
    let c = topo.client().await;
    c.execute("INSERT INTO writes (user_id, seq) VALUES (0, 3)", &[])
        .await
        .expect("write on the new primary");
    let new_port = state.primary().port;
    assert_ne!(new_port, old_primary.port());
    assert_eq!(rows_on(topo.node_at(new_port), 0).await, vec![3]);
}
