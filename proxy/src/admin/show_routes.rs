//! `SHOW ROUTES`: the `[[routes]]` rules in force, with how many reads
//! each sent to the replica cluster and how many fell back to the shards
//! (and why).

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// `SHOW ROUTES`.
pub fn routes(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("name", Kind::Text),
        ("tables", Kind::Text),
        ("target", Kind::Text),
        ("replica_reads", Kind::Int),
        ("fallbacks_lag", Kind::Int),
        ("fallbacks_down", Kind::Int),
        ("fallbacks_error", Kind::Int),
    ]);
    let m = &ctx.metrics;
    let nodes: Vec<String> = ctx
        .config
        .replica_cluster
        .nodes
        .iter()
        .map(|n| n.to_string())
        .collect();
    for route in &ctx.replica_settings().routes {
        let reads: u64 = nodes
            .iter()
            .map(|n| m.replica_reads.with_label_values(&[&route.name, n]).get())
            .sum();
        let fallbacks = |reason: &str| {
            m.replica_fallbacks
                .with_label_values(&[&route.name, reason])
                .get()
        };
        r.row(vec![
            text(&route.name),
            text(route.tables.join(", ")),
            text("replicas"),
            text(reads),
            text(fallbacks("lag")),
            text(fallbacks("down")),
            text(fallbacks("error")),
        ]);
    }
    r
}
