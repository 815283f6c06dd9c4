//! `try_get`: an idle connection handed out without a future, and `None`
//! whenever `get` would have to do more (open, health-check, queue).

use std::time::Duration;

use super::fake::{config, Fake};
use crate::{Pool, PoolConfig};

#[tokio::test(start_paused = true)]
async fn hands_out_an_idle_connection_and_nothing_else() {
    let pool = Pool::new(Fake::new(), config(1));
    assert!(
        pool.try_get().is_none(),
        "nothing idle: it does not connect"
    );
    assert_eq!(pool.manager().live(), 0);
    drop(pool.get().await.unwrap());
    let conn = pool.try_get().expect("the idle connection");
    assert_eq!(conn.id, 1);
    assert!(pool.try_get().is_none(), "the only connection is out");
    drop(conn);
    assert_eq!(pool.stats().idle, 1, "returned as usual");
}

#[tokio::test(start_paused = true)]
async fn leaves_a_connection_due_for_a_health_check_to_get() {
    let cfg = PoolConfig {
        health_check_after: Duration::from_secs(1),
        ..config(1)
    };
    let pool = Pool::new(Fake::new(), cfg);
    drop(pool.get().await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(pool.try_get().is_none());
    assert_eq!(pool.stats().idle, 1, "left idle for get to check");
    let checks = pool.manager().checks();
    drop(pool.get().await.unwrap());
    assert_eq!(pool.manager().checks(), checks + 1, "get checked it");
}

#[tokio::test(start_paused = true)]
async fn does_not_jump_the_queue() {
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.get().await.map(|c| c.id) })
    };
    tokio::task::yield_now().await;
    drop(held);
    // The returned connection went to the waiter, not to the idle stack.
    assert!(pool.try_get().is_none());
    assert_eq!(waiting.await.unwrap().unwrap(), 1);
}
