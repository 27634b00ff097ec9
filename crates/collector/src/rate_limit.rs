//! Rate budgets (a project's, and one client's within it, as the projects file gives them) and the
//! token bucket that enforces one. The bucket is pure: the caller passes the time, so tests need no clock.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// A token bucket counted in **events**: a batch of n events takes n tokens
/// (an empty batch takes 1), the bucket holds `burst` tokens and refills at
/// `events_per_second`. Events, not requests, because rows written are what
/// the collector pays for; a 100-event batch is 100 times a 1-event one.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub events_per_second: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    /// Used by the demo project and by projects that give no `rate_limit`.
    fn default() -> RateLimit {
        RateLimit { events_per_second: 1000, burst: 10_000 }
    }
}

/// One client's budgets in a project (`"client_limits"` in the projects
/// file; every field optional).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientLimits {
    pub events_per_second: u32,
    pub event_burst: u32,
    pub reads_per_second: u32,
    pub read_burst: u32,
}

impl Default for ClientLimits {
    /// Far above one browser (a full batch every half second, a few reads
    /// per page), with room for an office behind one address; tight for a
    /// script hammering the collector.
    fn default() -> ClientLimits {
        ClientLimits { events_per_second: 200, event_burst: 2000, reads_per_second: 20, read_burst: 200 }
    }
}

#[derive(Debug)]
pub struct TokenBucket {
    per_second: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Starts full: a freshly started collector accepts a burst at once.
    pub fn new(limit: RateLimit, now: Instant) -> TokenBucket {
        let capacity = f64::from(limit.burst);
        TokenBucket { per_second: f64::from(limit.events_per_second), capacity, tokens: capacity, last: now }
    }

    /// Whether the bucket would be full at `now` (it has been idle long
    /// enough to forget).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }

    /// Takes `cost` tokens, or leaves the bucket as it is and returns how long
    /// until `cost` tokens will be there. A cost above the capacity is
    /// charged as the capacity, so that it is not refused forever.
    pub fn try_take(&mut self, cost: u32, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = self.last.max(now);
        let cost = f64::from(cost).min(self.capacity);
        if self.tokens >= cost {
            self.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - self.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wait rounded to whole milliseconds: float arithmetic is not exact.
    fn take(bucket: &mut TokenBucket, cost: u32, now: Instant) -> Result<(), u128> {
        bucket.try_take(cost, now).map_err(|wait| (wait.as_secs_f64() * 1000.0).round() as u128)
    }

    #[test]
    fn refills_at_the_rate_up_to_the_burst() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut bucket = TokenBucket::new(RateLimit { events_per_second: 100, burst: 200 }, t0);

        assert_eq!(take(&mut bucket, 150, at(0)), Ok(()));
        // 50 left; 100 need 50 more tokens = 0.5 s at 100/s.
        assert_eq!(take(&mut bucket, 100, at(0)), Err(500));
        // A refusal takes nothing.
        assert_eq!(take(&mut bucket, 50, at(0)), Ok(()));
        assert_eq!(take(&mut bucket, 100, at(900)), Err(100));
        assert_eq!(take(&mut bucket, 100, at(1000)), Ok(()));
        // A long pause refills only up to the burst.
        assert_eq!(take(&mut bucket, 200, at(60_000)), Ok(()));
        assert_eq!(take(&mut bucket, 1, at(60_000)), Err(10));
        // A clock that goes backwards refills nothing and breaks nothing.
        assert_eq!(take(&mut bucket, 1, at(30_000)), Err(10));
    }

    #[test]
    fn a_cost_above_the_burst_is_charged_as_the_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RateLimit { events_per_second: 10, burst: 100 }, t0);
        assert_eq!(take(&mut bucket, 500, t0), Ok(()));
        assert_eq!(take(&mut bucket, 500, t0), Err(10_000));
    }
}
