//! Concurrency limits: a [`Bulkhead`] caps how many calls run at once, so one
//! slow dependency cannot take every thread (Hystrix's
//! `MaxConcurrentRequests`).
//!
//! Over the limit, a call is refused at once with
//! [`Error::Overloaded`](crate::Error::Overloaded) — load shedding — or, with
//! `std` and [`ConcurrencyLimitLayer::waiting`], waits for a slot up to its
//! deadline.
//!
//! ```
//! use synkit_core::endpoint::{Endpoint, endpoint_fn};
//! use synkit_core::bulkhead::{Bulkhead, ConcurrencyLimitLayer};
//! use synkit_core::{Context, Error};
//!
//! let bulkhead = Bulkhead::new(1);
//! let ep = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>(()))
//!     .with(ConcurrencyLimitLayer::new(&bulkhead));
//!
//! let cx = Context::background();
//! let held = bulkhead.try_acquire().unwrap(); // someone else is running
//! assert_eq!(ep.call(&cx, ()), Err(Error::Overloaded));
//! drop(held);
//! assert_eq!(ep.call(&cx, ()), Ok(()));
//! ```

mod middleware;
mod slots;

pub use middleware::{ConcurrencyLimit, ConcurrencyLimitLayer};
pub use slots::{Bulkhead, Permit};
