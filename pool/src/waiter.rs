//! Queued callers: the [`Waiter`] entry kept in the pool's FIFO queue (the
//! sending half) and the [`WaitTicket`] held by the waiting `get` (the
//! receiving half), which withdraws itself on timeout or cancellation
//! without ever losing a connection handed to it concurrently.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};

use crate::manager::Manager;
use crate::shared::{Entry, Shared};

/// What a waiter receives: a connection, or the error of the connect the
/// pool started on its behalf. A dropped sender means the pool closed.
pub(crate) type Delivery<M> = Result<Entry<<M as Manager>::Conn>, <M as Manager>::Error>;

/// A caller waiting in the pool's queue.
pub(crate) struct Waiter<M: Manager> {
    pub(crate) id: u64,
    tx: oneshot::Sender<Delivery<M>>,
}

impl<M: Manager> Waiter<M> {
    /// A new waiter and the receiver its caller waits on.
    pub(crate) fn new(id: u64) -> (Self, oneshot::Receiver<Delivery<M>>) {
        let (tx, rx) = oneshot::channel();
        (Self { id, tx }, rx)
    }

    /// Hand `entry` over; gives it back if the receiver is gone.
    pub(crate) fn send_conn(self, entry: Entry<M::Conn>) -> Option<Entry<M::Conn>> {
        match self.tx.send(Ok(entry)) {
            Ok(()) => None,
            Err(Ok(entry)) => Some(entry),
            // We sent `Ok`; an `Err` cannot come back.
            Err(Err(_)) => None,
        }
    }

    /// Hand a connect error over; gives it back if the receiver is gone.
    pub(crate) fn send_err(self, error: M::Error) -> Option<M::Error> {
        match self.tx.send(Err(error)) {
            Ok(()) => None,
            Err(Err(error)) => Some(error),
            Err(Ok(_)) => None,
        }
    }
}

/// How a wait ended.
pub(crate) enum WaitOutcome<M: Manager> {
    Conn(Entry<M::Conn>),
    ConnectError(M::Error),
    Closed,
    TimedOut,
}

/// The waiting side of a queued `get`. Dropping it before it finished
/// (the `get` future was cancelled) withdraws it from the queue and
/// returns any connection that was already sent to it.
pub(crate) struct WaitTicket<'a, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    id: u64,
    rx: oneshot::Receiver<Delivery<M>>,
    done: bool,
}

impl<'a, M: Manager> WaitTicket<'a, M> {
    pub(crate) fn new(
        shared: &'a Arc<Shared<M>>,
        id: u64,
        rx: oneshot::Receiver<Delivery<M>>,
    ) -> Self {
        Self {
            shared,
            id,
            rx,
            done: false,
        }
    }

    /// Wait for a delivery until `deadline`.
    pub(crate) async fn wait(&mut self, deadline: Instant) -> WaitOutcome<M> {
        let outcome = match timeout_at(deadline, &mut self.rx).await {
            Ok(Ok(Ok(entry))) => WaitOutcome::Conn(entry),
            Ok(Ok(Err(e))) => WaitOutcome::ConnectError(e),
            Ok(Err(_)) => WaitOutcome::Closed,
            Err(_) => self.withdraw(),
        };
        self.done = true;
        outcome
    }

    /// Leave the queue. If we were already dequeued, whatever was sent
    /// (under the lock, so it is in the channel by now) is the outcome.
    fn withdraw(&mut self) -> WaitOutcome<M> {
        self.done = true;
        if self.shared.withdraw(self.id) {
            return WaitOutcome::TimedOut;
        }
        self.rx.close();
        match self.rx.try_recv() {
            Ok(Ok(entry)) => WaitOutcome::Conn(entry),
            Ok(Err(e)) => WaitOutcome::ConnectError(e),
            Err(_) => WaitOutcome::Closed,
        }
    }
}

impl<M: Manager> Drop for WaitTicket<'_, M> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let WaitOutcome::Conn(entry) = self.withdraw() {
            // Handed to us as we were cancelled: pass it on.
            self.shared.put(entry);
        }
    }
}
