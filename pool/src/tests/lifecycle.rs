//! Connection lifecycle: max_lifetime on return and on idle checkout,
//! idle_timeout reaping that keeps min_idle, min_idle top-up capped by
//! max_size, live resizing.

use std::time::Duration;

use super::fake::{config, until, Fake};
use crate::{Pool, PoolConfig};

#[tokio::test(start_paused = true)]
async fn max_lifetime_closes_a_connection_when_returned() {
    let cfg = PoolConfig {
        max_lifetime: Some(Duration::from_secs(10)),
        ..config(2)
    };
    let pool = Pool::new(Fake::new(), cfg);
    let conn = pool.get().await.unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(conn.age() >= Duration::from_secs(11));
    drop(conn);
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.closed), (0, 0, 1));
    assert_eq!(pool.manager().live(), 0);
    assert_eq!(pool.get().await.unwrap().id, 2);
}

#[tokio::test(start_paused = true)]
async fn max_lifetime_skips_an_expired_idle_connection_on_checkout() {
    // Maintenance is hourly here, so only the checkout path can notice.
    let cfg = PoolConfig {
        max_lifetime: Some(Duration::from_secs(10)),
        ..config(2)
    };
    let pool = Pool::new(Fake::new(), cfg);
    drop(pool.get().await.unwrap());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(pool.get().await.unwrap().id, 1, "still young: reused");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(pool.get().await.unwrap().id, 2, "expired: replaced");
    assert_eq!(pool.stats().closed, 1);
    assert_eq!(pool.manager().live(), 1);
}

#[tokio::test(start_paused = true)]
async fn maintenance_closes_idle_connections_past_max_lifetime() {
    let cfg = PoolConfig {
        max_lifetime: Some(Duration::from_secs(10)),
        maintenance_interval: Duration::from_secs(1),
        ..config(2)
    };
    let pool = Pool::new(Fake::new(), cfg);
    drop(pool.get().await.unwrap());
    assert_eq!(pool.stats().idle, 1);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.closed), (0, 0, 1));
    assert_eq!(pool.manager().live(), 0);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_reaps_but_keeps_min_idle() {
    let cfg = PoolConfig {
        min_idle: 1,
        idle_timeout: Some(Duration::from_secs(5)),
        maintenance_interval: Duration::from_secs(1),
        ..config(5)
    };
    let pool = Pool::new(Fake::new(), cfg);
    let conns = (
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
    );
    drop(conns);
    let s = pool.stats();
    assert_eq!((s.open, s.idle), (3, 3));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pool.stats().idle, 3, "not yet past idle_timeout");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.closed), (1, 1, 2));
    assert_eq!(pool.manager().live(), 1);
}

#[tokio::test(start_paused = true)]
async fn min_idle_is_topped_up_without_exceeding_max_size() {
    let cfg = PoolConfig {
        min_idle: 3,
        maintenance_interval: Duration::from_secs(1),
        ..config(5)
    };
    let pool = Pool::new(Fake::new(), cfg);
    until(|| pool.stats().idle == 3).await;
    assert_eq!(pool.manager().connects(), 3);
    // Check three out: maintenance refills idle, but only up to max_size.
    let held = (
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
    );
    assert_eq!(pool.manager().connects(), 3, "checkouts used the idle ones");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.active), (5, 2, 3));
    assert_eq!(pool.manager().connects(), 5);
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn min_idle_larger_than_max_size_is_capped() {
    let cfg = PoolConfig {
        min_idle: 10,
        maintenance_interval: Duration::from_secs(1),
        ..config(2)
    };
    let pool = Pool::new(Fake::new(), cfg);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = pool.stats();
    assert_eq!((s.open, s.idle), (2, 2));
    assert_eq!(pool.manager().connects(), 2);
}

#[tokio::test(start_paused = true)]
async fn min_idle_top_up_retries_after_connect_failures() {
    let cfg = PoolConfig {
        min_idle: 1,
        maintenance_interval: Duration::from_secs(1),
        ..config(2)
    };
    let fake = Fake::new();
    fake.fail_connects(true);
    let pool = Pool::new(fake, cfg);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let s = pool.stats();
    assert_eq!((s.open, s.connecting), (0, 0));
    assert!(s.connect_errors >= 2, "{s:?}");
    pool.manager().fail_connects(false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pool.stats().idle, 1);
}

#[tokio::test]
async fn growing_max_size_serves_queued_waiters_at_once() {
    let pool = Pool::new(Fake::new(), config(1));
    let _held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.stats().waiting == 1).await;
    pool.reconfigure(config(2));
    assert_eq!(waiter.await.unwrap().unwrap(), 2);
    assert_eq!(pool.config().max_size, 2);
    assert_eq!(pool.stats().max_size, 2);
}

#[tokio::test]
async fn shrinking_max_size_closes_surplus_idle_and_returned_connections() {
    let pool = Pool::new(Fake::new(), config(4));
    let conns: Vec<_> = vec![
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
    ];
    let mut conns = conns.into_iter();
    drop(conns.next());
    drop(conns.next());
    assert_eq!(pool.stats().idle, 2);
    pool.reconfigure(config(1));
    // open 4 -> 2: both idle ones closed at once; the busy ones wait.
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.active), (2, 0, 2));
    drop(conns);
    let s = pool.stats();
    assert_eq!((s.open, s.idle), (1, 1));
    assert_eq!(pool.manager().live(), 1);
}

#[tokio::test(start_paused = true)]
async fn raising_min_idle_tops_up_without_waiting_for_the_next_tick() {
    let pool = Pool::new(Fake::new(), config(4)); // hourly maintenance
    tokio::task::yield_now().await;
    assert_eq!(pool.stats().open, 0);
    pool.reconfigure(PoolConfig {
        min_idle: 2,
        ..config(4)
    });
    until(|| pool.stats().idle == 2).await;
    assert_eq!(pool.manager().connects(), 2);
}
