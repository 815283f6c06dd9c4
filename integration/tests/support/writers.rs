//! Writers for the drills: autocommit INSERTs of (user_id, seq) through a
//! connection string, reconnecting after a lost connection, recording
//! what was acknowledged (and when) and every error with its SQLSTATE.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a writer saw.
#[derive(Default)]
pub struct Log {
    /// (user_id, seq, ms since the drill's epoch when acknowledged).
    pub acknowledged: Mutex<Vec<(i64, i64, u64)>>,
    /// (SQLSTATE or "-", message).
    pub errors: Mutex<Vec<(String, String)>>,
    pub successes: AtomicU64,
}

impl Log {
    pub fn acked(&self) -> Vec<(i64, i64, u64)> {
        self.acknowledged.lock().unwrap().clone()
    }

    pub fn errors(&self) -> Vec<(String, String)> {
        self.errors.lock().unwrap().clone()
    }

    /// The first acknowledgement at or after `ms`.
    pub fn first_ack_after(&self, ms: u64) -> Option<u64> {
        self.acked().iter().map(|a| a.2).filter(|&t| t >= ms).min()
    }
}

/// The server's message (not just "db error"), with when it came.
pub fn describe(e: &tokio_postgres::Error, epoch: Instant) -> String {
    let text = e
        .as_db_error()
        .map_or(e.to_string(), |d| d.message().to_owned());
    format!("at {} ms: {text}", epoch.elapsed().as_millis())
}

pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map_or("-".into(), |c| c.code().to_owned())
}

/// Inserts rows for `user_id` through `conn_str` until `stop`, one
/// autocommit INSERT at a time, reconnecting after a lost connection.
pub fn spawn_writer(
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
                            .push((sqlstate(&e), format!("connect: {}", describe(&e, epoch))));
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
                        .push((sqlstate(&e), describe(&e, epoch)));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

pub async fn wait_for_successes(log: &Log, more_than: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while log.successes.load(Ordering::Relaxed) <= more_than {
        if Instant::now() >= deadline {
            let errors = log.errors();
            panic!(
                "writers made no progress; {} errors, the last ones: {:?}",
                errors.len(),
                &errors[errors.len().saturating_sub(5)..]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The acknowledged rows of `log` missing on `node` (read directly).
pub async fn missing_on(node: &shardwire_rig::Node, log: &Log) -> Vec<(i64, i64)> {
    let acked = log.acked();
    let mut users: Vec<i64> = acked.iter().map(|a| a.0).collect();
    users.sort();
    users.dedup();
    let c = node.connect("app", "app", "app").await.expect("direct");
    let mut lost = Vec::new();
    for user in users {
        let present: Vec<i64> = c
            .query("SELECT seq FROM writes WHERE user_id = $1", &[&user])
            .await
            .expect("read back")
            .iter()
            .map(|r| r.get(0))
            .collect();
        for (u, seq, _) in acked.iter().filter(|a| a.0 == user) {
            if !present.contains(seq) {
                lost.push((*u, *seq));
            }
        }
    }
    lost
}
