//! The cached routing path allocates little: counted with a counting
//! global allocator (no timing asserts).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use shardwire_router::{BindParam, Router, SessionHints, ShardingRules, Target};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl Fn()) -> usize {
    f(); // warm the cache
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..100 {
        f();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) / 100
}

#[test]
fn cached_route_allocates_little() {
    let r = Router::new(ShardingRules::default());
    let h = SessionHints::default();
    let n = allocations(|| {
        let d = r.route("SELECT abalance FROM accounts WHERE user_id = 12345", &h);
        assert_eq!(d.map(|d| d.target), Ok(Target::Shard(12345 % 6)));
    });
    assert!(n <= 3, "{n} allocations per cached route");
    let p = r
        .prepare("UPDATE accounts SET abalance = abalance + $1 WHERE user_id = $2")
        .unwrap();
    let n = allocations(|| {
        let params = [
            BindParam {
                value: Some(b"5"),
                binary: false,
                type_oid: 0,
            },
            BindParam {
                value: Some(&7i64.to_be_bytes()),
                binary: true,
                type_oid: 20,
            },
        ];
        let d = r.route_bind(&p, &params, &h);
        assert_eq!(d.map(|d| d.target), Ok(Target::Shard(1)));
    });
    assert!(n <= 1, "{n} allocations per bind");
}
