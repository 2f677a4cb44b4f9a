//! The power of two choices over peak-EWMA loads: Finagle's and linkerd's
//! balancer, which Go kit lacks.

use core::fmt;

use super::peak_ewma::{InFlight, Weighed, nanos_f64};
use super::{Balancer, EndpointSet};
use crate::sync::AtomicU64;
use crate::time::{Clock, Duration, Instant};
use crate::{Context, Endpoint, Error};

/// Picks two endpoints at random and calls the less loaded: the power of
/// two choices over [`PeakEwma`](super::PeakEwma) loads (calls in flight
/// times a latency estimate), as Finagle, linkerd and tower's
/// `balance::p2c` do.
///
/// A slow or busy instance gets less traffic without being ejected: its
/// estimate decays while it is passed over, so it is tried again in time.
/// Two random choices rather than the least loaded of all keep many
/// clients from herding onto the same instance. Latency is read from
/// `clock`; a pick allocates nothing and writes nothing shared but the
/// random state.
///
/// ```
/// use synkit_core::endpoint::{Endpoint, endpoint_fn};
/// use synkit_core::lb::{Balancer, P2c, PeakEwma};
/// use synkit_core::time::SystemClock;
/// use synkit_core::{Context, Error};
///
/// fn instance(id: u32) -> PeakEwma<impl Endpoint<(), Response = u32, Error = Error>> {
///     PeakEwma::new(endpoint_fn(move |_: &Context<'_>, (): ()| Ok::<_, Error>(id)))
/// }
/// let set = [instance(0), instance(1), instance(2)];
/// let p2c = P2c::new(&set[..], SystemClock, 7);
/// let answer = p2c.pick().unwrap().call(&Context::background(), ()).unwrap();
/// assert!(answer < 3);
/// ```
pub struct P2c<S, C> {
    set: S,
    clock: C,
    rate: f64,
    state: AtomicU64,
}

impl<S, C> P2c<S, C> {
    /// Balances over `set`, timing calls by `clock`, random choices seeded
    /// by `seed`; latency estimates decay with a ten-second time constant
    /// (Finagle's default).
    pub fn new(set: S, clock: C, seed: u64) -> P2c<S, C> {
        P2c {
            set,
            clock,
            rate: 1.0 / 10e9,
            state: AtomicU64::new(seed),
        }
    }

    /// Sets how fast latency estimates forget: a peak counts for about
    /// `decay` after it is seen.
    #[must_use]
    pub fn with_decay(mut self, decay: Duration) -> P2c<S, C> {
        self.rate = 1.0 / nanos_f64(decay).max(1.0);
        self
    }

    /// The set balanced over.
    pub fn set(&self) -> &S {
        &self.set
    }
}

/// The endpoint [`P2c`] picked: counted in flight and timed for the one
/// call it makes, from the pick (so call it at once).
pub struct P2cPick<'a, S: EndpointSet + 'a, C> {
    snapshot: S::Snapshot<'a>,
    index: usize,
    clock: &'a C,
    rate: f64,
    // When the loads were weighed: the call's start, if it is made at once.
    picked_at: Option<Instant>,
}

impl<S: EndpointSet, C> P2cPick<'_, S, C> {
    /// The endpoint's position in the set it was picked from.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<S, C, Req> Endpoint<Req> for P2cPick<'_, S, C>
where
    S: EndpointSet,
    S::Endpoint: Weighed,
    <S::Endpoint as Weighed>::Endpoint: Endpoint<Req>,
    C: Clock,
{
    type Response = <<S::Endpoint as Weighed>::Endpoint as Endpoint<Req>>::Response;
    type Error = <<S::Endpoint as Weighed>::Endpoint as Endpoint<Req>>::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Self::Response, Self::Error> {
        let load = self.snapshot[self.index].peak_ewma();
        let _timed: InFlight<'_, _> = load.start(self.clock, self.rate, self.picked_at);
        load.endpoint().call(cx, req)
    }
}

