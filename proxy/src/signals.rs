//! PgBouncer's signals besides SIGHUP (reload) and SIGINT / SIGTERM (the
//! safe and super-safe shutdowns of [`crate::drain`], handled in `main`):
//! SIGUSR1 pauses as `PAUSE` does (new transactions wait, running ones
//! finish), SIGUSR2 resumes as `RESUME` does, and SIGQUIT shuts down at
//! once, also in the middle of a safe or super-safe shutdown. Listened to
//! in a task of their own.

use crate::context::Context;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};

/// Starts the listener task. A signal that cannot be watched is logged and
/// the others still work.
pub fn spawn(ctx: Arc<Context>) {
    tokio::spawn(async move {
        let watch = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch {name}");
                None
            }
        };
        let mut usr1 = watch(SignalKind::user_defined1(), "SIGUSR1");
        let mut usr2 = watch(SignalKind::user_defined2(), "SIGUSR2");
        let mut quit = watch(SignalKind::quit(), "SIGQUIT");
        loop {
            tokio::select! {
                Some(()) = recv(&mut usr1) => {
                    tracing::info!("SIGUSR1: paused (new transactions wait)");
                    ctx.pause.pause();
                }
                Some(()) = recv(&mut usr2) => {
                    tracing::info!("SIGUSR2: resumed");
                    ctx.pause.resume();
                }
                Some(()) = recv(&mut quit) => {
                    tracing::info!("SIGQUIT: immediate shutdown");
                    ctx.sessions.shutdown.notify_waiters();
                    ctx.sessions.shutdown.notify_one();
                }
                else => return,
            }
        }
    });
}

/// The next signal, or never when the signal is not watched.
async fn recv(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
