//! An idle client's task must stay small: 10,000 idle clients are meant
//! to cost a few KiB each. The future `serve_connection` returns is what
//! tokio allocates per client; large steps (admin commands, the TLS
//! handshake, replica reads, failover waits) are boxed so they do not
//! inflate it. This guards against an unboxed path growing every task
//! (it once reached 9.4 KB in a release build).

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
    let task = shardwire::session::serve_connection(stream, ctx, 0);
    let size = std::mem::size_of_val(&task);
    println!("client task: {size} bytes");
    // Debug builds lay futures out larger than release builds (2.5 KB).
    let limit = if cfg!(debug_assertions) {
        6 * 1024
    } else {
        4 * 1024
    };
    assert!(
        size <= limit,
        "a client's task reserves {size} bytes (limit {limit})"
    );
}
