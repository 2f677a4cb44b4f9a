use core::ops::Deref;

use super::{CircuitBreaker, Observer, Ticket, TripPolicy};
use crate::time::Clock;
use crate::{Context, Endpoint, Error, Middleware};

/// Which errors count as failures of the endpoint behind a breaker.
///
/// Go kit counts every error; a user may not want a "not found" or a
/// rejected input to open the circuit. Closures `Fn(&E) -> bool` classify.
pub trait Classify<E> {
    /// Whether `err` is a failure of the endpoint (counts towards opening).
    fn is_failure(&self, err: &E) -> bool;
}

/// Counts every error as a failure: Go kit's behaviour, and the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyError;

impl<E> Classify<E> for AnyError {
    #[inline]
    fn is_failure(&self, _err: &E) -> bool {
        true
    }
}

impl<E, F: Fn(&E) -> bool> Classify<E> for F {
    #[inline]
    fn is_failure(&self, err: &E) -> bool {
        self(err)
    }
}

/// Guards an endpoint with a [`CircuitBreaker`]: Go kit's
/// `circuitbreaker.Gobreaker` / `Hystrix` / `HandyBreaker`, by policy.
///
/// While the circuit is open, calls fail at once with
/// [`Error::CircuitOpen`] and the endpoint is not called. `B` is any handle
/// to the breaker (`&CircuitBreaker`, `Arc<CircuitBreaker>`), so one breaker
/// can guard several endpoints that share a fate (one remote host). An
/// endpoint that panics counts as a failure.
///
/// ```
/// use synkit_core::breaker::{BreakerLayer, CircuitBreaker, ConsecutiveFailures, Settings};
/// use synkit_core::endpoint::{Endpoint, endpoint_fn};
/// use synkit_core::time::ManualClock;
/// use synkit_core::{Context, Error};
///
/// #[derive(Debug, PartialEq)]
/// enum FetchError { NotFound, Down, Synkit(Error) }
/// impl From<Error> for FetchError {
///     fn from(e: Error) -> Self { FetchError::Synkit(e) }
/// }
///
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::new(ConsecutiveFailures::new(1), Settings::default(), &clock);
/// let fetch = endpoint_fn(|_: &Context<'_>, key: u32| match key {
///     0 => Err(FetchError::NotFound),
///     1 => Err(FetchError::Down),
///     _ => Ok(key),
/// })
/// .with(BreakerLayer::new(&breaker).failure_if(|e: &FetchError| *e == FetchError::Down));
///
/// let cx = Context::new(&clock);
/// assert_eq!(fetch.call(&cx, 0), Err(FetchError::NotFound)); // not a failure
/// assert_eq!(fetch.call(&cx, 2), Ok(2));
/// assert_eq!(fetch.call(&cx, 1), Err(FetchError::Down)); // opens the circuit
/// assert_eq!(fetch.call(&cx, 2), Err(FetchError::Synkit(Error::CircuitOpen)));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BreakerLayer<B, K = AnyError> {
    breaker: B,
    classify: K,
}

impl<B> BreakerLayer<B> {
    /// Guards endpoints with `breaker`, counting every error as a failure.
    pub const fn new(breaker: B) -> BreakerLayer<B> {
        BreakerLayer {
            breaker,
            classify: AnyError,
        }
    }
}

impl<B, K> BreakerLayer<B, K> {
    /// Counts only the errors `classify` calls failures.
    pub fn failure_if<K2>(self, classify: K2) -> BreakerLayer<B, K2> {
        BreakerLayer {
            breaker: self.breaker,
            classify,
        }
    }
}

/// An endpoint wrapped by [`BreakerLayer`].
#[derive(Clone, Copy, Debug)]
pub struct Breaker<E, B, K> {
    inner: E,
    circuit: B,
    classify: K,
}

impl<E, B: Clone, K: Clone> Middleware<E> for BreakerLayer<B, K> {
    type Endpoint = Breaker<E, B, K>;

    fn wrap(&self, inner: E) -> Self::Endpoint {
        Breaker {
            inner,
            circuit: self.breaker.clone(),
            classify: self.classify.clone(),
        }
    }
}

/// Records a failure if dropped unfinished: the endpoint panicked.
struct Outcome<'a, P: TripPolicy, C: Clock, O: Observer> {
    breaker: &'a CircuitBreaker<P, C, O>,
    ticket: Option<Ticket>,
}

impl<P: TripPolicy, C: Clock, O: Observer> Outcome<'_, P, C, O> {
    #[inline]
    fn finish(mut self, success: bool) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.record(ticket, success);
        }
    }
}

impl<P: TripPolicy, C: Clock, O: Observer> Drop for Outcome<'_, P, C, O> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.record(ticket, false);
        }
    }
}

impl<Req, E, B, K, P, C, O> Endpoint<Req> for Breaker<E, B, K>
where
    E: Endpoint<Req>,
    E::Error: From<Error>,
    B: Deref<Target = CircuitBreaker<P, C, O>>,
    K: Classify<E::Error>,
    P: TripPolicy,
    C: Clock,
    O: Observer,
{
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        let breaker: &CircuitBreaker<P, C, O> = &self.circuit;
        let outcome = Outcome {
            breaker,
            ticket: Some(breaker.allow()?),
        };
        let out = self.inner.call(cx, req);
        let success = match &out {
            Ok(_) => true,
            Err(e) => !self.classify.is_failure(e),
        };
        outcome.finish(success);
        out
    }
}
