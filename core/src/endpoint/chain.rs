use super::{Identity, Middleware};

/// Middlewares composed into one, listed **outermost first**: Go kit's
/// `endpoint.Chain(outer, others...)`.
///
/// `Chain::new(a).then(b).then(c).wrap(ep)` is `a(b(c(ep)))`: a call goes
/// through `a`, then `b`, then `c`, then `ep`, in the order the chain reads.
/// The chain is itself a [`Middleware`], built at compile time: each `then`
/// nests one more type, and wrapping an endpoint costs no allocation.
///
/// Here `Append(s)` is a middleware that appends `s` to the request on its
/// way in:
///
/// ```
/// use synkit_core::endpoint::{Chain, Endpoint, endpoint_fn};
/// use synkit_core::Context;
/// # use synkit_core::Middleware;
/// # struct Append(&'static str);
/// # struct Appending<E>(&'static str, E);
/// # impl<E> Middleware<E> for Append {
/// #     type Endpoint = Appending<E>;
/// #     fn wrap(&self, inner: E) -> Appending<E> { Appending(self.0, inner) }
/// # }
/// # impl<E: Endpoint<String>> Endpoint<String> for Appending<E> {
/// #     type Response = E::Response;
/// #     type Error = E::Error;
/// #     fn call(&self, cx: &Context<'_>, req: String) -> Result<E::Response, E::Error> {
/// #         self.1.call(cx, req + self.0)
/// #     }
/// # }
///
/// let echo = endpoint_fn(|_: &Context<'_>, req: String| Ok::<_, ()>(req));
/// let ep = Chain::new(Append("first "))
///     .then(Append("second "))
///     .then(Append("third "))
///     .wrap(echo);
///
/// let out = ep.call(&Context::background(), String::new());
/// assert_eq!(out, Ok("first second third ".into()));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Chain<Outer, Inner = Identity> {
    outer: Outer,
    inner: Inner,
}

impl<Outer> Chain<Outer> {
    /// A chain whose outermost layer is `outer`.
    pub const fn new(outer: Outer) -> Chain<Outer> {
        Chain {
            outer,
            inner: Identity,
        }
    }
}

impl<Outer, Inner> Chain<Outer, Inner> {
    /// Adds `next` inside every layer so far: it runs after them, just before
    /// the endpoint (or the next `then`).
    pub fn then<Next>(self, next: Next) -> Chain<Outer, Chain<Inner, Next>> {
        Chain {
            outer: self.outer,
            inner: Chain {
                outer: self.inner,
                inner: next,
            },
        }
    }

    /// Wraps `endpoint` in every layer of the chain, outermost first. The
    /// same as [`Middleware::wrap`], callable without importing the trait.
    pub fn wrap<E>(&self, endpoint: E) -> <Self as Middleware<E>>::Endpoint
    where
        Self: Middleware<E>,
    {
        Middleware::wrap(self, endpoint)
    }
}

impl<E, Outer, Inner> Middleware<E> for Chain<Outer, Inner>
where
    Inner: Middleware<E>,
    Outer: Middleware<Inner::Endpoint>,
{
    type Endpoint = Outer::Endpoint;

    #[inline]
    fn wrap(&self, endpoint: E) -> Outer::Endpoint {
        self.outer.wrap(self.inner.wrap(endpoint))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::sync::Mutex;
    use std::vec::Vec;

    use super::*;
    use crate::endpoint::{Endpoint, endpoint_fn, middleware_fn};
    use crate::time::ManualClock;
    use crate::{Context, Error};

    /// A middleware that records its name before and after the inner call.
    fn recorder<'a, E>(
        name: &'static str,
        log: &'a Mutex<Vec<&'static str>>,
    ) -> impl Middleware<E, Endpoint = impl Endpoint<u32, Response = u32, Error = Error> + 'a> + 'a
    where
        E: Endpoint<u32, Response = u32, Error = Error> + 'a,
    {
        middleware_fn(move |next: E| {
            endpoint_fn(move |cx: &Context<'_>, req: u32| {
                log.lock().unwrap().push(name);
                let out = next.call(cx, req);
                log.lock().unwrap().push(name);
                out
            })
        })
    }

    fn leaf<'a>(
        log: &'a Mutex<Vec<&'static str>>,
    ) -> impl Endpoint<u32, Response = u32, Error = Error> + 'a {
        endpoint_fn(move |_: &Context<'_>, req: u32| {
            log.lock().unwrap().push("endpoint");
            Ok(req)
        })
    }

    #[test]
    fn chain_runs_outermost_first_and_unwinds_in_reverse() {
        let log = Mutex::new(Vec::new());
        let ep = Chain::new(recorder("a", &log))
            .then(recorder("b", &log))
            .then(recorder("c", &log))
            .wrap(leaf(&log));
        let clock = ManualClock::new();
        assert_eq!(ep.call(&Context::new(&clock), 9), Ok(9));
        assert_eq!(
            *log.lock().unwrap(),
            ["a", "b", "c", "endpoint", "c", "b", "a"]
        );
    }

    #[test]
    fn with_makes_the_last_middleware_the_outermost() {
        let log = Mutex::new(Vec::new());
        let ep = leaf(&log)
            .with(recorder("c", &log))
            .with(recorder("b", &log))
            .with(recorder("a", &log));
        let clock = ManualClock::new();
        assert_eq!(ep.call(&Context::new(&clock), 1), Ok(1));
        assert_eq!(
            *log.lock().unwrap(),
            ["a", "b", "c", "endpoint", "c", "b", "a"]
        );
    }

    #[test]
    fn a_chain_is_a_middleware_and_nests_inside_another_chain() {
        let log = Mutex::new(Vec::new());
        let inner = Chain::new(recorder("b", &log)).then(recorder("c", &log));
        let ep = Chain::new(recorder("a", &log)).then(inner).wrap(leaf(&log));
        let clock = ManualClock::new();
        ep.call(&Context::new(&clock), 0).unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            ["a", "b", "c", "endpoint", "c", "b", "a"]
        );
    }

    #[test]
    fn identity_and_single_layer_chains_are_transparent() {
        let log = Mutex::new(Vec::new());
        let clock = ManualClock::new();
        let cx = Context::new(&clock);
        let ep = Identity.wrap(leaf(&log));
        assert_eq!(ep.call(&cx, 4), Ok(4));
        let ep = Chain::new(Identity).wrap(leaf(&log));
        assert_eq!(ep.call(&cx, 5), Ok(5));
        assert_eq!(*log.lock().unwrap(), ["endpoint", "endpoint"]);
    }

    fn checked<E>(next: E) -> impl Endpoint<u32, Response = E::Response, Error = E::Error>
    where
        E: Endpoint<u32>,
        E::Error: From<Error>,
    {
        endpoint_fn(move |cx: &Context<'_>, req: u32| {
            cx.check()?;
            next.call(cx, req)
        })
    }

    #[test]
    fn a_middleware_can_short_circuit_with_a_synkit_error() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        let calls = core::sync::atomic::AtomicUsize::new(0);
        let guarded =
            Chain::new(middleware_fn(checked)).wrap(endpoint_fn(|_: &Context<'_>, req: u32| {
                calls.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                Ok::<_, Error>(req)
            }));

        let cx = root.with_timeout(crate::time::Duration::from_millis(1));
        assert_eq!(guarded.call(&cx, 1), Ok(1));
        clock.advance(crate::time::Duration::from_millis(1));
        assert_eq!(guarded.call(&cx, 2), Err(Error::DeadlineExceeded));
        assert_eq!(calls.load(core::sync::atomic::Ordering::Relaxed), 1);
    }
}
