//! Go kit's `stringsvc`: a service that upper-cases and counts strings.
//!
//! The layers are Go kit's: the business logic is a plain trait
//! ([`StringService`]) with no transport or framework in it; each method is
//! exposed as an [`Endpoint`](synkit_core::Endpoint) ([`endpoints`]); and
//! cross-cutting concerns wrap the endpoints as middleware ([`logging`]).
//!
//! ```
//! use synkit_core::{Context, Endpoint};
//! use synkit_examples::stringsvc::endpoints::{UppercaseRequest, uppercase_endpoint};
//! use synkit_examples::stringsvc::{StringError, Strings};
//!
//! let uppercase = uppercase_endpoint(Strings);
//! let cx = Context::background();
//! let out = uppercase.call(&cx, UppercaseRequest { s: "hello".into() }).unwrap();
//! assert_eq!(out.v, "HELLO");
//! assert_eq!(
//!     uppercase.call(&cx, UppercaseRequest { s: String::new() }).unwrap_err(),
//!     StringError::Empty,
//! );
//! ```

pub mod endpoints;
pub mod gocase;
pub mod instrumenting;
pub mod logging;
pub mod proxy;
pub mod rpc;
pub mod transport;

use std::fmt;

use synkit_core::Error;

/// Operations on strings: the business logic, free of transports.
pub trait StringService {
    /// `s` in upper case; [`StringError::Empty`] for the empty string.
    fn uppercase(&self, s: &str) -> Result<String, StringError>;
    /// The length of `s`.
    fn count(&self, s: &str) -> usize;
}

/// The plain implementation of [`StringService`], with Go kit's results:
/// `uppercase` maps each character as Go's `strings.ToUpper` does
/// ([`gocase`]: `straße` → `STRAßE`), and `count` is Go's `len(s)`, the
/// length in UTF-8 bytes (`"😀"` counts 4).
#[derive(Clone, Copy, Debug, Default)]
pub struct Strings;

impl StringService for Strings {
    fn uppercase(&self, s: &str) -> Result<String, StringError> {
        if s.is_empty() {
            return Err(StringError::Empty);
        }
        Ok(gocase::go_to_upper(s))
    }

    fn count(&self, s: &str) -> usize {
        s.len()
    }
}

impl<S: StringService + ?Sized> StringService for std::sync::Arc<S> {
    fn uppercase(&self, s: &str) -> Result<String, StringError> {
        (**self).uppercase(s)
    }

    fn count(&self, s: &str) -> usize {
        (**self).count(s)
    }
}

impl<S: StringService + ?Sized> StringService for &S {
    fn uppercase(&self, s: &str) -> Result<String, StringError> {
        (**self).uppercase(s)
    }

    fn count(&self, s: &str) -> usize {
        (**self).count(s)
    }
}

/// What can go wrong in the string service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringError {
    /// The input was empty (Go kit's `ErrEmpty`, "empty string").
    Empty,
    /// A synkit middleware refused or abandoned the call.
    Synkit(Error),
}

impl From<Error> for StringError {
    fn from(e: Error) -> Self {
        StringError::Synkit(e)
    }
}

impl fmt::Display for StringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Go kit's wire text for ErrEmpty; clients match on it.
            StringError::Empty => f.write_str("empty string"),
            StringError::Synkit(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StringError {
    /// The synkit kind behind a refused call, so transports answer it as
    /// they answer synkit's own errors.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StringError::Synkit(e) => Some(e),
            StringError::Empty => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercases_and_counts_as_go_kit_does() {
        assert_eq!(Strings.uppercase("héllo"), Ok("HÉLLO".to_string()));
        assert_eq!(Strings.uppercase("straße"), Ok("STRAßE".to_string()));
        assert_eq!(Strings.count("héllo"), 6, "bytes, as Go's len");
        assert_eq!(Strings.count("😀"), 4);
        assert_eq!(Strings.count(""), 0);
    }

    #[test]
    fn empty_input_is_go_kits_err_empty() {
        assert_eq!(Strings.uppercase(""), Err(StringError::Empty));
        assert_eq!(StringError::Empty.to_string(), "empty string");
    }
}
