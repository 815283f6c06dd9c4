//! FIFO fairness: waiters are served in arrival order, a releasing task
//! cannot re-acquire ahead of them, and a new caller cannot barge.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::fake::{config, until, Fake};
use crate::Pool;

#[tokio::test]
async fn waiters_are_served_in_arrival_order() {
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (p, o) = (pool.clone(), Arc::clone(&order));
        tasks.push(tokio::spawn(async move {
            let conn = p.get().await.unwrap();
            o.lock().unwrap().push((i, conn.id));
        }));
        until(|| pool.stats().waiting == i + 1).await;
    }
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order, (0..8).map(|i| (i, 1)).collect::<Vec<_>>());
    assert_eq!(pool.manager().connects(), 1);
}

#[tokio::test]
async fn releasing_task_goes_to_the_back_of_the_queue() {
    // Each task takes the single connection 3 times, re-requesting it the
    // moment it releases it. With barging, a task would get it back at
    // once (0,0,0,1,1,1,...); FIFO hand-off makes it round-robin.
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let (p, o) = (pool.clone(), Arc::clone(&order));
        tasks.push(tokio::spawn(async move {
            let mut conn = p.get().await.unwrap();
            for round in 0..3 {
                o.lock().unwrap().push(i);
                tokio::task::yield_now().await;
                drop(conn);
                if round == 2 {
                    break;
                }
                conn = p.get().await.unwrap();
            }
        }));
        until(|| pool.stats().waiting == i + 1).await;
    }
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order, vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
}

#[tokio::test]
async fn new_caller_does_not_barge_past_a_queued_waiter() {
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (p, o) = (pool.clone(), Arc::clone(&order));
    let waiter = tokio::spawn(async move {
        let _conn = p.get().await.unwrap();
        o.lock().unwrap().push("waiter");
        tokio::time::sleep(Duration::from_millis(5)).await;
    });
    until(|| pool.stats().waiting == 1).await;
    // Release and ask again from the same task before the waiter has run:
    // the connection must already belong to the waiter.
    drop(held);
    assert_eq!(pool.stats().idle, 0);
    let _again = pool.get().await.unwrap();
    order.lock().unwrap().push("releaser");
    waiter.await.unwrap();
    assert_eq!(*order.lock().unwrap(), vec!["waiter", "releaser"]);
}

#[tokio::test(start_paused = true)]
async fn queued_waiters_get_freed_capacity_in_order_after_discards() {
    // Connections are discarded instead of returned: every freed slot must
    // turn into a fresh connection for the head waiter, in order.
    let pool = Pool::new(Fake::new(), config(1));
    let held = pool.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let (p, o) = (pool.clone(), Arc::clone(&order));
        tasks.push(tokio::spawn(async move {
            let conn = p.get().await.unwrap();
            o.lock().unwrap().push((i, conn.id));
            conn.discard();
        }));
        until(|| pool.stats().waiting == i + 1).await;
    }
    held.discard();
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order, vec![(0, 2), (1, 3), (2, 4), (3, 5)]);
    assert_eq!(pool.stats().open, 0);
    assert_eq!(pool.manager().live(), 0);
}
