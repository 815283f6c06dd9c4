//! Metrics: pre-registered Prometheus handles (so the data path only
//! touches atomics), the per-pool traffic counters that `SHOW STATS` reads,
//! and the small HTTP listener serving `/metrics`, `/health` and `/ready`.

mod fleet;
pub mod http;
mod registry;
pub mod snapshot;

pub use registry::{Metrics, PoolTraffic};
