use core::fmt;

/// Wraps an endpoint of type `E` in another endpoint: Go kit's
/// `endpoint.Middleware`, as static composition.
///
/// `wrap` takes `&self`, so one middleware value (its configuration) can wrap
/// any number of endpoints; each wrapped endpoint owns what it needs. The
/// result is a concrete type, usually generic over `E`, so the compiler sees
/// through the whole stack and nothing is boxed.
///
/// A middleware that needs to report its own failures (a limiter refusing a
/// call) returns the inner endpoint's error type and requires
/// `E::Error: From<`[`Error`](crate::Error)`>`.
///
/// ```
/// use synkit_core::endpoint::{Endpoint, Middleware};
/// use synkit_core::{Context, Error};
///
/// /// Refuses calls whose context is already cancelled or past its deadline.
/// struct CheckContext;
///
/// struct Checked<E>(E);
///
/// impl<E> Middleware<E> for CheckContext {
///     type Endpoint = Checked<E>;
///     fn wrap(&self, inner: E) -> Checked<E> {
///         Checked(inner)
///     }
/// }
///
/// impl<Req, E> Endpoint<Req> for Checked<E>
/// where
///     E: Endpoint<Req>,
///     E::Error: From<Error>,
/// {
///     type Response = E::Response;
///     type Error = E::Error;
///
///     fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
///         cx.check()?;
///         self.0.call(cx, req)
///     }
/// }
/// ```
pub trait Middleware<E> {
    /// The endpoint `wrap` returns.
    type Endpoint;

    /// Wraps `inner`, returning the endpoint that calls through this layer.
    fn wrap(&self, inner: E) -> Self::Endpoint;
}

impl<E, M: Middleware<E> + ?Sized> Middleware<E> for &M {
    type Endpoint = M::Endpoint;

    #[inline]
    fn wrap(&self, inner: E) -> M::Endpoint {
        (**self).wrap(inner)
    }
}

/// The middleware that adds nothing: `Identity.wrap(e)` is `e`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<E> Middleware<E> for Identity {
    type Endpoint = E;

    #[inline]
    fn wrap(&self, inner: E) -> E {
        inner
    }
}

/// A middleware made from a function by [`middleware_fn`].
#[derive(Clone, Copy)]
pub struct MiddlewareFn<F> {
    f: F,
}

/// Turns a function `Fn(E) -> E2` into a [`Middleware`]: the shape of a Go kit
/// middleware, `func(Endpoint) Endpoint`.
///
/// The function runs once per [`wrap`](Middleware::wrap), not per request;
/// the endpoint it returns is what runs on each call.
///
/// Pass a generic function, as below: Rust infers its type parameter from the
/// endpoint it wraps. A closure works too where the type of the endpoint it
/// receives is already known (inside a generic function, say), but Rust
/// cannot check a closure's body against a type it has not inferred yet, so
/// `middleware_fn(|next| ...)` written ahead of its use does not compile.
/// For a middleware with configuration, write a struct implementing
/// [`Middleware`].
///
/// ```
/// use synkit_core::endpoint::{Endpoint, endpoint_fn, middleware_fn};
/// use synkit_core::Context;
///
/// fn plus_one<E: Endpoint<u32>>(next: E) -> impl Endpoint<u32, Response = E::Response, Error = E::Error> {
///     endpoint_fn(move |cx: &Context<'_>, n: u32| next.call(cx, n + 1))
/// }
///
/// let double = endpoint_fn(|_: &Context<'_>, n: u32| Ok::<_, ()>(n * 2));
/// let ep = double.with(middleware_fn(plus_one));
/// assert_eq!(ep.call(&Context::background(), 4), Ok(10));
/// ```
pub fn middleware_fn<F>(f: F) -> MiddlewareFn<F> {
    MiddlewareFn { f }
}

impl<F, E, E2> Middleware<E> for MiddlewareFn<F>
where
    F: Fn(E) -> E2,
{
    type Endpoint = E2;

    #[inline]
    fn wrap(&self, inner: E) -> E2 {
        (self.f)(inner)
    }
}

impl<F> fmt::Debug for MiddlewareFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiddlewareFn").finish_non_exhaustive()
    }
}
