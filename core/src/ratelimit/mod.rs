//! Rate limiting: a lock-free [`TokenBucket`] and the two middlewares Go
//! kit builds on one.
//!
//! - [`ErroringLimiterLayer`] (Go kit's `NewErroringLimiter`): no token, no call —
//!   the caller gets [`Error::RateLimited`](crate::Error::RateLimited) at once.
//! - [`DelayingLimiterLayer`] (Go kit's `NewDelayingLimiter`, x/time/rate's
//!   `Wait`): waits for a token, but never past the context's deadline — if
//!   the wait would outlast it, the call fails at once with
//!   [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded) — and stops
//!   waiting when the context is cancelled.
//!
//! With `alloc`, [`KeyedTokenBucket`] and [`KeyedLimiterLayer`] give every
//! caller (client, user, tenant) a bucket of its own, in a fixed-size,
//! lock-free table.
//!
//! Both take the bucket by any handle that dereferences to it (`&bucket`,
//! `Arc<TokenBucket>`), so one bucket can limit several endpoints together,
//! as in Go kit.
//!
//! ```
//! use synkit_core::endpoint::{Endpoint, endpoint_fn};
//! use synkit_core::ratelimit::{ErroringLimiterLayer, Rate, TokenBucket};
//! use synkit_core::time::ManualClock;
//! use synkit_core::{Context, Error};
//!
//! let clock = ManualClock::new();
//! let bucket = TokenBucket::new(Rate::per_second(100), 1, &clock);
//! let ping = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>("pong"))
//!     .with(ErroringLimiterLayer::new(&bucket));
//!
//! let cx = Context::new(&clock);
//! assert_eq!(ping.call(&cx, ()), Ok("pong"));
//! assert_eq!(ping.call(&cx, ()), Err(Error::RateLimited));
//! ```

mod bucket;
mod delaying;
mod erroring;
#[cfg(feature = "alloc")]
mod keyed;

pub use bucket::{Rate, Reservation, TokenBucket};
pub use delaying::{DelayingLimiter, DelayingLimiterLayer};
pub use erroring::{ErroringLimiter, ErroringLimiterLayer};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use keyed::{KeyedLimiter, KeyedLimiterLayer, KeyedTokenBucket};
