//! The read and write buffers of busy sessions, recycled: an idle session
//! holds no buffer (so idle clients stay small), and a session that gets
//! busy again takes a pair from this stash instead of the allocator, so a
//! transaction does not pay a malloc and a free for each of them.

use bytes::BytesMut;
use std::sync::Mutex;

/// Capacity of a fresh buffer: a transaction's messages usually fit.
pub const BUFFER_CAPACITY: usize = 8 * 1024;
/// Buffers kept for reuse at most (the rest go back to the allocator).
const STASH_LIMIT: usize = 512;
/// A buffer that grew past this (a large result) is not kept.
const KEEP_AT_MOST: usize = 8 * BUFFER_CAPACITY;

/// Spare (client input, client output) buffer pairs.
#[derive(Default)]
pub struct BufferStash {
    spare: Mutex<Vec<(BytesMut, BytesMut)>>,
}

impl BufferStash {
    /// A pair of empty buffers.
    pub fn take(&self) -> (BytesMut, BytesMut) {
        let reused = self.lock().pop();
        reused.unwrap_or_else(|| {
            (
                BytesMut::with_capacity(BUFFER_CAPACITY),
                BytesMut::with_capacity(BUFFER_CAPACITY),
            )
        })
    }

    /// Keeps an emptied pair for the next busy session, if worth keeping.
    pub fn give_back(&self, mut input: BytesMut, mut output: BytesMut) {
        // Emptied, a buffer whose frames are all gone gets its whole
        // allocation back without allocating; one still shared (a frame
        // kept elsewhere) or grown for a large result is not kept.
        let reusable = |b: &mut BytesMut| {
            b.clear();
            b.capacity() <= KEEP_AT_MOST && b.try_reclaim(BUFFER_CAPACITY)
        };
        if !reusable(&mut input) || !reusable(&mut output) {
            return;
        }
        let mut spare = self.lock();
        if spare.len() < STASH_LIMIT {
            spare.push((input, output));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(BytesMut, BytesMut)>> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_pair_is_reused_and_an_oversized_one_is_not() {
        let stash = BufferStash::default();
        let (mut input, output) = stash.take();
        input.extend_from_slice(b"leftover");
        let ptr = input.as_ptr();
        stash.give_back(input, output);
        let (again, _) = stash.take();
        assert!(again.is_empty(), "a reused buffer comes back empty");
        assert_eq!(again.as_ptr(), ptr, "the same allocation is handed out");
        stash.give_back(
            BytesMut::with_capacity(1 << 20),
            BytesMut::with_capacity(BUFFER_CAPACITY),
        );
        assert_eq!(
            stash.lock().len(),
            0,
            "a buffer grown for a large result is freed"
        );
    }
}
