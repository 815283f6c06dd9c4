//! The failover log behind `SHOW FAILOVERS`: every automatic failover,
//! planned switchover and refused promotion, with its timings and outcome.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Entries kept (oldest dropped first).
const KEEP: usize = 100;

/// Why the primary changed (or did not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverKind {
    /// The primary failed its checks.
    Automatic,
    /// Requested with SWITCHOVER.
    Switchover,
}

impl FailoverKind {
    /// Lowercase name for SHOW and metrics.
    pub fn name(self) -> &'static str {
        match self {
            FailoverKind::Automatic => "failover",
            FailoverKind::Switchover => "switchover",
        }
    }
}

/// One failover attempt.
#[derive(Debug, Clone)]
pub struct FailoverRecord {
    /// Shard number.
    pub shard: u32,
    /// Failover or switchover.
    pub kind: FailoverKind,
    /// When it started.
    pub started: SystemTime,
    /// The primary being replaced.
    pub old_primary: String,
    /// The node promoted (None when nothing was promoted).
    pub new_primary: Option<String>,
    /// From the primary's first failed check (switchover: the request) to
    /// traffic resuming on the new primary.
    pub total: Duration,
    /// How long new transactions were held.
    pub paused: Duration,
    /// `promoted`, `refused` or `failed`.
    pub outcome: &'static str,
    /// What happened, for operators.
    pub detail: String,
}

/// The bounded history of failovers.
#[derive(Default)]
pub struct FailoverLog {
    records: Mutex<VecDeque<FailoverRecord>>,
}

impl FailoverLog {
    /// Appends a record.
    pub fn push(&self, record: FailoverRecord) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() == KEEP {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// All records, oldest first.
    pub fn all(&self) -> Vec<FailoverRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}
