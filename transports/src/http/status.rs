//! synkit's error kinds on HTTP, both ways, in one place: the status a
//! server answers each [`Error`] kind with, and the kind a client reads
//! back from a status, so a breaker or a retry behind a client sees what the
//! server's middleware saw.
//!
//! | kind | a server answers | a client reads back from |
//! |---|---|---|
//! | [`RateLimited`](Error::RateLimited) | 429 Too Many Requests, `Retry-After: 1` | 429 |
//! | [`CircuitOpen`](Error::CircuitOpen) | 503 Service Unavailable, `Retry-After: 1` | — (503 reads as `Unavailable`) |
//! | [`Overloaded`](Error::Overloaded) | 503 Service Unavailable, `Retry-After: 1` | — (503 reads as `Unavailable`) |
//! | [`Unavailable`](Error::Unavailable) | 503 Service Unavailable | 502, 503 |
//! | [`DeadlineExceeded`](Error::DeadlineExceeded) | 504 Gateway Timeout | 504 |
//! | [`Cancelled`](Error::Cancelled) | 499 Client Closed Request (nginx's; the caller has gone) | — |
//!
//! Every kind read back is retryable exactly when the kind answered was, so
//! the distinction lost on the way (open breaker, overload, unavailable all
//! being 503) changes nothing a client decides.

use ::http::StatusCode;
use synkit_core::Error;

/// The status a server answers `kind` with.
pub fn status_for(kind: Error) -> StatusCode {
    let code = match kind {
        Error::RateLimited => 429,
        Error::DeadlineExceeded => 504,
        Error::Cancelled => 499,
        // CircuitOpen, Overloaded, Unavailable, and kinds yet to come.
        _ => 503,
    };
    StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

/// Whether an answer for `kind` tells the client when to try again
/// (`Retry-After: 1`): the kinds that describe a momentary lack of capacity.
pub fn retry_after(kind: Error) -> bool {
    matches!(
        kind,
        Error::RateLimited | Error::Overloaded | Error::CircuitOpen
    )
}

/// The kind a client reads from `status`, if it stands for one.
pub fn kind_for(status: StatusCode) -> Option<Error> {
    match status.as_u16() {
        429 => Some(Error::RateLimited),
        502 | 503 => Some(Error::Unavailable),
        504 => Some(Error::DeadlineExceeded),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Error; 6] = [
        Error::RateLimited,
        Error::CircuitOpen,
        Error::Overloaded,
        Error::Unavailable,
        Error::DeadlineExceeded,
        Error::Cancelled,
    ];

    #[test]
    fn each_kind_has_its_status() {
        let codes: Vec<u16> = KINDS.iter().map(|&k| status_for(k).as_u16()).collect();
        assert_eq!(codes, [429, 503, 503, 503, 504, 499]);
        assert!(retry_after(Error::RateLimited) && !retry_after(Error::DeadlineExceeded));
    }

    #[test]
    fn what_a_client_reads_back_keeps_the_retry_decision() {
        for kind in KINDS {
            match kind_for(status_for(kind)) {
                Some(back) => assert_eq!(back.is_retryable(), kind.is_retryable(), "{kind:?}"),
                // Only a caller that went away has no kind to read: it is
                // not there to read it.
                None => assert_eq!(kind, Error::Cancelled),
            }
        }
        assert_eq!(kind_for(StatusCode::BAD_GATEWAY), Some(Error::Unavailable));
        assert_eq!(kind_for(StatusCode::NOT_FOUND), None);
    }
}