impl<S: EndpointSet, C> fmt::Debug for P2cPick<'_, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2cPick")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// `x * n / 2^32`: a uniform index below `n` from 32 random bits, without
/// a division.
#[inline]
fn below(bits: u32, n: usize) -> usize {
    // The product shifted down is below `n`.
    #[allow(clippy::cast_possible_truncation)]
    let i = ((u64::from(bits) * n as u64) >> 32) as usize;
    i
}

impl<S, C, Req> Balancer<Req> for P2c<S, C>
where
    S: EndpointSet,
    S::Endpoint: Weighed,
    <S::Endpoint as Weighed>::Endpoint: Endpoint<Req>,
    C: Clock,
{
    type Response = <<S::Endpoint as Weighed>::Endpoint as Endpoint<Req>>::Response;
    type Error = <<S::Endpoint as Weighed>::Endpoint as Endpoint<Req>>::Error;
    type Pick<'a>
        = P2cPick<'a, S, C>
    where
        Self: 'a;

    fn pick(&self) -> Result<P2cPick<'_, S, C>, Error> {
        let snapshot = self.set.snapshot()?;
        let n = snapshot.len();
        let mut picked_at = None;
        let index = match n {
            0 => return Err(Error::Unavailable),
            1 => 0,
            _ => {
                let bits = super::balancers::next_random(&self.state);
                // Two 32-bit halves: two distinct indices.
                #[allow(clippy::cast_possible_truncation)]
                let (hi, lo) = ((bits >> 32) as u32, bits as u32);
                let a = below(hi, n);
                let mut b = below(lo, n - 1);
                if b >= a {
                    b += 1;
                }
                let now = self.clock.now();
                picked_at = Some(now);
                let load_a = snapshot[a].peak_ewma().load(now, self.rate);
                let load_b = snapshot[b].peak_ewma().load(now, self.rate);
                if load_b < load_a { b } else { a }
            }
        };
        Ok(P2cPick {
            snapshot,
            index,
            clock: &self.clock,
            rate: self.rate,
            picked_at,
        })
    }
}

