//! The [`Manager`] trait: how the pool opens, health-checks and vets the
//! connections it holds. This is the only place the pool meets the
//! connection type.

use std::future::Future;

/// Opens and vets connections for a [`Pool`](crate::Pool).
///
/// Implementations are shared by all tasks using the pool, hence
/// `Send + Sync + 'static`.
pub trait Manager: Send + Sync + 'static {
    /// The pooled connection type.
    type Conn: Send + 'static;
    /// The error returned by [`connect`](Manager::connect) and
    /// [`check`](Manager::check).
    type Error: std::fmt::Display + Send + Sync + 'static;

    /// Open a new connection.
    fn connect(&self) -> impl Future<Output = Result<Self::Conn, Self::Error>> + Send;

    /// Health check of a connection that has been idle longer than
    /// [`PoolConfig::health_check_after`](crate::PoolConfig::health_check_after),
    /// run before it is handed out. `Err` => the pool discards it and tries
    /// another idle connection or opens a new one.
    fn check(&self, conn: &mut Self::Conn) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Called synchronously when a connection is returned; `false` => the
    /// pool closes (drops) it instead of keeping it idle.
    fn is_reusable(&self, conn: &Self::Conn) -> bool;
}
