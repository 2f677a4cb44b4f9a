//! Circuit breaking: stop calling an endpoint that keeps failing, give it
//! time, then probe it before trusting it again.
//!
//! A [`CircuitBreaker`] is closed (calls go through), open (calls fail at
//! once with [`Error::CircuitOpen`](crate::Error::CircuitOpen)) or half-open
//! (a few probe calls go through; enough successes close it, one failure
//! opens it again). A [`TripPolicy`] decides when a closed circuit opens;
//! the three Go kit ships are here:
//!
//! | Go kit | policy | opens when |
//! |---|---|---|
//! | `Gobreaker` (default settings) | [`ConsecutiveFailures`] | `n` failures in a row |
//! | `Gobreaker` (custom `ReadyToTrip`) | [`CountsPolicy`] | your function of the [`Counts`], cleared every interval |
//! | `Hystrix` | [`RollingWindow`] | error % over a rolling window, past a minimum volume |
//! | `HandyBreaker` | [`FailureRate`] | an EWMA of the failure rate reaches a threshold |
//!
//! [`Settings`] holds how long the circuit stays open and how many probes
//! it admits. Which errors count as failures is yours to say ([`Classify`]);
//! state changes reach an [`Observer`].
//!
//! ```
//! use synkit_core::breaker::{BreakerLayer, CircuitBreaker, RollingWindow, Settings, State};
//! use synkit_core::endpoint::{Endpoint, endpoint_fn};
//! use synkit_core::time::{Duration, ManualClock};
//! use synkit_core::{Context, Error};
//!
//! let clock = ManualClock::new();
//! // Hystrix: 50% errors over 10 s once 4 calls were seen; probe after 5 s.
//! let settings = Settings { open_timeout: Duration::from_secs(5), half_open_max: 1 };
//! let breaker = CircuitBreaker::new(RollingWindow::new(Duration::from_secs(10), 4, 50), settings, &clock);
//! let flaky = endpoint_fn(|_: &Context<'_>, ok: bool| if ok { Ok(()) } else { Err(Error::Unavailable) })
//!     .with(BreakerLayer::new(&breaker));
//!
//! let cx = Context::new(&clock);
//! for ok in [true, false, true, false] {
//!     let _ = flaky.call(&cx, ok);
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert_eq!(flaky.call(&cx, true), Err(Error::CircuitOpen));
//! ```

mod ewma;
mod middleware;
mod policy;
mod state;
mod window;

pub use ewma::FailureRate;
pub use middleware::{AnyError, Breaker, BreakerLayer, Classify};
pub use policy::{ConsecutiveFailures, Counts, CountsPolicy, TripPolicy};
pub use state::{CircuitBreaker, NoObserver, Observer, Settings, State, Ticket};
pub use window::RollingWindow;

#[cfg(all(test, not(loom)))]
mod tests;
