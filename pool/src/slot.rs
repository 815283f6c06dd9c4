//! Capacity reservations that must be given back however the code holding
//! them ends (success, error, timeout, or the future being dropped):
//! [`ConnectSlot`] for a connect in progress and [`OpenSlot`] for an
//! established connection being health-checked.

use std::sync::Arc;

use tokio::time::Instant;

use crate::manager::Manager;
use crate::shared::{Entry, Shared};

/// A reserved `connecting` slot. Dropped while still armed (cancelled),
/// it frees the slot; a `get` caller's slot is then offered to waiters.
pub(crate) struct ConnectSlot<M: Manager> {
    shared: Arc<Shared<M>>,
    spawned: bool,
    armed: bool,
}

impl<M: Manager> ConnectSlot<M> {
    /// Slot reserved by a `get` caller connecting itself.
    pub(crate) fn direct(shared: Arc<Shared<M>>) -> Self {
        Self {
            shared,
            spawned: false,
            armed: true,
        }
    }

    /// Slot reserved for a connect the pool spawned.
    pub(crate) fn spawned(shared: Arc<Shared<M>>) -> Self {
        Self {
            shared,
            spawned: true,
            armed: true,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<M>> {
        &self.shared
    }

    /// The connect succeeded: the slot becomes an open connection. `Err`
    /// gives the connection back if the pool was closed meanwhile (its
    /// slot is still counted: drop it, then `release_open(1)`).
    pub(crate) fn established(mut self, conn: M::Conn) -> Result<Entry<M::Conn>, M::Conn> {
        self.armed = false;
        if self.shared.connect_succeeded(self.spawned) {
            return Err(conn);
        }
        Ok(Entry {
            conn: Box::new(conn),
            created: Instant::now(),
        })
    }

    /// The connect failed: free the slot (offering it to waiters) and, if
    /// given, deliver the error to the head waiter.
    pub(crate) fn failed(mut self, error: Option<M::Error>) {
        self.armed = false;
        self.shared.connect_ended(self.spawned, error, true, true);
    }
}

impl<M: Manager> Drop for ConnectSlot<M> {
    fn drop(&mut self) {
        if self.armed {
            // A spawned connect is only dropped unfinished when the runtime
            // shuts down: do not spawn again then.
            self.shared
                .connect_ended(self.spawned, None, false, !self.spawned);
        }
    }
}

/// An established connection taken out of the idle stack and not yet
/// handed out. Dropped while armed, it releases the connection's slot
/// (declare it *before* the connection so the connection drops first).
pub(crate) struct OpenSlot<'a, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    armed: bool,
}

impl<'a, M: Manager> OpenSlot<'a, M> {
    pub(crate) fn new(shared: &'a Arc<Shared<M>>) -> Self {
        Self {
            shared,
            armed: true,
        }
    }

    /// The connection is handed out: keep its slot.
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl<M: Manager> Drop for OpenSlot<'_, M> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.release_open(1);
        }
    }
}
