//! Go kit's two balancers: in turn, and at random.

use core::fmt;

use super::{Balancer, EndpointSet};
use crate::sync::{AtomicU64, Ordering};
use crate::{Context, Endpoint, Error};

/// The endpoint a balancer picked: the set as it was at the pick, and which
/// one. Good for one call.
pub struct Picked<'a, S: EndpointSet + ?Sized + 'a> {
    snapshot: S::Snapshot<'a>,
    index: usize,
}

impl<S: EndpointSet + ?Sized> Picked<'_, S> {
    /// The endpoint's position in the set it was picked from.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<S, Req> Endpoint<Req> for Picked<'_, S>
where
    S: EndpointSet + ?Sized,
    S::Endpoint: Endpoint<Req>,
{
    type Response = <S::Endpoint as Endpoint<Req>>::Response;
    type Error = <S::Endpoint as Endpoint<Req>>::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Self::Response, Self::Error> {
        self.snapshot[self.index].call(cx, req)
    }
}

impl<S: EndpointSet + ?Sized> fmt::Debug for Picked<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Picked")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Picks a non-empty snapshot's `n`th endpoint, counting round.
fn nth<S: EndpointSet + ?Sized>(set: &S, n: u64) -> Result<Picked<'_, S>, Error> {
    let snapshot = set.snapshot()?;
    let len = snapshot.len();
    if len == 0 {
        return Err(Error::Unavailable);
    }
    // The remainder is below `len`, a usize.
    #[allow(clippy::cast_possible_truncation)]
    let index = (n % len as u64) as usize;
    Ok(Picked { snapshot, index })
}

/// Takes the set's endpoints in turn: Go kit's `lb.NewRoundRobin`. One
/// atomic increment per pick, shared by every caller.
pub struct RoundRobin<S> {
    set: S,
    next: AtomicU64,
}

impl<S> RoundRobin<S> {
    /// Balances over `set`, starting with its first endpoint.
    pub fn new(set: S) -> RoundRobin<S> {
        RoundRobin {
            set,
            next: AtomicU64::new(0),
        }
    }

    /// The set balanced over.
    pub fn set(&self) -> &S {
        &self.set
    }
}

impl<S, Req> Balancer<Req> for RoundRobin<S>
where
    S: EndpointSet,
    S::Endpoint: Endpoint<Req>,
{
    type Response = <S::Endpoint as Endpoint<Req>>::Response;
    type Error = <S::Endpoint as Endpoint<Req>>::Error;
    type Pick<'a>
        = Picked<'a, S>
    where
        Self: 'a;

    #[inline]
    fn pick(&self) -> Result<Picked<'_, S>, Error> {
        nth(&self.set, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

impl<S> fmt::Debug for RoundRobin<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoundRobin").finish_non_exhaustive()
    }
}

/// Picks an endpoint at random: Go kit's `lb.NewRandom`. The generator is
/// `SplitMix64` over one atomic counter: lock-free, allocation-free, and the
/// same sequence for the same seed.
pub struct Random<S> {
    set: S,
    state: AtomicU64,
}

impl<S> Random<S> {
    /// Balances over `set` with the generator seeded by `seed`.
    pub fn new(set: S, seed: u64) -> Random<S> {
        Random {
            set,
            state: AtomicU64::new(seed),
        }
    }
}

/// `SplitMix64`'s output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The next `SplitMix64` output from a shared state: one atomic add.
#[inline]
pub(super) fn next_random(state: &AtomicU64) -> u64 {
    const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
    let step = state.fetch_add(GOLDEN, Ordering::Relaxed);
    mix(step.wrapping_add(GOLDEN))
}

impl<S, Req> Balancer<Req> for Random<S>
where
    S: EndpointSet,
    S::Endpoint: Endpoint<Req>,
{
    type Response = <S::Endpoint as Endpoint<Req>>::Response;
    type Error = <S::Endpoint as Endpoint<Req>>::Error;
    type Pick<'a>
        = Picked<'a, S>
    where
        Self: 'a;

    #[inline]
    fn pick(&self) -> Result<Picked<'_, S>, Error> {
        nth(&self.set, next_random(&self.state))
    }
}

impl<S> fmt::Debug for Random<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Random").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::endpoint_fn;
    use crate::time::ManualClock;

    fn echo(id: u32) -> impl Endpoint<(), Response = u32, Error = Error> {
        endpoint_fn(move |_: &Context<'_>, (): ()| Ok::<_, Error>(id))
    }

    #[test]
    fn round_robin_takes_each_in_turn() {
        let set = [echo(0), echo(1), echo(2)];
        let rr = RoundRobin::new(&set[..]);
        let clock = ManualClock::new();
        let cx = Context::new(&clock);
        let got: [u32; 7] =
            core::array::from_fn(|_| Balancer::<()>::pick(&rr).unwrap().call(&cx, ()).unwrap());
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn an_empty_set_is_unavailable() {
        type Echo = crate::endpoint::EndpointFn<fn(&Context<'_>, ()) -> Result<u32, Error>>;
        let none: &[Echo] = &[];
        let rr = RoundRobin::new(none);
        assert_eq!(Balancer::<()>::pick(&rr).unwrap_err(), Error::Unavailable);
        let random = Random::new(none, 1);
        assert_eq!(
            Balancer::<()>::pick(&random).unwrap_err(),
            Error::Unavailable
        );
    }

    #[test]
    fn random_spreads_evenly_and_repeats_for_a_seed() {
        let set = [echo(0), echo(1), echo(2), echo(3)];
        let random = Random::new(&set[..], 42);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[Balancer::<()>::pick(&random).unwrap().index()] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        let again = Random::new(&set[..], 42);
        let first = Random::new(&set[..], 42);
        for _ in 0..100 {
            assert_eq!(
                Balancer::<()>::pick(&again).unwrap().index(),
                Balancer::<()>::pick(&first).unwrap().index()
            );
        }
    }
}
