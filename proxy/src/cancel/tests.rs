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
