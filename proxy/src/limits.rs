//! Limits on what clients may use: connection counts (global, per user,
//! and for clients still logging in) and the per-user statement rate (a
//! token bucket shared by all of a user's sessions). Refusals are
//! PostgreSQL errors: 53300 for connections, 53400 for the rate.

use crate::protocol::{ErrorResponse, SqlState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A count with a ceiling; [`Counter::try_acquire`] hands out RAII slots.
#[derive(Debug, Default)]
pub struct Counter {
    current: AtomicUsize,
}

/// One unit of a [`Counter`], given back when dropped.
#[derive(Debug)]
pub struct Slot {
    counter: Arc<Counter>,
}

impl Counter {
    /// Takes a slot if fewer than `max` are taken.
    pub fn try_acquire(self: &Arc<Self>, max: usize) -> Option<Slot> {
        let mut now = self.current.load(Ordering::Relaxed);
        loop {
            if now >= max {
                return None;
            }
            match self.current.compare_exchange_weak(
                now,
                now + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Slot {
                        counter: self.clone(),
                    })
                }
                Err(seen) => now = seen,
            }
        }
    }

    /// Slots taken now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counter.current.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A token bucket: `burst` tokens, refilled at `per_minute / 60` a second.
#[derive(Debug)]
pub struct TokenBucket {
    per_minute: u32,
    burst: u32,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_minute: u32, burst: u32) -> TokenBucket {
        let burst = burst.max(1);
        TokenBucket {
            per_minute,
            burst,
            state: Mutex::new((f64::from(burst), Instant::now())),
        }
    }

    /// Takes a token at `now`, or says how long until one is available.
    pub fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *state;
        let rate = f64::from(self.per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * rate).min(f64::from(self.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if rate > 0.0 {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        } else {
            Err(Duration::MAX)
        }
    }

    /// The refusal for a client over the limit.
    pub fn refusal(&self, user: &str, retry_after: Duration) -> ErrorResponse {
        let when = if retry_after == Duration::MAX {
            "the rate is 0: statements are not allowed".to_owned()
        } else {
            format!("retry in {:.1} s", retry_after.as_secs_f64().max(0.1))
        };
        ErrorResponse::error(
            SqlState::FromServer(*b"53400"),
            format!(
                "user \"{user}\" is over its statement rate limit ({} per minute, bursts of {}); {when}",
                self.per_minute, self.burst
            ),
        )
        .with_hint("slow down, or raise rate_limit for this user in [[users]]; the connection stays usable")
    }
}

/// The refusal for a connection over a connection limit.
pub fn too_many(what: String, hint: &str) -> ErrorResponse {
    ErrorResponse::fatal(SqlState::TooManyConnections, what).with_hint(hint.to_owned())
}

#[cfg(test)]
mod tests;
