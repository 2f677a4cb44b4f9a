use core::fmt;

use super::Endpoint;
use crate::Context;

/// An endpoint made from a closure by [`endpoint_fn`].
#[derive(Clone, Copy)]
pub struct EndpointFn<F> {
    f: F,
}

/// Turns a closure `Fn(&Context, Req) -> Result<Resp, Err>` into an
/// [`Endpoint`].
///
/// Passing the closure through this function is what lets Rust infer the
/// closure's signature, including the higher-ranked `&Context<'_>`. Annotate
/// the request parameter's type if nothing else pins it down.
///
/// ```
/// use synkit_core::endpoint::{Endpoint, endpoint_fn};
/// use synkit_core::Context;
///
/// let sum = endpoint_fn(|_cx: &Context<'_>, (a, b): (i64, i64)| {
///     a.checked_add(b).ok_or("integer overflow")
/// });
///
/// let cx = Context::background();
/// assert_eq!(sum.call(&cx, (2, 3)), Ok(5));
/// assert_eq!(sum.call(&cx, (i64::MAX, 1)), Err("integer overflow"));
/// ```
pub fn endpoint_fn<F, Req, Resp, Err>(f: F) -> EndpointFn<F>
where
    F: Fn(&Context<'_>, Req) -> Result<Resp, Err>,
{
    EndpointFn { f }
}

impl<F, Req, Resp, Err> Endpoint<Req> for EndpointFn<F>
where
    F: Fn(&Context<'_>, Req) -> Result<Resp, Err>,
{
    type Response = Resp;
    type Error = Err;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Resp, Err> {
        (self.f)(cx, req)
    }
}

impl<F> fmt::Debug for EndpointFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointFn").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::time::{Duration, ManualClock};

    #[test]
    fn closures_are_endpoints_and_see_the_context() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        let remaining =
            endpoint_fn(|cx: &Context<'_>, (): ()| cx.remaining().ok_or(Error::Unavailable));

        assert_eq!(remaining.call(&root, ()), Err(Error::Unavailable));
        let cx = root.with_timeout(Duration::from_millis(3));
        assert_eq!(remaining.call(&cx, ()), Ok(Duration::from_millis(3)));
    }

    #[test]
    fn closures_may_capture_state_shared_between_calls() {
        let calls = core::sync::atomic::AtomicUsize::new(0);
        let counting = endpoint_fn(|_: &Context<'_>, n: usize| {
            Ok::<_, Error>(calls.fetch_add(n, core::sync::atomic::Ordering::Relaxed) + n)
        });
        let clock = ManualClock::new();
        let cx = Context::new(&clock);
        assert_eq!(counting.call(&cx, 2), Ok(2));
        assert_eq!(counting.call(&cx, 3), Ok(5));
        // A reference to an endpoint is an endpoint.
        assert_eq!(counting.call(&cx, 1), Ok(6));
    }
}
