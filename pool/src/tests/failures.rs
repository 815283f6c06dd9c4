//! Failure paths: connect errors, non-reusable and discarded connections,
//! failed health checks. Each must free its slot and keep waiters served.

use std::time::Duration;

use tokio::time::Instant;

use super::fake::{config, until, Fake};
use crate::{Pool, PoolConfig, PoolError};

#[tokio::test]
async fn connect_error_surfaces_and_frees_the_slot() {
    let pool = Pool::new(Fake::new(), config(1));
    pool.manager().fail_connects(true);
    match pool.get().await {
        Err(PoolError::Connect(e)) => assert_eq!(e, "connection refused"),
        other => panic!("expected Connect, got {:?}", other.map(|c| c.id)),
    }
    let s = pool.stats();
    assert_eq!(
        (s.open, s.connecting, s.connect_errors, s.connects),
        (0, 0, 1, 0)
    );
    pool.manager().fail_connects(false);
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.id, 1);
    assert_eq!(pool.stats().connects, 1);
}

#[tokio::test(start_paused = true)]
async fn waiter_gets_the_error_of_the_connect_started_for_it() {
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move {
        let t0 = Instant::now();
        (p.get().await.map(|c| c.id), t0.elapsed())
    });
    until(|| pool.stats().waiting == 1).await;
    pool.manager().fail_connects(true);
    held.discard();
    let (result, waited) = waiter.await.unwrap();
    assert!(matches!(result, Err(PoolError::Connect(_))), "{result:?}");
    assert!(
        waited < Duration::from_secs(5),
        "failed fast, not by timeout"
    );
    let s = pool.stats();
    assert_eq!(
        (s.open, s.connecting, s.waiting, s.connect_errors),
        (0, 0, 0, 1)
    );
}

#[tokio::test]
async fn not_reusable_connection_is_closed_and_a_waiter_gets_a_fresh_one() {
    let pool = Pool::new(Fake::new(), config(1));
    let mut held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.stats().waiting == 1).await;
    held.broken = true;
    drop(held);
    assert_eq!(waiter.await.unwrap().unwrap(), 2);
    assert_eq!(pool.manager().connects(), 2);
    assert_eq!(pool.manager().live(), 1);
    let s = pool.stats();
    assert_eq!((s.closed, s.open, s.idle), (1, 1, 1));
}

#[tokio::test]
async fn discard_frees_the_slot_and_a_waiter_gets_a_fresh_one() {
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.stats().waiting == 1).await;
    held.discard();
    assert_eq!(waiter.await.unwrap().unwrap(), 2);
    assert_eq!(pool.manager().live(), 1);
    assert_eq!(pool.stats().closed, 1);
}

#[tokio::test]
async fn discard_without_waiters_just_closes() {
    let pool = Pool::new(Fake::new(), config(2));
    pool.get().await.unwrap().discard();
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.closed), (0, 0, 1));
    assert_eq!(pool.manager().live(), 0);
}

fn check_cfg() -> PoolConfig {
    PoolConfig {
        health_check_after: Duration::from_secs(1),
        ..config(4)
    }
}

#[tokio::test(start_paused = true)]
async fn health_check_runs_only_after_the_idle_threshold() {
    let pool = Pool::new(Fake::new(), check_cfg());
    drop(pool.get().await.unwrap());
    drop(pool.get().await.unwrap());
    assert_eq!(pool.manager().checks(), 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let conn = pool.get().await.unwrap();
    assert_eq!(pool.manager().checks(), 1);
    assert_eq!(conn.id, 1);
}

#[tokio::test(start_paused = true)]
async fn failed_health_check_replaces_the_connection() {
    let pool = Pool::new(Fake::new(), check_cfg());
    drop(pool.get().await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    pool.manager().mark_unhealthy(1);
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.id, 2);
    assert_eq!(pool.manager().checks(), 1);
    assert_eq!(pool.manager().live(), 1);
    let s = pool.stats();
    assert_eq!((s.health_check_failures, s.closed, s.open), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn all_idle_failing_health_checks_falls_back_to_connect() {
    let pool = Pool::new(Fake::new(), check_cfg());
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    drop((a, b));
    tokio::time::sleep(Duration::from_secs(2)).await;
    pool.manager().mark_unhealthy(1);
    pool.manager().mark_unhealthy(2);
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.id, 3);
    assert_eq!(pool.manager().checks(), 2);
    assert_eq!(pool.stats().health_check_failures, 2);
    assert_eq!(pool.manager().live(), 1);
}
