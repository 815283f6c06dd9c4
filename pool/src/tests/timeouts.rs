//! Checkout timeouts and cancellation: `Timeout` after the configured time,
//! no connection or slot lost when a waiter gives up or is dropped.

use std::time::Duration;

use tokio::time::Instant;

use super::fake::{config, until, Fake};
use crate::{Pool, PoolConfig, PoolError};

fn cfg(max_size: usize, timeout_ms: u64) -> PoolConfig {
    PoolConfig {
        checkout_timeout: Duration::from_millis(timeout_ms),
        ..config(max_size)
    }
}

#[tokio::test(start_paused = true)]
async fn get_times_out_after_checkout_timeout() {
    let pool = Pool::new(Fake::new(), cfg(1, 2000));
    let _held = pool.get().await.unwrap();
    let t0 = Instant::now();
    let err = pool.get().await.unwrap_err();
    let elapsed = t0.elapsed();
    match err {
        PoolError::Timeout { waited, max_size } => {
            assert_eq!(max_size, 1);
            assert!(waited >= Duration::from_secs(2), "waited {waited:?}");
            assert!(waited < Duration::from_millis(2100), "waited {waited:?}");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(elapsed >= Duration::from_secs(2));
    let s = pool.stats();
    assert_eq!(s.timeouts, 1);
    assert_eq!(s.waiting, 0);
    assert_eq!(s.checkouts, 1);
}

#[tokio::test(start_paused = true)]
async fn timed_out_waiter_leaves_the_queue_and_loses_nothing() {
    let pool = Pool::new(Fake::new(), cfg(1, 100));
    let held = pool.get().await.unwrap();
    assert!(pool.get().await.unwrap_err().is_timeout());
    assert_eq!(pool.stats().waiting, 0);
    drop(held);
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.active), (1, 1, 0));
    let again = pool.get().await.unwrap();
    assert_eq!(again.id, 1);
    assert_eq!(pool.manager().connects(), 1);
}

#[tokio::test(start_paused = true)]
async fn slow_connect_is_bounded_by_checkout_timeout_and_frees_its_slot() {
    let pool = Pool::new(Fake::new(), cfg(1, 1000));
    pool.manager().set_connect_delay(Duration::from_secs(10));
    let t0 = Instant::now();
    assert!(pool.get().await.unwrap_err().is_timeout());
    assert!(t0.elapsed() < Duration::from_secs(2));
    let s = pool.stats();
    assert_eq!((s.open, s.connecting), (0, 0));
    pool.manager().set_connect_delay(Duration::ZERO);
    assert_eq!(pool.get().await.unwrap().id, 1);
}

#[tokio::test(start_paused = true)]
async fn cancelled_get_withdraws_from_the_queue() {
    let pool = Pool::new(Fake::new(), cfg(1, 10_000));
    let held = pool.get().await.unwrap();
    // The caller gives up long before the pool's own timeout.
    assert!(tokio::time::timeout(Duration::from_millis(50), pool.get())
        .await
        .is_err());
    assert_eq!(pool.stats().waiting, 0);
    drop(held);
    assert_eq!(pool.stats().idle, 1);
}

#[tokio::test]
async fn connection_sent_to_a_cancelled_waiter_goes_to_the_next_one() {
    let pool = Pool::new(Fake::new(), cfg(1, 10_000));
    let held = pool.get().await.unwrap();
    // First waiter: polled once (queued), then abandoned with the
    // connection already sitting in its channel.
    let mut first = Box::pin(pool.get());
    assert!(tokio::time::timeout(Duration::ZERO, &mut first)
        .await
        .is_err());
    let p = pool.clone();
    let second = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.stats().waiting == 2).await;
    drop(held); // handed to `first`
    assert_eq!(pool.stats().waiting, 1);
    drop(first); // must pass it on to `second`
    assert_eq!(second.await.unwrap().unwrap(), 1);
    assert_eq!(pool.manager().connects(), 1);
    assert_eq!(pool.stats().idle, 1);
}

#[tokio::test]
async fn connection_sent_to_a_cancelled_last_waiter_goes_idle() {
    let pool = Pool::new(Fake::new(), cfg(1, 10_000));
    let held = pool.get().await.unwrap();
    let mut waiter = Box::pin(pool.get());
    assert!(tokio::time::timeout(Duration::ZERO, &mut waiter)
        .await
        .is_err());
    drop(held);
    drop(waiter);
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.waiting), (1, 1, 0));
}
