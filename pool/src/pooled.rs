//! [`Pooled`]: a checked-out connection. It derefs to the connection and
//! goes back to the pool when dropped (or is closed with
//! [`Pooled::discard`]).

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::manager::Manager;
use crate::shared::{Entry, Shared};

/// A connection checked out of a [`Pool`](crate::Pool).
///
/// Dropping it returns the connection: it is closed instead if
/// [`Manager::is_reusable`] says no, if it is past `max_lifetime` or if the
/// pool was closed; otherwise it goes straight to the longest-waiting
/// caller, or to the idle stack.
pub struct Pooled<M: Manager> {
    /// Always initialised; taken exactly once, in `Drop`.
    conn: ManuallyDrop<Box<M::Conn>>,
    created: Instant,
    checked_out: Instant,
    shared: Arc<Shared<M>>,
    discard: bool,
}

impl<M: Manager> Pooled<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>, entry: Entry<M::Conn>, checked_out: Instant) -> Self {
        Self {
            conn: ManuallyDrop::new(entry.conn),
            created: entry.created,
            checked_out,
            shared,
            discard: false,
        }
    }

    /// Close this connection instead of returning it (e.g. after a
    /// protocol error). Its slot is freed, so a waiter gets a new one.
    pub fn discard(mut self) {
        self.discard = true;
    }

    /// Time since the connection was opened.
    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// When it was handed out (the pool read the clock then; callers that
    /// time the checkout's use need not read it again).
    pub fn checked_out_at(&self) -> std::time::Instant {
        self.checked_out.into_std()
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Conn;

    fn deref(&self) -> &M::Conn {
        &self.conn
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Conn {
        &mut self.conn
    }
}

impl<M: Manager> fmt::Debug for Pooled<M>
where
    M::Conn: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("conn", &**self.conn)
            .field("age", &self.age())
            .finish()
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        // SAFETY: `conn` is initialised in `new` and only ever taken here;
        // `self` is not used again after `drop`.
        let conn = unsafe { ManuallyDrop::take(&mut self.conn) };
        if self.discard || !self.shared.manager.is_reusable(&conn) {
            drop(conn);
            self.shared.release_open(1);
        } else {
            self.shared.put(Entry {
                conn,
                created: self.created,
            });
        }
    }
}
