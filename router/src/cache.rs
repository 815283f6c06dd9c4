//! The plan cache: query shape → plan, bounded, evicting with the CLOCK
//! algorithm (a cheap approximation of LRU). One mutex; lookups are a hash
//! probe and a reference-bit write, plans are built outside the lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::plan::Plan;

/// Counters of the plan cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found a usable plan.
    pub hits: u64,
    /// Lookups that had to build a plan.
    pub misses: u64,
    /// Plans currently cached.
    pub entries: usize,
}

struct Slot {
    shape: Box<[u8]>,
    plan: Arc<Plan>,
    referenced: bool,
}

#[derive(Default)]
struct Inner {
    index: HashMap<Box<[u8]>, usize>,
    slots: Vec<Slot>,
    hand: usize,
    hits: u64,
    misses: u64,
}

/// A bounded shape → plan cache.
pub(crate) struct PlanCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl PlanCache {
    /// A cache holding at most `capacity` plans (at least 1).
    pub fn new(capacity: usize) -> Self {
        PlanCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent
        // in a way that matters for a cache: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached plan for `shape` if `usable` accepts it (counts a hit),
    /// else None (counts a miss).
    pub fn get(&self, shape: &[u8], usable: impl FnOnce(&Plan) -> bool) -> Option<Arc<Plan>> {
        let mut inner = self.lock();
        let found = inner.index.get(shape).copied();
        if let Some(i) = found {
            let slot = &mut inner.slots[i];
            if usable(&slot.plan) {
                slot.referenced = true;
                let plan = Arc::clone(&slot.plan);
                inner.hits += 1;
                return Some(plan);
            }
        }
        inner.misses += 1;
        None
    }

    /// Stores `plan` for `shape`, replacing an older plan of the shape or
    /// evicting a plan not used since the clock hand last passed.
    pub fn insert(&self, shape: &[u8], plan: Arc<Plan>) {
        let mut inner = self.lock();
        if let Some(&i) = inner.index.get(shape) {
            inner.slots[i].plan = plan;
            inner.slots[i].referenced = true;
            return;
        }
        if inner.slots.len() < self.capacity {
            let i = inner.slots.len();
            inner.slots.push(Slot {
                shape: shape.into(),
                plan,
                referenced: false,
            });
            inner.index.insert(shape.into(), i);
            return;
        }
        let victim = loop {
            let hand = inner.hand;
            inner.hand = (hand + 1) % inner.slots.len();
            let slot = &mut inner.slots[hand];
            if slot.referenced {
                slot.referenced = false;
            } else {
                break hand;
            }
        };
        let old = std::mem::replace(
            &mut inner.slots[victim],
            Slot {
                shape: shape.into(),
                plan,
                referenced: false,
            },
        );
        inner.index.remove(&old.shape);
        inner.index.insert(shape.into(), victim);
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: inner.hits,
            misses: inner.misses,
            entries: inner.slots.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_with_clock_eviction() {
        let cache = PlanCache::new(2);
        let p = Arc::new(Plan::default());
        assert!(cache.get(b"a", |_| true).is_none());
        cache.insert(b"a", Arc::clone(&p));
        cache.insert(b"b", Arc::clone(&p));
        assert!(cache.get(b"a", |_| true).is_some()); // a referenced
        cache.insert(b"c", Arc::clone(&p)); // evicts b
        assert!(cache.get(b"b", |_| true).is_none());
        assert!(cache.get(b"a", |_| true).is_some());
        assert!(cache.get(b"c", |_| true).is_some());
        assert!(cache.get(b"c", |_| false).is_none());
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.entries), (3, 3, 2));
    }
}
