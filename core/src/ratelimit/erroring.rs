use core::ops::Deref;

use super::TokenBucket;
use crate::time::Clock;
use crate::{Context, Endpoint, Error, Middleware};

/// Refuses calls beyond the bucket's rate with
/// [`Error::RateLimited`], without waiting: Go kit's `NewErroringLimiter`.
///
/// `B` is any handle to a [`TokenBucket`] (`&TokenBucket`, `Arc<TokenBucket>`);
/// every endpoint it wraps draws from that one bucket.
#[derive(Clone, Copy, Debug)]
pub struct ErroringLimiterLayer<B> {
    bucket: B,
}

impl<B> ErroringLimiterLayer<B> {
    /// A limiter drawing tokens from `bucket`.
    pub const fn new(bucket: B) -> ErroringLimiterLayer<B> {
        ErroringLimiterLayer { bucket }
    }
}

/// An endpoint wrapped by [`ErroringLimiterLayer`].
#[derive(Clone, Copy, Debug)]
pub struct ErroringLimiter<E, B> {
    inner: E,
    bucket: B,
}

impl<E, B: Clone> Middleware<E> for ErroringLimiterLayer<B> {
    type Endpoint = ErroringLimiter<E, B>;

    fn wrap(&self, inner: E) -> Self::Endpoint {
        ErroringLimiter {
            inner,
            bucket: self.bucket.clone(),
        }
    }
}

impl<Req, E, B, C> Endpoint<Req> for ErroringLimiter<E, B>
where
    E: Endpoint<Req>,
    E::Error: From<Error>,
    B: Deref<Target = TokenBucket<C>>,
    C: Clock,
{
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        let bucket = &*self.bucket;
        if !bucket.try_acquire_at(cx.now_on(bucket.clock())) {
            return Err(Error::RateLimited.into());
        }
        self.inner.call(cx, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::endpoint_fn;
    use crate::ratelimit::Rate;
    use crate::time::{Duration, ManualClock};

    #[test]
    fn the_limiter_reads_the_calls_start_not_the_clock() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(1), 1, &clock);
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>(()))
            .with(ErroringLimiterLayer::new(&bucket));
        let root = Context::new(&clock);
        let began = root.with_now(clock.now());
        assert_eq!(ep.call(&began, ()), Ok(()));
        clock.advance(Duration::from_secs(1));
        // A token is due by the clock, but not at the instant the call
        // began: the layer used that instant and read nothing.
        assert_eq!(ep.call(&began, ()), Err(Error::RateLimited));
        assert_eq!(ep.call(&root, ()), Ok(()), "without a reading: the clock");
        // A reading on another timeline is not used.
        let other = ManualClock::new();
        let elsewhere_root = Context::new(&other);
        let elsewhere = elsewhere_root.with_now(other.now());
        clock.advance(Duration::from_secs(1));
        assert_eq!(ep.call(&elsewhere, ()), Ok(()));
    }
}
