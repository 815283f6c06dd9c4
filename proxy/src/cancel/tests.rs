//! Unit tests of `cancel`.

use super::*;

#[test]
fn lookup_follows_slot_and_unregisters_on_drop() {
    let reg = Arc::new(CancelRegistry::default());
    let r = reg.register();
    let (pid, secret) = r.key;
    assert_eq!(reg.lookup(pid, secret), None);
    let t = CancelTarget {
        addr: "127.0.0.1:5432".parse().unwrap(),
        pid: 1,
        secret: 2,
    };
    r.slot.set(Some(t));
    assert_eq!(reg.lookup(pid, secret), Some(t));
    assert_eq!(reg.lookup(pid, secret.wrapping_add(1)), None);
    drop(r);
    assert_eq!(reg.lookup(pid, secret), None);
    assert!(reg.is_empty());
}

#[test]
fn wait_flag_keeps_when_the_wait_began() {
    use std::sync::atomic::Ordering::Relaxed;
    let flag = WaitFlag::default();
    assert!(!flag.load(Relaxed));
    assert_eq!(flag.waited(), None);
    flag.store(true, Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(flag.load(Relaxed));
    let waited = flag.waited().expect("waiting");
    assert!(waited >= std::time::Duration::from_millis(20), "{waited:?}");
    flag.store(false, Relaxed);
    assert!(!flag.load(Relaxed));
    assert_eq!(flag.waited(), None);
}
