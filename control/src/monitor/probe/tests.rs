//! Heartbeat lag arithmetic.

use super::heartbeat_lag;

#[test]
fn in_sync_nodes_lag_zero_even_if_read_before_the_latest_beat() {
    // Beats at 100 and 101; the node has 100 (read before 101 arrived).
    assert_eq!(
        heartbeat_lag(Some(100.0), Some(101.0), Some(100.0), 101.2),
        Some(0.0)
    );
    assert_eq!(
        heartbeat_lag(Some(100.0), Some(101.0), Some(101.0), 101.2),
        Some(0.0)
    );
}

#[test]
fn a_node_behind_lags_by_the_beats_it_misses() {
    assert_eq!(
        heartbeat_lag(Some(100.0), Some(101.0), Some(95.0), 101.2),
        Some(5.0)
    );
}

#[test]
fn without_recent_beats_the_age_of_the_seen_beat_counts() {
    // The primary stopped writing at 101 (it is down); now is 110.
    assert_eq!(
        heartbeat_lag(Some(100.0), Some(101.0), Some(101.0), 110.0),
        Some(9.0)
    );
    assert_eq!(heartbeat_lag(None, None, Some(101.0), 110.0), Some(9.0));
    assert_eq!(heartbeat_lag(Some(1.0), Some(2.0), None, 3.0), None);
}
