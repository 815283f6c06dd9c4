//! `PoolStats` gauges and counters follow what happened.

use std::time::Duration;

use super::fake::{config, until, Fake};
use crate::{Pool, PoolConfig};

#[tokio::test(start_paused = true)]
async fn stats_track_gauges_and_counters() {
    let cfg = PoolConfig {
        checkout_timeout: Duration::from_secs(1),
        ..config(2)
    };
    let pool = Pool::new(Fake::new(), cfg);
    let s = pool.stats();
    assert_eq!((s.max_size, s.open, s.checkouts), (2, 0, 0));

    let c1 = pool.get().await.unwrap();
    let c2 = pool.get().await.unwrap();
    let s = pool.stats();
    assert_eq!(
        (s.open, s.idle, s.active, s.connects, s.checkouts),
        (2, 0, 2, 2, 2)
    );

    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.stats().waiting == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(c1);
    assert_eq!(waiter.await.unwrap().unwrap(), 1);
    let s = pool.stats();
    assert_eq!((s.waiting, s.checkouts, s.idle, s.active), (0, 3, 1, 1));
    assert!(s.max_wait >= Duration::from_millis(300), "{s:?}");
    assert!(s.max_wait < Duration::from_millis(400), "{s:?}");
    assert!(s.total_wait >= s.max_wait);

    let c1 = pool.get().await.unwrap();
    assert!(pool.get().await.unwrap_err().is_timeout());
    let s = pool.stats();
    assert_eq!((s.timeouts, s.checkouts), (1, 4));
    assert!(
        s.max_wait < Duration::from_millis(400),
        "timeouts are not waits"
    );

    c1.discard();
    drop(c2);
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.active, s.closed), (1, 1, 0, 1));
    assert_eq!((s.connect_errors, s.health_check_failures), (0, 0));
}