impl<S, C> fmt::Debug for P2c<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2c")
            .field("decay_ns", &(1.0 / self.rate))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::endpoint::endpoint_fn;
    use crate::lb::{PeakEwma, RoundRobin};
    use crate::time::ManualClock;

    /// An instance that takes `latency` of the manual clock's time.
    fn instance(
        clock: &ManualClock,
        id: usize,
        latency: Duration,
    ) -> PeakEwma<impl Endpoint<(), Response = usize, Error = Error> + '_> {
        PeakEwma::new(endpoint_fn(move |_: &Context<'_>, (): ()| {
            clock.advance(latency);
            Ok::<_, Error>(id)
        }))
    }

    /// Calls `pick` `n` times back to back; the share each instance got and
    /// the 99th percentile latency, read off the manual clock.
    fn run<B>(clock: &ManualClock, balancer: &B, n: usize) -> ([usize; 3], Duration)
    where
        B: Balancer<(), Response = usize, Error = Error>,
    {
        let cx = Context::new(clock);
        let mut counts = [0; 3];
        let mut latencies = Vec::with_capacity(n);
        for _ in 0..n {
            let start = clock.now();
            let id = balancer.pick().unwrap().call(&cx, ()).unwrap();
            latencies.push(clock.now() - start);
            counts[id] += 1;
        }
        latencies.sort_unstable();
        (counts, latencies[n * 99 / 100])
    }

    #[test]
    fn a_slow_instance_gets_under_a_tenth_and_p99_falls_fivefold() {
        let ms = Duration::from_millis;
        let clock = ManualClock::new();
        let set = [
            instance(&clock, 0, ms(1)),
            instance(&clock, 1, ms(51)),
            instance(&clock, 2, ms(1)),
        ];
        let (p2c_counts, p2c_p99) = run(&clock, &P2c::new(&set[..], &clock, 1), 20_000);

        let clock = ManualClock::new();
        let set = [
            instance(&clock, 0, ms(1)),
            instance(&clock, 1, ms(51)),
            instance(&clock, 2, ms(1)),
        ];
        let (rr_counts, rr_p99) = run(&clock, &RoundRobin::new(&set[..]), 20_000);

        std::eprintln!(
            "p2c {p2c_counts:?} p99 {p2c_p99:?}; round robin {rr_counts:?} p99 {rr_p99:?}"
        );
        assert!(p2c_counts[1] * 10 < 20_000, "{p2c_counts:?}");
        assert!(p2c_counts[1] > 0, "the slow instance is not ejected");
        assert_eq!(rr_counts, [6_667, 6_667, 6_666]);
        assert_eq!(rr_p99, ms(51));
        assert!(p2c_p99 * 5 <= rr_p99, "p2c {p2c_p99:?} vs rr {rr_p99:?}");
    }

    #[test]
    fn a_slow_instance_is_tried_again_once_its_peak_has_decayed() {
        let ms = Duration::from_millis;
        let clock = ManualClock::new();
        let set = [instance(&clock, 0, ms(1)), instance(&clock, 1, ms(1))];
        let p2c = P2c::new(&set[..], &clock, 3).with_decay(Duration::from_secs(1));
        let cx = Context::new(&clock);
        // Instance 1 once took 100 ms; instance 0 takes 1 ms.
        set[1].observe(ms(100), clock.now(), 1e-9);
        set[0].observe(ms(1), clock.now(), 1e-9);
        assert_eq!(p2c.pick().unwrap().index(), 0);
        // Five time constants on, 100 ms has decayed below 1 ms.
        clock.advance(Duration::from_secs(5));
        set[0].observe(ms(1), clock.now(), 1e-9);
        let picks: usize = (0..10).map(|_| p2c.pick().unwrap().index()).sum();
        assert_eq!(picks, 10);
        assert_eq!(p2c.pick().unwrap().call(&cx, ()), Ok(1));
    }

    /// An instance that, when given a gate, waits on it before answering.
    struct Gated<'a> {
        id: usize,
        gate: Option<&'a std::sync::Mutex<std::sync::mpsc::Receiver<()>>>,
    }

    impl Endpoint<()> for Gated<'_> {
        type Response = usize;
        type Error = Error;
        fn call(&self, _: &Context<'_>, (): ()) -> Result<usize, Error> {
            if let Some(gate) = self.gate {
                gate.lock().unwrap().recv().unwrap();
            }
            Ok(self.id)
        }
    }

    #[test]
    fn calls_in_flight_steer_picks_to_the_idle_instance() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Mutex::new(gate);
        let clock = ManualClock::new();
        let set = [
            PeakEwma::new(Gated {
                id: 0,
                gate: Some(&gate),
            }),
            PeakEwma::new(Gated { id: 1, gate: None }),
        ];
        let ms = Duration::from_millis;
        for (at, e) in set.iter().enumerate() {
            e.observe(ms(10), clock.now(), 1e-10);
            assert_eq!(
                e.load(clock.now(), 1e-10).to_bits(),
                10e6f64.to_bits(),
                "{at}"
            );
        }
        let p2c = P2c::new(&set[..], &clock, 9);
        let cx = Context::new(&clock);
        std::thread::scope(|s| {
            // Park one call on instance 0 (calls picked for 1 just finish).
            s.spawn(|| {
                loop {
                    let pick = p2c.pick().unwrap();
                    let id = pick.call(&cx, ()).unwrap();
                    if id == 0 {
                        break;
                    }
                }
            });
            while set[0].pending() == 0 {
                std::thread::yield_now();
            }
            // 10 ms × 2 against 10 ms × 1: instance 1 every time.
            for _ in 0..100 {
                assert_eq!(p2c.pick().unwrap().index(), 1);
            }
            release.send(()).unwrap();
        });
        assert_eq!(set[0].pending(), 0);
    }
}
