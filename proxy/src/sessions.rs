//! Every client connection's task, so the admin console can end them:
//! `KILL` aborts the client sessions (not the admin consoles),
//! `KILL_CLIENT` one of them, `SHUTDOWN` refuses new clients, waits for
//! running transactions, then ends every session and tells the process to
//! exit; and the databases `DISABLE` closed to new logins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// One connection's task.
struct Entry {
    handle: AbortHandle,
}

/// The connections' tasks and the shutdown state.
#[derive(Default)]
pub struct SessionTable {
    next: AtomicU64,
    entries: Mutex<HashMap<u64, Entry>>,
    /// Admin console sessions (kept apart: a task may mark itself before
    /// the listener has recorded it).
    admins: Mutex<std::collections::HashSet<u64>>,
    shutting_down: AtomicBool,
    /// Open client connections (all kinds), against
    /// `proxy.max_client_connections`.
    pub open: Arc<crate::limits::Counter>,
    /// Connections still in startup/authentication.
    pub unauthenticated: Arc<crate::limits::Counter>,
    /// Notified once SHUTDOWN has drained the proxy: the process exits.
    pub shutdown: Notify,
    /// Draining (SIGTERM, SHUTDOWN WAIT_FOR_CLIENTS): each session ends
    /// with 57P01 at its next transaction boundary.
    draining: AtomicBool,
    /// Databases closed to new client logins (`DISABLE db`).
    disabled: Mutex<std::collections::HashSet<String>>,
}

impl SessionTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection id.
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Records connection `id`'s task.
    pub fn insert(&self, id: u64, handle: AbortHandle) {
        if !handle.is_finished() {
            self.lock().insert(id, Entry { handle });
        }
    }

    /// Marks `id` as an admin console session (KILL spares it).
    pub fn mark_admin(&self, id: u64) {
        self.admin_set().insert(id);
    }

    fn admin_set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<u64>> {
        self.admins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets `id` (its task ended).
    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.admin_set().remove(&id);
    }

    /// Ends every client session (admin consoles too when `all`); returns
    /// how many.
    pub fn kill(&self, all: bool) -> usize {
        let admins = self.admin_set().clone();
        let mut entries = self.lock();
        let doomed: Vec<u64> = entries
            .keys()
            .filter(|id| all || !admins.contains(id))
            .copied()
            .collect();
        for id in &doomed {
            if let Some(e) = entries.remove(id) {
                e.handle.abort();
            }
        }
        doomed.len()
    }

    /// Ends connection `id`'s session at once; false when it is not open
    /// (or is an admin console).
    pub fn kill_one(&self, id: u64) -> bool {
        if self.admin_set().contains(&id) {
            return false;
        }
        match self.lock().remove(&id) {
            Some(e) => {
                e.handle.abort();
                true
            }
            None => false,
        }
    }

    fn disabled_set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.disabled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes (`true`) or opens database `db` to new client logins.
    pub fn set_disabled(&self, db: &str, disabled: bool) {
        if disabled {
            self.disabled_set().insert(db.to_owned());
        } else {
            self.disabled_set().remove(db);
        }
    }

    /// Whether new logins to `db` are refused.
    pub fn is_disabled(&self, db: &str) -> bool {
        self.disabled_set().contains(db)
    }

    /// Refuse new clients from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Starts draining: new clients are refused, sessions end at their
    /// next transaction boundary (the caller wakes the sessions waiting
    /// between transactions through their cancel slots).
    pub fn begin_drain(&self) {
        self.begin_shutdown();
        self.draining.store(true, Ordering::Release);
    }

    /// Whether sessions are asked to end at their next boundary.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Client sessions (not admin consoles) still open.
    pub fn client_count(&self) -> usize {
        let admins = self.admin_set().clone();
        self.lock().keys().filter(|id| !admins.contains(id)).count()
    }

    /// Whether SHUTDOWN is under way.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disable_closes_and_enable_opens_a_database() {
        let t = SessionTable::default();
        assert!(!t.is_disabled("app"));
        t.set_disabled("app", true);
        assert!(t.is_disabled("app"));
        assert!(!t.is_disabled("other"));
        t.set_disabled("app", false);
        assert!(!t.is_disabled("app"));
    }

    #[tokio::test]
    async fn kill_one_ends_that_client_session_only() {
        let t = SessionTable::default();
        let victim = tokio::spawn(std::future::pending::<()>());
        let other = tokio::spawn(std::future::pending::<()>());
        let console = tokio::spawn(std::future::pending::<()>());
        t.insert(1, victim.abort_handle());
        t.insert(2, other.abort_handle());
        t.insert(3, console.abort_handle());
        t.mark_admin(3);
        assert!(t.kill_one(1));
        assert!(victim.await.is_err_and(|e| e.is_cancelled()));
        assert!(!t.kill_one(1), "already gone");
        assert!(!t.kill_one(3), "an admin console is not a client");
        assert!(!other.is_finished() && !console.is_finished());
        assert_eq!(t.client_count(), 1);
        other.abort();
        console.abort();
    }
}
