//! Every open server connection, for `SHOW SERVERS`: registered when a
//! connection logs in, removed when it is dropped, marked in use while a
//! client holds it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What is known about one server connection.
#[derive(Debug)]
pub struct ServerEntry {
    /// User it is logged in as.
    pub user: String,
    /// Database on the server.
    pub database: String,
    /// Shard it belongs to.
    pub shard: u32,
    /// Server address.
    pub addr: SocketAddr,
    /// The proxy's end (None over TLS, where a bridge task owns the socket).
    pub local_addr: Option<SocketAddr>,
    /// Backend process id.
    pub pid: i32,
    /// When it logged in.
    pub connected_at: SystemTime,
    /// A client holds it.
    pub in_use: AtomicBool,
    /// The shard and the primary generation it was opened under (a
    /// shard primary's connection); None for a fixed server.
    pub opened_under: Option<OpenedUnder>,
}

/// The shard and primary generation a connection was opened under.
pub struct OpenedUnder {
    /// The shard.
    pub shard: Arc<crate::topology::ShardState>,
    /// Its generation then.
    pub generation: u64,
}

impl std::fmt::Debug for OpenedUnder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shard {} generation {}",
            self.shard.index, self.generation
        )
    }
}

impl ServerEntry {
    /// The shard's generation moved on since it opened (RECONNECT, a
    /// failover): it is closed when its client releases it, or before its
    /// next use when idle.
    pub fn close_needed(&self) -> bool {
        self.opened_under
            .as_ref()
            .is_some_and(|o| o.shard.generation() != o.generation)
    }
}

/// The open server connections.
#[derive(Debug, Default)]
pub struct ServerRegistry {
    entries: Mutex<HashMap<u64, Arc<ServerEntry>>>,
    next: AtomicU64,
}

/// A connection's registration; removes it on drop.
#[derive(Debug)]
pub struct ServerRegistration {
    registry: Arc<ServerRegistry>,
    id: u64,
    /// The entry, to mark it in use.
    pub entry: Arc<ServerEntry>,
}

impl ServerRegistry {
    /// Registers a connection.
    pub fn register(self: &Arc<Self>, entry: ServerEntry) -> ServerRegistration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(entry);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, entry.clone());
        ServerRegistration {
            registry: self.clone(),
            id,
            entry,
        }
    }

    /// Every open connection.
    pub fn entries(&self) -> Vec<Arc<ServerEntry>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.values().cloned().collect()
    }
}

impl Drop for ServerRegistration {
    fn drop(&mut self) {
        let mut entries = self
            .registry
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        entries.remove(&self.id);
    }
}

#[cfg(test)]
mod tests;
