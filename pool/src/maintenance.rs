//! The background maintenance task: every `maintenance_interval` it closes
//! idle connections past `idle_timeout` (keeping `min_idle`) or past
//! `max_lifetime`, trims surplus after a shrink, and tops the pool up to
//! `min_idle`. It holds only a `Weak` to the pool and stops when the pool
//! is closed or gone.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::manager::Manager;
use crate::shared::{lifetime_expired, IdleConn, Purpose, Shared, State};

/// Floor for the interval, so a zero setting cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Start the maintenance task for `shared`. The first pass runs at once.
pub(crate) fn spawn<M: Manager>(shared: &Arc<Shared<M>>) {
    let weak = Arc::downgrade(shared);
    let wake = Arc::clone(&shared.wake);
    drop(shared.rt.spawn(run(weak, wake)));
}

async fn run<M: Manager>(weak: Weak<Shared<M>>, wake: Arc<Notify>) {
    loop {
        let interval = match weak.upgrade() {
            Some(shared) => match shared.maintain() {
                Some(interval) => interval,
                None => return,
            },
            None => return,
        };
        // Only the `Weak` is held while sleeping. An early wake-up (close,
        // reconfigure, pool gone) runs the next pass at once.
        let _ = tokio::time::timeout(interval, wake.notified()).await;
    }
}

impl<M: Manager> State<M> {
    /// Move the idle connections to close into `out` (their `open` slots
    /// are released by the caller once they are dropped).
    fn reap(&mut self, now: Instant, out: &mut Vec<IdleConn<M::Conn>>) {
        let min_idle = self.config.min_idle;
        let max_size = self.config.max_size;
        let idle_timeout = self.config.idle_timeout;
        let max_lifetime = self.config.max_lifetime;
        // Front first: it has idled longest.
        let mut i = 0;
        while let Some(c) = self.idle.get(i) {
            let too_old = lifetime_expired(max_lifetime, c.entry.created, now);
            let too_idle = idle_timeout
                .is_some_and(|t| now.saturating_duration_since(c.idle_since) > t)
                && self.idle.len() > min_idle;
            let surplus = self.open.saturating_sub(out.len()) > max_size;
            if too_old || too_idle || surplus {
                out.push(self.idle.remove(i));
            } else {
                i += 1;
            }
        }
    }

    /// Reserve connects to bring the idle count up to `min_idle` (capped
    /// by `max_size`); returns how many.
    fn reserve_top_up(&mut self) -> usize {
        if self.closed {
            return 0;
        }
        let want = self.config.min_idle.min(self.config.max_size);
        let need = want.saturating_sub(self.idle.len() + self.spawned);
        let room = self
            .config
            .max_size
            .saturating_sub(self.open + self.connecting);
        let n = need.min(room);
        self.connecting += n;
        self.spawned += n;
        n
    }
}

impl<M: Manager> Shared<M> {
    /// One maintenance pass; `None` once the pool is closed, else the time
    /// until the next pass.
    pub(crate) fn maintain(self: &Arc<Self>) -> Option<Duration> {
        let now = Instant::now();
        let mut reaped = Vec::new();
        let interval = {
            let mut st = self.lock();
            if st.closed {
                return None;
            }
            st.reap(now, &mut reaped);
            st.config.maintenance_interval.max(MIN_INTERVAL)
        };
        let n = reaped.len();
        drop(reaped);
        self.release_open(n);
        let top_up = self.lock().reserve_top_up();
        for _ in 0..top_up {
            self.spawn_connect(Purpose::MinIdle);
        }
        Some(interval)
    }
}
