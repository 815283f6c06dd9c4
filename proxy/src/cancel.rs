//! Cancel requests. Each client gets its own BackendKeyData from the proxy;
//! this registry maps that key to the server backend the client is using at
//! the moment, so a CancelRequest reaches the right query and never one of
//! another client.

use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

mod packed_addr;
pub use packed_addr::PackedAddr;

/// The server backend a cancel request must go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelTarget {
    /// Server address.
    pub addr: SocketAddr,
    /// Server backend pid.
    pub pid: i32,
    /// Server backend secret.
    pub secret: i32,
}

/// Who a client is, for `SHOW CLIENTS` and `KILL_CLIENT`: set once, at
/// login. Kept small (every idle client holds one): names are shared,
/// addresses packed, the time in microseconds.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Login user (shared with the user's entry, not copied per client).
    pub user: Arc<str>,
    /// Database asked for (shared likewise).
    pub database: Arc<str>,
    /// `application_name` from the startup packet (empty: none).
    pub application_name: Box<str>,
    /// When the client connected, in microseconds since the Unix epoch.
    pub connected_at_micros: u64,
    /// The session's connection id in `SessionTable` plus one (0: none),
    /// so the console's KILL_CLIENT can end this one session.
    pub conn: u64,
    /// The client's end of the connection.
    pub peer: PackedAddr,
    /// The proxy's end of the connection.
    pub local: PackedAddr,
    /// The connection is encrypted.
    pub tls: bool,
}

impl ClientInfo {
    /// When the client connected.
    pub fn connected_at(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(self.connected_at_micros)
    }

    /// Stamps `at` as the connection time.
    pub fn with_connected_at(mut self, at: std::time::SystemTime) -> Self {
        self.connected_at_micros = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self
    }
}

/// Whether a client waits for a server connection, and since when: set and
/// read like an `AtomicBool`, it also keeps the instant the wait began
/// (for `maxwait` in SHOW POOLS and `wait` in SHOW CLIENTS).
#[derive(Debug, Default)]
pub struct WaitFlag {
    /// Microseconds from [`wait_epoch`] to the start of the wait, plus
    /// one; 0 while the client does not wait.
    since: std::sync::atomic::AtomicU64,
}

/// The process-wide origin of [`WaitFlag`]'s instants.
fn wait_epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

impl WaitFlag {
    /// `true`: the wait begins now; `false`: it ended.
    pub fn store(&self, waiting: bool, order: std::sync::atomic::Ordering) {
        let since = if waiting {
            u64::try_from(wait_epoch().elapsed().as_micros())
                .unwrap_or(u64::MAX - 1)
                .saturating_add(1)
        } else {
            0
        };
        self.since.store(since, order);
    }

    /// Whether the client waits now.
    pub fn load(&self, order: std::sync::atomic::Ordering) -> bool {
        self.since.load(order) != 0
    }

    /// How long the client has waited so far; `None` when it does not wait.
    pub fn waited(&self) -> Option<std::time::Duration> {
        let since = self.since.load(std::sync::atomic::Ordering::Relaxed);
        let began = std::time::Duration::from_micros(since.checked_sub(1)?);
        Some(wait_epoch().elapsed().saturating_sub(began))
    }
}

/// Per-client slot: the backend the client currently holds, if any, and
/// what `SHOW CLIENTS` shows about it.
#[derive(Debug, Default)]
pub struct CancelSlot {
    target: Mutex<Option<CancelTarget>>,
    /// Who the client is.
    pub info: ClientInfo,
    /// The client waits for a server connection, and since when.
    pub waiting: WaitFlag,
    /// KILL_CLIENT ended the session: it says so to the client as it goes.
    pub killed: std::sync::atomic::AtomicBool,
    /// The session state keeping the client's server connection, as
    /// `isolation::Pins::bits` (0: none), for SHOW CLIENTS / SHOW POOLS.
    pub pinned: std::sync::atomic::AtomicU8,
    /// The shard of the server connection it is pinned to.
    pub pinned_shard: std::sync::atomic::AtomicU32,
    /// The session's task while it waits between transactions, woken when
    /// the proxy starts draining (one slot per client rather than a shared
    /// `Notify`: no shared lock and no waiter node per idle client).
    drain_waker: futures_util::task::AtomicWaker,
}

impl CancelSlot {
    /// Records the backend the client now uses (or none).
    pub fn set(&self, target: Option<CancelTarget>) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }

    /// The backend the client uses now.
    pub fn get(&self) -> Option<CancelTarget> {
        *self.target.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ready once `draining()` holds; else registers the task to be woken
    /// by [`CancelSlot::wake_for_drain`].
    pub fn poll_drain(
        &self,
        cx: &mut std::task::Context<'_>,
        draining: impl Fn() -> bool,
    ) -> std::task::Poll<()> {
        if draining() {
            return std::task::Poll::Ready(());
        }
        self.drain_waker.register(cx.waker());
        // Checked again after registering: a drain that began in between
        // woke nobody.
        if draining() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }

    /// Wakes the session if it waits between transactions.
    pub fn wake_for_drain(&self) {
        self.drain_waker.wake();
    }
}

/// All clients' cancel keys.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    slots: Mutex<HashMap<(i32, i32), Arc<CancelSlot>>>,
}

/// A client's registration; unregisters on drop.
pub struct CancelRegistration {
    registry: Arc<CancelRegistry>,
    /// The key given to the client as BackendKeyData.
    pub key: (i32, i32),
    /// The client's slot.
    pub slot: Arc<CancelSlot>,
}

impl CancelRegistry {
    /// Creates a fresh unique key for a new client.
    pub fn register(self: &Arc<Self>) -> CancelRegistration {
        self.register_client(ClientInfo::default())
    }

    /// Creates a fresh unique key for a new client described by `info`.
    pub fn register_client(self: &Arc<Self>, info: ClientInfo) -> CancelRegistration {
        let slot = Arc::new(CancelSlot {
            info,
            ..CancelSlot::default()
        });
        let mut rng = rand::thread_rng();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let key = loop {
            let key = (rng.gen_range(1..i32::MAX), rng.gen::<i32>());
            if !slots.contains_key(&key) {
                break key;
            }
        };
        slots.insert(key, slot.clone());
        CancelRegistration {
            registry: self.clone(),
            key,
            slot,
        }
    }

    /// The backend to cancel for a client key, if that client holds one.
    pub fn lookup(&self, pid: i32, secret: i32) -> Option<CancelTarget> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(&(pid, secret)).and_then(|s| s.get())
    }

    /// Every registered client, by key.
    pub fn clients(&self) -> Vec<((i32, i32), Arc<CancelSlot>)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Number of registered clients.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for CancelRegistration {
    fn drop(&mut self) {
        let mut slots = self
            .registry
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        slots.remove(&self.key);
    }
}

#[cfg(test)]
mod tests;
