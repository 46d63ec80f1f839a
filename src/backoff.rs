//! Reconnect delays: exponential backoff with jitter, on the caller's clock and randomness.

/// Backoff settings (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// First delay.
    pub min_ms: u64,
    /// Largest delay before jitter.
    pub max_ms: u64,
    /// Up to this much is added at random, so a fleet does not reconnect in step.
    pub jitter_ms: u64,
}

impl Default for BackoffConfig {
    /// The Azure IoT guidance's example: 1 s, 100 s, 5 s of jitter.
    fn default() -> Self {
        BackoffConfig {
            min_ms: 1_000,
            max_ms: 100_000,
            jitter_ms: 5_000,
        }
    }
}

/// The delay sequence of one outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    cfg: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    /// A new sequence.
    pub fn new(cfg: BackoffConfig) -> Self {
        Backoff { cfg, attempt: 0 }
    }

    /// Attempts made so far in this outage.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt: `min * 2^attempt`, capped at `max`, plus
    /// `random % (jitter + 1)`.
    pub fn next_delay(&mut self, random: u32) -> u64 {
        let shift = self.attempt.min(32);
        let base = self
            .cfg
            .min_ms
            .saturating_mul(1u64 << shift)
            .min(self.cfg.max_ms)
            .max(self.cfg.min_ms.min(self.cfg.max_ms));
        self.attempt = self.attempt.saturating_add(1);
        let jitter = if self.cfg.jitter_ms == 0 {
            0
        } else {
            u64::from(random) % (self.cfg.jitter_ms + 1)
        };
        base.saturating_add(jitter)
    }

    /// The connection is back: the next outage starts from `min` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_then_resets() {
        let mut b = Backoff::new(BackoffConfig {
            min_ms: 100,
            max_ms: 1_000,
            jitter_ms: 0,
        });
        let delays: heapless::Vec<u64, 8> = (0..7).map(|_| b.next_delay(12345)).collect();
        assert_eq!(&delays[..], &[100, 200, 400, 800, 1000, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay(0), 100);
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let mut b = Backoff::new(BackoffConfig {
            min_ms: 1000,
            max_ms: 1000,
            jitter_ms: 50,
        });
        let mut seen = [false; 51];
        for r in 0..1000u32 {
            let d = b.next_delay(r.wrapping_mul(2_654_435_761));
            assert!((1000..=1050).contains(&d));
            seen[(d - 1000) as usize] = true;
        }
        assert!(seen.iter().filter(|s| **s).count() > 40);
    }

    #[test]
    fn never_overflows() {
        let mut b = Backoff::new(BackoffConfig {
            min_ms: u64::MAX / 2,
            max_ms: u64::MAX / 2,
            jitter_ms: 10,
        });
        for _ in 0..100 {
            assert!(b.next_delay(u32::MAX) >= u64::MAX / 2);
        }
    }
}
