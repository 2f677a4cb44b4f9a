//! The errors synkit's own middleware returns.
//!
//! A rate limiter, a circuit breaker or a deadline check fails in one of a few
//! ways that say nothing about your service and everything about the call:
//! too many, broken, too late, given up. [`Error`] names those ways. It is
//! `Copy`, one byte wide, and never allocates.
//!
//! # Your error type, every middleware
//!
//! Middleware does not wrap your endpoint's error in a type of its own, layer
//! upon layer. It returns *your* endpoint's error type, and asks only that it
//! can be made from a synkit [`Error`]. One `From` impl, and your endpoint
//! goes through every synkit middleware:
//!
//! ```
//! use synkit_core::Error;
//!
//! #[derive(Debug)]
//! enum ProfileError {
//!     NotFound,
//!     Synkit(Error),
//! }
//!
//! impl From<Error> for ProfileError {
//!     fn from(e: Error) -> Self {
//!         ProfileError::Synkit(e)
//!     }
//! }
//! ```
//!
//! If your endpoints return `Box<dyn core::error::Error + Send + Sync>`,
//! there is nothing to write: the standard library already converts any error
//! into one, and `downcast_ref::<Error>()` recovers the kind. An endpoint
//! may also use [`Error`] itself as its error type.
//!
//! # On the wire
//!
//! The core knows no protocol: how each kind travels (an HTTP status, a
//! gRPC code) is the transports' business, each in one table
//! (`synkit_transports::http::status` for HTTP).

use core::fmt;

/// Why synkit's middleware refused or abandoned a call.
///
/// See the [module documentation](self) for how your own error type carries
/// it. New kinds may be added, so matches need a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// A rate limiter had no token for the call.
    RateLimited,
    /// A circuit breaker is open: the endpoint behind it has been failing, so
    /// the call was refused without trying it.
    CircuitOpen,
    /// A concurrency limit or a full queue refused the call.
    Overloaded,
    /// No endpoint could serve the call: none was known, or none answered.
    Unavailable,
    /// The context's deadline passed before the call finished, or would pass
    /// before it could start.
    DeadlineExceeded,
    /// The context was cancelled: whoever asked no longer wants the answer.
    Cancelled,
}

impl Error {
    /// Whether trying again — later, or on another instance — may succeed.
    ///
    /// True for the kinds that describe a momentary lack of capacity
    /// (rate limited, circuit open, overloaded, unavailable); false for a
    /// passed deadline or a cancelled call, which no retry can mend.
    pub const fn is_retryable(self) -> bool {
        !matches!(self, Error::DeadlineExceeded | Error::Cancelled)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::RateLimited => "rate limit exceeded: too many calls; slow down and retry later",
            Error::CircuitOpen => {
                "circuit breaker is open: the endpoint has been failing and was not called; retry later"
            }
            Error::Overloaded => "overloaded: too many calls in flight; retry later or elsewhere",
            Error::Unavailable => "unavailable: no endpoint could serve the call",
            Error::DeadlineExceeded => "deadline exceeded: the time allowed for the call ran out",
            Error::Cancelled => "cancelled: the caller no longer wants the answer",
        })
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use alloc::boxed::Box;
    use alloc::string::ToString;

    #[test]
    fn only_capacity_errors_are_retryable() {
        assert!(Error::Overloaded.is_retryable());
        assert!(Error::CircuitOpen.is_retryable());
        assert!(!Error::DeadlineExceeded.is_retryable());
        assert!(!Error::Cancelled.is_retryable());
    }

    #[test]
    fn boxes_into_a_dyn_error_and_downcasts_back() {
        let boxed: Box<dyn core::error::Error + Send + Sync> = Error::CircuitOpen.into();
        assert_eq!(boxed.downcast_ref::<Error>(), Some(&Error::CircuitOpen));
        assert!(boxed.to_string().starts_with("circuit breaker is open"));
    }

    #[test]
    fn is_one_byte() {
        assert_eq!(core::mem::size_of::<Error>(), 1);
    }
}
