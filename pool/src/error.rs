//! [`PoolError`]: why [`Pool::get`](crate::Pool::get) failed.

use std::fmt;
use std::time::Duration;

/// Error returned by [`Pool::get`](crate::Pool::get). `E` is the
/// [`Manager::Error`](crate::Manager::Error).
#[derive(Debug)]
pub enum PoolError<E> {
    /// No connection became available within `checkout_timeout`.
    Timeout {
        /// How long the caller waited.
        waited: Duration,
        /// The pool's size limit at the time (all of them were busy).
        max_size: usize,
    },
    /// Opening a new connection failed.
    Connect(E),
    /// The pool has been closed.
    Closed,
}

impl<E> PoolError<E> {
    /// `true` for [`PoolError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, PoolError::Timeout { .. })
    }
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Timeout { waited, max_size } => write!(
                f,
                "timed out after {} ms waiting for a pooled connection: all {} connections are busy \
                 (raise the pool size or shorten transactions)",
                waited.as_millis(),
                max_size
            ),
            PoolError::Connect(e) => write!(f, "could not open a new pooled connection: {e}"),
            PoolError::Closed => f.write_str("the connection pool is closed"),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for PoolError<E> {}
