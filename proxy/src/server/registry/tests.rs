//! Unit tests of `registry`.

use super::*;

#[test]
fn registration_lives_as_long_as_the_connection() {
    let registry = Arc::new(ServerRegistry::default());
    let r = registry.register(ServerEntry {
        user: "u".into(),
        database: "d".into(),
        shard: 2,
        addr: "127.0.0.1:5432".parse().unwrap(),
        local_addr: None,
        pid: 42,
        connected_at: SystemTime::now(),
        in_use: AtomicBool::new(false),
        opened_under: None,
    });
    assert_eq!(registry.entries().len(), 1);
    r.entry.in_use.store(true, Ordering::Relaxed);
    assert!(registry.entries()[0].in_use.load(Ordering::Relaxed));
    drop(r);
    assert!(registry.entries().is_empty());
}
