//! Closing: explicit `close()`, and dropping the last `Pool` clone, which
//! also stops the maintenance task and frees the manager.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use super::fake::{config, until, Fake};
use crate::{Pool, PoolConfig, PoolError};

#[tokio::test]
async fn close_fails_waiters_and_future_gets() {
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.stats().waiting == 1).await;
    pool.close();
    assert!(pool.is_closed());
    assert!(matches!(waiter.await.unwrap(), Err(PoolError::Closed)));
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    assert_eq!(pool.manager().live(), 1, "checked-out connection untouched");
    drop(held);
    assert_eq!(pool.manager().live(), 0, "closed when returned");
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.waiting), (0, 0, 0));
}

#[tokio::test]
async fn close_drops_idle_connections() {
    let pool = Pool::new(Fake::new(), config(3));
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    drop((a, b));
    assert_eq!(pool.manager().live(), 2);
    pool.close();
    assert_eq!(pool.manager().live(), 0);
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.closed), (0, 0, 2));
}

#[tokio::test]
async fn dropping_the_last_pool_clone_closes_it_and_stops_maintenance() {
    let cfg = PoolConfig {
        min_idle: 2,
        maintenance_interval: Duration::from_millis(10),
        ..config(4)
    };
    let pool = Pool::new(Fake::new(), cfg);
    let probe = std::sync::Arc::clone(&pool.manager().probe);
    until(|| pool.stats().idle == 2).await;
    let clone = pool.clone();
    drop(pool);
    assert!(!clone.is_closed(), "a clone is still alive");
    assert_eq!(clone.stats().idle, 2);
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(metrics.num_alive_tasks(), 1, "the maintenance task");
    drop(clone);
    until(|| metrics.num_alive_tasks() == 0).await;
    assert!(probe.manager_dropped.load(SeqCst));
    assert_eq!(probe.live.load(SeqCst), 0);
}

#[tokio::test]
async fn close_stops_maintenance() {
    let cfg = PoolConfig {
        min_idle: 1,
        maintenance_interval: Duration::from_secs(3600),
        ..config(4)
    };
    let pool = Pool::new(Fake::new(), cfg);
    until(|| pool.stats().idle == 1).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(metrics.num_alive_tasks(), 1);
    pool.close();
    until(|| metrics.num_alive_tasks() == 0).await;
    assert_eq!(pool.manager().connects(), 1);
}

#[tokio::test]
async fn connection_outliving_the_pool_is_closed_on_return() {
    let pool = Pool::new(Fake::new(), config(2));
    let conn = pool.get().await.unwrap();
    let probe = std::sync::Arc::clone(&pool.manager().probe);
    drop(pool);
    assert_eq!(probe.live.load(SeqCst), 1);
    assert!(
        !probe.manager_dropped.load(SeqCst),
        "kept alive by the connection"
    );
    drop(conn);
    assert_eq!(probe.live.load(SeqCst), 0);
    assert!(probe.manager_dropped.load(SeqCst));
}

#[tokio::test(start_paused = true)]
async fn close_during_a_connect_fails_that_get_and_drops_the_connection() {
    let pool = Pool::new(Fake::new(), config(2));
    pool.manager().set_connect_delay(Duration::from_millis(100));
    let p = pool.clone();
    let getter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.stats().connecting == 1).await;
    pool.close();
    assert!(matches!(getter.await.unwrap(), Err(PoolError::Closed)));
    assert_eq!(pool.manager().connects(), 1);
    assert_eq!(pool.manager().live(), 0);
    let s = pool.stats();
    assert_eq!((s.open, s.connecting), (0, 0));
}

#[tokio::test]
async fn retire_idle_closes_idle_keeps_busy_and_stays_open() {
    let pool = Pool::new(Fake::new(), config(3));
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    drop(a);
    assert_eq!(pool.manager().live(), 2);
    assert_eq!(pool.retire_idle(), 1);
    assert_eq!(pool.manager().live(), 1, "the busy connection is untouched");
    assert!(!pool.is_closed());
    let c = pool.get().await.unwrap();
    assert_eq!(pool.manager().live(), 2, "a fresh connection was opened");
    drop((b, c));
    let s = pool.stats();
    assert_eq!((s.open, s.idle), (2, 2));
}
