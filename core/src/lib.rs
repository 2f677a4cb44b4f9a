//! Go kit's endpoint model for Rust programs that do not use an async runtime.
//!
//! A service is a set of **endpoints**, one per RPC method: an [`Endpoint`]
//! takes a [`Context`] and a request and blocks until it has an answer.
//! **Middleware** wraps an endpoint to add what every service needs around
//! the call — logging, limits, breakers, caching — and composes statically,
//! outermost first, with [`Chain`](endpoint::Chain) or
//! [`Endpoint::with`]. What futures give an async program, the `Context`
//! gives a blocking one: a **deadline**, a **cancellation** token another
//! thread can raise, and request-scoped **values**. Time comes from a
//! [`Clock`](time::Clock) the caller chooses, so every time-based behaviour is
//! testable without sleeping.
//!
//! The middleware Go kit users reach for first is here, each generic over
//! the endpoint it wraps and allocation-free per call:
//!
//! | module | what |
//! |---|---|
//! | [`ratelimit`] | lock-free token buckets (one, or one per key) with erroring and delaying limiters |
//! | [`breaker`] | circuit breakers with gobreaker's, Hystrix's and handy's trip policies |
//! | [`cache`] | a fixed-capacity, sharded LRU and the cache middleware (`alloc`) |
//! | [`bulkhead`] | bulkheads: a cap on calls in flight, shedding or waiting |
//! | [`timeout`] | a deadline for the layers below |
//! | [`lb`] | balancers (round robin, random, power of two choices on peak-EWMA latency) and Go kit's retry with a budget (`alloc`) |
//! | [`sd`] | service discovery: instancers, the endpointer, factories, registrars (`alloc`) |
//! | [`log`] | Go kit's logfmt and JSON records on the `log` facade, a logger with a non-blocking writer (`log`; the logger with `std`) |
//! | [`metrics`] | counters, gauges and histograms with label families, Prometheus text exposition (`alloc`) |
//! | [`trace`] | Zipkin's span model, samplers, B3 and W3C propagation (`alloc`) |
//!
//! Every middleware is two types, named as tower names them: the *layer*
//! (`ErroringLimiterLayer`, `BreakerLayer`, `CacheLayer`,
//! `ConcurrencyLimitLayer`, `TimeoutLayer`: the configured middleware, a
//! [`Middleware`] that wraps endpoints) and the *endpoint it makes*
//! (`ErroringLimiter<E, B>`, `Breaker<E, B, K>`, …, named for what it does).
//!
//! This crate is `#![no_std]` and allocates nothing to call an endpoint,
//! derive a context or compose middleware. Transports (HTTP, …) live in
//! `synkit-transports`.
//!
//! ```
//! use synkit_core::endpoint::{Chain, Endpoint, endpoint_fn, middleware_fn};
//! use synkit_core::time::{Duration, ManualClock};
//! use synkit_core::{Context, Error};
//!
//! #[derive(Debug, PartialEq)]
//! enum CountError {
//!     Empty,
//!     Synkit(Error),
//! }
//! impl From<Error> for CountError {
//!     fn from(e: Error) -> Self {
//!         CountError::Synkit(e)
//!     }
//! }
//!
//! let count = endpoint_fn(|_cx: &Context<'_>, s: &'static str| {
//!     if s.is_empty() { Err(CountError::Empty) } else { Ok(s.chars().count()) }
//! });
//! /// Gives every call at most 50 ms, and refuses calls already out of time.
//! fn timeout<E>(next: E) -> impl Endpoint<&'static str, Response = E::Response, Error = E::Error>
//! where
//!     E: Endpoint<&'static str>,
//!     E::Error: From<Error>,
//! {
//!     endpoint_fn(move |cx: &Context<'_>, s: &'static str| {
//!         let cx = cx.with_timeout(Duration::from_millis(50));
//!         cx.check()?;
//!         next.call(&cx, s)
//!     })
//! }
//! let ep = Chain::new(middleware_fn(timeout)).wrap(count);
//!
//! let clock = ManualClock::new();
//! let cx = Context::new(&clock);
//! assert_eq!(ep.call(&cx, "gopher"), Ok(6));
//! assert_eq!(ep.call(&cx, ""), Err(CountError::Empty));
//!
//! let late = cx.with_timeout(Duration::from_millis(10));
//! clock.advance(Duration::from_millis(10));
//! assert_eq!(ep.call(&late, "gopher"), Err(CountError::Synkit(Error::DeadlineExceeded)));
//! ```
//!
//! # Features
//!
//! - `std` (default): [`SystemClock`](time::SystemClock),
//!   [`Context::background`], [`ThreadSleep`](time::ThreadSleep), waiting
//!   bulkheads and `parking_lot` cache shards. Implies `alloc`.
//! - `alloc`: boxed and shared endpoints
//!   ([`BoxEndpoint`](endpoint::BoxEndpoint),
//!   [`ArcEndpoint`](endpoint::ArcEndpoint)) for heterogeneous sets, the
//!   [`cache`], and keyed rate limiting.
//! - `tsc`: [`TscClock`](time::TscClock), the CPU's time-stamp counter
//!   through quanta, a third of the system clock's cost per read. Implies
//!   `std`.
//!
//! Without any, everything else works on bare metal: endpoints, middleware
//! (rate limits, breakers, bulkheads, timeouts), contexts, the manual clock
//! and the error kinds.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod breaker;
pub mod bulkhead;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod cache;
pub mod context;
pub mod endpoint;
pub mod error;
pub mod lb;
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub mod log;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod metrics;
pub mod ratelimit;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod sd;
mod sync;
pub mod time;
pub mod timeout;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod trace;
mod window;

pub use context::{CancelToken, Context};
pub use endpoint::{Endpoint, Middleware};
pub use error::Error;
