//! The fleet as SHOW FLEET and `/metrics` show it: the members, the
//! controller, each member's view of each shard, and this instance's
//! coordination state.

use super::records::{epoch_now, ShardView};
use super::Fleet;
use std::collections::BTreeMap;

/// One registered instance.
#[derive(Debug, Clone)]
pub struct MemberStatus {
    /// Name.
    pub name: String,
    /// Where clients reach it.
    pub listen: String,
    /// Its version.
    pub version: String,
    /// Seconds since it started.
    pub uptime: f64,
    /// Seconds since its last heartbeat.
    pub heartbeat_age: f64,
    /// Whether it is the controller.
    pub controller: bool,
    /// Its view of each shard.
    pub views: BTreeMap<u32, ShardView>,
    /// The generation of each shard it applied.
    pub acks: BTreeMap<u32, u64>,
}

/// This instance's picture of the fleet.
#[derive(Debug, Clone)]
pub struct FleetStatus {
    /// This instance.
    pub name: String,
    /// The controller, if one holds the key.
    pub controller: Option<String>,
    /// Whether this instance is the controller.
    pub is_controller: bool,
    /// Whether etcd answers (and the topology was re-read since a loss).
    pub coordination_up: bool,
    /// Seconds since etcd last answered.
    pub last_contact: Option<f64>,
    /// Failsafe mode on.
    pub failsafe: bool,
    /// Registered instances.
    pub members: Vec<MemberStatus>,
}

impl Fleet {
    /// The fleet as this instance last saw it.
    pub fn status(&self) -> FleetStatus {
        let now = epoch_now();
        let state = self.state();
        FleetStatus {
            name: self.settings.name.clone(),
            controller: state.controller.clone(),
            is_controller: self.is_controller(),
            coordination_up: self.coordination_up(),
            last_contact: self.store.last_ok().map(|t| t.elapsed().as_secs_f64()),
            failsafe: self.settings.failsafe,
            members: state
                .members
                .iter()
                .map(|m| MemberStatus {
                    name: m.name.clone(),
                    listen: m.listen.clone(),
                    version: m.version.clone(),
                    uptime: now - m.started,
                    heartbeat_age: now - m.heartbeat,
                    controller: state.controller.as_deref() == Some(m.name.as_str()),
                    views: m.views.clone(),
                    acks: m.acks.clone(),
                })
                .collect(),
        }
    }
}
