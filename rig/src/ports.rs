//! Picks free loopback TCP ports for new nodes.
//!
//! Ports come from outside the kernel's ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`): a port picked inside it could
//! be taken as the local port of some outgoing connection between our check
//! and PostgreSQL's bind, which happens under load (pgbench, proxy tests).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;

use anyhow::Context;

/// Lowest port handed out (clear of well-known services).
const LOWEST: u16 = 10_000;
/// Kernel default ephemeral range, used if /proc is unreadable.
const DEFAULT_EPHEMERAL: RangeInclusive<u16> = 32_768..=60_999;
const ATTEMPTS: usize = 200;

/// A loopback port that was free a moment ago: a random port outside the
/// ephemeral range that `127.0.0.1` can bind (falling back to one the kernel
/// picks). Another process could still take it before PostgreSQL binds it.
pub fn free_port() -> anyhow::Result<u16> {
    let candidates = non_ephemeral(&ephemeral_range());
    if !candidates.is_empty() {
        for _ in 0..ATTEMPTS {
            let port = pick(&candidates);
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

fn ephemeral_range() -> RangeInclusive<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| parse_range(&text))
        .unwrap_or(DEFAULT_EPHEMERAL)
}

fn parse_range(text: &str) -> Option<RangeInclusive<u16>> {
    let mut parts = text.split_whitespace().map(str::parse::<u16>);
    let (low, high) = (parts.next()?.ok()?, parts.next()?.ok()?);
    (low <= high).then_some(low..=high)
}

/// Port ranges at or above [`LOWEST`] that avoid `ephemeral`.
fn non_ephemeral(ephemeral: &RangeInclusive<u16>) -> Vec<RangeInclusive<u16>> {
    let mut out = Vec::new();
    if *ephemeral.start() > LOWEST {
        out.push(LOWEST..=ephemeral.start() - 1);
    }
    if *ephemeral.end() < u16::MAX {
        out.push((ephemeral.end() + 1).max(LOWEST)..=u16::MAX);
    }
    out
}

/// A uniformly random port from `ranges` (non-empty).
fn pick(ranges: &[RangeInclusive<u16>]) -> u16 {
    let total: u64 = ranges
        .iter()
        .map(|r| u64::from(r.end() - r.start()) + 1)
        .sum();
    let mut n = random() % total;
    for r in ranges {
        let len = u64::from(r.end() - r.start()) + 1;
        if n < len {
            // n < len <= 65536 - start, so it fits in u16 after adding start.
            return r.start() + u16::try_from(n).unwrap_or(0);
        }
        n -= len;
    }
    *ranges[0].start()
}

/// A random number from std's per-instance random hasher keys.
fn random() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_avoid_the_ephemeral_range() {
        let ephemeral = ephemeral_range();
        for _ in 0..20 {
            let port = free_port().unwrap();
            assert!(port >= LOWEST);
            assert!(!ephemeral.contains(&port), "{port} is ephemeral");
        }
    }

    #[test]
    fn ranges_around_the_ephemeral_one() {
        assert_eq!(parse_range("32768\t60999\n"), Some(32768..=60999));
        assert_eq!(
            non_ephemeral(&(32768..=60999)),
            vec![10_000..=32_767, 61_000..=65_535]
        );
        assert_eq!(non_ephemeral(&(1024..=65535)), vec![]);
        let ranges = [10u16..=10, 20..=29];
        for _ in 0..100 {
            let p = pick(&ranges);
            assert!(p == 10 || (20..=29).contains(&p));
        }
    }
}
