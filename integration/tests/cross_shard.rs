//! Transactions and statements that write on several shards, atomic
//! through two-phase commit, against six real shards: random transfers
//! between accounts on different shards keep the total; a participant's
//! failure (at a statement, or at PREPARE) rolls every shard back and
//! names the shard; unkeyed UPDATE/DELETE run everywhere or nowhere; an
//! instance that stops at any step of a commit leaves nothing half done
//! once the resolver (the same instance, or a fresh one) has looked;
//! transfers in opposite orders do not hang past the lock timeout.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::sharded::{shard_of, Sharded, ShardedOptions, SHARDS};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const ACCOUNTS: i64 = 30;
const START_BALANCE: i64 = 1000;

/// `accounts` on every shard (each row checked onto its shard), every
/// account at the starting balance.
async fn with_accounts(t: &Sharded) {
    for k in 0..SHARDS as usize {
        let c = t.shard(k).await;
        c.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS accounts (user_id bigint PRIMARY KEY, \
             balance bigint NOT NULL CHECK (balance >= 0), \
             CHECK (((user_id % 6) + 6) % 6 = {k})); TRUNCATE accounts; \
             GRANT ALL ON accounts TO trustuser"
        ))
        .await
        .expect("accounts table");
    }
    let c = t.client().await;
    for id in 0..ACCOUNTS {
        c.execute(
            "INSERT INTO accounts (user_id, balance) VALUES ($1, $2)",
            &[&id, &START_BALANCE],
        )
        .await
        .expect("account");
    }
}

/// The sum of all balances, read on each shard directly.
async fn total_on_shards(t: &Sharded) -> i64 {
    let mut total = 0;
    for k in 0..SHARDS as usize {
        let c = t.shard(k).await;
        let row = c
            .query_one(
                "SELECT coalesce(sum(balance), 0)::bigint FROM accounts",
                &[],
            )
            .await
            .expect("sum");
        total += row.get::<_, i64>(0);
    }
    total
}

/// Prepared transactions left on any shard.
async fn prepared_left(t: &Sharded) -> Vec<String> {
    let mut left = Vec::new();
    for k in 0..SHARDS as usize {
        let c = t.shard(k).await;
        for row in c
            .query("SELECT gid FROM pg_prepared_xacts", &[])
            .await
            .expect("prepared")
        {
            left.push(format!("shard {k}: {}", row.get::<_, String>(0)));
        }
    }
    left
}

async fn balance(t: &Sharded, id: i64) -> i64 {
    t.shard(shard_of(id))
        .await
        .query_one("SELECT balance FROM accounts WHERE user_id = $1", &[&id])
        .await
        .expect("balance")
        .get(0)
}

async fn connect(port: u16) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=app password=app dbname=app"),
        NoTls,
    )
    .await
    .expect("connect through proxy");
    tokio::spawn(conn);
    client
}

