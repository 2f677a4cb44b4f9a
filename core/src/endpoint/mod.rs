//! [`Endpoint`]: one RPC method as a blocking call; [`Middleware`]: a wrapper
//! around one.
//!
//! This is Go kit's `endpoint` package. An endpoint takes a [`Context`] and a
//! request and blocks until it has a response or an error. Middleware takes an
//! endpoint and returns another with behaviour added around the call —
//! logging, a rate limit, a circuit breaker — and does it by static
//! composition: the wrapped endpoint is a concrete type, the call is inlined,
//! and nothing is boxed.
//!
//! ```
//! use synkit_core::endpoint::{Endpoint, endpoint_fn, middleware_fn};
//! use synkit_core::{Context, Error};
//!
//! let uppercase = endpoint_fn(|_cx: &Context<'_>, s: String| {
//!     if s.is_empty() { Err(Error::Unavailable) } else { Ok(s.to_uppercase()) }
//! });
//!
//! /// A middleware, Go kit style: a function from endpoint to endpoint. This
//! /// one refuses calls whose context is already cancelled or out of time.
//! fn check_context<E>(next: E) -> impl Endpoint<String, Response = E::Response, Error = E::Error>
//! where
//!     E: Endpoint<String>,
//!     E::Error: From<Error>,
//! {
//!     endpoint_fn(move |cx: &Context<'_>, req: String| {
//!         cx.check()?;
//!         next.call(cx, req)
//!     })
//! }
//!
//! let ep = uppercase.with(middleware_fn(check_context));
//! assert_eq!(ep.call(&Context::background(), "hi".into()), Ok("HI".to_string()));
//! ```

#[cfg(feature = "alloc")]
mod boxed;
mod chain;
mod func;
mod middleware;

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use boxed::{ArcEndpoint, BoxEndpoint};
pub use chain::Chain;
pub use func::{EndpointFn, endpoint_fn};
pub use middleware::{Identity, Middleware, MiddlewareFn, middleware_fn};

use crate::Context;

/// One RPC method: a blocking call from a request to a response.
///
/// `call` takes `&self`, so one endpoint value serves any number of threads at
/// once; an endpoint with state keeps it behind atomics or locks of its own.
/// The [`Context`] carries the deadline and cancellation the call must honour
/// and the request-scoped values it may read.
///
/// Implement it on your own types, or turn a closure into one with
/// [`endpoint_fn`]. References, `Box` and `Arc` of endpoints are endpoints,
/// so one endpoint can be shared between wrappers.
///
/// ```
/// use synkit_core::{Context, Endpoint};
///
/// struct Count;
///
/// impl Endpoint<&str> for Count {
///     type Response = usize;
///     type Error = core::convert::Infallible;
///
///     fn call(&self, _cx: &Context<'_>, req: &str) -> Result<usize, Self::Error> {
///         Ok(req.chars().count())
///     }
/// }
///
/// assert_eq!(Count.call(&Context::background(), "héllo"), Ok(5));
/// ```
pub trait Endpoint<Req> {
    /// What a successful call returns.
    type Response;
    /// What a failed call returns. synkit's middleware asks only that it
    /// implement `From<`[`Error`](crate::Error)`>`.
    type Error;

    /// Serves one request, blocking until there is an answer.
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Self::Response, Self::Error>;

    /// Wraps this endpoint in `middleware`: method-call form of
    /// [`Middleware::wrap`].
    ///
    /// Each `with` wraps everything before it, so **the last `with` is the
    /// outermost layer and runs first**. `ep.with(a).with(b)` is
    /// `Chain::new(b).then(a).wrap(ep)`: a call goes through `b`, then `a`,
    /// then `ep`.
    ///
    /// Here `Append(s)` is a middleware that appends `s` to the request on
    /// its way in:
    ///
    /// ```
    /// use synkit_core::endpoint::{Endpoint, endpoint_fn};
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
    /// let ep = echo.with(Append("inner ")).with(Append("outer "));
    /// assert_eq!(ep.call(&Context::background(), String::new()), Ok("outer inner ".into()));
    /// ```
    fn with<M>(self, middleware: M) -> M::Endpoint
    where
        Self: Sized,
        M: Middleware<Self>,
    {
        middleware.wrap(self)
    }

    /// Moves this endpoint into a [`BoxEndpoint`], erasing its type, for a
    /// collection of different endpoints with the same signature (a
    /// balancer's instances, a router's table).
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    fn boxed(self) -> BoxEndpoint<Req, Self::Response, Self::Error>
    where
        Self: Sized + Send + Sync + 'static,
    {
        alloc::boxed::Box::new(self)
    }
}

impl<Req, E: Endpoint<Req> + ?Sized> Endpoint<Req> for &E {
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        (**self).call(cx, req)
    }
}
