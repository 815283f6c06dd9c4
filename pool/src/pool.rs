//! [`Pool`]: the cloneable handle, construction, and the checkout path
//! [`Pool::get`] (idle fast path, health check, connect, or FIFO wait).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use crate::config::PoolConfig;
use crate::error::PoolError;
use crate::maintenance;
use crate::manager::Manager;
use crate::pooled::Pooled;
use crate::shared::{Entry, Shared, Step};
use crate::slot::{ConnectSlot, OpenSlot};
use crate::stats::{Counters, PoolStats};
use crate::waiter::{WaitOutcome, WaitTicket};

/// A FIFO-fair async connection pool. Cheap to clone: clones share the
/// pool. When the last clone is dropped the pool is closed.
pub struct Pool<M: Manager> {
    handle: Arc<PoolHandle<M>>,
}

/// Owned by the `Pool` clones only (not by checked-out connections or
/// background tasks), so its `Drop` marks "last `Pool` clone gone".
struct PoolHandle<M: Manager> {
    shared: Arc<Shared<M>>,
}

impl<M: Manager> Drop for PoolHandle<M> {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}

/// `start + timeout`, saturating instead of overflowing.
fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    start
        .checked_add(timeout)
        .or_else(|| start.checked_add(FAR))
        .unwrap_or(start)
}

impl<M: Manager> Pool<M> {
    /// Create a pool and start its maintenance task (which tops up to
    /// `min_idle` right away).
    ///
    /// # Panics
    ///
    /// Must be called from within a tokio runtime (like `tokio::spawn`);
    /// the pool spawns its background work on that runtime.
    pub fn new(manager: M, config: PoolConfig) -> Self {
        let rt = tokio::runtime::Handle::current();
        let shared = Arc::new(Shared::new(manager, config, rt));
        maintenance::spawn(&shared);
        Self {
            handle: Arc::new(PoolHandle { shared }),
        }
    }

    /// Check a connection out.
    ///
    /// Takes an idle connection if nobody is queued (health-checking it
    /// first if it idled longer than `health_check_after`), else opens one
    /// if below `max_size`, else queues behind earlier callers. Fails with
    /// [`PoolError::Timeout`] once `checkout_timeout` has passed since the
    /// call, [`PoolError::Connect`] if opening a connection for this caller
    /// failed, [`PoolError::Closed`] if the pool is closed.
    ///
    /// Cancel-safe: dropping the future never leaks a slot or a connection.
    pub async fn get(&self) -> Result<Pooled<M>, PoolError<M::Error>> {
        let shared = &self.handle.shared;
        let start = Instant::now();
        let mut now = start;
        let mut deadline = None;
        let mut waited = false;
        loop {
            let (step, timeout) = shared.try_checkout(now);
            let deadline = *deadline.get_or_insert_with(|| deadline_after(start, timeout));
            match step {
                Step::Closed => return Err(PoolError::Closed),
                Step::Ready(entry) => return Ok(self.hand_out(entry, start, waited)),
                Step::Dispose(entry) => {
                    drop(entry);
                    shared.release_open(1);
                }
                Step::Check(entry) => {
                    waited = true;
                    // Declared before `entry`, so on cancellation the
                    // connection is dropped before its slot is released.
                    let slot = OpenSlot::new(shared);
                    let mut entry = entry;
                    match timeout_at(deadline, shared.manager.check(&mut *entry.conn)).await {
                        Ok(Ok(())) => {
                            slot.keep();
                            return Ok(self.hand_out(entry, start, waited));
                        }
                        Ok(Err(_)) => {
                            Counters::bump(&shared.counters.health_check_failures);
                            drop(entry);
                            drop(slot);
                        }
                        Err(_) => {
                            drop(entry);
                            drop(slot);
                            return Err(self.timed_out(start));
                        }
                    }
                }
                Step::Connect => {
                    waited = true;
                    let slot = ConnectSlot::direct(Arc::clone(shared));
                    return match timeout_at(deadline, shared.manager.connect()).await {
                        Ok(Ok(conn)) => match slot.established(conn) {
                            Ok(entry) => Ok(self.hand_out(entry, start, waited)),
                            Err(conn) => {
                                // Closed while we were connecting.
                                drop(conn);
                                shared.release_open(1);
                                Err(PoolError::Closed)
                            }
                        },
                        Ok(Err(e)) => {
                            slot.failed(None);
                            Err(PoolError::Connect(e))
                        }
                        Err(_) => {
                            drop(slot);
                            Err(self.timed_out(start))
                        }
                    };
                }
                Step::Wait { id, rx } => {
                    let mut ticket = WaitTicket::new(shared, id, rx);
                    return match ticket.wait(deadline).await {
                        WaitOutcome::Conn(entry) => Ok(self.hand_out(entry, start, true)),
                        WaitOutcome::ConnectError(e) => Err(PoolError::Connect(e)),
                        WaitOutcome::Closed => Err(PoolError::Closed),
                        WaitOutcome::TimedOut => Err(self.timed_out(start)),
                    };
                }
            }
            now = Instant::now();
        }
    }

