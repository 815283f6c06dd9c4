//! Defaults and error messages.

use std::time::Duration;

use super::fake::{config, Fake};
use crate::{Pool, PoolConfig, PoolError};

#[test]
fn default_config_values() {
    let c = PoolConfig::default();
    assert_eq!((c.max_size, c.min_idle), (20, 0));
    assert_eq!(c.idle_timeout, Some(Duration::from_secs(600)));
    assert_eq!(c.max_lifetime, Some(Duration::from_secs(3600)));
    assert_eq!(c.checkout_timeout, Duration::from_secs(5));
    assert_eq!(c.health_check_after, Duration::from_secs(30));
    assert_eq!(c.maintenance_interval, Duration::from_secs(1));
}

#[test]
fn error_messages_are_actionable() {
    let t: PoolError<String> = PoolError::Timeout {
        waited: Duration::from_millis(5000),
        max_size: 20,
    };
    let msg = t.to_string();
    assert!(msg.contains("5000 ms"), "{msg}");
    assert!(msg.contains("all 20 connections are busy"), "{msg}");
    let c: PoolError<String> = PoolError::Connect("connection refused".into());
    assert_eq!(
        c.to_string(),
        "could not open a new pooled connection: connection refused"
    );
    assert_eq!(
        PoolError::<String>::Closed.to_string(),
        "the connection pool is closed"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(PoolError::<String>::Closed);
    assert!(boxed.to_string().contains("closed"));
}

#[tokio::test]
async fn config_reports_what_the_pool_was_built_with() {
    let cfg = PoolConfig {
        min_idle: 0,
        ..config(7)
    };
    let pool = Pool::new(Fake::new(), cfg.clone());
    assert_eq!(pool.config(), cfg);
    assert!(format!("{pool:?}").contains("max_size: 7"));
}

#[tokio::test]
async fn zero_max_size_times_out_instead_of_hanging() {
    let cfg = PoolConfig {
        checkout_timeout: Duration::from_millis(20),
        ..config(0)
    };
    let pool = Pool::new(Fake::new(), cfg);
    assert!(pool.get().await.unwrap_err().is_timeout());
    assert_eq!(pool.manager().connects(), 0);
}

#[test]
fn pool_and_checkout_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Pool<Fake>>();
    send_sync::<crate::Pooled<Fake>>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let pool = Pool::new(Fake::new(), config(1));
    let fut = pool.get();
    send(&fut);
    drop(fut);
    assert_eq!(pool.stats().checkouts, 0);
}
