//! Retrying, one way for everything that retries (provider registration, the stream's
//! reconnects, deliveries to destinations, the mock provider, waiting for the database):
//! exponential backoff with jitter, and reading an HTTP `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// Waits that double after each failure, up to a cap, each with "equal jitter" (a random
/// point in the upper half), so that replicas that failed together do not retry together.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            failures: 0,
        }
    }

    /// The un-jittered wait after the current number of failures: `initial · 2^failures`,
    /// capped.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(31));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The next wait, then counts one more failure.
    /// The wait after `failures` failures in a row (1: the first), for callers that keep
    /// the count elsewhere (a delivery's attempts are in the database).
    pub fn wait_after(initial: Duration, max: Duration, failures: u32) -> Duration {
        let mut b = Self::new(initial, max);
        b.failures = failures.saturating_sub(1);
        b.next_wait()
    }

    /// Starts over, as after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }
}

/// `Retry-After` as seconds or an HTTP date, as a wait from `now`.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (when.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_starts_over_and_wait_after_counts_failures() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(400));
        for _ in 0..4 {
            b.next_wait();
        }
        b.reset();
        assert!(b.next_wait() <= ms(100));
        for (failures, ceiling) in [(1, 100), (2, 200), (3, 400), (9, 400)] {
            let w = Backoff::wait_after(ms(100), ms(400), failures);
            assert!(
                w >= ms(ceiling / 2) && w <= ms(ceiling),
                "{w:?} after {failures}"
            );
        }
    }

    #[test]
    fn waits_double_with_jitter_and_stop_at_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for ceiling_ms in [100, 200, 400, 800, 1000, 1000, 1000] {
            let ceiling = Duration::from_millis(ceiling_ms);
            assert_eq!(b.ceiling(), ceiling);
            let w = b.next_wait();
            assert!(w >= ceiling / 2 && w <= ceiling, "{w:?} for {ceiling:?}");
        }
        for _ in 0..100 {
            assert!(b.next_wait() <= Duration::from_secs(1));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:20:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
