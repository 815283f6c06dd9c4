//! Cross-shard transfers while a shard's primary is killed (`kill -9`):
//! three shards, each a primary with a synchronous standby; eight clients
//! move points between accounts on different shards; shard 1's primary
//! dies mid-run and its standby is promoted. Transfers touching it wait or
//! fail cleanly; afterwards the sum of the balances is unchanged and
//! nothing is left prepared on any shard's (current) primary.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::replicated::{Layout, Replicated};
use tokio_postgres::Client;

const SHARDS: usize = 3;
const ACCOUNTS: i64 = 30;
const START_BALANCE: i64 = 1000;

/// A direct connection to shard `k`'s primary as shardwire routes now.
async fn current_primary(t: &Replicated, k: usize) -> Client {
    let port = t
        .proxy
        .context
        .topology
        .shard(k as u32)
        .expect("shard")
        .primary()
        .port;
    t.node_at(port)
        .connect("app", "app", "app")
        .await
        .expect("current primary")
}

async fn one_value(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.expect(sql).get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_survive_the_kill_of_a_shard_primary() {
    let t = Replicated::start(Layout {
        shards: SHARDS,
        standbys: 1,
        sync: true,
        relay_shard0: false,
    })
    .await;
    for k in 0..SHARDS {
        t.primaries[k]
            .connect("app", "app", "app")
            .await
            .expect("primary")
            .batch_execute(&format!(
                "CREATE TABLE accounts (user_id bigint PRIMARY KEY, balance bigint NOT NULL, \
                 CHECK (user_id % {SHARDS} = {k}))"
            ))
            .await
            .expect("accounts");
    }
    let setup = t.client().await;
    for id in 0..ACCOUNTS {
        setup
            .execute(
                "INSERT INTO accounts (user_id, balance) VALUES ($1, $2)",
                &[&id, &START_BALANCE],
            )
            .await
            .expect("account");
    }
    t.wait_monitored().await;

    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let killed_at_ms = Arc::new(AtomicU64::new(u64::MAX));
    let after_kill = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..8u64 {
        let conn_str = t.conn_str("app");
        let (stop, committed, failed) = (stop.clone(), committed.clone(), failed.clone());
        let (killed_at_ms, after_kill) = (killed_at_ms.clone(), after_kill.clone());
        workers.push(tokio::spawn(async move {
            let mut seed = w * 104_729 + 3;
            let mut client: Option<Client> = None;
            while !stop.load(Ordering::Relaxed) {
                let c = match client.as_ref().filter(|c| !c.is_closed()) {
                    Some(c) => c,
                    None => match tokio_postgres::connect(&conn_str, tokio_postgres::NoTls).await {
                        Ok((c, conn)) => {
                            tokio::spawn(conn);
                            client = Some(c);
                            continue;
                        }
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let a = ((seed >> 33) as i64) % ACCOUNTS;
                // Another shard, and the lower id first (no deadlocks).
                let b = (a + 1 + ((seed >> 13) as i64 % 2)) % ACCOUNTS;
                let (lo, hi) = (a.min(b), a.max(b));
                let amount = (seed >> 40) as i64 % 20 + 1;
                let statements = [
                    "BEGIN".to_string(),
                    format!(
                        "UPDATE accounts SET balance = balance - {amount} WHERE user_id = {lo}"
                    ),
                    format!(
                        "UPDATE accounts SET balance = balance + {amount} WHERE user_id = {hi}"
                    ),
                    "COMMIT".to_string(),
                ];
                let mut ok = true;
                for s in &statements {
                    if c.batch_execute(s).await.is_err() {
                        ok = false;
                        let _ = c.batch_execute("ROLLBACK").await;
                        break;
                    }
                }
                if ok {
                    committed.fetch_add(1, Ordering::Relaxed);
                    if epoch.elapsed().as_millis() as u64 > killed_at_ms.load(Ordering::Relaxed) {
                        after_kill.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        committed.load(Ordering::Relaxed) > 0,
        "no transfer before the kill"
    );
    t.primaries[1].kill().expect("kill -9 shard 1's primary");
    killed_at_ms.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    // Until transfers commit again after the failover, and a little more.
    let deadline = Instant::now() + Duration::from_secs(60);
    while after_kill.load(Ordering::Relaxed) < 50 {
        assert!(
            Instant::now() < deadline,
            "no transfers after the failover ({} committed before)",
            committed.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    println!(
        "transfers committed: {}, failed cleanly: {}, after the kill: {}",
        committed.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        after_kill.load(Ordering::Relaxed)
    );
    assert_ne!(
        t.proxy
            .context
            .topology
            .shard(1)
            .expect("shard 1")
            .primary()
            .port,
        t.primaries[1].port(),
        "shard 1 failed over"
    );
    // Whatever the kill left prepared is finished by the resolver.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut left = 0;
        for k in 0..SHARDS {
            left += one_value(
                &current_primary(&t, k).await,
                "SELECT count(*) FROM pg_prepared_xacts",
            )
            .await;
        }
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} still prepared after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut total = 0;
    for k in 0..SHARDS {
        total += one_value(
            &current_primary(&t, k).await,
            "SELECT coalesce(sum(balance), 0)::bigint FROM accounts",
        )
        .await;
    }
    assert_eq!(total, ACCOUNTS * START_BALANCE, "no transfer half done");
}
