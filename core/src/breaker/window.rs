use core::fmt;

use super::policy::TripPolicy;
use crate::time::{Duration, Instant};
use crate::window::{Count, RollingCounts};

/// Hystrix's policy: over a rolling window, open once at least
/// `volume_threshold` calls were seen and at least `error_percent` of them
/// failed.
///
/// The window is ten buckets of `window / 10` (Hystrix's defaults: a 10 s
/// window, 20 requests, 50 %). Each outcome is counted in the current bucket
/// (one atomic add); the sum over the window is taken only on a failure.
/// Needs the time for every outcome.
pub struct RollingWindow {
    /// Successes (first) and failures (second).
    counts: RollingCounts,
    volume_threshold: u64,
    error_percent: u64,
}

impl RollingWindow {
    /// A window of `window` (ten buckets), tripping at `error_percent` % of
    /// failures (0–100) once `volume_threshold` calls are in the window.
    pub fn new(window: Duration, volume_threshold: u32, error_percent: u8) -> RollingWindow {
        RollingWindow {
            counts: RollingCounts::new(window),
            volume_threshold: u64::from(volume_threshold),
            error_percent: u64::from(error_percent.min(100)),
        }
    }

    /// Hystrix's defaults: a 10 s window, 20 requests, 50 % errors.
    pub fn hystrix_defaults() -> RollingWindow {
        RollingWindow::new(Duration::from_secs(10), 20, 50)
    }

    /// Calls and failures in the window ending at `now`.
    pub fn totals(&self, now: Instant) -> (u64, u64) {
        let (successes, failures) = self.counts.totals(now);
        (successes + failures, failures)
    }
}

impl TripPolicy for RollingWindow {
    fn record(&self, success: bool, now: Instant) -> bool {
        if success {
            self.counts.add(Count::First, now);
            return false;
        }
        self.counts.add(Count::Second, now);
        let (calls, failures) = self.totals(now);
        calls >= self.volume_threshold && failures * 100 >= self.error_percent * calls
    }

    fn reset(&self, _now: Instant) {
        self.counts.clear();
    }

    fn needs_clock(&self) -> bool {
        true
    }
}

impl fmt::Debug for RollingWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RollingWindow")
            .field("window", &self.counts.window())
            .field("volume_threshold", &self.volume_threshold)
            .field("error_percent", &self.error_percent)
            .finish_non_exhaustive()
    }
}
