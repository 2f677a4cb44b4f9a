//! Two counts over a rolling window of time, in ten buckets of atomic
//! counters: lock-free and allocation-free. The breaker's Hystrix policy
//! counts successes and failures in one; the retry budget, calls and
//! retries.

use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant, duration_nanos};

/// Buckets in a window.
pub(crate) const BUCKETS: usize = 10;

/// One slice of the window: the counts in one bucket-width of time.
struct Bucket {
    /// Which slice of time (now / width) the counts belong to.
    slot: AtomicU64,
    counts: [AtomicU64; 2],
}

/// Which of the two counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    First = 0,
    Second = 1,
}

/// Two counts over the last `window` of time.
pub(crate) struct RollingCounts {
    width: u64,
    /// The slot (now / width) seen last, so most calls skip the division.
    current: AtomicU64,
    buckets: [Bucket; BUCKETS],
}

impl RollingCounts {
    /// Counts over `window`, in ten buckets of a tenth of it.
    pub(crate) fn new(window: Duration) -> RollingCounts {
        RollingCounts {
            width: (duration_nanos(window) / BUCKETS as u64).max(1),
            current: AtomicU64::new(0),
            buckets: core::array::from_fn(|_| Bucket {
                slot: AtomicU64::new(0),
                counts: [AtomicU64::new(0), AtomicU64::new(0)],
            }),
        }
    }

    /// The window's length.
    pub(crate) fn window(&self) -> Duration {
        Duration::from_nanos(self.width * BUCKETS as u64)
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
            // A bucket a whole window old is reused. Counts added to it by
            // another thread between the swap and these stores are lost: a
            // margin of a few, once per bucket width.
            for count in &bucket.counts {
                count.store(0, Ordering::Relaxed);
            }
        }
        bucket
    }

    /// Adds one to `which` at `now`.
    #[inline]
    pub(crate) fn add(&self, which: Count, now: Instant) {
        self.bucket(self.slot(now)).counts[which as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Both counts over the window ending at `now`.
    pub(crate) fn totals(&self, now: Instant) -> (u64, u64) {
        let current = self.slot(now);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| (oldest..=current).contains(&b.slot.load(Ordering::Acquire)))
            .fold((0, 0), |(first, second), b| {
                (
                    first + b.counts[0].load(Ordering::Relaxed),
                    second + b.counts[1].load(Ordering::Relaxed),
                )
            })
    }

    /// Forgets everything counted.
    pub(crate) fn clear(&self) {
        for b in &self.buckets {
            for count in &b.counts {
                count.store(0, Ordering::Relaxed);
            }
        }
    }
}
