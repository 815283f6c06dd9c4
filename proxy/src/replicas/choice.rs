//! Choosing the replica node for one read.

use crate::context::Context;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why no replica node serves a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoReplica {
    /// No node answered its last check.
    Down,
    /// Every node that answers lags more than `max_lag`.
    Lagging,
}

impl NoReplica {
    /// Label for the fallback metric.
    pub fn name(self) -> &'static str {
        match self {
            NoReplica::Down => "down",
            NoReplica::Lagging => "lag",
        }
    }
}

/// Round-robin state.
#[derive(Default)]
pub struct Balancer {
    next: AtomicUsize,
}

/// A node's standing for one choice.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Index in `[replica_cluster] nodes`.
    pub index: usize,
    /// It answered its last check.
    pub up: bool,
    /// Seconds behind its worst shard (None: unknown).
    pub lag: Option<f64>,
    /// Busy server connections to it.
    pub active: usize,
}

/// The nodes allowed to serve: up and within `max_lag`; when fewer than
/// `min_serving` qualify but some do, the freshest of the rest join them.
pub fn serving(
    candidates: &[Candidate],
    max_lag: f64,
    min_serving: usize,
) -> Result<Vec<Candidate>, NoReplica> {
    let up: Vec<Candidate> = candidates.iter().copied().filter(|c| c.up).collect();
    if up.is_empty() {
        return Err(NoReplica::Down);
    }
    let fresh = |c: &Candidate| c.lag.is_some_and(|l| l <= max_lag);
    let mut chosen: Vec<Candidate> = up.iter().copied().filter(fresh).collect();
    if chosen.is_empty() {
        return Err(NoReplica::Lagging);
    }
    if chosen.len() < min_serving {
        let mut rest: Vec<Candidate> = up
            .iter()
            .copied()
            .filter(|c| !fresh(c) && c.lag.is_some_and(f64::is_finite))
            .collect();
        rest.sort_by(|a, b| {
            a.lag
                .partial_cmp(&b.lag)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        chosen.extend(rest.into_iter().take(min_serving - chosen.len()));
    }
    Ok(chosen)
}

/// The node (index into `replica_cluster.nodes`) to send a read to.
pub fn choose_node(ctx: &Context) -> Result<usize, NoReplica> {
    let rc = ctx.replica_settings();
    let candidates: Vec<Candidate> = ctx
        .config
        .replica_cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(index, endpoint)| {
            let health = ctx.topology.nodes.get(endpoint);
            Candidate {
                index,
                up: health.as_ref().is_some_and(|h| h.up) && !ctx.topology.is_banned(endpoint),
                // A node still copying a shard's rows is not fresh.
                lag: health
                    .filter(|h| h.syncing_tables == 0)
                    .and_then(|h| h.lag_seconds),
                active: ctx
                    .users
                    .values()
                    .filter_map(|u| u.replica_pools.get(index).map(|p| p.stats().active))
                    .sum(),
            }
        })
        .collect();
    let serving = serving(&candidates, rc.max_lag.as_secs_f64(), rc.min_serving)?;
    let pick = match rc.balance {
        crate::config::Balance::LeastConnections => {
            // Ties go round robin so equal nodes share the load.
            let start = ctx.replica_balancer.next.fetch_add(1, Ordering::Relaxed);
            let least = serving.iter().map(|c| c.active).min().unwrap_or(0);
            let tied: Vec<&Candidate> = serving.iter().filter(|c| c.active == least).collect();
            tied[start % tied.len()].index
        }
        crate::config::Balance::RoundRobin => {
            let n = ctx.replica_balancer.next.fetch_add(1, Ordering::Relaxed);
            serving[n % serving.len()].index
        }
    };
    Ok(pick)
}

#[cfg(test)]
mod tests;
