//! 10,000 concurrent clients through a shardwire process (the binary, run
//! as a child so the test's and the proxy's sockets do not share one fd
//! limit): all log in and stay connected, a sample of them run a query,
//! then all close; the proxy stays up and serves new clients. Prints the
//! time to accept them and the proxy's memory per idle client.

use shardwire_rig::{NodeOptions, Rig};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CLIENTS: usize = 10_000;
const BATCH: usize = 250;

/// Raises this process's open-file limit to its hard limit.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return raised.rlim_cur;
        }
    }
    limit.rlim_cur
}

fn startup_packet(user: &str, database: &str) -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    for s in ["user", user, "database", database] {
        body.extend_from_slice(s.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    packet
}

/// Reads messages until ReadyForQuery; returns the tags seen.
async fn until_ready(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut tags = Vec::new();
    let mut head = [0u8; 5];
    loop {
        s.read_exact(&mut head).await?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        s.read_exact(&mut body).await?;
        tags.push(head[0]);
        if head[0] == b'E' {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        if head[0] == b'Z' {
            return Ok(tags);
        }
    }
}

async fn login(port: u16) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(&startup_packet("swarm", "app")).await?;
    until_ready(&mut s).await?;
    Ok(s)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_clients_connect_query_and_close() {
    let limit = raise_fd_limit();
    assert!(
        limit >= (CLIENTS + 500) as u64,
        "the open-file limit ({limit}) is too low for {CLIENTS} clients"
    );
    let rig = Rig::new().expect("rig");
    let primary = rig
        .start_primary("p", NodeOptions::default())
        .await
        .expect("primary");
    rig.create_user(&primary, "swarm", "swarm")
        .await
        .expect("user");
    rig.create_database(&primary, "app", "swarm")
        .await
        .expect("db");
    let port = free_port();
    let config = rig.dir().join("scale.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[proxy]
listen = "127.0.0.1:{port}"
database = "app"

[pool]
size = 10

[[users]]
name = "swarm"
password = "swarm"
auth = "trust"

[[shards]]
primary = {{ host = "127.0.0.1", port = {} }}
"#,
            primary.port()
        ),
    )
    .expect("config");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_shardwire"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("start shardwire");
    let pid = child.id().expect("pid");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "shardwire did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Warm up (one login), then measure.
    drop(login(port).await.expect("first login"));
    let baseline = rss_kib(pid);

    let started = Instant::now();
    let mut clients = Vec::with_capacity(CLIENTS);
    while clients.len() < CLIENTS {
        let n = BATCH.min(CLIENTS - clients.len());
        let batch = futures_util::future::join_all((0..n).map(|_| login(port))).await;
        for (i, c) in batch.into_iter().enumerate() {
            clients.push(
                c.unwrap_or_else(|e| panic!("client {} could not log in: {e}", clients.len() + i)),
            );
        }
    }
    let accept_time = started.elapsed();
    let loaded = rss_kib(pid);
    let per_client = (loaded.saturating_sub(baseline) as f64) / CLIENTS as f64;
    println!(
        "SCALE {CLIENTS} clients logged in and idle in {:.2} s; proxy RSS {baseline} KiB -> {loaded} KiB ({per_client:.2} KiB per client)",
        accept_time.as_secs_f64()
    );

    // A sample runs a query while everyone stays connected.
    for (i, c) in clients.iter_mut().enumerate().step_by(97) {
        let mut q = vec![b'Q'];
        let sql = format!("SELECT {i}\0");
        q.extend_from_slice(&((sql.len() + 4) as u32).to_be_bytes());
        q.extend_from_slice(sql.as_bytes());
        c.write_all(&q).await.expect("send query");
        let tags = until_ready(c).await.expect("query answer");
        assert!(tags.contains(&b'D'), "client {i}: {tags:?}");
    }
    drop(clients);
    // Still up and serving once they are all gone.
    let mut fresh = login(port).await.expect("a new client after the swarm");
    fresh
        .write_all(&[
            b'Q', 0, 0, 0, 13, b'S', b'E', b'L', b'E', b'C', b'T', b' ', b'1', 0,
        ])
        .await
        .expect("send");
    assert!(until_ready(&mut fresh)
        .await
        .expect("answer")
        .contains(&b'D'));
    assert!(
        child.try_wait().expect("status").is_none(),
        "shardwire stays up"
    );
    let _ = child.kill().await;
}
