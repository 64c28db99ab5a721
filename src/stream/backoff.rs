//! Exponential backoff with jitter, capped.

use std::time::Duration;

use rand::Rng;

/// Delays that double from `initial` up to `max`. Each wait is drawn uniformly between half
/// and all of the current delay ("equal jitter"): replicas spread out, and there is always a
/// pause of at least half the delay, so no reconnect loop runs hot.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            current: initial,
        }
    }

    /// The next wait; the delay after it doubles, up to the cap.
    pub fn next(&mut self) -> Duration {
        let delay = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = delay / 2;
        half + rand::rng().random_range(Duration::ZERO..=delay - half)
    }

    /// Back to the initial delay (after a success).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_up_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(400));
        for bound in [100, 200, 400, 400, 400] {
            let d = b.next();
            assert!(d >= ms(bound / 2) && d <= ms(bound), "{d:?} for {bound}");
        }
        b.reset();
        assert!(b.next() <= ms(100));
    }
}
