//! A fleet of shardwire instances coordinated through etcd: membership
//! under leases, one controller elected at a time, the topology and the
//! failover log kept in etcd and watched by every instance, the
//! generation handshake before a new primary is published, the records a
//! new controller needs to finish an interrupted failover, and writes
//! refused when coordination is lost. Without `[coordination]` none of
//! this runs. The fleet never calls into the control loops: they call it
//! (and wait on [`Fleet::became_controller`]).
//!
//! Files (`[coordination]` itself is in `crate::settings`): `store` (the
//! etcd client), `records` (the JSON kept in etcd), `membership` (registration,
//! views, election), `sync` (watching the topology and the log),
//! `handshake` (the controller's side of a change of primary), `duties`
//! (unfinished failovers and switchover requests for the controller),
//! `guard` (refusing writes without coordination), `status` (SHOW FLEET
//! and metrics).

mod duties;
mod guard;
mod handshake;
mod membership;
pub mod records;
mod status;
mod store;
mod sync;

pub use crate::settings::CoordinationSettings;
pub use status::{FleetStatus, MemberStatus};
pub use store::StoreStats;

use crate::data_path::DataPath;
use crate::topology::FailoverRecord;
use crate::topology::Topology;
use crate::Endpoint;
use records::{epoch_now, FailoverEntry, MemberRecord, ShardView};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use store::Store;
use tokio::task::JoinHandle;

/// What this instance knows of the fleet right now.
#[derive(Default)]
struct FleetState {
    lease: Option<i64>,
    controller: Option<String>,
    members: Vec<MemberRecord>,
    views: BTreeMap<u32, ShardView>,
    acks: BTreeMap<u32, u64>,
}

/// This instance's membership in the fleet.
pub struct Fleet {
    /// `[coordination]`.
    pub settings: CoordinationSettings,
    store: Store,
    started: f64,
    state: Mutex<FleetState>,
    is_controller: AtomicBool,
    /// Coordination was lost and the topology has not been re-read since.
    stale: AtomicBool,
    /// How many times this instance became the controller.
    pub controller_changes: AtomicU64,
    /// Woken when this instance becomes the controller.
    took_role: tokio::sync::Notify,
}

impl Fleet {
    /// A fleet member that has not contacted etcd yet.
    pub fn new(settings: CoordinationSettings) -> Fleet {
        Fleet {
            store: Store::new(settings.clone()),
            settings,
            started: epoch_now(),
            state: Mutex::new(FleetState::default()),
            is_controller: AtomicBool::new(false),
            stale: AtomicBool::new(true),
            controller_changes: AtomicU64::new(0),
            took_role: tokio::sync::Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FleetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This instance's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Whether this instance is the controller (and still hears etcd).
    pub fn is_controller(&self) -> bool {
        self.is_controller.load(Ordering::Acquire) && self.coordination_up()
    }

    /// Whether etcd answered within `coordination_timeout` and the
    /// topology was re-read since the last loss.
    pub fn coordination_up(&self) -> bool {
        self.store
            .last_ok()
            .is_some_and(|t| t.elapsed() < self.settings.coordination_timeout)
            && !self.stale.load(Ordering::Acquire)
    }

    /// etcd request counters.
    pub fn store_stats(&self) -> &StoreStats {
        &self.store.stats
    }

    /// Records this instance's latest check of `shard`'s primary.
    pub fn observe(&self, shard: u32, primary: &Endpoint, ok: bool) {
        let mut state = self.state();
        let previous = state.views.get(&shard).cloned();
        let healthy_at = if ok {
            Some(epoch_now())
        } else {
            previous
                .filter(|v| &v.primary == primary)
                .and_then(|v| v.healthy_at)
        };
        state.views.insert(
            shard,
            ShardView {
                primary: primary.clone(),
                ok,
                healthy_at,
            },
        );
    }

    /// An instance other than this one whose latest check of `primary`
    /// passed, published within the last `window` seconds (then the
    /// primary is not down for the fleet), with what it saw. An instance
    /// whose latest check failed agrees; one that stopped publishing for
    /// `window` is not counted (its registration expires soon after).
    pub fn seen_healthy_elsewhere(
        &self,
        shard: u32,
        primary: &Endpoint,
        window: f64,
    ) -> Option<String> {
        let now = epoch_now();
        let state = self.state();
        state
            .members
            .iter()
            .filter(|m| m.name != self.settings.name)
            .find_map(|m| {
                let view = m.views.get(&shard)?;
                let fresh = now - m.heartbeat < window;
                (&view.primary == primary && view.ok && fresh).then(|| {
                    let ago = view.healthy_at.map_or(f64::NAN, |at| now - at);
                    format!("instance {} saw {primary} answer {ago:.1}s ago", m.name)
                })
            })
    }

    /// Writes `record` to the shared failover log (SHOW FAILOVERS on every
    /// instance shows it); false when etcd could not take it.
    pub async fn record_failover(&self, record: &FailoverRecord) -> bool {
        let entry = FailoverEntry::from_record(record, self.name());
        let Ok(value) = serde_json::to_vec(&entry) else {
            return false;
        };
        let key = format!(
            "failovers/{}",
            records::log_key(entry.started, entry.shard, &entry.outcome)
        );
        match self.store.put(&key, value, None).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "could not write the failover log entry to etcd");
                false
            }
        }
    }

    /// Asks the controller (whichever instance it is) to switch `shard`
    /// over; the outcome appears in the failover log.
    pub async fn request_switchover(
        &self,
        shard: u32,
        target: Option<Endpoint>,
    ) -> Result<(), String> {
        let request = records::SwitchoverRequest {
            shard,
            target,
            requested_by: self.name().to_owned(),
            requested_at: epoch_now(),
        };
        let value = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        self.store
            .put(&format!("requests/switchover/{shard}"), value, None)
            .await
    }

    /// Leaves the fleet at once (revokes the registration; a controller
    /// gives the role up).
    pub async fn leave(&self) {
        let lease = self.state().lease.take();
        if let Some(lease) = lease {
            let _ = self.store.revoke(lease).await;
        }
        self.is_controller.store(false, Ordering::Release);
    }
}

/// What the fleet changes on this instance: the topology the sessions
/// read, and the data path's pools and metrics.
pub struct Local {
    /// The topology.
    pub topology: Arc<Topology>,
    /// Pools and metrics.
    pub data_path: Arc<dyn DataPath>,
}

/// Starts the fleet's tasks.
pub fn spawn(fleet: &Arc<Fleet>, local: Local) -> Vec<JoinHandle<()>> {
    let (fleet, local) = (fleet.clone(), Arc::new(local));
    vec![
        tokio::spawn(membership::run(fleet.clone())),
        tokio::spawn(sync::run(local.clone(), fleet.clone())),
        tokio::spawn(guard::run(local, fleet)),
    ]
}

/// Reads the topology from etcd (seeding it from the configuration when
/// the cluster is new) before clients are served; bounded by `limit`.
pub async fn bootstrap(
    fleet: &Fleet,
    local: &Local,
    limit: std::time::Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        match sync::reconcile(local, fleet, true).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "etcd not reachable yet; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        }
    }
}
