//! Go kit's addsvc: sums integers and concatenates strings, with its
//! arbitrary business rules, served over HTTP in its wire format
//! ([`transport`]).
//!
//! ```
//! use synkit_examples::addsvc::{AddError, AddService, Adder};
//!
//! assert_eq!(Adder.sum(1, 2), Ok(3));
//! assert_eq!(Adder.sum(0, 0), Err(AddError::TwoZeroes));
//! assert_eq!(Adder.sum(i64::from(i32::MAX), 1), Err(AddError::IntOverflow));
//! assert_eq!(Adder.concat("1", "2"), Ok("12".into()));
//! assert_eq!(Adder.concat("123456", "789012"), Err(AddError::MaxSizeExceeded));
//! ```

pub mod grpc;
pub mod jsonrpc;
pub mod transport;

use std::fmt;

use synkit_core::Error;

/// The add service's business logic.
pub trait AddService {
    /// `a + b`; both zero, or a result outside 32-bit range, is an error.
    fn sum(&self, a: i64, b: i64) -> Result<i64, AddError>;
    /// `a` then `b`; a result over ten bytes is an error.
    fn concat(&self, a: &str, b: &str) -> Result<String, AddError>;
}

/// The plain [`AddService`], with Go kit's rules: `int32` bounds and a
/// ten-byte limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Adder;

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const MAX_LEN: usize = 10;

impl AddService for Adder {
    fn sum(&self, a: i64, b: i64) -> Result<i64, AddError> {
        if a == 0 && b == 0 {
            return Err(AddError::TwoZeroes);
        }
        if (b > 0 && a > INT_MAX - b) || (b < 0 && a < INT_MIN - b) {
            return Err(AddError::IntOverflow);
        }
        Ok(a + b)
    }

    fn concat(&self, a: &str, b: &str) -> Result<String, AddError> {
        if a.len() + b.len() > MAX_LEN {
            return Err(AddError::MaxSizeExceeded);
        }
        Ok(format!("{a}{b}"))
    }
}

/// What can go wrong in the add service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// Both addends were zero (Go kit's `ErrTwoZeroes`).
    TwoZeroes,
    /// The sum left 32-bit range (`ErrIntOverflow`).
    IntOverflow,
    /// The concatenation exceeded ten bytes (`ErrMaxSizeExceeded`).
    MaxSizeExceeded,
    /// A synkit middleware refused or abandoned the call.
    Synkit(Error),
}

impl From<Error> for AddError {
    fn from(e: Error) -> Self {
        AddError::Synkit(e)
    }
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Go kit's texts, which clients see on the wire.
        match self {
            AddError::TwoZeroes => f.write_str("can't sum two zeroes"),
            AddError::IntOverflow => f.write_str("integer overflow"),
            AddError::MaxSizeExceeded => f.write_str("result exceeds maximum size"),
            AddError::Synkit(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AddError {
    /// The synkit kind behind a refused call.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AddError::Synkit(e) => Some(e),
            _ => None,
        }
    }
}
