//! Finagle's peak-EWMA load: requests in flight times a latency estimate
//! that jumps to every new peak and decays toward recent latencies.

use core::fmt;

use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant, duration_nanos};
use crate::{Context, Endpoint};

/// The load of an unmeasured endpoint that has calls in flight: high
/// enough that any measured endpoint wins, as Finagle's `Penalty`
/// (`i64::MAX >> 16` nanoseconds, about 1.6 days).
const PENALTY: f64 = 1.4e14;

/// An endpoint with what [`P2c`](super::P2c) needs to weigh it: the calls
/// in flight and a peak-EWMA estimate of its latency (Finagle's
/// `PeakEwma`, as in linkerd and tower).
///
/// The estimate jumps to any latency above it at once, and otherwise moves
/// toward what is seen with a time constant (`decay`, ten seconds by
/// default); while nothing is seen it decays toward zero, so an endpoint
/// that was slow is tried again in time rather than shunned for good. The
/// load is the estimate times (calls in flight + 1). An endpoint never
/// measured weighs nothing until a call is in flight, then more than any
/// measured one.
///
/// Called directly rather than through [`P2c`](super::P2c), it is the
/// endpoint it wraps: nothing is measured.
pub struct PeakEwma<E> {
    endpoint: E,
    pending: AtomicU64,
    // f64 bits: the estimate in nanoseconds at `stamp`.
    cost: AtomicU64,
    stamp: AtomicU64,
}

impl<E> PeakEwma<E> {
    /// `endpoint`, unmeasured.
    pub fn new(endpoint: E) -> PeakEwma<E> {
        PeakEwma {
            endpoint,
            pending: AtomicU64::new(0),
            cost: AtomicU64::new(0f64.to_bits()),
            stamp: AtomicU64::new(0),
        }
    }

    /// The endpoint measured.
    pub fn endpoint(&self) -> &E {
        &self.endpoint
    }

    /// Calls in flight through a balancer.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// The latency estimate at `now`, decayed by time constant `decay`.
    pub fn estimate(&self, now: Instant, decay: Duration) -> Duration {
        // Whole nanoseconds are plenty; the estimate is never negative.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Duration::from_nanos(self.decayed(now, 1.0 / nanos_f64(decay).max(1.0)) as u64)
    }

    fn decayed(&self, now: Instant, rate: f64) -> f64 {
        let cost = f64::from_bits(self.cost.load(Ordering::Relaxed));
        let since = now
            .as_nanos()
            .saturating_sub(self.stamp.load(Ordering::Relaxed));
        cost * exp_neg(u64_f64(since) * rate)
    }

    /// The load at `now`: what [`P2c`](super::P2c) compares.
    pub(super) fn load(&self, now: Instant, rate: f64) -> f64 {
        let pending = self.pending.load(Ordering::Relaxed);
        let cost = self.decayed(now, rate);
        if cost == 0.0 && pending > 0 {
            return PENALTY + u64_f64(pending);
        }
        cost * u64_f64(pending + 1)
    }

    /// A call that took `rtt` ended at `now`.
    pub(super) fn observe(&self, rtt: Duration, now: Instant, rate: f64) {
        let rtt = nanos_f64(rtt);
        let now = now.as_nanos();
        let since = now.saturating_sub(self.stamp.load(Ordering::Relaxed));
        let w = exp_neg(u64_f64(since) * rate);
        // A racing update may win; either result is a fair estimate.
        let _ = self
            .cost
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let cost = f64::from_bits(bits);
                let next = if rtt > cost {
                    rtt
                } else {
                    cost * w + rtt * (1.0 - w)
                };
                Some(next.to_bits())
            });
        self.stamp.fetch_max(now, Ordering::Relaxed);
    }

    /// Counts a call in flight until the guard drops, then records how long
    /// it took since `started` (read from `clock` if not given).
    pub(super) fn start<'a>(
        &'a self,
        clock: &'a (dyn crate::time::Clock + 'a),
        rate: f64,
        started: Option<Instant>,
    ) -> InFlight<'a, E> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        InFlight {
            load: self,
            clock,
            rate,
            started: started.unwrap_or_else(|| clock.now()),
        }
    }
}

/// One call in flight: ends the count and records the latency when it
/// drops, even if the call panicked.
pub(super) struct InFlight<'a, E> {
    load: &'a PeakEwma<E>,
    clock: &'a (dyn crate::time::Clock + 'a),
    rate: f64,
    started: Instant,
}

impl<E> Drop for InFlight<'_, E> {
    fn drop(&mut self) {
        let now = self.clock.now();
        self.load
            .observe(now.saturating_duration_since(self.started), now, self.rate);
        self.load.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<E, Req> Endpoint<Req> for PeakEwma<E>
where
    E: Endpoint<Req>,
{
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        self.endpoint.call(cx, req)
    }
}

impl<E> fmt::Debug for PeakEwma<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeakEwma")
            .field("pending", &self.pending())
            .field(
                "cost_ns",
                &f64::from_bits(self.cost.load(Ordering::Relaxed)),
            )
            .finish_non_exhaustive()
    }
}

