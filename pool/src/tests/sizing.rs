//! The size bound holds under concurrency (checked-out count, live
//! connections, connects), including when connections are discarded.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use super::fake::{config, eventually, Fake};
use crate::{Pool, PoolConfig};

async fn hammer(pool: &Pool<Fake>, tasks: usize, rounds: usize, discard_every: usize) -> usize {
    let in_use = Arc::new(AtomicUsize::new(0));
    let max_in_use = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (pool, in_use, max_in_use) =
            (pool.clone(), Arc::clone(&in_use), Arc::clone(&max_in_use));
        handles.push(tokio::spawn(async move {
            for r in 0..rounds {
                let conn = pool.get().await.unwrap();
                let now = in_use.fetch_add(1, SeqCst) + 1;
                max_in_use.fetch_max(now, SeqCst);
                tokio::task::yield_now().await;
                in_use.fetch_sub(1, SeqCst);
                if discard_every > 0 && (t + r) % discard_every == 0 {
                    conn.discard();
                } else {
                    drop(conn);
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    max_in_use.load(SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_bound_holds_under_concurrency() {
    let cfg = PoolConfig {
        checkout_timeout: Duration::from_secs(30),
        ..config(4)
    };
    let pool = Pool::new(Fake::new(), cfg);
    let max_in_use = hammer(&pool, 32, 25, 0).await;
    assert!(max_in_use <= 4, "{max_in_use} checked out at once");
    assert!(
        max_in_use >= 2,
        "pool never handed out more than one connection"
    );
    assert!(pool.manager().connects() <= 4);
    assert!(pool.manager().probe.max_live.load(SeqCst) <= 4);
    let s = pool.stats();
    assert_eq!(s.checkouts, 32 * 25);
    assert_eq!((s.waiting, s.active, s.connecting), (0, 0, 0));
    assert_eq!(s.open, pool.manager().live());
    assert_eq!(s.timeouts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_bound_holds_with_discards_under_concurrency() {
    let cfg = PoolConfig {
        checkout_timeout: Duration::from_secs(30),
        ..config(3)
    };
    let pool = Pool::new(Fake::new(), cfg);
    let max_in_use = hammer(&pool, 24, 20, 4).await;
    assert!(max_in_use <= 3, "{max_in_use} checked out at once");
    let max_live = pool.manager().probe.max_live.load(SeqCst);
    assert!(max_live <= 3, "{max_live} connections alive at once");
    // Discards happened, so fresh connections were opened for waiters.
    assert!(pool.manager().connects() > 3);
    // A connect spawned for a waiter that was then served by a returned
    // connection may still be finishing (it will go idle).
    eventually(|| {
        let s = pool.stats();
        s.connecting == 0 && s.active == 0
    })
    .await;
    let s = pool.stats();
    assert_eq!(s.checkouts, 24 * 20);
    assert_eq!(s.closed, 24 * 20 / 4);
    assert_eq!((s.waiting, s.active, s.connecting), (0, 0, 0));
    assert_eq!(s.open, pool.manager().live());
    assert!(s.open <= 3);
}
