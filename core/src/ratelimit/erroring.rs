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
        if !self.bucket.try_acquire() {
            return Err(Error::RateLimited.into());
        }
        self.inner.call(cx, req)
    }
}
