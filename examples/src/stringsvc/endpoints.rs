//! The string service's methods as endpoints, with their request and
//! response types (the names and fields of Go kit's stringsvc).

use serde::{Deserialize, Serialize};
use synkit_core::endpoint::endpoint_fn;
use synkit_core::{Context, Endpoint};

use super::{StringError, StringService};

/// Input of `uppercase`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UppercaseRequest {
    /// The string to upper-case.
    pub s: String,
}

/// Output of `uppercase`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UppercaseResponse {
    /// The upper-cased string.
    pub v: String,
}

/// Input of `count`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CountRequest {
    /// The string to count.
    pub s: String,
}

/// Output of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CountResponse {
    /// The string's length in UTF-8 bytes (Go's `len`).
    pub v: usize,
}

/// `uppercase` as an endpoint. It gives up before working if the caller
/// already has (cancelled or past its deadline).
pub fn uppercase_endpoint<S: StringService>(
    svc: S,
) -> impl Endpoint<UppercaseRequest, Response = UppercaseResponse, Error = StringError> {
    endpoint_fn(move |cx: &Context<'_>, req: UppercaseRequest| {
        cx.check()?;
        svc.uppercase(&req.s).map(|v| UppercaseResponse { v })
    })
}

/// `count` as an endpoint. It gives up before working if the caller already
/// has (cancelled or past its deadline).
pub fn count_endpoint<S: StringService>(
    svc: S,
) -> impl Endpoint<CountRequest, Response = CountResponse, Error = StringError> {
    endpoint_fn(move |cx: &Context<'_>, req: CountRequest| {
        cx.check()?;
        Ok(CountResponse {
            v: svc.count(&req.s),
        })
    })
}

#[cfg(test)]
mod tests {
    use synkit_core::time::{Duration, ManualClock};
    use synkit_core::{CancelToken, Error};

    use super::*;
    use crate::stringsvc::Strings;

    #[test]
    fn endpoints_serve_the_service() {
        let clock = ManualClock::new();
        let cx = Context::new(&clock);
        let up = uppercase_endpoint(Strings);
        let count = count_endpoint(Strings);
        let req = |s: &str| UppercaseRequest { s: s.into() };
        assert_eq!(
            up.call(&cx, req("go kit")),
            Ok(UppercaseResponse { v: "GO KIT".into() })
        );
        assert_eq!(up.call(&cx, req("")), Err(StringError::Empty));
        assert_eq!(
            count.call(&cx, CountRequest { s: "abc".into() }),
            Ok(CountResponse { v: 3 })
        );
    }

    #[test]
    fn endpoints_refuse_work_nobody_waits_for() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        let root = Context::new(&clock);
        let timed = root.with_timeout(Duration::from_millis(5));
        let cx = timed.with_cancel(&token);
        let count = count_endpoint(Strings);

        clock.advance(Duration::from_millis(5));
        assert_eq!(
            count.call(&cx, CountRequest { s: "x".into() }),
            Err(StringError::Synkit(Error::DeadlineExceeded))
        );
        token.cancel();
        assert_eq!(
            count.call(&cx, CountRequest { s: "x".into() }),
            Err(StringError::Synkit(Error::Cancelled))
        );
    }
}
