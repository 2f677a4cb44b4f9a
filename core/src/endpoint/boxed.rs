use alloc::boxed::Box;
use alloc::sync::Arc;

use super::Endpoint;
use crate::Context;

/// An endpoint of any concrete type behind one pointer: for a collection of
/// different endpoints with one signature, such as a balancer's instances.
///
/// Calling through it costs one indirect call; reach for it only where the
/// endpoints really differ in type. Make one with
/// [`Endpoint::boxed`].
///
/// ```
/// use synkit_core::endpoint::{BoxEndpoint, Endpoint, endpoint_fn};
/// use synkit_core::Context;
///
/// let by_name: Vec<(&str, BoxEndpoint<u32, u32, ()>)> = vec![
///     ("double", endpoint_fn(|_: &Context<'_>, n: u32| Ok(n * 2)).boxed()),
///     ("square", endpoint_fn(|_: &Context<'_>, n: u32| Ok(n * n)).boxed()),
/// ];
/// let cx = Context::background();
/// let out: Vec<u32> = by_name.iter().map(|(_, ep)| ep.call(&cx, 3).unwrap()).collect();
/// assert_eq!(out, [6, 9]);
/// ```
pub type BoxEndpoint<Req, Resp, Err> =
    Box<dyn Endpoint<Req, Response = Resp, Error = Err> + Send + Sync>;

/// A type-erased endpoint shared between owners, for instance between a
/// balancer and the discovery code that updates its set.
pub type ArcEndpoint<Req, Resp, Err> =
    Arc<dyn Endpoint<Req, Response = Resp, Error = Err> + Send + Sync>;

impl<Req, E: Endpoint<Req> + ?Sized> Endpoint<Req> for Box<E> {
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        (**self).call(cx, req)
    }
}

impl<Req, E: Endpoint<Req> + ?Sized> Endpoint<Req> for Arc<E> {
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        (**self).call(cx, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::endpoint_fn;
    use crate::time::ManualClock;

    #[test]
    fn boxed_and_shared_endpoints_call_through() {
        let clock = ManualClock::new();
        let cx = Context::new(&clock);
        let boxed: BoxEndpoint<u8, u8, ()> =
            endpoint_fn(|_: &Context<'_>, n: u8| Ok(n + 1)).boxed();
        assert_eq!(boxed.call(&cx, 1), Ok(2));

        let shared: ArcEndpoint<u8, u8, ()> =
            Arc::new(endpoint_fn(|_: &Context<'_>, n: u8| Ok(n * 3)));
        let other = Arc::clone(&shared);
        assert_eq!(shared.call(&cx, 2), Ok(6));
        assert_eq!(other.call(&cx, 3), Ok(9));
    }
}
