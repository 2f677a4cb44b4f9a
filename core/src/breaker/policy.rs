use core::fmt;

use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant, duration_nanos};

/// Decides when a closed circuit opens, from the outcomes of the calls made
/// while it was closed.
///
/// Implementations keep their own counts behind atomics; the breaker calls
/// [`record`](Self::record) once per outcome, from any thread.
pub trait TripPolicy {
    /// Counts one outcome; returns `true` if the circuit should open now.
    /// `now` is only read from the clock when the outcome is a failure or
    /// [`needs_clock`](Self::needs_clock) says so; otherwise it is
    /// [`Instant::ZERO`].
    fn record(&self, success: bool, now: Instant) -> bool;

    /// Forgets every outcome: the circuit has just closed again.
    fn reset(&self, now: Instant);

    /// Whether [`record`](Self::record) needs the time for successes too.
    /// Policies over a time window say yes; counting policies say no, which
    /// keeps the clock off the success path.
    fn needs_clock(&self) -> bool {
        false
    }
}

/// Opens after `n` failures in a row (gobreaker's default, with `n` = 6:
/// "more than 5 consecutive failures").
///
/// A success costs one atomic load (and a store only after a failure); a
/// failure one atomic add. The cheapest policy, and the one to reach for
/// first.
#[derive(Debug)]
pub struct ConsecutiveFailures {
    limit: u64,
    failures: AtomicU64,
}

impl ConsecutiveFailures {
    /// Opens on the `n`th failure in a row (`n` of 0 is taken as 1).
    pub fn new(n: u32) -> ConsecutiveFailures {
        ConsecutiveFailures {
            limit: u64::from(n.max(1)),
            failures: AtomicU64::new(0),
        }
    }
}

impl TripPolicy for ConsecutiveFailures {
    #[inline]
    fn record(&self, success: bool, _now: Instant) -> bool {
        if success {
            // Read first: a success after a success writes nothing, so a
            // healthy endpoint's callers do not contend on this line.
            if self.failures.load(Ordering::Relaxed) != 0 {
                self.failures.store(0, Ordering::Relaxed);
            }
            false
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= self.limit
        }
    }

    fn reset(&self, _now: Instant) {
        self.failures.store(0, Ordering::Relaxed);
    }
}

/// What gobreaker counts while closed, as passed to a [`CountsPolicy`]'s
/// `ready_to_trip`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Outcomes recorded.
    pub requests: u64,
    /// Successes recorded.
    pub total_successes: u64,
    /// Failures recorded.
    pub total_failures: u64,
    /// Successes since the last failure.
    pub consecutive_successes: u64,
    /// Failures since the last success.
    pub consecutive_failures: u64,
}

/// gobreaker's policy: keeps [`Counts`], clears them every `interval` while
/// closed (never, if `None`), and opens when `ready_to_trip(&counts)` says so
/// after a failure.
///
/// The counts are separate atomics, so `ready_to_trip` sees a snapshot that
/// may be off by the calls finishing at that moment, where gobreaker holds
/// a mutex; for trip decisions that margin does not matter.
///
/// ```
/// use synkit_core::breaker::{Counts, CountsPolicy};
/// use synkit_core::time::Duration;
///
/// // Trip at 60% failures once at least 3 requests were seen (gobreaker's README).
/// let policy = CountsPolicy::new(Some(Duration::from_secs(10)), |c: &Counts| {
///     c.requests >= 3 && c.total_failures * 10 >= c.requests * 6
/// });
/// # let _ = policy;
/// ```
pub struct CountsPolicy<F> {
    ready_to_trip: F,
    interval: u64,
    epoch: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    consecutive_successes: AtomicU64,
    consecutive_failures: AtomicU64,
}

impl<F: Fn(&Counts) -> bool> CountsPolicy<F> {
    /// Counts cleared every `interval` (or never), tripping on
    /// `ready_to_trip`.
    pub fn new(interval: Option<Duration>, ready_to_trip: F) -> CountsPolicy<F> {
        CountsPolicy {
            ready_to_trip,
            interval: interval.map_or(0, duration_nanos),
            epoch: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            consecutive_successes: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
        }
    }

    /// The counts so far in this interval.
    pub fn counts(&self) -> Counts {
        let s = self.successes.load(Ordering::Relaxed);
        let f = self.failures.load(Ordering::Relaxed);
        Counts {
            requests: s + f,
            total_successes: s,
            total_failures: f,
            consecutive_successes: self.consecutive_successes.load(Ordering::Relaxed),
            consecutive_failures: self.consecutive_failures.load(Ordering::Relaxed),
        }
    }

    fn clear(&self) {
        self.successes.store(0, Ordering::Relaxed);
        self.failures.store(0, Ordering::Relaxed);
        self.consecutive_successes.store(0, Ordering::Relaxed);
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }
}

impl<F: Fn(&Counts) -> bool> TripPolicy for CountsPolicy<F> {
    fn record(&self, success: bool, now: Instant) -> bool {
        if self.interval != 0 {
            let epoch = self.epoch.load(Ordering::Relaxed);
            let now = now.as_nanos();
            if now >= epoch.saturating_add(self.interval)
                && self
                    .epoch
                    .compare_exchange(epoch, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.clear();
            }
        }
        if success {
            self.successes.fetch_add(1, Ordering::Relaxed);
            self.consecutive_successes.fetch_add(1, Ordering::Relaxed);
            self.consecutive_failures.store(0, Ordering::Relaxed);
            false
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
            self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
            self.consecutive_successes.store(0, Ordering::Relaxed);
            (self.ready_to_trip)(&self.counts())
        }
    }

    fn reset(&self, now: Instant) {
        self.epoch.store(now.as_nanos(), Ordering::Relaxed);
        self.clear();
    }

    fn needs_clock(&self) -> bool {
        self.interval != 0
    }
}

impl<F> fmt::Debug for CountsPolicy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountsPolicy")
            .field("interval", &Duration::from_nanos(self.interval))
            .finish_non_exhaustive()
    }
}
