//! [`TimeoutLayer`]: give the endpoint below at most so long.
//!
//! The wrapped endpoint sees a child context whose deadline is the earlier
//! of the caller's and now plus the timeout, so everything below — a rate
//! limiter's wait, a client's socket timeout — shrinks to fit. A call whose
//! time is already up fails at once with
//! [`Error::DeadlineExceeded`] without calling through. Blocking code cannot
//! be interrupted: an endpoint that ignores its context finishes late, and
//! its result is returned as it is.
//!
//! ```
//! use synkit_core::endpoint::{Endpoint, endpoint_fn};
//! use synkit_core::time::{Duration, ManualClock};
//! use synkit_core::timeout::TimeoutLayer;
//! use synkit_core::{Context, Error};
//!
//! let clock = ManualClock::new();
//! let remaining = endpoint_fn(|cx: &Context<'_>, (): ()| Ok::<_, Error>(cx.remaining()))
//!     .with(TimeoutLayer::new(Duration::from_millis(200)));
//!
//! let root = Context::new(&clock);
//! assert_eq!(remaining.call(&root, ()), Ok(Some(Duration::from_millis(200))));
//! let tight = root.with_timeout(Duration::from_millis(50));
//! assert_eq!(remaining.call(&tight, ()), Ok(Some(Duration::from_millis(50))));
//! ```

use crate::time::Duration;
use crate::{Context, Endpoint, Error, Middleware};

/// Tightens the context's deadline to at most `timeout` from the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutLayer {
    timeout: Duration,
}

impl TimeoutLayer {
    /// Calls get at most `timeout`.
    pub const fn new(timeout: Duration) -> TimeoutLayer {
        TimeoutLayer { timeout }
    }
}

/// An endpoint wrapped by [`TimeoutLayer`].
#[derive(Clone, Copy, Debug)]
pub struct Timeout<E> {
    inner: E,
    timeout: Duration,
}

impl<E> Middleware<E> for TimeoutLayer {
    type Endpoint = Timeout<E>;

    fn wrap(&self, inner: E) -> Timeout<E> {
        Timeout {
            inner,
            timeout: self.timeout,
        }
    }
}

impl<Req, E> Endpoint<Req> for Timeout<E>
where
    E: Endpoint<Req>,
    E::Error: From<Error>,
{
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        let now = cx.now_on(cx.clock());
        let child = cx.with_deadline(now + self.timeout);
        if child.deadline().is_some_and(|d| now >= d) {
            return Err(Error::DeadlineExceeded.into());
        }
        self.inner.call(&child, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::endpoint_fn;
    use crate::time::ManualClock;

    #[test]
    fn a_call_already_out_of_time_is_refused_without_calling() {
        let clock = ManualClock::new();
        let calls = core::sync::atomic::AtomicU32::new(0);
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| {
            calls.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            Ok::<_, Error>(())
        })
        .with(TimeoutLayer::new(Duration::from_secs(1)));
        let root = Context::new(&clock);
        let cx = root.with_timeout(Duration::from_millis(10));
        clock.advance(Duration::from_millis(10));
        assert_eq!(ep.call(&cx, ()), Err(Error::DeadlineExceeded));
        assert_eq!(calls.load(core::sync::atomic::Ordering::Relaxed), 0);
    }

    #[test]
    fn a_zero_timeout_never_calls_through() {
        let clock = ManualClock::new();
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>(()))
            .with(TimeoutLayer::new(Duration::ZERO));
        assert_eq!(
            ep.call(&Context::new(&clock), ()),
            Err(Error::DeadlineExceeded)
        );
    }

    #[test]
    fn the_inner_endpoint_sees_the_tighter_deadline_and_its_expiry() {
        let clock = ManualClock::new();
        let ep = endpoint_fn(|cx: &Context<'_>, step: Duration| {
            clock.advance(step);
            cx.check()
        })
        .with(TimeoutLayer::new(Duration::from_millis(100)));
        let cx = Context::new(&clock);
        assert_eq!(ep.call(&cx, Duration::from_millis(99)), Ok(()));
        assert_eq!(
            ep.call(&cx, Duration::from_millis(100)),
            Err(Error::DeadlineExceeded)
        );
    }
}
