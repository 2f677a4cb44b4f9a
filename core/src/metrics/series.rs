//! One series of each kind: atomics only.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{Counter, Gauge, Histogram};
use crate::sync::{AtomicU64, Ordering};

/// Adds `delta` to an `f64` kept as bits.
#[inline]
fn add_f64(cell: &AtomicU64, delta: f64) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        Some((f64::from_bits(bits) + delta).to_bits())
    });
}

/// A lock-free counter: whole increments in one integer add, fractions in
/// a float beside it.
#[derive(Debug, Default)]
pub struct AtomicCounter {
    whole: AtomicU64,
    fraction: AtomicU64,
}

impl AtomicCounter {
    /// A counter at zero.
    pub fn new() -> AtomicCounter {
        AtomicCounter::default()
    }

    /// Adds one: a single atomic add.
    #[inline]
    pub fn inc(&self) {
        self.whole.fetch_add(1, Ordering::Relaxed);
    }

    /// The value.
    pub fn get(&self) -> f64 {
        // Counts far below 2^53: exact.
        #[allow(clippy::cast_precision_loss)]
        let whole = self.whole.load(Ordering::Relaxed) as f64;
        whole + f64::from_bits(self.fraction.load(Ordering::Relaxed))
    }
}

impl Counter for AtomicCounter {
    #[inline]
    fn add(&self, delta: f64) {
        if delta.is_nan() || delta <= 0.0 {
            // Negative or NaN: a counter only goes up.
            return;
        }
        // Whole deltas (the usual 1.0) take the integer path.
        // `core` has no `fract`: a whole delta survives the round trip.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let whole = delta as u64;
        #[allow(clippy::cast_precision_loss, clippy::float_cmp)]
        if delta < 9.0e15 && whole as f64 == delta {
            self.whole.fetch_add(whole, Ordering::Relaxed);
        } else {
            add_f64(&self.fraction, delta);
        }
    }
}

/// A lock-free gauge.
#[derive(Debug, Default)]
pub struct AtomicGauge {
    bits: AtomicU64,
}

impl AtomicGauge {
    /// A gauge at zero.
    pub fn new() -> AtomicGauge {
        AtomicGauge::default()
    }

    /// The value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

impl Gauge for AtomicGauge {
    #[inline]
    fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }
    #[inline]
    fn add(&self, delta: f64) {
        add_f64(&self.bits, delta);
    }
}

/// A lock-free histogram: a count per bucket (by upper bound), a sum and
/// a total count.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: Box<[f64]>,
    // One more than the bounds: the +Inf bucket.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl AtomicHistogram {
    /// A histogram with these bucket upper bounds (finite, increasing).
    pub fn new(bounds: &[f64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds: bounds.into(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// The bucket upper bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// The cumulative count at each bound, then the total (the `+Inf`
    /// bucket), and the sum.
    pub fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut running = 0;
        let cumulative = self
            .counts
            .iter()
            .map(|c| {
                running += c.load(Ordering::Relaxed);
                running
            })
            .collect();
        (cumulative, f64::from_bits(self.sum.load(Ordering::Relaxed)))
    }
}

impl Histogram for AtomicHistogram {
    #[inline]
    fn observe(&self, value: f64) {
        // The first bucket whose bound holds the value; NaN lands in +Inf.
        let at = self.bounds.partition_point(|&b| b < value);
        self.counts[at].fetch_add(1, Ordering::Relaxed);
        add_f64(&self.sum, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_whole_and_fractional_steps_and_never_go_down() {
        let c = AtomicCounter::new();
        c.inc();
        c.add(2.0);
        c.add(0.5);
        c.add(-7.0);
        c.add(f64::NAN);
        assert!((c.get() - 3.5).abs() < 1e-12);
    }

    #[test]
    fn histogram_buckets_are_upper_bounds_and_cumulative() {
        let h = AtomicHistogram::new(&[1.0, 5.0, 10.0]);
        for v in [0.5, 1.0, 1.5, 5.0, 7.0, 100.0] {
            h.observe(v);
        }
        let (cumulative, sum) = h.snapshot();
        assert_eq!(cumulative, [2, 4, 5, 6]);
        assert!((sum - 115.0).abs() < 1e-9);
    }

    #[test]
    fn gauges_set_and_add() {
        let g = AtomicGauge::new();
        g.set(3.0);
        g.add(-1.5);
        assert!((g.get() - 1.5).abs() < 1e-12);
    }
}
