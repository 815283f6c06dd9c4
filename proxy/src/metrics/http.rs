//! A minimal HTTP/1.1 listener for monitoring: `GET /metrics` (Prometheus
//! text format), `/health` (the process is alive) and `/ready` (every
//! shard's primary hands out a connection; 503 with a JSON body naming
//! what is missing otherwise). One request per connection.

use crate::context::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// Ready when every shard's primary hands out a connection that answers
/// a query, within 1 s.
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
    let mut missing = Vec::new();
    for (shard, pool) in user.shard_pools.iter().enumerate() {
        let probe = async {
            let mut conn = pool.get().await.ok()?;
            conn.simple_query("", false).await.ok()
        };
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(1), probe).await,
            Ok(Some(_))
        );
        if !ok {
            missing.push(format!(
                "\"shard {shard} primary ({})\"",
                pool.manager().target().label.replace('"', "'")
            ));
        }
    }
    if missing.is_empty() {
        ("200 OK", "application/json", "{\"ready\":true}\n".into())
    } else {
        (
            "503 Service Unavailable",
            "application/json",
            format!("{{\"ready\":false,\"missing\":[{}]}}\n", missing.join(",")),
        )
    }
}
