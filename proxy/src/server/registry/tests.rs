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
        fd: None,
    });
    assert_eq!(registry.entries().len(), 1);
    r.entry.in_use.store(true, Ordering::Relaxed);
    assert!(registry.entries()[0].in_use.load(Ordering::Relaxed));
    drop(r);
    assert!(registry.entries().is_empty());
}

fn entry(shard: Arc<crate::topology::ShardState>, fd: RawFd) -> ServerEntry {
    let generation = shard.generation();
    ServerEntry {
        user: "u".into(),
        database: "d".into(),
        shard: shard.index,
        addr: "127.0.0.1:5432".parse().unwrap(),
        local_addr: None,
        pid: 42,
        connected_at: SystemTime::now(),
        in_use: AtomicBool::new(true),
        opened_under: Some(OpenedUnder { shard, generation }),
        fd: Some(fd),
    }
}

#[test]
fn sever_replaced_shuts_down_only_sockets_opened_under_a_replaced_primary() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let endpoint = |port| shardwire_control::Endpoint {
        host: "127.0.0.1".into(),
        port,
    };
    let shard0 = Arc::new(crate::topology::ShardState::new(
        0,
        endpoint(5432),
        vec![endpoint(5433)],
    ));
    let shard1 = Arc::new(crate::topology::ShardState::new(
        1,
        endpoint(5434),
        vec![endpoint(5435)],
    ));
    let (old, mut old_peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let (other, other_peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let registry = Arc::new(ServerRegistry::default());
    let _old = registry.register(entry(shard0.clone(), old.as_raw_fd()));
    let _other = registry.register(entry(shard1.clone(), other.as_raw_fd()));

    // Nothing replaced yet: nothing is touched.
    assert_eq!(registry.sever_replaced(0), 0);
    shard0.promote(&endpoint(5433));
    let (new, _new_peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let _new = registry.register(entry(shard0.clone(), new.as_raw_fd()));

    // Only the connection opened under shard 0's former primary.
    assert_eq!(registry.sever_replaced(0), 1);
    let mut buf = [0u8; 1];
    assert_eq!(old_peer.read(&mut buf).unwrap(), 0, "the peer sees EOF");
    other_peer.set_nonblocking(true).unwrap();
    assert_eq!(
        (&other_peer).read(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "another shard's connection is untouched"
    );
    new.set_nonblocking(true).unwrap();
    assert_eq!(
        (&new).read(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a connection to the new primary is untouched"
    );
}