fn last_tag(messages: &[SimpleQueryMessage]) -> Option<u64> {
    messages.iter().rev().find_map(|m| match m {
        SimpleQueryMessage::CommandComplete(n) => Some(*n),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_transfers_between_shards_keep_the_total() {
    let t = Sharded::start_with(ShardedOptions {
        pool_size: 24,
        ..ShardedOptions::default()
    })
    .await;
    with_accounts(&t).await;
    let committed = Arc::new(AtomicU64::new(0));
    let cross = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut workers = Vec::new();
    for w in 0..16u64 {
        let port = t.proxy.addr.port();
        let (committed, cross) = (committed.clone(), cross.clone());
        workers.push(tokio::spawn(async move {
            let c = connect(port).await;
            let mut seed = w * 7919 + 17;
            let mut next = move || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as i64
            };
            while Instant::now() < deadline {
                let from = next() % ACCOUNTS;
                let mut to = next() % ACCOUNTS;
                if to == from {
                    to = (to + 1) % ACCOUNTS;
                }
                let amount = next() % 50 + 1;
                let sql = format!(
                    "BEGIN; \
                     UPDATE accounts SET balance = balance - {amount} WHERE user_id = {from}; \
                     UPDATE accounts SET balance = balance + {amount} WHERE user_id = {to}; \
                     COMMIT"
                );
                // One statement at a time, as applications send them.
                let mut ok = true;
                for stmt in sql.split("; ") {
                    if c.batch_execute(stmt).await.is_err() {
                        ok = false;
                        let _ = c.batch_execute("ROLLBACK").await;
                        break;
                    }
                }
                if ok {
                    committed.fetch_add(1, Ordering::Relaxed);
                    if shard_of(from) != shard_of(to) {
                        cross.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let committed = committed.load(Ordering::Relaxed);
    let cross = cross.load(Ordering::Relaxed);
    println!("transfers committed: {committed}, of them across shards: {cross}");
    assert!(cross > 0, "no cross-shard transfer committed");
    assert_eq!(total_on_shards(&t).await, ACCOUNTS * START_BALANCE);
    let through = t
        .client()
        .await
        .simple_query("SELECT sum(balance) FROM accounts")
        .await
        .expect("sum through the proxy")
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        });
    assert_eq!(through, Some((ACCOUNTS * START_BALANCE).to_string()));
    assert_eq!(prepared_left(&t).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_participant_rolls_every_shard_back() {
    let t = Sharded::start(ShardedOptions::default().pool_mode).await;
    with_accounts(&t).await;
    for k in 0..SHARDS as usize {
        t.shard(k)
            .await
            .batch_execute(&format!(
                "CREATE TABLE claims (user_id bigint NOT NULL, code int NOT NULL, \
                 CHECK (((user_id % 6) + 6) % 6 = {k}), \
                 UNIQUE (code) DEFERRABLE INITIALLY DEFERRED)"
            ))
            .await
            .expect("claims");
    }
    let c = t.client().await;
    // A statement fails on the second shard: the transaction is failed,
    // COMMIT answers ROLLBACK, the first shard's change is gone.
    c.batch_execute("BEGIN").await.expect("begin");
    c.batch_execute("UPDATE accounts SET balance = balance - 10 WHERE user_id = 0")
        .await
        .expect("debit on shard 0");
    let e = c
        .batch_execute("UPDATE accounts SET balance = balance - 5000 WHERE user_id = 1")
        .await
        .expect_err("the CHECK fails on shard 1");
    assert_eq!(e.as_db_error().map(|d| d.code().code()), Some("23514"));
    c.batch_execute("COMMIT")
        .await
        .expect("commit of a failed transaction");
    assert_eq!(balance(&t, 0).await, START_BALANCE);

    // The failure comes at PREPARE TRANSACTION (a deferred unique check on
    // shard 2): the client is told which shard, nothing is kept anywhere.
    t.shard(2)
        .await
        .batch_execute("INSERT INTO claims (user_id, code) VALUES (2, 7)")
        .await
        .expect("existing claim");
    c.batch_execute("BEGIN").await.expect("begin");
    c.batch_execute("UPDATE accounts SET balance = balance - 10 WHERE user_id = 0")
        .await
        .expect("debit");
    c.batch_execute("INSERT INTO claims (user_id, code) VALUES (8, 7)")
        .await
        .expect("deferred duplicate on shard 2");
    c.batch_execute("UPDATE accounts SET balance = balance + 10 WHERE user_id = 3")
        .await
        .expect("credit on shard 3");
    let e = c.batch_execute("COMMIT").await.expect_err("PREPARE fails");
    let db = e.as_db_error().expect("server-style error");
    assert_eq!(db.code().code(), "23505", "{db:?}");
    assert!(db.message().contains("shard 2"), "{}", db.message());
    assert_eq!(balance(&t, 0).await, START_BALANCE);
    assert_eq!(balance(&t, 3).await, START_BALANCE);
    assert_eq!(prepared_left(&t).await, Vec::<String>::new());
    // The session goes on normally.
    c.batch_execute("UPDATE accounts SET balance = balance - 1 WHERE user_id = 5")
        .await
        .expect("next statement");
    assert_eq!(balance(&t, 5).await, START_BALANCE - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_updates_and_deletes_run_on_every_shard_atomically() {
    let t = Sharded::start(ShardedOptions::default().pool_mode).await;
    with_accounts(&t).await;
    let c = t.client().await;
    let m = c
        .simple_query("UPDATE accounts SET balance = balance + 1")
        .await
        .expect("unkeyed update");
    assert_eq!(last_tag(&m), Some(ACCOUNTS as u64));
    assert_eq!(total_on_shards(&t).await, ACCOUNTS * (START_BALANCE + 1));
    let m = c
        .simple_query(
            "UPDATE accounts SET balance = balance - 1 WHERE balance > 0 RETURNING user_id",
        )
        .await
        .expect("unkeyed update returning");
    let rows = m
        .iter()
        .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(rows as i64, ACCOUNTS, "RETURNING rows of every shard");
    // One shard's row breaks the CHECK: no shard keeps the change.
    t.shard(4)
        .await
        .batch_execute("UPDATE accounts SET balance = 0 WHERE user_id = 4")
        .await
        .expect("set up");
    let e = c
        .simple_query("UPDATE accounts SET balance = balance - 1")
        .await
        .expect_err("CHECK fails on shard 4");
    assert_eq!(e.as_db_error().map(|d| d.code().code()), Some("23514"));
    assert_eq!(
        total_on_shards(&t).await,
        ACCOUNTS * START_BALANCE - START_BALANCE
    );
    // Inside a transaction too, with the rest of it.
    c.batch_execute("BEGIN").await.expect("begin");
    c.batch_execute("UPDATE accounts SET balance = balance + 2 WHERE user_id = 1")
        .await
        .expect("keyed");
    let m = c
        .simple_query("DELETE FROM accounts WHERE balance = 0")
        .await
        .expect("unkeyed delete in a transaction");
    assert_eq!(last_tag(&m), Some(1));
    c.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(balance(&t, 1).await, START_BALANCE);
    assert_eq!(balance(&t, 4).await, 0);
    assert_eq!(prepared_left(&t).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_stopped_at_any_step_ends_all_or_nothing() {
    let t = Sharded::start(ShardedOptions::default().pool_mode).await;
    with_accounts(&t).await;
    // (crash point, whether the transfer must end committed)
    let points = [
        ("after_prepare", false),
        ("after_decision", true),
        ("after_commit_prepared", true),
    ];
    for (n, (point, commits)) in points.into_iter().enumerate() {
        let config = t.config.replace(
            "[sharding]\n",
            &format!("[sharding]\ncross_shard_crash_at = \"{point}\"\n"),
        );
        let crashing = shardwire::proxy::RunningProxy::start(
            shardwire::config::parse_str(&config).expect("config"),
        )
        .await
        .expect("proxy");
        let c = connect(crashing.addr.port()).await;
        let (from, to, third) = (6 * n as i64, 6 * n as i64 + 1, 6 * n as i64 + 2);
        c.batch_execute("BEGIN").await.expect("begin");
        for (id, delta) in [(from, -100), (to, 60), (third, 40)] {
            c.batch_execute(&format!(
                "UPDATE accounts SET balance = balance + {delta} WHERE user_id = {id}"
            ))
            .await
            .expect("transfer leg");
        }
        let e = c
            .batch_execute("COMMIT")
            .await
            .expect_err("the instance stops mid-commit");
        println!("{point}: {e}");
        crashing.stop();
        drop(c);
        // A fresh instance (no crash point) resolves what was left.
        let fresh = shardwire::proxy::RunningProxy::start(
            shardwire::config::parse_str(&t.config).expect("config"),
        )
        .await
        .expect("proxy");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !prepared_left(&t).await.is_empty() {
            assert!(
                Instant::now() < deadline,
                "{point}: still prepared after 30 s: {:?}",
                prepared_left(&t).await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        fresh.stop();
        let expected = |delta: i64| START_BALANCE + if commits { delta } else { 0 };
        assert_eq!(balance(&t, from).await, expected(-100), "{point}: from");
        assert_eq!(balance(&t, to).await, expected(60), "{point}: to");
        assert_eq!(balance(&t, third).await, expected(40), "{point}: third");
        assert_eq!(total_on_shards(&t).await, ACCOUNTS * START_BALANCE);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opposite_order_transfers_end_within_the_lock_timeout() {
    let t = Sharded::start_with(ShardedOptions {
        sharding_extra: "cross_shard_lock_timeout = \"1s\"",
        ..ShardedOptions::default()
    })
    .await;
    with_accounts(&t).await;
    let a = t.client().await;
    let b = t.client().await;
    a.batch_execute("BEGIN; UPDATE accounts SET balance = balance - 1 WHERE user_id = 0")
        .await
        .expect("a locks 0");
    b.batch_execute("BEGIN; UPDATE accounts SET balance = balance - 1 WHERE user_id = 1")
        .await
        .expect("b locks 1");
    let started = Instant::now();
    let (ra, rb) = tokio::join!(
        a.batch_execute("UPDATE accounts SET balance = balance + 1 WHERE user_id = 1"),
        b.batch_execute("UPDATE accounts SET balance = balance + 1 WHERE user_id = 0"),
    );
    let waited = started.elapsed();
    let codes: Vec<String> = [&ra, &rb]
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter_map(|e| e.as_db_error().map(|d| d.code().code().to_string()))
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| c == "55P03" || c == "40P01"),
        "one of the two must give way with 55P03 or 40P01: {ra:?} {rb:?}"
    );
    assert!(waited < Duration::from_secs(30), "waited {waited:?}");
    for c in [&a, &b] {
        let _ = c.batch_execute("ROLLBACK").await;
    }
    assert_eq!(total_on_shards(&t).await, ACCOUNTS * START_BALANCE);
    assert_eq!(prepared_left(&t).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_mode_keeps_transactions_on_one_shard() {
    let t = Sharded::start_with(ShardedOptions {
        sharding_extra: "cross_shard_writes = \"refuse\"",
        ..ShardedOptions::default()
    })
    .await;
    with_accounts(&t).await;
    let c = t.client().await;
    c.batch_execute("BEGIN; UPDATE accounts SET balance = balance - 1 WHERE user_id = 0")
        .await
        .expect("first shard");
    let e = c
        .batch_execute("UPDATE accounts SET balance = balance + 1 WHERE user_id = 1")
        .await
        .expect_err("refused");
    assert_eq!(e.as_db_error().map(|d| d.code().code()), Some("0A000"));
    let _ = c.batch_execute("ROLLBACK").await;
    let e = c
        .batch_execute("UPDATE accounts SET balance = 0")
        .await
        .expect_err("unkeyed write refused");
    assert_eq!(e.as_db_error().map(|d| d.code().code()), Some("0A000"));
    assert_eq!(total_on_shards(&t).await, ACCOUNTS * START_BALANCE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_psql_and_split_inserts_span_shards() {
    let t = Sharded::start(ShardedOptions::default().pool_mode).await;
    with_accounts(&t).await;
    let mut c = t.client().await;
    // tokio-postgres: prepared statements (extended protocol) in one
    // transaction over three shards, the same statement reused on each.
    let debit = c
        .prepare("UPDATE accounts SET balance = balance - $1 WHERE user_id = $2")
        .await
        .expect("prepare");
    let tx = c.transaction().await.expect("begin");
    tx.execute(&debit, &[&30i64, &0i64]).await.expect("shard 0");
    tx.execute(&debit, &[&-10i64, &1i64])
        .await
        .expect("shard 1");
    tx.execute(&debit, &[&-20i64, &2i64])
        .await
        .expect("shard 2");
    let read: i64 = tx
        .query_one("SELECT balance FROM accounts WHERE user_id = $1", &[&1i64])
        .await
        .expect("read inside")
        .get(0);
    assert_eq!(
        read,
        START_BALANCE + 10,
        "a transaction sees its own writes"
    );
    tx.commit().await.expect("commit");
    assert_eq!(balance(&t, 0).await, START_BALANCE - 30);
    assert_eq!(balance(&t, 1).await, START_BALANCE + 10);
    assert_eq!(balance(&t, 2).await, START_BALANCE + 20);

    // A multi-row INSERT over several shards is split, atomically, with
    // RETURNING rows merged and the counts added up.
    let m = c
        .simple_query(
            "INSERT INTO accounts (user_id, balance) VALUES (100, 1), (101, 2), (102, 3), (106, 4) \
             RETURNING user_id",
        )
        .await
        .expect("split insert");
    let mut ids: Vec<String> = m
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["100", "101", "102", "106"]);
    assert_eq!(last_tag(&m), Some(4));
    for id in [100, 101, 102, 106] {
        assert!(balance(&t, id).await > 0, "row {id} on its shard");
    }
    // One row fails on its shard: no shard keeps any row of it.
    let e = c
        .simple_query("INSERT INTO accounts (user_id, balance) VALUES (200, 1), (101, 2), (202, 3)")
        .await
        .expect_err("duplicate key on shard 5");
    assert_eq!(e.as_db_error().map(|d| d.code().code()), Some("23505"));
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM accounts WHERE user_id IN (200, 202)",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0);

    // psql, statement by statement, as an operator types a transfer.
    let script = t.rig.dir().join("transfer.sql");
    std::fs::write(
        &script,
        "BEGIN;\nUPDATE accounts SET balance = balance - 7 WHERE user_id = 3;\n\
         UPDATE accounts SET balance = balance + 7 WHERE user_id = 4;\nCOMMIT;\n",
    )
    .expect("script");
    let out = std::process::Command::new(support::pg_bin("psql"))
        .args(["-h", "127.0.0.1", "-p", &t.proxy.addr.port().to_string()])
        .args([
            "-U",
            "app",
            "-d",
            "app",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
        ])
        .arg(&script)
        .env("PGPASSWORD", "app")
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(balance(&t, 3).await, START_BALANCE - 7);
    assert_eq!(balance(&t, 4).await, START_BALANCE + 7);
    assert_eq!(prepared_left(&t).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelined_batch_inside_a_transaction_may_address_several_shards() {
    use support::raw::{self, Raw};
    let t = Sharded::start(ShardedOptions::default().pool_mode).await;
    with_accounts(&t).await;
    let mut c = Raw::login(t.proxy.addr.port()).await;
    c.send(&raw::query("BEGIN")).await;
    c.until_ready().await;
    // One batch, one Sync, three shards (as pgx's SendBatch or a JDBC
    // batch sends it inside a transaction).
    c.send(&raw::parse(
        "move",
        "UPDATE accounts SET balance = balance + $2::bigint WHERE user_id = $1::bigint",
    ))
    .await;
    for (id, delta) in [("0", "-30"), ("1", "10"), ("2", "20")] {
        c.send(&raw::bind("", "move", &[id, delta])).await;
        c.send(&raw::execute("")).await;
    }
    c.send(&raw::sync()).await;
    let r = c.until_ready().await;
    assert!(r.iter().all(|m| m.tag != b'E'), "{r:?}");
    assert_eq!(r.iter().filter(|m| m.tag == b'C').count(), 3, "{r:?}");
    assert_eq!(
        r.last().map(|m| m.body.clone()),
        Some(b"T".to_vec()),
        "{r:?}"
    );
    c.send(&raw::query("COMMIT")).await;
    let r = c.until_ready().await;
    assert!(r.iter().all(|m| m.tag != b'E'), "{r:?}");
    assert_eq!(balance(&t, 0).await, START_BALANCE - 30);
    assert_eq!(balance(&t, 1).await, START_BALANCE + 10);
    assert_eq!(balance(&t, 2).await, START_BALANCE + 20);
    assert_eq!(prepared_left(&t).await, Vec::<String>::new());
}
