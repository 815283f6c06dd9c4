//! [`PoolStats`], the snapshot behind an admin `SHOW POOLS`, and the
//! lock-free event counters it is partly built from.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A point-in-time snapshot of a pool, from [`Pool::stats`](crate::Pool::stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Configured maximum number of connections.
    pub max_size: usize,
    /// Established connections (idle + checked out).
    pub open: usize,
    /// Established connections sitting idle in the pool.
    pub idle: usize,
    /// Connections checked out (including ones being health-checked).
    pub active: usize,
    /// Connections being opened right now.
    pub connecting: usize,
    /// Callers queued waiting for a connection.
    pub waiting: usize,
    /// Successful checkouts since the pool was created.
    pub checkouts: u64,
    /// Checkouts that failed with a timeout.
    pub timeouts: u64,
    /// Connections opened successfully.
    pub connects: u64,
    /// Failed connection attempts.
    pub connect_errors: u64,
    /// Established connections closed by the pool (not reusable, discarded,
    /// expired, reaped, failed health check, pool closed).
    pub closed: u64,
    /// Health checks that failed (those connections are counted in `closed`).
    pub health_check_failures: u64,
    /// Total time successful checkouts spent waiting (connecting and health
    /// checks included).
    pub total_wait: Duration,
    /// Longest time a successful checkout waited.
    pub max_wait: Duration,
}

/// Monotonic event counters, updated without taking the pool lock.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) checkouts: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) connect_errors: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) health_check_failures: AtomicU64,
    total_wait_nanos: AtomicU64,
    max_wait_nanos: AtomicU64,
}

impl Counters {
    /// Add one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Add `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Relaxed);
    }

    /// Record a successful checkout that waited `wait`.
    pub(crate) fn record_checkout(&self, wait: Duration) {
        Self::bump(&self.checkouts);
        if !wait.is_zero() {
            let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            self.total_wait_nanos.fetch_add(nanos, Relaxed);
            self.max_wait_nanos.fetch_max(nanos, Relaxed);
        }
    }

    /// Copy the counters into `stats`.
    pub(crate) fn fill(&self, stats: &mut PoolStats) {
        stats.checkouts = self.checkouts.load(Relaxed);
        stats.timeouts = self.timeouts.load(Relaxed);
        stats.connects = self.connects.load(Relaxed);
        stats.connect_errors = self.connect_errors.load(Relaxed);
        stats.closed = self.closed.load(Relaxed);
        stats.health_check_failures = self.health_check_failures.load(Relaxed);
        stats.total_wait = Duration::from_nanos(self.total_wait_nanos.load(Relaxed));
        stats.max_wait = Duration::from_nanos(self.max_wait_nanos.load(Relaxed));
    }
}
