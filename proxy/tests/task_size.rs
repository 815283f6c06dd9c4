//! An idle client's task must stay small: 10,000 idle clients are meant
//! to cost at most 1.5 KiB each, the task 256 bytes of it. The future
//! `serve_connection` returns is what tokio allocates per client; the
//! login, large steps (admin commands, the TLS handshake, replica reads,
//! failover waits) and the session itself are boxed so they do not inflate
//! it. This guards against an unboxed path growing every task (it once
//! reached 9.4 KB in a release build).

#[tokio::test]
async fn a_client_task_reserves_only_a_few_kib() {
    let config = shardwire::config::parse_str(
        "[[users]]\nname = \"a\"\npassword = \"a\"\n\n[[shards]]\nprimary = { host = \"127.0.0.1\", port = 1 }\n",
    )
    .expect("config");
    let client_tls = shardwire::tls::load_acceptor(&config.tls).expect("tls");
    let server_tls =
        std::sync::Arc::new(shardwire::tls::ServerTls::from_config(&config).expect("server tls"));
    let ctx = shardwire::context::Context::new(config, client_tls, server_tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let _client = tokio::net::TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (stream, _) = listener.accept().await.expect("accept");
    let slot = ctx.sessions.open.try_acquire(1).expect("a connection slot");
    let task = shardwire::session::serve_connection(stream, ctx, 0, slot);
    let size = std::mem::size_of_val(&task);
    println!("client task: {size} bytes");
    // The login runs boxed, the session lives on the heap and holds the
    // connection's bookkeeping, so the task holds the relay loop and a
    // pointer: 152 bytes. tokio's task cell adds a 32-byte header, 16 bytes
    // of scheduler and id and a 48-byte trailer, and is 128-byte aligned:
    // up to 160 bytes of future it is 256 bytes, above that 384.
    let limit = 160;
    assert!(
        size <= limit,
        "a client's task reserves {size} bytes (limit {limit})"
    );
}
