//! Retries with exponential backoff and jitter, for throttling (429/503), server errors
//! (500/502/504), request timeouts (408) and broken connections.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first delay; doubled for each retry.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

/// HTTP statuses worth another try: the service said "later", not "no".
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based): `base * 2^(attempt-1)`, capped,
    /// then jittered to between 50% and 100% so many readers do not retry in step. A
    /// `Retry-After` from the service wins, capped too.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.cap);
        }
        let exp = self
            .base
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1).min(20))
                    .unwrap_or(u32::MAX),
            )
            .min(self.cap);
        let jitter = 0.5 + 0.5 * unit_random();
        exp.mul_f64(jitter)
    }
}

/// A number in [0, 1) that differs from call to call (jitter only; not for secrets).
fn unit_random() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    // splitmix64
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let p = RetryPolicy {
            retries: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        for attempt in 1..=10 {
            let full = Duration::from_millis(100 * (1u64 << (attempt - 1))).min(p.cap);
            let d = p.delay(attempt, None);
            assert!(
                d <= full && d >= full / 2,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(p.delay(1, Some(Duration::from_secs(99))), p.cap);
        assert!(retryable_status(503) && retryable_status(429) && !retryable_status(404));
    }
}
