//! Tearing rigs down when the process is interrupted.
//!
//! A [`TeardownRegistry`] holds weak handles to rigs (so it never keeps one
//! alive); [`install_ctrl_c_teardown`] spawns a task that, on SIGINT or
//! SIGTERM, stops every node of every live registered rig, removes their
//! directories and exits the process.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};

use crate::rig::{Rig, RigState};

/// The exit status after a signal teardown (128 + SIGINT).
pub const TEARDOWN_EXIT_CODE: i32 = 130;

/// A shared, cloneable set of rigs to tear down on a signal.
#[derive(Clone, Default)]
pub struct TeardownRegistry {
    rigs: Arc<Mutex<Vec<Weak<RigState>>>>,
}

impl std::fmt::Debug for TeardownRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeardownRegistry")
            .field("live", &self.live())
            .finish()
    }
}

impl TeardownRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `rig` (weakly: dropping the rig still tears it down at once).
    pub fn register(&self, rig: &Rig) {
        let weak = Arc::downgrade(rig.state());
        let mut rigs = self.lock();
        rigs.retain(|w| w.strong_count() > 0);
        if !rigs.iter().any(|w| w.ptr_eq(&weak)) {
            rigs.push(weak);
        }
    }

    /// How many registered rigs are still alive.
    pub fn live(&self) -> usize {
        self.lock().iter().filter(|w| w.strong_count() > 0).count()
    }

    /// Stops every node of every live registered rig and removes their
    /// directories. Blocking; idempotent.
    pub fn teardown_all(&self) {
        let live: Vec<Arc<RigState>> = self.lock().iter().filter_map(Weak::upgrade).collect();
        for state in live {
            state.teardown();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Weak<RigState>>> {
        self.rigs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// On SIGINT or SIGTERM, tears down every rig in `registry` and exits with
/// [`TEARDOWN_EXIT_CODE`].
///
/// The handlers are installed before this returns. Call it on the runtime
/// that lives as long as the program: once tokio owns SIGINT, the default
/// "terminate" action is gone for good.
pub fn install_ctrl_c_teardown(
    registry: &TeardownRegistry,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let registry = registry.clone();
    Ok(tokio::spawn(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::warn!(
            signal = name,
            rigs = registry.live(),
            "tearing down PostgreSQL rigs"
        );
        let teardown = tokio::task::spawn_blocking(move || registry.teardown_all());
        if let Err(e) = teardown.await {
            tracing::error!(error = %e, "rig teardown panicked");
        }
        std::process::exit(TEARDOWN_EXIT_CODE);
    }))
}
