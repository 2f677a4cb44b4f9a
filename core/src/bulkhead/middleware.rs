use core::ops::Deref;

use super::Bulkhead;
#[cfg(feature = "std")]
use crate::time::Duration;
use crate::{Context, Endpoint, Error, Middleware};

/// Caps the calls running at once through a [`Bulkhead`].
///
/// By default a call over the limit fails at once with
/// [`Error::Overloaded`]. With `std`, [`waiting`](Self::waiting) makes it
/// wait for a slot instead, up to the context's deadline. `B` is any handle
/// to the bulkhead (`&Bulkhead`, `Arc<Bulkhead>`), so several endpoints can
/// share one budget.
#[derive(Clone, Copy, Debug)]
pub struct ConcurrencyLimitLayer<B> {
    bulkhead: B,
    when_full: WhenFull,
}

/// What a call over the limit does.
#[derive(Clone, Copy, Debug)]
enum WhenFull {
    Shed,
    #[cfg(feature = "std")]
    Wait {
        max_wait: Option<Duration>,
    },
}

impl<B> ConcurrencyLimitLayer<B> {
    /// Refuses calls over `bulkhead`'s limit at once.
    pub const fn new(bulkhead: B) -> ConcurrencyLimitLayer<B> {
        ConcurrencyLimitLayer {
            bulkhead,
            when_full: WhenFull::Shed,
        }
    }

    /// Waits for a slot instead of refusing: until the context's deadline
    /// (then [`Error::DeadlineExceeded`]) or, if sooner, `max_wait` (then
    /// [`Error::Overloaded`]); `None` waits as long as the deadline allows.
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[must_use]
    pub fn waiting(self, max_wait: Option<Duration>) -> ConcurrencyLimitLayer<B> {
        ConcurrencyLimitLayer {
            when_full: WhenFull::Wait { max_wait },
            ..self
        }
    }
}

/// An endpoint wrapped by [`ConcurrencyLimitLayer`].
#[derive(Clone, Copy, Debug)]
pub struct ConcurrencyLimit<E, B> {
    inner: E,
    limit: ConcurrencyLimitLayer<B>,
}

impl<E, B: Clone> Middleware<E> for ConcurrencyLimitLayer<B> {
    type Endpoint = ConcurrencyLimit<E, B>;

    fn wrap(&self, inner: E) -> Self::Endpoint {
        ConcurrencyLimit {
            inner,
            limit: self.clone(),
        }
    }
}

impl<Req, E, B> Endpoint<Req> for ConcurrencyLimit<E, B>
where
    E: Endpoint<Req>,
    E::Error: From<Error>,
    B: Deref<Target = Bulkhead>,
{
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        let bulkhead: &Bulkhead = &self.limit.bulkhead;
        let permit = match self.limit.when_full {
            WhenFull::Shed => bulkhead.try_acquire().ok_or(Error::Overloaded)?,
            #[cfg(feature = "std")]
            WhenFull::Wait { max_wait } => bulkhead.acquire(cx, max_wait)?,
        };
        let out = self.inner.call(cx, req);
        drop(permit);
        out
    }
}