/// What a [`P2c`](super::P2c) balancer's set holds: a [`PeakEwma`], or
/// something that leads to one (an `Arc` of it, as an
/// [`Endpointer`](crate::sd::Endpointer)'s set holds).
pub trait Weighed {
    /// The endpoint inside.
    type Endpoint;
    /// Its load.
    fn peak_ewma(&self) -> &PeakEwma<Self::Endpoint>;
}

impl<E> Weighed for PeakEwma<E> {
    type Endpoint = E;
    #[inline]
    fn peak_ewma(&self) -> &PeakEwma<E> {
        self
    }
}

impl<W: Weighed + ?Sized> Weighed for &W {
    type Endpoint = W::Endpoint;
    #[inline]
    fn peak_ewma(&self) -> &PeakEwma<W::Endpoint> {
        (**self).peak_ewma()
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<W: Weighed + ?Sized> Weighed for alloc::sync::Arc<W> {
    type Endpoint = W::Endpoint;
    #[inline]
    fn peak_ewma(&self) -> &PeakEwma<W::Endpoint> {
        (**self).peak_ewma()
    }
}

pub(super) fn nanos_f64(d: Duration) -> f64 {
    u64_f64(duration_nanos(d))
}

fn u64_f64(n: u64) -> f64 {
    // Latencies and counts far below 2^53: exact. Through i64, which
    // converts in one instruction where u64 takes several.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    let f = n.min(i64::MAX as u64) as i64 as f64;
    f
}

/// `e^-x` for `x >= 0`, to about 1e-5 relative: 2^-n by the exponent bits
/// and a polynomial for the fraction. `core` has no `exp`, and a balancer
/// needs no more precision than this, but it needs it fast: a pick takes
/// two of these.
pub(super) fn exp_neg(x: f64) -> f64 {
    // Taylor coefficients of e^-t: (-1)^k / k!.
    const C: [f64; 8] = [
        1.0,
        -1.0,
        1.0 / 2.0,
        -1.0 / 6.0,
        1.0 / 24.0,
        -1.0 / 120.0,
        1.0 / 720.0,
        -1.0 / 5040.0,
    ];
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    // The common case: little time since the last reading. Three terms
    // are within 1e-7 below 1/64.
    if x < 1.0 / 64.0 {
        return C[0] + x * (C[1] + x * C[2]);
    }
    let halvings = x * core::f64::consts::LOG2_E;
    if halvings >= 1022.0 {
        return 0.0;
    }
    // Below 1022: the whole part fits, and 2^-whole is a normal f64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = halvings as u64;
    let t = (halvings - u64_f64(whole)) * core::f64::consts::LN_2;
    // e^-t on [0, ln 2) to the 7th power (error < 2e-6), by Estrin's
    // scheme: four independent pairs, then their sums.
    let t2 = t * t;
    let t4 = t2 * t2;
    let low = (C[0] + C[1] * t) + t2 * (C[2] + C[3] * t);
    let high = (C[4] + C[5] * t) + t2 * (C[6] + C[7] * t);
    (low + t4 * high) * f64::from_bits((1023 - whole) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_neg_is_close_to_the_real_thing() {
        extern crate std;
        let mut x = 0.0f64;
        while x < 60.0 {
            let want = std::primitive::f64::exp(-x);
            let got = exp_neg(x);
            assert!(
                (got - want).abs() <= want * 1e-5,
                "x={x} got={got} want={want}"
            );
            x += 0.001_7;
        }
        assert_eq!(exp_neg(0.0).to_bits(), 1f64.to_bits());
        assert_eq!(exp_neg(800.0).to_bits(), 0f64.to_bits());
        assert_eq!(exp_neg(f64::INFINITY).to_bits(), 0f64.to_bits());
        assert_eq!(exp_neg(-1.0).to_bits(), 1f64.to_bits());
    }

    #[test]
    fn the_estimate_jumps_to_a_peak_and_decays_toward_what_is_seen() {
        let rate = 1e-9; // an e-fold a second
        let ms = |n: u64| Duration::from_millis(n);
        let at = |ms: u64| Instant::from_nanos(ms * 1_000_000);
        let e = PeakEwma::new(());
        e.observe(ms(10), at(1_000), rate);
        assert_eq!(e.estimate(at(1_000), ms(1_000)), ms(10));
        e.observe(ms(50), at(1_100), rate);
        assert_eq!(e.estimate(at(1_100), ms(1_000)), ms(50));
        // One time constant later, a 10 ms call pulls it ~63% of the way.
        e.observe(ms(10), at(2_100), rate);
        let est = e.estimate(at(2_100), ms(1_000)).as_micros();
        assert!((24_600..24_800).contains(&est), "{est}");
        // Unobserved, it decays toward zero: an e-fold per second.
        let later = e.estimate(at(4_100), ms(1_000)).as_micros();
        assert!((3_300..3_400).contains(&later), "{later}");
    }

    #[test]
    fn an_unmeasured_endpoint_is_free_until_busy() {
        let e = PeakEwma::new(());
        let now = Instant::from_nanos(5);
        assert_eq!(e.load(now, 1e-9).to_bits(), 0f64.to_bits());
        e.pending.fetch_add(1, Ordering::Relaxed);
        assert!(e.load(now, 1e-9) > 1e13);
    }
}
