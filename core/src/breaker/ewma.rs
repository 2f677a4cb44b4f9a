use core::fmt;

use super::policy::TripPolicy;
use crate::sync::{AtomicU64, Ordering};
use crate::time::Instant;

/// handy's policy: opens when an exponentially weighted moving average of
/// the failure rate reaches `threshold`, once `min_observations` outcomes
/// have been seen.
///
/// Each outcome moves the average a `1 / window` step towards 1 (failure) or
/// 0 (success), so it follows roughly the last `window` calls, recent ones
/// weighing most. One compare-exchange loop per outcome.
pub struct FailureRate {
    /// The average as `f64` bits.
    rate: AtomicU64,
    observations: AtomicU64,
    alpha: f64,
    threshold: f64,
    min_observations: u64,
}

impl FailureRate {
    /// Opens at a failure rate of `threshold` (0.0–1.0) averaged over about
    /// `window` calls, after at least `min_observations` calls.
    pub fn new(threshold: f64, window: u32, min_observations: u32) -> FailureRate {
        FailureRate {
            rate: AtomicU64::new(0f64.to_bits()),
            observations: AtomicU64::new(0),
            alpha: 1.0 / f64::from(window.max(1)),
            threshold: threshold.clamp(0.0, 1.0),
            min_observations: u64::from(min_observations),
        }
    }

    /// The current average failure rate, 0.0–1.0.
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }
}

impl TripPolicy for FailureRate {
    fn record(&self, success: bool, _now: Instant) -> bool {
        let sample = if success { 0.0 } else { 1.0 };
        let mut bits = self.rate.load(Ordering::Relaxed);
        let rate = loop {
            let old = f64::from_bits(bits);
            let new = old + self.alpha * (sample - old);
            match self.rate.compare_exchange_weak(
                bits,
                new.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break new,
                Err(seen) => bits = seen,
            }
        };
        let seen = self.observations.fetch_add(1, Ordering::Relaxed) + 1;
        !success && seen >= self.min_observations && rate >= self.threshold
    }

    fn reset(&self, _now: Instant) {
        self.rate.store(0f64.to_bits(), Ordering::Relaxed);
        self.observations.store(0, Ordering::Relaxed);
    }
}

impl fmt::Debug for FailureRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureRate")
            .field("rate", &self.rate())
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}
