//! [`PoolConfig`]: the pool's tunables and their defaults.

use std::time::Duration;

/// Pool settings. Can be changed on a live pool with
/// [`Pool::reconfigure`](crate::Pool::reconfigure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Maximum number of connections open or being opened at once.
    pub max_size: usize,
    /// Number of idle connections the maintenance task keeps ready (capped
    /// by `max_size`); idle-timeout reaping never goes below it.
    pub min_idle: usize,
    /// Idle connections unused for longer than this are closed by the
    /// maintenance task (keeping at least `min_idle` idle). `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Connections older than this are closed when returned or when found
    /// idle. `None`: no limit.
    pub max_lifetime: Option<Duration>,
    /// [`Pool::get`](crate::Pool::get) fails with
    /// [`PoolError::Timeout`](crate::PoolError::Timeout) after this long
    /// (measured from the start of the call, connecting and health checks
    /// included).
    pub checkout_timeout: Duration,
    /// A connection idle for longer than this is health-checked with
    /// [`Manager::check`](crate::Manager::check) before it is handed out.
    pub health_check_after: Duration,
    /// How often the background task reaps expired idle connections and
    /// tops the pool up to `min_idle`.
    pub maintenance_interval: Duration,
}

impl Default for PoolConfig {
    /// 20 connections, no minimum idle, 10 min idle timeout, 1 h lifetime,
    /// 5 s checkout timeout, health check after 30 s idle, maintenance
    /// every second.
    fn default() -> Self {
        Self {
            max_size: 20,
            min_idle: 0,
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(3600)),
            checkout_timeout: Duration::from_secs(5),
            health_check_after: Duration::from_secs(30),
            maintenance_interval: Duration::from_secs(1),
        }
    }
}
