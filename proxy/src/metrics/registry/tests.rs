//! Registered metrics appear in the exposition.

use super::*;

#[test]
fn counters_show_up_in_the_exposition() {
    let m = Metrics::new();
    let t = m.pool_traffic(3, "app");
    t.queries.inc_by(5);
    m.clients.set(2);
    let text = m.encode();
    assert!(
        text.contains("shardwire_queries_total{shard=\"3\",user=\"app\"} 5"),
        "{text}"
    );
    assert!(text.contains("shardwire_clients 2"), "{text}");
}
