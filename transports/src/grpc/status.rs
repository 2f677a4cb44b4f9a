//! gRPC status codes and how errors become them.

use std::fmt::{self, Write as _};

/// gRPC's status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// Cancelled by the caller.
    Cancelled = 1,
    /// An error with no better code.
    Unknown = 2,
    /// The argument is wrong.
    InvalidArgument = 3,
    /// The deadline passed.
    DeadlineExceeded = 4,
    /// Not found.
    NotFound = 5,
    /// Already exists.
    AlreadyExists = 6,
    /// Not allowed.
    PermissionDenied = 7,
    /// A quota or limit ran out (rate limits, message size).
    ResourceExhausted = 8,
    /// The system is not in a state for it.
    FailedPrecondition = 9,
    /// Aborted.
    Aborted = 10,
    /// Out of range.
    OutOfRange = 11,
    /// Not implemented (an unknown method).
    Unimplemented = 12,
    /// A broken invariant.
    Internal = 13,
    /// Try again later (breaker open, overloaded).
    Unavailable = 14,
    /// Data lost.
    DataLoss = 15,
    /// No valid credentials.
    Unauthenticated = 16,
}

impl Code {
    /// The code for a number; out of range is `Unknown`, as gRPC says.
    pub fn from_i32(n: i32) -> Code {
        const ALL: [Code; 17] = [
            Code::Ok,
            Code::Cancelled,
            Code::Unknown,
            Code::InvalidArgument,
            Code::DeadlineExceeded,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::ResourceExhausted,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unimplemented,
            Code::Internal,
            Code::Unavailable,
            Code::DataLoss,
            Code::Unauthenticated,
        ];
        usize::try_from(n)
            .ok()
            .and_then(|i| ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }
}

/// A call's outcome: a code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: Code,
    /// What went wrong, for people.
    pub message: String,
}

impl Status {
    /// A status with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rpc error: code = {:?} desc = {}",
            self.code, self.message
        )
    }
}

impl std::error::Error for Status {}

/// How a service's error becomes a gRPC status.
pub trait ToStatus {
    /// The status to answer with.
    fn to_status(&self) -> Status;
}

impl ToStatus for synkit_core::Error {
    fn to_status(&self) -> Status {
        use synkit_core::Error;
        let code = match self {
            Error::RateLimited => Code::ResourceExhausted,
            Error::CircuitOpen | Error::Overloaded | Error::Unavailable => Code::Unavailable,
            Error::DeadlineExceeded => Code::DeadlineExceeded,
            Error::Cancelled => Code::Cancelled,
            _ => Code::Unknown,
        };
        Status::new(code, self.to_string())
    }
}

/// synkit's middleware (limiters, breakers, retry) refuse calls with
/// `synkit_core::Error`: as a status, it is [`ToStatus`]'s mapping.
impl From<synkit_core::Error> for Status {
    fn from(e: synkit_core::Error) -> Status {
        e.to_status()
    }
}

impl ToStatus for Status {
    fn to_status(&self) -> Status {
        self.clone()
    }
}

/// `grpc-message`'s percent-encoding: bytes outside printable ASCII, and
/// `%`, as `%XX`.
pub(crate) fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Undoes [`percent_encode`]; malformed escapes are kept as they are.
pub(crate) fn percent_decode(message: &str) -> String {
    let bytes = message.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synkits_refusals_map_to_grpcs_codes() {
        use synkit_core::Error;
        assert_eq!(Error::RateLimited.to_status().code, Code::ResourceExhausted);
        assert_eq!(Error::CircuitOpen.to_status().code, Code::Unavailable);
        assert_eq!(
            Error::DeadlineExceeded.to_status().code,
            Code::DeadlineExceeded
        );
        assert_eq!(Error::Cancelled.to_status().code, Code::Cancelled);
        assert_eq!(Code::from_i32(99), Code::Unknown);
        assert_eq!(Code::from_i32(14), Code::Unavailable);
    }

    #[test]
    fn messages_are_percent_encoded() {
        let m = "100% sure: naïve\nline";
        let e = percent_encode(m);
        assert_eq!(e, "100%25 sure: na%C3%AFve%0Aline");
        assert_eq!(percent_decode(&e), m);
        assert_eq!(percent_decode("bad %zz %4"), "bad %zz %4");
    }
}
