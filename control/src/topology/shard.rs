//! One shard's place in the topology: its current primary (with a
//! generation number bumped on every change, so pooled connections to an
//! old primary are recognised and dropped), its standbys, the nodes fenced
//! after losing the primary role, and the gate that holds new transactions
//! while the shard fails over.

use crate::Endpoint;
use crate::PauseGate;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;
use tokio::sync::Notify;

/// What a shard is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardPhase {
    /// The primary answers checks.
    Serving,
    /// The primary failed at least one check.
    Suspect,
    /// The primary is unreachable but a standby still streams from it:
    /// shardwire is cut off, the primary is alive; no promotion.
    Unreachable,
    /// A failover or switchover is under way: new transactions wait.
    FailingOver,
    /// The primary is down and no standby can be promoted.
    Down,
}

impl ShardPhase {
    /// Lowercase name for SHOW and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ShardPhase::Serving => "serving",
            ShardPhase::Suspect => "suspect",
            ShardPhase::Unreachable => "unreachable",
            ShardPhase::FailingOver => "failing_over",
            ShardPhase::Down => "down",
        }
    }
}

/// The roles of one shard's nodes and its failover gate.
pub struct ShardState {
    /// Shard number.
    pub index: u32,
    primary: RwLock<Endpoint>,
    generation: AtomicU64,
    standbys: RwLock<Vec<Endpoint>>,
    fenced: RwLock<Vec<Endpoint>>,
    phase: RwLock<ShardPhase>,
    /// Holds new transactions during a failover.
    pub gate: PauseGate,
    changed: Notify,
    /// Held by whoever checks or changes the shard's nodes (the monitor's
    /// check round, a failover, a switchover): one at a time.
    pub control: tokio::sync::Mutex<()>,
    /// Epoch seconds of the two last heartbeats written on the primary
    /// (previous, latest).
    beats: RwLock<(Option<f64>, Option<f64>)>,
    /// The primary's `synchronous_standby_names` at the last check.
    sync_names: RwLock<String>,
    /// Why automatic promotion is off for this shard (an earlier one ended
    /// in an unknown state), if it is.
    promotions_blocked: RwLock<Option<String>>,
    /// The fleet's generation of this shard's record in etcd (0 without
    /// coordination).
    fleet_generation: AtomicU64,
    /// Why this instance refuses writes to the shard right now (lost
    /// coordination), if it does.
    writes_refused: RwLock<Option<String>>,
    /// Whether `writes_refused` holds a reason: read on every write the
    /// data path routes, so it is checked without the lock.
    refusing: std::sync::atomic::AtomicBool,
    /// The primary's synchronous standbys were seen streaming from it at
    /// the last check (the failsafe mode's condition).
    sync_streaming: std::sync::atomic::AtomicBool,
    /// This instance's control plane is changing the shard's primary
    /// (its own failover or switchover holds the gate).
    local_change: std::sync::atomic::AtomicBool,
    /// Copies of the shard's data configured: the primary and its
    /// standbys as the configuration lists them.
    copies_configured: usize,
    /// Copies live at the last check: the primary if it answered, and the
    /// standbys streaming from it.
    copies: std::sync::atomic::AtomicUsize,
    /// The shard has run with synchronous replication (a standby adopted
    /// back joins the synchronous set).
    synchronous: std::sync::atomic::AtomicBool,
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn write<T>(lock: &RwLock<T>, value: T) {
    *lock.write().unwrap_or_else(|p| p.into_inner()) = value;
}

impl ShardState {
    /// A shard served by `primary`.
    pub fn new(index: u32, primary: Endpoint, standbys: Vec<Endpoint>) -> ShardState {
        let standbys_count = standbys.len();
        ShardState {
            index,
            primary: RwLock::new(primary),
            generation: AtomicU64::new(0),
            standbys: RwLock::new(standbys),
            fenced: RwLock::new(Vec::new()),
            phase: RwLock::new(ShardPhase::Serving),
            gate: PauseGate::default(),
            changed: Notify::new(),
            control: tokio::sync::Mutex::new(()),
            beats: RwLock::new((None, None)),
            sync_names: RwLock::new(String::new()),
            promotions_blocked: RwLock::new(None),
            fleet_generation: AtomicU64::new(0),
            writes_refused: RwLock::new(None),
            refusing: std::sync::atomic::AtomicBool::new(false),
            sync_streaming: std::sync::atomic::AtomicBool::new(false),
            local_change: std::sync::atomic::AtomicBool::new(false),
            copies_configured: 1 + standbys_count,
            copies: std::sync::atomic::AtomicUsize::new(0),
            synchronous: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The node taking this shard's traffic.
    pub fn primary(&self) -> Endpoint {
        read(&self.primary)
    }

    /// Bumped whenever the primary changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The standbys (of the current primary).
    pub fn standbys(&self) -> Vec<Endpoint> {
        read(&self.standbys)
    }

    /// Former primaries that must never get traffic again.
    pub fn fenced(&self) -> Vec<Endpoint> {
        read(&self.fenced)
    }

    /// What the shard is doing.
    pub fn phase(&self) -> ShardPhase {
        *self.phase.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a new phase and wakes waiters.
    pub fn set_phase(&self, phase: ShardPhase) {
        let old = std::mem::replace(
            &mut *self.phase.write().unwrap_or_else(|p| p.into_inner()),
            phase,
        );
        if old != phase {
            self.changed.notify_waiters();
        }
    }

    /// Makes `new_primary` (one of the standbys) the primary: the old
    /// primary is fenced, the other standbys stay, the generation is bumped.
    pub fn promote(&self, new_primary: &Endpoint) {
        let old = read(&self.primary);
        let mut standbys = read(&self.standbys);
        standbys.retain(|s| s != new_primary);
        write(&self.standbys, standbys);
        let mut fenced = read(&self.fenced);
        fenced.retain(|f| f != new_primary);
        if !fenced.contains(&old) {
            fenced.push(old);
        }
        write(&self.fenced, fenced);
        write(&self.primary, new_primary.clone());
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    /// Installs roles decided elsewhere (the fleet's record in etcd): the
    /// generation is bumped when the primary changes, so pooled
    /// connections to the old one are dropped. Returns whether it changed.
    pub fn install(
        &self,
        primary: &Endpoint,
        standbys: Vec<Endpoint>,
        fenced: Vec<Endpoint>,
    ) -> bool {
        let changed = read(&self.primary) != *primary;
        write(&self.standbys, standbys);
        write(&self.fenced, fenced);
        if changed {
            write(&self.primary, primary.clone());
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.changed.notify_waiters();
        changed
    }

    /// The generation of the shard's record in the fleet's store.
    pub fn fleet_generation(&self) -> u64 {
        self.fleet_generation.load(Ordering::Acquire)
    }

    /// Records the fleet generation applied.
    pub fn set_fleet_generation(&self, generation: u64) {
        self.fleet_generation.store(generation, Ordering::Release);
    }

    /// Why writes to this shard are refused right now, if they are.
    pub fn writes_refused(&self) -> Option<String> {
        if !self.refusing.load(Ordering::Acquire) {
            return None;
        }
        read(&self.writes_refused)
    }

    /// Refuses (Some) or allows (None) writes to this shard.
    pub fn set_writes_refused(&self, why: Option<String>) {
        let refusing = why.is_some();
        write(&self.writes_refused, why);
        self.refusing.store(refusing, Ordering::Release);
    }

    /// Whether the primary's synchronous standbys streamed from it at the
    /// last check.
    pub fn sync_streaming(&self) -> bool {
        self.sync_streaming.load(Ordering::Acquire)
    }

    /// Records whether the synchronous standbys stream from the primary.
    pub fn set_sync_streaming(&self, streaming: bool) {
        self.sync_streaming.store(streaming, Ordering::Release);
    }

    /// Whether this instance's own failover or switchover holds the gate.
    pub fn local_change(&self) -> bool {
        self.local_change.load(Ordering::Acquire)
    }

    /// Marks the start (true) or end (false) of this instance's own
    /// change of the primary.
    pub fn set_local_change(&self, on: bool) {
        self.local_change.store(on, Ordering::Release);
    }

    /// The heartbeat written one check before the latest (epoch seconds):
    /// every node in sync has it, whatever the order of checks in a round.
    /// Lag measured against it is low by at most one check interval.
    pub fn settled_beat(&self) -> Option<f64> {
        read(&self.beats).0
    }

    /// The latest heartbeat written on the primary (epoch seconds).
    pub fn latest_beat(&self) -> Option<f64> {
        read(&self.beats).1
    }

    /// Records the heartbeat just written.
    pub fn set_last_beat(&self, epoch: f64) {
        let (_, latest) = read(&self.beats);
        write(&self.beats, (latest, Some(epoch)));
    }

    /// The primary's `synchronous_standby_names` when last checked.
    pub fn sync_names(&self) -> String {
        read(&self.sync_names)
    }

    /// Records the primary's `synchronous_standby_names`.
    pub fn set_sync_names(&self, names: String) {
        if !names.is_empty() {
            self.synchronous.store(true, Ordering::Release);
        }
        write(&self.sync_names, names);
    }

    /// Turns automatic promotion off for this shard, saying why.
    pub fn block_promotions(&self, why: String) {
        write(&self.promotions_blocked, Some(why));
    }

    /// Why automatic promotion is off, if it is.
    pub fn promotions_blocked(&self) -> Option<String> {
        read(&self.promotions_blocked)
    }

    /// Turns automatic promotion back on (after a successful switchover).
    pub fn unblock_promotions(&self) {
        write(&self.promotions_blocked, None);
    }

    /// Sets `gone` aside: no longer counted as standbys (they may follow
    /// an old primary), but watched with the fenced nodes so that one that
    /// comes back streaming from the current primary is adopted again.
    pub fn set_aside_standbys(&self, gone: &[Endpoint]) {
        let mut standbys = read(&self.standbys);
        standbys.retain(|s| !gone.contains(s));
        write(&self.standbys, standbys);
        let mut fenced = read(&self.fenced);
        for g in gone {
            if !fenced.contains(g) {
                fenced.push(g.clone());
            }
        }
        write(&self.fenced, fenced);
    }

    /// Takes `node` back as a standby (it streams from the current
    /// primary on its timeline): no longer fenced.
    pub fn adopt_standby(&self, node: &Endpoint) {
        let mut fenced = read(&self.fenced);
        fenced.retain(|f| f != node);
        write(&self.fenced, fenced);
        let mut standbys = read(&self.standbys);
        if !standbys.contains(node) {
            standbys.push(node.clone());
        }
        write(&self.standbys, standbys);
        self.changed.notify_waiters();
    }

    /// Copies of the shard's data the configuration lists.
    pub fn copies_configured(&self) -> usize {
        self.copies_configured
    }

    /// Copies live at the last check.
    pub fn copies(&self) -> usize {
        self.copies.load(Ordering::Acquire)
    }

    /// Records the live copies.
    pub fn set_copies(&self, copies: usize) {
        self.copies.store(copies, Ordering::Release);
    }

    /// Whether the shard has run with synchronous replication.
    pub fn synchronous(&self) -> bool {
        self.synchronous.load(Ordering::Acquire)
    }

    /// Bumps the generation without changing the primary: pooled
    /// connections are replaced (RECONNECT).
    pub fn bump_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Wakes everyone in [`ShardState::wait_change`] (e.g. the primary
    /// answered again).
    pub fn notify(&self) {
        self.changed.notify_waiters();
    }

    /// Waits until something about the shard changes, or `limit` passes.
    pub async fn wait_change(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.changed.notified()).await;
    }
}
