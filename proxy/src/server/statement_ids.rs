//! The set of proxy-wide statement ids a server connection has prepared.
//! The ids are handed out by the proxy's statement registry (never chosen
//! by a client), so the set hashes them with a multiply instead of SipHash:
//! nobody can aim collisions at it, and a Bind's lookup stays cheap.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Statement ids prepared on one server connection.
pub type StatementIds = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// A hasher for `u64` ids: one multiply by an odd constant (Fibonacci
/// hashing), good for keys that are mostly consecutive.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_ids_spread_and_are_found() {
        let mut set = StatementIds::default();
        for id in 0..10_000u64 {
            assert!(set.insert(id));
        }
        assert!((0..10_000u64).all(|id| set.contains(&id)));
        assert!(!set.contains(&10_000));
        let low_bits: std::collections::HashSet<u64> = (0..64u64)
            .map(|id| {
                let mut h = IdHasher::default();
                h.write_u64(id);
                h.finish() >> 58
            })
            .collect();
        assert!(low_bits.len() > 32, "top bits vary across consecutive ids");
    }
}
