//! What the fleet keeps in etcd, as JSON: each instance's registration
//! (with its view of every shard and the generations it acknowledged),
//! each shard's record, an unfinished failover's steps, and the failover
//! log.

use crate::topology::{FailoverKind, FailoverRecord};
use crate::Endpoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

pub use crate::clock::epoch_now;

/// One instance's view of one shard's primary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardView {
    /// The primary it checks.
    pub primary: Endpoint,
    /// Whether the last check passed.
    pub ok: bool,
    /// When a check of that primary last passed (epoch seconds).
    pub healthy_at: Option<f64>,
}

/// `members/<name>`, under the instance's lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Instance name.
    pub name: String,
    /// Where clients reach it.
    pub listen: String,
    /// shardwire version.
    pub version: String,
    /// When it started (epoch seconds).
    pub started: f64,
    /// When it last renewed this record (epoch seconds).
    pub heartbeat: f64,
    /// Its view of each shard.
    #[serde(default)]
    pub views: BTreeMap<u32, ShardView>,
    /// The topology generation of each shard it has applied (the
    /// generation handshake's acknowledgements).
    #[serde(default)]
    pub acks: BTreeMap<u32, u64>,
}

/// `topology/<shard>`: the roles of a shard's nodes, changed only by the
/// controller, by compare-and-swap on the key's revision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardRecord {
    /// Shard number.
    pub shard: u32,
    /// The primary; None while a failover's handshake runs (nobody may
    /// write to the shard).
    pub primary: Option<Endpoint>,
    /// Its standbys.
    pub standbys: Vec<Endpoint>,
    /// Former primaries that must never get traffic.
    pub fenced: Vec<Endpoint>,
    /// Bumped on every change.
    pub generation: u64,
}

/// How far an unfinished failover got.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Decided; the shard is published without a primary and the fleet
    /// acknowledges (nothing promoted yet).
    Fencing,
    /// Every instance acknowledged; `pg_promote` is being (or was) called.
    Promoting,
    /// The candidate left recovery.
    Promoted,
}

/// `intents/<shard>`: a failover or switchover in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntentRecord {
    /// Shard number.
    pub shard: u32,
    /// `failover` or `switchover`.
    pub kind: String,
    /// How far it got.
    pub step: Step,
    /// The primary being replaced.
    pub old_primary: Endpoint,
    /// The one standby that may be promoted.
    pub candidate: Endpoint,
    /// The standbys when it started.
    pub standbys: Vec<Endpoint>,
    /// The fenced nodes when it started.
    pub fenced: Vec<Endpoint>,
    /// The generation published without a primary.
    pub generation: u64,
    /// The controller that started it.
    pub controller: String,
    /// When it started (epoch seconds).
    pub started: f64,
}

/// `failovers/<time>-<shard>-<outcome>`: one entry of the shared failover log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailoverEntry {
    /// Shard number.
    pub shard: u32,
    /// `failover` or `switchover`.
    pub kind: String,
    /// When it started (epoch seconds).
    pub started: f64,
    /// The primary replaced.
    pub old_primary: String,
    /// The node promoted.
    pub new_primary: Option<String>,
    /// Seconds from detection to traffic resuming.
    pub total: f64,
    /// Seconds new transactions were held.
    pub paused: f64,
    /// `promoted`, `refused` or `failed`.
    pub outcome: String,
    /// What happened.
    pub detail: String,
    /// The controller that decided it.
    pub controller: String,
}

impl FailoverEntry {
    /// The entry for `record`, decided by `controller`.
    pub fn from_record(record: &FailoverRecord, controller: &str) -> FailoverEntry {
        FailoverEntry {
            shard: record.shard,
            kind: record.kind.name().to_owned(),
            started: record
                .started
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            old_primary: record.old_primary.clone(),
            new_primary: record.new_primary.clone(),
            total: record.total.as_secs_f64(),
            paused: record.paused.as_secs_f64(),
            outcome: record.outcome.to_owned(),
            detail: format!("{} (decided by {controller})", record.detail),
            controller: controller.to_owned(),
        }
    }

    /// The record for SHOW FAILOVERS.
    pub fn to_record(&self) -> FailoverRecord {
        FailoverRecord {
            shard: self.shard,
            kind: if self.kind == "switchover" {
                FailoverKind::Switchover
            } else {
                FailoverKind::Automatic
            },
            started: UNIX_EPOCH + Duration::from_secs_f64(self.started.max(0.0)),
            old_primary: self.old_primary.clone(),
            new_primary: self.new_primary.clone(),
            total: Duration::from_secs_f64(self.total.max(0.0)),
            paused: Duration::from_secs_f64(self.paused.max(0.0)),
            outcome: match self.outcome.as_str() {
                "promoted" => "promoted",
                "refused" => "refused",
                _ => "failed",
            },
            detail: self.detail.clone(),
        }
    }
}

/// `requests/switchover/<shard>`: a SWITCHOVER asked on any instance,
/// carried out by the controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwitchoverRequest {
    /// Shard number.
    pub shard: u32,
    /// The standby to promote (None: the most advanced).
    pub target: Option<Endpoint>,
    /// The instance that asked.
    pub requested_by: String,
    /// When (epoch seconds).
    pub requested_at: f64,
}

/// Key-safe, sortable name of a log entry.
pub fn log_key(started: f64, shard: u32, outcome: &str) -> String {
    // The outcome is part of the key: a promotion that follows a refusal
    // in the same outage has the same start time, and must not overwrite
    // the refusal's entry (instances load each key once, so the promotion
    // would be missing from SHOW FAILOVERS and from the failover metrics).
    format!("{:020}-{shard:04}-{outcome}", (started * 1000.0) as u64)
}
