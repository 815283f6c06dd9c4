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
            Ok((stream, _peer)) => {
                tokio::spawn(serve_connection(stream, ctx.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
