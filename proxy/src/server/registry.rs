//! Every open server connection, for `SHOW SERVERS`: registered when a
//! connection logs in, removed when it is dropped, marked in use while a
//! client holds it. When a shard's primary is replaced, the sockets of the
//! connections still open to the old one are shut down from here
//! ([`ServerRegistry::sever_replaced`]), so sessions waiting on a hung or
//! unreachable old primary fail at once instead of when TCP gives up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
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
    /// The connection's socket as the proxy reads and writes it (the TCP
    /// socket, or the local end of a TLS bridge), for
    /// [`ServerRegistry::sever_replaced`]. It stays open as long as the
    /// entry is registered: `ServerConn` drops its registration before its
    /// socket.
    pub fd: Option<RawFd>,
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

    /// Shuts down (both directions) the sockets of shard `shard`'s
    /// connections opened under an earlier primary generation, once its
    /// primary has been replaced. A session whose transaction waits on the
    /// old primary (hung, partitioned) then sees its server connection end
    /// and fails with 08006 at once, instead of waiting until TCP gives up;
    /// one between transactions fails on its next use. Idle pooled ones
    /// are retired by the pools; a shut-down socket just makes their next
    /// check fail. Returns how many sockets were shut down.
    ///
    /// Called by the control plane after a routing swap only, never on the
    /// per-message path.
    pub fn sever_replaced(&self, shard: u32) -> usize {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut severed = 0;
        for entry in entries.values() {
            let replaced = entry
                .opened_under
                .as_ref()
                .is_some_and(|o| o.shard.index == shard && o.shard.generation() != o.generation);
            let Some(fd) = entry.fd.filter(|_| replaced) else {
                continue;
            };
            // SAFETY: `fd` is the socket of a connection that is still
            // open. Its entry leaves this map (under the lock held here)
            // in `ServerRegistration::drop`, which `ServerConn::drop` runs
            // before the socket is closed, and nothing else closes the
            // socket; so while the entry is in the map the descriptor is
            // that socket and cannot have been reused. `shutdown` does not
            // close or free it: the connection's owner still closes it.
            let rc = unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            if rc == 0 {
                severed += 1;
            } else {
                tracing::debug!(
                    shard,
                    pid = entry.pid,
                    error = %std::io::Error::last_os_error(),
                    "could not shut down a connection to a replaced primary"
                );
            }
        }
        severed
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
