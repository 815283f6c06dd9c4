//! The pool's shared state: the connection accounting, the idle stack and
//! the waiter queue behind one `std::sync::Mutex`, and every transition on
//! them (checkout decision, return, release of a slot, close, resize).
//!
//! Invariants, all maintained under the lock:
//!
//! * `open + connecting` never exceeds `config.max_size` when a slot is
//!   reserved, and `open` is only decremented *after* the connection has
//!   been dropped, so at most `max_size` connections ever exist.
//! * A returned connection goes to the head of `waiters` before `idle`, so
//!   `idle` is non-empty only while nobody waits (no barging).
//! * Every waiter in `waiters` has a live receiver: a waiter that gives up
//!   removes itself under the lock before closing its receiver.
//! * Connections are dropped and connects spawned outside the lock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use crate::config::PoolConfig;
use crate::manager::Manager;
use crate::slot::ConnectSlot;
use crate::stats::{Counters, PoolStats};
use crate::waiter::{Delivery, Waiter};

/// An established connection and its birth time. The connection is boxed
/// so that a checkout or a return moves a pointer, not the connection.
pub(crate) struct Entry<C> {
    pub(crate) conn: Box<C>,
    pub(crate) created: Instant,
}

/// A connection resting in the idle stack.
pub(crate) struct IdleConn<C> {
    pub(crate) entry: Entry<C>,
    pub(crate) idle_since: Instant,
}

/// Why a connect was spawned by the pool (rather than run by a `get` caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Capacity freed up while callers wait: the connection goes to the head
    /// waiter, and so does the error if it fails.
    Waiter,
    /// Top-up to `min_idle`: a failure is only counted.
    MinIdle,
}

/// Everything protected by the pool lock.
pub(crate) struct State<M: Manager> {
    pub(crate) config: PoolConfig,
    /// Idle connections; the most recently returned is at the back (LIFO
    /// checkout keeps hot connections hot; the front idles longest).
    pub(crate) idle: Vec<IdleConn<M::Conn>>,
    /// Callers waiting for a connection, in arrival order.
    pub(crate) waiters: VecDeque<Waiter<M>>,
    /// Established connections: idle + checked out (+ being dropped).
    pub(crate) open: usize,
    /// Connections being opened (by callers or spawned by the pool).
    pub(crate) connecting: usize,
    /// The subset of `connecting` spawned by the pool.
    pub(crate) spawned: usize,
    pub(crate) closed: bool,
    next_waiter_id: u64,
}

impl<M: Manager> State<M> {
    /// Reserve a slot for a pool-spawned connect if callers wait that no
    /// in-flight spawned connect will serve and capacity allows it.
    pub(crate) fn reserve_for_waiters(&mut self) -> bool {
        if !self.closed
            && self.waiters.len() > self.spawned
            && self.open + self.connecting < self.config.max_size
        {
            self.connecting += 1;
            self.spawned += 1;
            true
        } else {
            false
        }
    }

    /// Reserve as many slots as waiters can use; returns how many.
    pub(crate) fn reserve_all_for_waiters(&mut self) -> usize {
        let mut n = 0;
        while self.reserve_for_waiters() {
            n += 1;
        }
        n
    }
}

/// What [`Shared::try_checkout`] decided.
pub(crate) enum Step<M: Manager> {
    /// Hand this idle connection out.
    Ready(Entry<M::Conn>),
    /// Health-check this idle connection first.
    Check(Entry<M::Conn>),
    /// This idle connection outlived `max_lifetime`: drop it, release its
    /// slot and decide again.
    Dispose(Entry<M::Conn>),
    /// A slot was reserved (`connecting` += 1): open a connection.
    Connect,
    /// Queued: wait on `rx`.
    Wait {
        id: u64,
        rx: oneshot::Receiver<Delivery<M>>,
    },
    /// The pool is closed.
    Closed,
}

/// The pool proper, shared by [`Pool`](crate::Pool) handles, checked-out
/// [`Pooled`](crate::Pooled) guards and spawned connect tasks.
pub(crate) struct Shared<M: Manager> {
    pub(crate) manager: M,
    state: Mutex<State<M>>,
    pub(crate) counters: Counters,
    /// Runtime to spawn connects and maintenance on (usable from `Drop`
    /// outside any runtime context).
    pub(crate) rt: Handle,
    /// Wakes the maintenance task early (close, reconfigure, last
    /// reference gone).
    pub(crate) wake: Arc<Notify>,
}

/// `true` if a connection created at `created` has outlived `max_lifetime`.
pub(crate) fn lifetime_expired(
    max_lifetime: Option<Duration>,
    created: Instant,
    now: Instant,
) -> bool {
    max_lifetime.is_some_and(|max| now.saturating_duration_since(created) > max)
}

