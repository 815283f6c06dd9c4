//! The control plane's metrics set at scrape time: the fleet (whether this
//! instance hears etcd, whether it is the controller, etcd traffic, each
//! shard's topology generation and whether its writes are refused, every
//! instance's view of every shard's primary) and each shard's copies.

use prometheus::{GaugeVec, IntCounterVec, Registry};
use shardwire_control::ControlPlane;
use std::sync::atomic::Ordering;

const NO_LABELS: &[&str] = &[];

/// Handles of the fleet metrics.
pub struct FleetMetrics {
    coordination_up: GaugeVec,
    is_controller: GaugeVec,
    members: GaugeVec,
    controller_changes: IntCounterVec,
    etcd_requests: IntCounterVec,
    etcd_errors: IntCounterVec,
    etcd_seconds: GaugeVec,
    generation: GaugeVec,
    writes_refused: GaugeVec,
    views: GaugeVec,
    copies: GaugeVec,
    copies_configured: GaugeVec,
}

impl FleetMetrics {
    /// Registers the fleet metrics in `registry`.
    pub fn new(registry: &Registry) -> FleetMetrics {
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            super::registry::gauge_vec(registry, name, help, labels)
        };
        let counter =
            |name: &str, help: &str| super::registry::counter_vec(registry, name, help, &[]);
        FleetMetrics {
            coordination_up: gauge(
                "shardwire_coordination_up",
                "1 while this instance hears etcd (or runs without [coordination]); 0 when coordination is lost",
                &[],
            ),
            is_controller: gauge(
                "shardwire_fleet_controller",
                "1 if this instance is the fleet's controller",
                &[],
            ),
            members: gauge(
                "shardwire_fleet_members",
                "Instances registered in etcd, as this instance last read them",
                &[],
            ),
            controller_changes: counter(
                "shardwire_fleet_controller_changes_total",
                "Times this instance became the fleet's controller",
            ),
            etcd_requests: counter("shardwire_etcd_requests_total", "Requests this instance sent to etcd"),
            etcd_errors: counter(
                "shardwire_etcd_errors_total",
                "etcd requests of this instance that failed or timed out",
            ),
            etcd_seconds: gauge(
                "shardwire_etcd_request_seconds_sum",
                "Total round-trip time of this instance's answered etcd requests",
                &[],
            ),
            generation: gauge(
                "shardwire_topology_generation",
                "Generation of the shard's record in etcd applied by this instance",
                &["shard"],
            ),
            writes_refused: gauge(
                "shardwire_shard_writes_refused",
                "1 while this instance refuses the shard's writes (coordination lost)",
                &["shard"],
            ),
            copies: gauge(
                "shardwire_shard_copies",
                "Live copies of the shard's data: the primary if it answers, and the standbys streaming from it",
                &["shard"],
            ),
            copies_configured: gauge(
                "shardwire_shard_copies_configured",
                "Copies of the shard's data the configuration lists (the primary and its standbys)",
                &["shard"],
            ),
            views: gauge(
                "shardwire_fleet_view_primary_up",
                "Each instance's last check of each shard's primary (1 up, 0 down)",
                &["instance", "shard"],
            ),
        }
    }

    /// Brings the fleet metrics up to date.
    pub fn refresh(&self, plane: &ControlPlane) {
        for shard in &plane.topology.shards {
            let k = shard.index.to_string();
            self.writes_refused
                .with_label_values(&[&k])
                .set(f64::from(u8::from(shard.writes_refused().is_some())));
            if plane.settings.enabled() {
                self.copies
                    .with_label_values(&[&k])
                    .set(shard.copies() as f64);
            }
            self.copies_configured
                .with_label_values(&[&k])
                .set(shard.copies_configured() as f64);
        }
        let Some(fleet) = plane.fleet.as_ref() else {
            self.coordination_up.with_label_values(NO_LABELS).set(1.0);
            return;
        };
        let status = fleet.status();
        self.coordination_up
            .with_label_values(NO_LABELS)
            .set(f64::from(u8::from(status.coordination_up)));
        self.is_controller
            .with_label_values(NO_LABELS)
            .set(f64::from(u8::from(status.is_controller)));
        self.members
            .with_label_values(NO_LABELS)
            .set(status.members.len() as f64);
        let stats = fleet.store_stats();
        catch_up(
            &self.controller_changes,
            fleet.controller_changes.load(Ordering::Relaxed),
        );
        catch_up(&self.etcd_requests, stats.requests.load(Ordering::Relaxed));
        catch_up(&self.etcd_errors, stats.errors.load(Ordering::Relaxed));
        self.etcd_seconds
            .with_label_values(NO_LABELS)
            .set(stats.latency_us.load(Ordering::Relaxed) as f64 / 1e6);
        for shard in &plane.topology.shards {
            self.generation
                .with_label_values(&[&shard.index.to_string()])
                .set(shard.fleet_generation() as f64);
        }
        self.views.reset();
        for m in &status.members {
            for (k, view) in &m.views {
                self.views
                    .with_label_values(&[&m.name, &k.to_string()])
                    .set(f64::from(u8::from(view.ok)));
            }
        }
    }
}

/// Raises a counter to `total` (counters only go up).
fn catch_up(counter: &IntCounterVec, total: u64) {
    let c = counter.with_label_values(NO_LABELS);
    let now = c.get();
    if total > now {
        c.inc_by(total - now);
    }
}
