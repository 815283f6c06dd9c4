//! A minimal HTTP/1.1 listener for monitoring: `GET /metrics` (Prometheus
//! text format), `/health` (the process is alive) and `/ready` (200 when
//! not draining, coordination holds and at least one shard's primary hands
//! out a connection; the JSON body names any shard whose primary does not;
//! 503 otherwise). One request per connection.

use crate::context::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long `/ready` waits for each shard's primary.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Serves monitoring requests until the task is dropped.
pub async fn serve(listener: TcpListener, ctx: Arc<Context>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(stream, ctx.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(mut stream: TcpStream, ctx: Arc<Context>) {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // Read the request head (bounded in size and time).
    let head = tokio::time::timeout(Duration::from_secs(5), async {
        while len < buf.len() {
            match stream.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    if head.is_err() {
        return;
    }
    let request = String::from_utf8_lossy(&buf[..len]);
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => {
            super::snapshot::refresh(&ctx);
            ("200 OK", "text/plain; version=0.0.4", ctx.metrics.encode())
        }
        ("GET", "/health") => ("200 OK", "text/plain", "ok\n".to_string()),
        ("GET", "/ready") => readiness(&ctx).await,
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "try /metrics, /health or /ready\n".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Not draining, coordination holds (in a fleet), and at least one shard's
/// primary hands out a connection that answers; see [`PROBE_TIMEOUT`].
async fn readiness(ctx: &Context) -> (&'static str, &'static str, String) {
    if ctx.sessions.is_shutting_down() {
        return (
            "503 Service Unavailable",
            "application/json",
            "{\"ready\":false,\"draining\":true}\n".into(),
        );
    }
    if let Some(fleet) = &ctx.control.fleet {
        if ctx
            .topology
            .shards
            .iter()
            .any(|s| s.writes_refused().is_some())
        {
            return (
                "503 Service Unavailable",
                "application/json",
                format!(
                    "{{\"ready\":false,\"coordination\":\"lost\",\"instance\":\"{}\"}}\n",
                    fleet.name().replace('"', "'")
                ),
            );
        }
    }
    let Some(user) = ctx.users.values().next() else {
        return (
            "503 Service Unavailable",
            "application/json",
            "{\"ready\":false,\"missing\":[\"users\"]}\n".into(),
        );
    };
    // Every shard's primary is probed at once, each within PROBE_TIMEOUT,
    // so the answer comes well inside a load balancer's check timeout.
    let probes = user.shard_pools.iter().map(|pool| async move {
        let probe = async {
            let mut conn = pool.get().await.ok()?;
            conn.simple_query("", false).await.ok()
        };
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, probe).await,
            Ok(Some(_))
        )
    });
    let answered = futures_util::future::join_all(probes).await;
    let missing: Vec<String> = user
        .shard_pools
        .iter()
        .zip(&answered)
        .enumerate()
        .filter(|(_, (_, ok))| !**ok)
        .map(|(shard, (pool, _))| {
            format!(
                "\"shard {shard} primary ({})\"",
                pool.manager().target().label.replace('"', "'")
            )
        })
        .collect();
    // One shard without a primary (dead, failing over) is the same for
    // every instance: taking them all out of the load balancer would only
    // cut off the other shards' clients too. The instance is unready when
    // it reaches no shard's primary at all (cut off from the databases).
    if missing.is_empty() {
        ("200 OK", "application/json", "{\"ready\":true}\n".into())
    } else if missing.len() < answered.len() {
        (
            "200 OK",
            "application/json",
            format!("{{\"ready\":true,\"missing\":[{}]}}\n", missing.join(",")),
        )
    } else {
        (
            "503 Service Unavailable",
            "application/json",
            format!("{{\"ready\":false,\"missing\":[{}]}}\n", missing.join(",")),
        )
    }
}