impl<M: Manager> Shared<M> {
    pub(crate) fn new(manager: M, config: PoolConfig, rt: Handle) -> Self {
        let state = State {
            idle: Vec::with_capacity(config.max_size.min(1024)),
            waiters: VecDeque::new(),
            open: 0,
            connecting: 0,
            spawned: 0,
            closed: false,
            next_waiter_id: 0,
            config,
        };
        Self {
            manager,
            state: Mutex::new(state),
            counters: Counters::default(),
            rt,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Lock the state; a poisoned lock is recovered (the state is kept
    /// consistent at every point a panic could unwind through).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<M>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The checkout decision, under one lock. Returns the step and the
    /// current `checkout_timeout`.
    pub(crate) fn try_checkout(self: &Arc<Self>, now: Instant) -> (Step<M>, Duration) {
        let mut st = self.lock();
        let timeout = st.config.checkout_timeout;
        if st.closed {
            return (Step::Closed, timeout);
        }
        if st.waiters.is_empty() {
            if let Some(idle) = st.idle.pop() {
                if lifetime_expired(st.config.max_lifetime, idle.entry.created, now) {
                    return (Step::Dispose(idle.entry), timeout);
                }
                let idle_for = now.saturating_duration_since(idle.idle_since);
                let step = if idle_for > st.config.health_check_after {
                    Step::Check(idle.entry)
                } else {
                    Step::Ready(idle.entry)
                };
                return (step, timeout);
            }
            if st.open + st.connecting < st.config.max_size {
                st.connecting += 1;
                return (Step::Connect, timeout);
            }
        }
        let id = st.next_waiter_id;
        st.next_waiter_id = st.next_waiter_id.wrapping_add(1);
        let (waiter, rx) = Waiter::new(id);
        st.waiters.push_back(waiter);
        let spawn = st.reserve_for_waiters();
        drop(st);
        if spawn {
            self.spawn_connect(Purpose::Waiter);
        }
        (Step::Wait { id, rx }, timeout)
    }

    /// An idle connection that can be handed out at once (nobody queued,
    /// no health check due, within its lifetime), else `None` and nothing
    /// changes.
    pub(crate) fn try_take_ready(&self, now: Instant) -> Option<Entry<M::Conn>> {
        let mut st = self.lock();
        if st.closed || !st.waiters.is_empty() {
            return None;
        }
        let idle = st.idle.last()?;
        let ready = !lifetime_expired(st.config.max_lifetime, idle.entry.created, now)
            && now.saturating_duration_since(idle.idle_since) <= st.config.health_check_after;
        if !ready {
            return None;
        }
        st.idle.pop().map(|idle| idle.entry)
    }

    /// Take back a healthy, reusable connection: hand it to the first
    /// waiter, else push it on the idle stack; or close it if the pool is
    /// closed, it is past `max_lifetime`, or the pool shrank below `open`.
    pub(crate) fn put(self: &Arc<Self>, entry: Entry<M::Conn>) {
        let now = Instant::now();
        let mut st = self.lock();
        if st.closed
            || st.open > st.config.max_size
            || lifetime_expired(st.config.max_lifetime, entry.created, now)
        {
            drop(st);
            drop(entry);
            self.release_open(1);
            return;
        }
        let mut entry = entry;
        while let Some(waiter) = st.waiters.pop_front() {
            match waiter.send_conn(entry) {
                None => return,
                Some(back) => entry = back,
            }
        }
        st.idle.push(IdleConn {
            entry,
            idle_since: now,
        });
    }

    /// `n` established connections have been dropped: free their slots,
    /// count them as closed, and use the capacity for waiters.
    pub(crate) fn release_open(self: &Arc<Self>, n: usize) {
        if n == 0 {
            return;
        }
        let spawns = {
            let mut st = self.lock();
            st.open = st.open.saturating_sub(n);
            st.reserve_all_for_waiters()
        };
        Counters::add(&self.counters.closed, n);
        for _ in 0..spawns {
            self.spawn_connect(Purpose::Waiter);
        }
    }

    /// A connect finished: the slot becomes an open connection. Returns
    /// `true` if the pool was closed meanwhile.
    pub(crate) fn connect_succeeded(&self, spawned: bool) -> bool {
        let closed = {
            let mut st = self.lock();
            st.connecting = st.connecting.saturating_sub(1);
            if spawned {
                st.spawned = st.spawned.saturating_sub(1);
            }
            st.open += 1;
            st.closed
        };
        Counters::bump(&self.counters.connects);
        closed
    }

    /// A connect failed (`error` is `Some` when it must go to the head
    /// waiter) or was abandoned (`count` false): free the slot, and if
    /// `respawn`, use it for waiters.
    pub(crate) fn connect_ended(
        self: &Arc<Self>,
        spawned: bool,
        error: Option<M::Error>,
        count: bool,
        respawn: bool,
    ) {
        if count {
            Counters::bump(&self.counters.connect_errors);
        }
        let spawns = {
            let mut st = self.lock();
            st.connecting = st.connecting.saturating_sub(1);
            if spawned {
                st.spawned = st.spawned.saturating_sub(1);
            }
            let mut error = error;
            while let Some(e) = error.take() {
                match st.waiters.pop_front() {
                    Some(waiter) => error = waiter.send_err(e),
                    None => break,
                }
            }
            if respawn {
                st.reserve_all_for_waiters()
            } else {
                0
            }
        };
        for _ in 0..spawns {
            self.spawn_connect(Purpose::Waiter);
        }
    }

    /// Open a connection in a background task for a slot already reserved
    /// (`connecting` and `spawned` incremented by the caller).
    pub(crate) fn spawn_connect(self: &Arc<Self>, purpose: Purpose) {
        let slot = ConnectSlot::spawned(Arc::clone(self));
        // If the runtime is shutting down the future is dropped unpolled;
        // the slot's `Drop` then frees the reservation.
        drop(self.rt.spawn(async move {
            let result = slot.shared().manager.connect().await;
            match result {
                Ok(conn) => {
                    let shared = Arc::clone(slot.shared());
                    match slot.established(conn) {
                        Ok(entry) => shared.put(entry),
                        Err(conn) => {
                            drop(conn);
                            shared.release_open(1);
                        }
                    }
                }
                Err(e) => slot.failed((purpose == Purpose::Waiter).then_some(e)),
            }
        }));
    }

    /// Remove waiter `id` from the queue; `false` if it was already taken
    /// (a connection, an error or a close is then in its channel).
    pub(crate) fn withdraw(&self, id: u64) -> bool {
        let mut st = self.lock();
        match st.waiters.iter().position(|w| w.id == id) {
            Some(pos) => {
                let waiter = st.waiters.remove(pos);
                drop(st);
                drop(waiter);
                true
            }
            None => false,
        }
    }

    /// Close the pool: drop idle connections, fail waiters with `Closed`,
    /// refuse future checkouts. Checked-out connections are dropped when
    /// returned.
    pub(crate) fn close(&self) {
        let (idle, waiters) = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            let idle = std::mem::take(&mut st.idle);
            let waiters = std::mem::take(&mut st.waiters);
            (idle, waiters)
        };
        // Dropping the senders wakes the waiters with `Closed`.
        drop(waiters);
        let n = idle.len();
        drop(idle);
        {
            let mut st = self.lock();
            st.open = st.open.saturating_sub(n);
        }
        Counters::add(&self.counters.closed, n);
        self.wake.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Replace the configuration. Growth is used at once for waiters;
    /// shrinking closes surplus idle connections now and surplus busy ones
    /// when they are returned.
    pub(crate) fn reconfigure(self: &Arc<Self>, config: PoolConfig) {
        let (surplus, spawns) = {
            let mut st = self.lock();
            st.config = config;
            let excess = st
                .open
                .saturating_sub(st.config.max_size)
                .min(st.idle.len());
            // The front of the stack idles longest: close those first.
            let surplus: Vec<_> = st.idle.drain(..excess).collect();
            (surplus, st.reserve_all_for_waiters())
        };
        let n = surplus.len();
        drop(surplus);
        self.release_open(n);
        for _ in 0..spawns {
            self.spawn_connect(Purpose::Waiter);
        }
        // Apply `min_idle`, `idle_timeout` etc. now rather than next tick.
        self.wake.notify_one();
    }

    /// Close every idle connection now (e.g. after the server behind the
    /// pool changed); returns how many were closed.
    pub(crate) fn retire_idle(self: &Arc<Self>) -> usize {
        let idle = std::mem::take(&mut self.lock().idle);
        let n = idle.len();
        drop(idle);
        self.release_open(n);
        // Refill to `min_idle` from the new server.
        self.wake.notify_one();
        n
    }

    pub(crate) fn config(&self) -> PoolConfig {
        self.lock().config.clone()
    }

    pub(crate) fn max_size(&self) -> usize {
        self.lock().config.max_size
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let mut stats = {
            let st = self.lock();
            PoolStats {
                max_size: st.config.max_size,
                open: st.open,
                idle: st.idle.len(),
                active: st.open.saturating_sub(st.idle.len()),
                connecting: st.connecting,
                waiting: st.waiters.len(),
                ..PoolStats::default()
            }
        };
        self.counters.fill(&mut stats);
        stats
    }
}

impl<M: Manager> Drop for Shared<M> {
    fn drop(&mut self) {
        // Let the maintenance task notice the pool is gone right away.
        self.wake.notify_one();
    }
}
