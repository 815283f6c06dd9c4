//! `shardwire-pool`: a generic, FIFO-fair async connection pool.
//!
//! The pool knows nothing about PostgreSQL: a [`Manager`] opens, checks and
//! vets connections, and the pool bounds how many exist, hands them out and
//! takes them back.
//!
//! Properties the proxy relies on:
//!
//! * **FIFO fairness.** A returned connection goes straight to the
//!   longest-waiting caller; a new caller never jumps ahead of queued ones,
//!   and a task that releases and immediately re-acquires goes to the back of
//!   the queue (no barging).
//! * **Cheap hot path.** Checking out an idle connection and returning it
//!   each take one uncontended `std::sync::Mutex` lock, with no allocation,
//!   no task spawn and no channel. Only callers that must wait get a
//!   `tokio::sync::oneshot`.
//! * **Bounded.** At most `max_size` connections are open or being opened.
//! * **Timeouts.** [`Pool::get`] fails with [`PoolError::Timeout`] once
//!   `checkout_timeout` has passed, instead of hanging.
//! * **Hygiene.** Health checks after `health_check_after` idle, `max_lifetime`,
//!   `idle_timeout` reaping and `min_idle` top-up by a background task.
//!
//! Module map: [`config`] (settings), [`manager`] (the trait), [`error`],
//! [`stats`], `shared` (the locked state machine), `waiter` (queued callers),
//! `slot` (capacity reservations), [`pool`] (the handle and `get`),
//! [`pooled`] (the checked-out guard), `maintenance` (the background task).

pub mod config;
pub mod error;
mod maintenance;
pub mod manager;
pub mod pool;
pub mod pooled;
mod shared;
mod slot;
pub mod stats;
mod waiter;

#[cfg(test)]
mod tests;

pub use config::PoolConfig;
pub use error::PoolError;
pub use manager::Manager;
pub use pool::Pool;
pub use pooled::Pooled;
pub use stats::PoolStats;
