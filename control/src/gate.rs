//! The gate that holds new transactions: the admin console's PAUSE and a
//! shard's failover both close it; sessions wait on it before they take a
//! server connection.

/// The PAUSE/RESUME gate: sessions check it before taking a server
/// connection for a new transaction.
#[derive(Default)]
pub struct PauseGate {
    paused: std::sync::atomic::AtomicBool,
    resumed: tokio::sync::Notify,
}

impl PauseGate {
    /// Whether new transactions are held.
    pub fn is_paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Holds new transactions.
    pub fn pause(&self) {
        self.paused
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Lets waiting and new transactions through.
    pub fn resume(&self) {
        self.paused
            .store(false, std::sync::atomic::Ordering::Release);
        self.resumed.notify_waiters();
    }

    /// Waits while paused (returns at once when not).
    pub async fn wait(&self) {
        while self.is_paused() {
            let resumed = self.resumed.notified();
            if !self.is_paused() {
                break;
            }
            resumed.await;
        }
    }
}
