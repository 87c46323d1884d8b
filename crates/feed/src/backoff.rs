//! Reconnect backoff: exponential with ±jitter so that many recorders (or many connections of one
//! recorder) do not reconnect in lock-step after a venue outage.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Backoff settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// First delay.
    pub initial: Duration,
    /// Cap.
    pub max: Duration,
    /// Relative jitter, e.g. 0.25 for ±25 %.
    pub jitter: f64,
    /// A connection that stayed up this long resets the backoff to `initial`.
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: 0.25,
            reset_after: Duration::from_secs(60),
        }
    }
}

/// Backoff state of one connection.
#[derive(Debug)]
pub struct Backoff {
    cfg: BackoffConfig,
    attempt: u32,
    rng: SmallRng,
}

impl Backoff {
    /// A fresh backoff; `seed` only decorrelates the jitter between connections.
    pub fn new(cfg: BackoffConfig, seed: u64) -> Self {
        Backoff {
            cfg,
            attempt: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The delay before the next attempt; each call doubles the base delay up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.cfg.initial.as_secs_f64() * 2f64.powi(self.attempt.min(30) as i32);
        let base = base.min(self.cfg.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        let j = self.cfg.jitter.clamp(0.0, 1.0);
        let factor = if j > 0.0 {
            self.rng.random_range(1.0 - j..=1.0 + j)
        } else {
            1.0
        };
        Duration::from_secs_f64((base * factor).max(0.0))
    }

    /// Called when a connection ends: resets if it had been healthy long enough.
    pub fn on_disconnect(&mut self, lasted: Duration) {
        if lasted >= self.cfg.reset_after {
            self.attempt = 0;
        }
    }

    /// Attempts since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let cfg = BackoffConfig {
            jitter: 0.0,
            ..BackoffConfig::default()
        };
        let mut b = Backoff::new(cfg, 1);
        let secs: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
        b.on_disconnect(Duration::from_secs(5));
        assert_eq!(b.next_delay().as_secs(), 30);
        b.on_disconnect(Duration::from_secs(61));
        assert_eq!(b.next_delay().as_secs(), 1);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut b = Backoff::new(BackoffConfig::default(), 7);
        for i in 0..200 {
            let base = (1u64 << i.min(5)).min(30) as f64;
            let d = b.next_delay().as_secs_f64();
            assert!(
                d >= base * 0.75 - 1e-9 && d <= base * 1.25 + 1e-9,
                "{i}: {d}"
            );
        }
    }
}