    /// An idle connection if one can be handed out without waiting (nobody
    /// queued, no health check due), else `None`: the caller then uses
    /// [`get`](Pool::get). Spares a caller the future of `get` when the
    /// pool has a connection ready, which is the common case.
    pub fn try_get(&self) -> Option<Pooled<M>> {
        let start = Instant::now();
        let entry = self.handle.shared.try_take_ready(start)?;
        Some(self.hand_out(entry, start, false))
    }

    fn hand_out(&self, entry: Entry<M::Conn>, start: Instant, waited: bool) -> Pooled<M> {
        let shared = &self.handle.shared;
        // One clock read per checkout: a ready connection is handed out at
        // `start`, a waited-for one now.
        let (wait, at) = if waited {
            let now = Instant::now();
            (now.saturating_duration_since(start), now)
        } else {
            (Duration::ZERO, start)
        };
        shared.counters.record_checkout(wait);
        Pooled::new(Arc::clone(shared), entry, at)
    }

    fn timed_out(&self, start: Instant) -> PoolError<M::Error> {
        let shared = &self.handle.shared;
        Counters::bump(&shared.counters.timeouts);
        PoolError::Timeout {
            waited: start.elapsed(),
            max_size: shared.max_size(),
        }
    }

    /// A snapshot of the pool's gauges and counters.
    pub fn stats(&self) -> PoolStats {
        self.handle.shared.stats()
    }

    /// The current configuration.
    pub fn config(&self) -> PoolConfig {
        self.handle.shared.config()
    }

    /// Replace the configuration of the live pool (e.g. on reload). A
    /// larger `max_size` is used at once for queued callers; a smaller one
    /// closes surplus idle connections now and surplus busy ones when they
    /// are returned. Other settings apply from the next checkout, return
    /// or maintenance pass.
    pub fn reconfigure(&self, config: PoolConfig) {
        self.handle.shared.reconfigure(config);
    }

    /// Close the pool: idle connections are closed, queued and future
    /// [`get`](Pool::get) calls fail with [`PoolError::Closed`], checked-out
    /// connections are closed when returned, and maintenance stops.
    pub fn close(&self) {
        self.handle.shared.close();
    }

    /// Close every idle connection now, keeping the pool open: used when
    /// the server behind the pool changed (failover). Checked-out
    /// connections are judged by [`Manager::is_reusable`] when returned.
    /// Returns how many idle connections were closed.
    pub fn retire_idle(&self) -> usize {
        self.handle.shared.retire_idle()
    }

    /// `true` once [`close`](Pool::close) was called.
    pub fn is_closed(&self) -> bool {
        self.handle.shared.is_closed()
    }

    /// The manager this pool was built with.
    pub fn manager(&self) -> &M {
        &self.handle.shared.manager
    }
}
