//! Per-key rate limits: a token bucket per API key, in memory (each API node limits the
//! requests it serves).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets keyed by API key id.
pub struct RateLimiter {
    per_s: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// `per_s` tokens a second, up to `burst` saved; `per_s` of 0 lets everything through.
    pub fn new(per_s: f64, burst: f64) -> Self {
        Self {
            per_s,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says how many whole seconds until one is free.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    /// Gives back a token taken by [`RateLimiter::check`] for work that was not done.
    pub fn refund(&self, key: &str) {
        if self.per_s <= 0.0 {
            return;
        }
        if let Ok(mut buckets) = self.buckets.lock() {
            if let Some(b) = buckets.get_mut(key) {
                b.tokens = (b.tokens + 1.0).min(self.burst);
            }
        }
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.per_s <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            // A panic while holding the lock cannot leave a bucket half-updated in a way
            // that matters; failing open beats refusing every request.
            return Ok(());
        };
        let b = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_string()).or_insert(Bucket {
                tokens: self.burst,
                last: now,
            }),
        };
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_s).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.per_s).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds_per_key() {
        let l = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("a", t0).is_ok());
        }
        assert_eq!(l.check_at("a", t0), Err(1));
        assert!(l.check_at("b", t0).is_ok(), "keys have their own buckets");
        // Half a second brings one token back at 2/s.
        assert!(l.check_at("a", t0 + Duration::from_millis(500)).is_ok());
        assert!(l.check_at("a", t0 + Duration::from_millis(500)).is_err());
        // A slow rate says how long to wait.
        let slow = RateLimiter::new(0.1, 1.0);
        assert!(slow.check_at("a", t0).is_ok());
        assert_eq!(slow.check_at("a", t0), Err(10));
    }

    #[test]
    fn a_refund_gives_the_token_back_up_to_the_burst() {
        let l = RateLimiter::new(0.001, 2.0);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        l.refund("a");
        assert!(l.check("a").is_ok(), "the refunded token");
        assert!(l.check("a").is_err());
        l.refund("a");
        l.refund("a");
        l.refund("a");
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err(), "never more than the burst");
    }

    #[test]
    fn zero_turns_it_off() {
        let l = RateLimiter::new(0.0, 0.0);
        for _ in 0..1000 {
            assert!(l.check("a").is_ok());
        }
    }
}
