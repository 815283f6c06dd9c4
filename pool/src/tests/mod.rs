//! Unit tests: a fake [`Manager`](crate::Manager) (no database) drives the
//! pool through fairness, bounds, timeouts, failures, lifecycle and stats.

mod close;
mod config_errors;
mod failures;
mod fairness;
mod fake;
mod lifecycle;
mod sizing;
mod stats;
mod timeouts;
mod try_get;
