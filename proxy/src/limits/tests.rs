//! Connection counters and the token bucket.

use super::*;

#[test]
fn counter_slots_are_bounded_and_given_back() {
    let c = Arc::new(Counter::default());
    let a = c.try_acquire(2).expect("first");
    let b = c.try_acquire(2).expect("second");
    assert!(c.try_acquire(2).is_none(), "the ceiling holds");
    assert_eq!(c.current(), 2);
    drop(a);
    let _c = c.try_acquire(2).expect("a slot came back");
    drop(b);
    assert_eq!(c.current(), 1);
}

#[test]
fn bucket_allows_the_burst_then_the_rate() {
    let bucket = TokenBucket::new(60, 3); // one a second, bursts of three
    let t0 = Instant::now();
    for _ in 0..3 {
        assert!(bucket.try_take(t0).is_ok());
    }
    let wait = bucket.try_take(t0).expect_err("burst used up");
    assert!(
        wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    assert!(
        bucket.try_take(t0 + Duration::from_millis(1001)).is_ok(),
        "refilled one"
    );
    assert!(bucket.try_take(t0 + Duration::from_millis(1002)).is_err());
    // A long pause refills only up to the burst.
    let later = t0 + Duration::from_secs(600);
    for _ in 0..3 {
        assert!(bucket.try_take(later).is_ok());
    }
    assert!(bucket.try_take(later).is_err());
}

#[test]
fn refusal_is_53400_and_says_when_to_retry() {
    let bucket = TokenBucket::new(100, 150);
    let e = bucket.refusal("app", Duration::from_millis(600));
    assert_eq!(e.state.code(), "53400");
    assert!(!e.fatal);
    assert!(
        e.message.contains("100 per minute") && e.message.contains("retry in 0.6 s"),
        "{}",
        e.message
    );
}
