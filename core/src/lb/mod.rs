//! Load balancing and retry: Go kit's `sd/lb`.
//!
//! A [`Balancer`] picks an endpoint for each call from an [`EndpointSet`]:
//! a fixed slice of endpoints here, the live set service discovery keeps
//! elsewhere. [`RoundRobin`] takes them in turn and [`Random`] at random,
//! as Go kit's do; [`P2c`] picks the less loaded of two at random, weighing
//! each by its calls in flight and a [`PeakEwma`] of its latency, so a slow
//! instance gets less traffic without being ejected. [`Retry`] (with `alloc`) calls through a balancer until
//! a call succeeds, the attempts run out or the time does, with Go kit's
//! semantics exactly; a [`RetryBudget`] keeps its retries to a share of
//! recent calls.
//!
//! A pick borrows the set (or holds a cheap snapshot of it): nothing is
//! allocated to pick, and a first-time success through [`Retry`] allocates
//! nothing either.
//!
//! ```
//! use synkit_core::endpoint::{Endpoint, endpoint_fn};
//! use synkit_core::lb::{Balancer, RoundRobin};
//! use synkit_core::{Context, Error};
//!
//! // One endpoint type for every instance, as a client factory makes them.
//! fn instance(base: u32) -> impl Endpoint<u32, Response = u32, Error = Error> {
//!     endpoint_fn(move |_: &Context<'_>, n: u32| Ok::<_, Error>(n + base))
//! }
//! let instances = [instance(100), instance(200)];
//! let rr = RoundRobin::new(&instances[..]);
//! let cx = Context::background();
//! assert_eq!(rr.pick().unwrap().call(&cx, 1), Ok(101));
//! assert_eq!(rr.pick().unwrap().call(&cx, 1), Ok(201));
//! assert_eq!(rr.pick().unwrap().call(&cx, 1), Ok(101));
//! ```

mod balancers;
#[cfg(feature = "alloc")]
mod budget;
mod p2c;
mod peak_ewma;
#[cfg(feature = "alloc")]
mod retry;

use core::ops::Deref;

pub use balancers::{Picked, Random, RoundRobin};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use budget::{Budgeted, RetryBudget};
pub use p2c::{P2c, P2cPick};
pub use peak_ewma::{PeakEwma, Weighed};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use retry::{MaxAttempts, Retry, RetryError, RetryPolicy};

use crate::{Endpoint, Error};

/// The endpoints a balancer picks from, as a slice it can index.
///
/// A fixed slice (`&[E]`, and with `alloc` `Vec<E>`, `Arc<[E]>`) is a set
/// that never changes and never fails; service discovery's live set is one
/// whose [`snapshot`](Self::snapshot) may fail (the registry is down) or
/// change between calls.
pub trait EndpointSet {
    /// One endpoint of the set.
    type Endpoint;
    /// The set as it is now: something that derefs to its endpoints.
    type Snapshot<'a>: Deref<Target = [Self::Endpoint]>
    where
        Self: 'a;

    /// The endpoints now, or why there are none to be had.
    fn snapshot(&self) -> Result<Self::Snapshot<'_>, Error>;
}

impl<E> EndpointSet for [E] {
    type Endpoint = E;
    type Snapshot<'a>
        = &'a [E]
    where
        E: 'a;

    #[inline]
    fn snapshot(&self) -> Result<&[E], Error> {
        Ok(self)
    }
}

impl<S: EndpointSet + ?Sized> EndpointSet for &S {
    type Endpoint = S::Endpoint;
    type Snapshot<'a>
        = S::Snapshot<'a>
    where
        Self: 'a;

    #[inline]
    fn snapshot(&self) -> Result<S::Snapshot<'_>, Error> {
        (**self).snapshot()
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<E> EndpointSet for alloc::vec::Vec<E> {
    type Endpoint = E;
    type Snapshot<'a>
        = &'a [E]
    where
        E: 'a;

    #[inline]
    fn snapshot(&self) -> Result<&[E], Error> {
        Ok(self)
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<S: EndpointSet + ?Sized> EndpointSet for alloc::sync::Arc<S> {
    type Endpoint = S::Endpoint;
    type Snapshot<'a>
        = S::Snapshot<'a>
    where
        Self: 'a;

    #[inline]
    fn snapshot(&self) -> Result<S::Snapshot<'_>, Error> {
        (**self).snapshot()
    }
}

/// Picks an endpoint for each call: Go kit's `lb.Balancer`.
pub trait Balancer<Req> {
    /// What the picked endpoints answer.
    type Response;
    /// How the picked endpoints fail.
    type Error;
    /// The endpoint picked: a handle good for one call.
    type Pick<'a>: Endpoint<Req, Response = Self::Response, Error = Self::Error>
    where
        Self: 'a;

    /// An endpoint for the next call; [`Error::Unavailable`] when the set
    /// is empty (Go kit's `ErrNoEndpoints`), or the set's own error.
    fn pick(&self) -> Result<Self::Pick<'_>, Error>;
}

impl<Req, B: Balancer<Req> + ?Sized> Balancer<Req> for &B {
    type Response = B::Response;
    type Error = B::Error;
    type Pick<'a>
        = B::Pick<'a>
    where
        Self: 'a;

    #[inline]
    fn pick(&self) -> Result<B::Pick<'_>, Error> {
        (**self).pick()
    }
}
