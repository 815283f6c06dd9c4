//! A fake manager that counts what the pool asks of it and can be told to
//! fail connects, fail health checks of given connections, or be slow.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Manager, PoolConfig};

/// Shared counters, kept alive independently of the manager.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// Connections currently alive (created, not yet dropped).
    pub(crate) live: AtomicUsize,
    /// Highest `live` ever seen.
    pub(crate) max_live: AtomicUsize,
    /// Set when the manager itself is dropped.
    pub(crate) manager_dropped: AtomicBool,
}

pub(crate) struct Fake {
    next_id: AtomicUsize,
    pub(crate) connects: AtomicUsize,
    pub(crate) checks: AtomicUsize,
    pub(crate) fail_connect: AtomicBool,
    pub(crate) unhealthy: Mutex<HashSet<usize>>,
    pub(crate) connect_delay: Mutex<Duration>,
    pub(crate) probe: Arc<Probe>,
}

#[derive(Debug)]
pub(crate) struct FakeConn {
    pub(crate) id: usize,
    /// `is_reusable` returns `!broken`.
    pub(crate) broken: bool,
    probe: Arc<Probe>,
}

impl Drop for FakeConn {
    fn drop(&mut self) {
        self.probe.live.fetch_sub(1, SeqCst);
    }
}

impl Fake {
    pub(crate) fn new() -> Self {
        Self {
            next_id: AtomicUsize::new(0),
            connects: AtomicUsize::new(0),
            checks: AtomicUsize::new(0),
            fail_connect: AtomicBool::new(false),
            unhealthy: Mutex::new(HashSet::new()),
            connect_delay: Mutex::new(Duration::ZERO),
            probe: Arc::new(Probe::default()),
        }
    }

    pub(crate) fn fail_connects(&self, fail: bool) {
        self.fail_connect.store(fail, SeqCst);
    }

    pub(crate) fn mark_unhealthy(&self, id: usize) {
        self.unhealthy.lock().unwrap().insert(id);
    }

    pub(crate) fn set_connect_delay(&self, delay: Duration) {
        *self.connect_delay.lock().unwrap() = delay;
    }

    pub(crate) fn connects(&self) -> usize {
        self.connects.load(SeqCst)
    }

    pub(crate) fn checks(&self) -> usize {
        self.checks.load(SeqCst)
    }

    pub(crate) fn live(&self) -> usize {
        self.probe.live.load(SeqCst)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.probe.manager_dropped.store(true, SeqCst);
    }
}

impl Manager for Fake {
    type Conn = FakeConn;
    type Error = String;

    async fn connect(&self) -> Result<FakeConn, String> {
        self.connects.fetch_add(1, SeqCst);
        let delay = *self.connect_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.fail_connect.load(SeqCst) {
            return Err("connection refused".to_string());
        }
        let live = self.probe.live.fetch_add(1, SeqCst) + 1;
        self.probe.max_live.fetch_max(live, SeqCst);
        Ok(FakeConn {
            id: self.next_id.fetch_add(1, SeqCst) + 1,
            broken: false,
            probe: Arc::clone(&self.probe),
        })
    }

    async fn check(&self, conn: &mut FakeConn) -> Result<(), String> {
        self.checks.fetch_add(1, SeqCst);
        if self.unhealthy.lock().unwrap().contains(&conn.id) {
            Err(format!("conn {} is unhealthy", conn.id))
        } else {
            Ok(())
        }
    }

    fn is_reusable(&self, conn: &FakeConn) -> bool {
        !conn.broken
    }
}

/// A test configuration: no background surprises unless a test asks.
pub(crate) fn config(max_size: usize) -> PoolConfig {
    PoolConfig {
        max_size,
        min_idle: 0,
        idle_timeout: None,
        max_lifetime: None,
        checkout_timeout: Duration::from_secs(5),
        health_check_after: Duration::from_secs(3600),
        maintenance_interval: Duration::from_secs(3600),
    }
}

/// Yield until `cond` holds (panics if it never does).
pub(crate) async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition never became true");
}

/// Real-time variant of [`until`] for multi-threaded tests: polls every
/// millisecond for up to 5 s (other threads may be descheduled a while).
pub(crate) async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition never became true");
}
