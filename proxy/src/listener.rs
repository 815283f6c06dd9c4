//! Accepting client connections: one task per client, nothing shared but
//! the `Context`.

use crate::context::Context;
use crate::session::serve_connection;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Accepts clients until the task is dropped.
pub async fn accept_loop(listener: TcpListener, ctx: Arc<Context>) {
    loop {
        match listener.accept().await {
            Ok((mut stream, _peer)) => {
                if ctx.sessions.is_shutting_down() {
                    tokio::spawn(async move {
                        crate::session::startup::refuse_shutting_down(&mut stream).await;
                    });
                    continue;
                }
                let max = ctx.config.proxy.max_client_connections;
                let Some(slot) = ctx.sessions.open.try_acquire(max) else {
                    let e = crate::limits::too_many(
                        format!("too many client connections: shardwire accepts {max} (proxy.max_client_connections)"),
                        "retry later, close idle connections, or raise proxy.max_client_connections",
                    );
                    tokio::spawn(async move {
                        crate::session::startup::refuse_unread(&mut stream, e).await;
                    });
                    continue;
                };
                let id = ctx.sessions.next_id();
                let task = tokio::spawn(serve_connection(stream, ctx.clone(), id, slot));
                ctx.sessions.insert(id, task.abort_handle());
                if task.is_finished() {
                    // It ended before it was recorded: do not keep it.
                    ctx.sessions.remove(id);
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
