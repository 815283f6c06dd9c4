//! Wall-clock time as the control plane records it (heartbeats, the
//! fleet's records): seconds since the Unix epoch.

/// Seconds since the epoch, as a float (0 if the clock is before 1970).
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
