use core::fmt;

use super::policy::TripPolicy;
use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant, duration_nanos};

const BUCKETS: usize = 10;

/// One slice of the window: outcomes in one bucket-width of time.
struct Bucket {
    /// Which slice of time (now / width) the counts belong to.
    slot: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
}

/// Hystrix's policy: over a rolling window, open once at least
/// `volume_threshold` calls were seen and at least `error_percent` of them
/// failed.
///
/// The window is ten buckets of `window / 10` (Hystrix's defaults: a 10 s
/// window, 20 requests, 50 %). Each outcome is counted in the current bucket
/// (one atomic add); the sum over the window is taken only on a failure.
/// Needs the time for every outcome.
pub struct RollingWindow {
    width: u64,
    /// The slot (now / width) seen last, so most calls skip the division.
    current: AtomicU64,
    volume_threshold: u64,
    error_percent: u64,
    buckets: [Bucket; BUCKETS],
}

impl RollingWindow {
    /// A window of `window` (ten buckets), tripping at `error_percent` % of
    /// failures (0–100) once `volume_threshold` calls are in the window.
    pub fn new(window: Duration, volume_threshold: u32, error_percent: u8) -> RollingWindow {
        RollingWindow {
            width: (duration_nanos(window) / BUCKETS as u64).max(1),
            current: AtomicU64::new(0),
            volume_threshold: u64::from(volume_threshold),
            error_percent: u64::from(error_percent.min(100)),
            buckets: core::array::from_fn(|_| Bucket {
                slot: AtomicU64::new(0),
                successes: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        }
    }

    /// Hystrix's defaults: a 10 s window, 20 requests, 50 % errors.
    pub fn hystrix_defaults() -> RollingWindow {
        RollingWindow::new(Duration::from_secs(10), 20, 50)
    }

    /// `now / width`, by two multiplications when `now` is in the slot seen
    /// last (nearly always), by a division otherwise.
    #[inline]
    fn slot(&self, now: Instant) -> u64 {
        let now = now.as_nanos();
        let last = self.current.load(Ordering::Relaxed);
        let start = last.saturating_mul(self.width);
        if now >= start && now - start < self.width {
            return last;
        }
        let slot = now / self.width;
        self.current.store(slot, Ordering::Relaxed);
        slot
    }

    fn bucket(&self, slot: u64) -> &Bucket {
        // The index is below BUCKETS, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let index = (slot % BUCKETS as u64) as usize;
        let bucket = &self.buckets[index];
        let seen = bucket.slot.load(Ordering::Acquire);
        if seen != slot
            && bucket
                .slot
                .compare_exchange(seen, slot, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // A bucket a whole window old is reused. Outcomes counted into it
            // by another thread between the swap and these stores are lost:
            // a margin of a few calls, once per bucket width.
            bucket.successes.store(0, Ordering::Relaxed);
            bucket.failures.store(0, Ordering::Relaxed);
        }
        bucket
    }

    /// Calls and failures in the window ending at `now`.
    pub fn totals(&self, now: Instant) -> (u64, u64) {
        let current = self.slot(now);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| (oldest..=current).contains(&b.slot.load(Ordering::Acquire)))
            .fold((0, 0), |(calls, failures), b| {
                let f = b.failures.load(Ordering::Relaxed);
                (
                    calls + f + b.successes.load(Ordering::Relaxed),
                    failures + f,
                )
            })
    }
}

impl TripPolicy for RollingWindow {
    fn record(&self, success: bool, now: Instant) -> bool {
        let bucket = self.bucket(self.slot(now));
        if success {
            bucket.successes.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        bucket.failures.fetch_add(1, Ordering::Relaxed);
        let (calls, failures) = self.totals(now);
        calls >= self.volume_threshold && failures * 100 >= self.error_percent * calls
    }

    fn reset(&self, _now: Instant) {
        for b in &self.buckets {
            b.successes.store(0, Ordering::Relaxed);
            b.failures.store(0, Ordering::Relaxed);
        }
    }

    fn needs_clock(&self) -> bool {
        true
    }
}

impl fmt::Debug for RollingWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RollingWindow")
            .field("window", &Duration::from_nanos(self.width * BUCKETS as u64))
            .field("volume_threshold", &self.volume_threshold)
            .field("error_percent", &self.error_percent)
            .finish_non_exhaustive()
    }
}
