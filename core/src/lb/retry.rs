//! Go kit's `lb.Retry`: call through a balancer until a call succeeds, the
//! policy says stop, or the time runs out.

use alloc::vec::Vec;
use core::fmt;

use super::Balancer;
use crate::time::Duration;
use crate::{Context, Endpoint, Error};

/// Whether to try again after a failed attempt: Go kit's `lb.Callback`.
///
/// Told the attempt's number (from 1) and its error, it answers whether to
/// go on and, if it likes, an error to report in place of this one (Go
/// kit's `replacement`).
pub trait RetryPolicy<E> {
    /// A call begins (before its first attempt). Default: nothing.
    fn started(&self) {}

    /// After attempt `attempt` failed with `err`: go on?, and a replacement.
    fn after(&self, attempt: usize, err: &E) -> (bool, Option<E>);
}

/// At most this many attempts in all: Go kit's `Retry(max, …)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxAttempts(pub usize);

impl<E> RetryPolicy<E> for MaxAttempts {
    #[inline]
    fn after(&self, attempt: usize, _err: &E) -> (bool, Option<E>) {
        (attempt < self.0, None)
    }
}

impl<E, F: Fn(usize, &E) -> (bool, Option<E>)> RetryPolicy<E> for F {
    #[inline]
    fn after(&self, attempt: usize, err: &E) -> (bool, Option<E>) {
        self(attempt, err)
    }
}

/// Calls through a [`Balancer`] until a call succeeds, the policy says stop
/// or the time runs out: Go kit's `lb.Retry` and `lb.RetryWithCallback`.
///
/// As in Go kit:
/// - every attempt asks the balancer afresh, and a balancer that has no
///   endpoint counts as a failed attempt;
/// - `timeout` bounds all the attempts together, counted from when the
///   call began (the context's [`with_now`](Context::with_now) instant if
///   it has one, as a server's does, else now); the context each attempt
///   gets has the earlier of that and the caller's deadline; and when it
///   passes, or the caller cancels, the call ends with that and nothing
///   else ([`RetryError::is_interrupted`]);
/// - otherwise the error says every attempt's error, Go kit's way
///   (`last (previously: first; second)`).
///
/// Unlike Go kit, an attempt is not abandoned when the time runs out: a
/// blocking endpoint cannot be, so it is handed the deadline instead. A
/// first-time success allocates nothing; failures are kept in a `Vec`.
///
/// ```
/// use synkit_core::endpoint::{Endpoint, endpoint_fn};
/// use synkit_core::lb::{Retry, RoundRobin};
/// use synkit_core::time::Duration;
/// use synkit_core::{Context, Error};
///
/// // Instance 0 is down; instance 1 answers.
/// fn instance(up: bool) -> impl Endpoint<(), Response = u32, Error = Error> {
///     endpoint_fn(move |_: &Context<'_>, (): ()| if up { Ok(7) } else { Err(Error::Unavailable) })
/// }
/// let instances = [instance(false), instance(true)];
/// let retry = Retry::new(3, Duration::from_millis(250), RoundRobin::new(&instances[..]));
/// // The first instance fails; the retry goes on to the second.
/// assert_eq!(retry.call(&Context::background(), ()), Ok(7));
/// ```
pub struct Retry<B, P = MaxAttempts> {
    balancer: B,
    timeout: Duration,
    policy: P,
}

impl<B> Retry<B> {
    /// At most `max_attempts` attempts within `timeout`: Go kit's
    /// `lb.Retry(max, timeout, balancer)`.
    pub fn new(max_attempts: usize, timeout: Duration, balancer: B) -> Retry<B> {
        Retry {
            balancer,
            timeout,
            policy: MaxAttempts(max_attempts),
        }
    }
}

impl<B, P> Retry<B, P> {
    /// Attempts until `policy` says stop, within `timeout`: Go kit's
    /// `lb.RetryWithCallback`.
    pub fn with_policy(timeout: Duration, balancer: B, policy: P) -> Retry<B, P> {
        Retry {
            balancer,
            timeout,
            policy,
        }
    }

    /// The balancer attempts go through.
    pub fn balancer(&self) -> &B {
        &self.balancer
    }
}

/// [`Context::check`] with the time given rather than read.
fn check_at(cx: &Context<'_>, now: crate::time::Instant) -> Result<(), Error> {
    if cx.is_cancelled() {
        Err(Error::Cancelled)
    } else if cx.deadline().is_some_and(|d| now >= d) {
        Err(Error::DeadlineExceeded)
    } else {
        Ok(())
    }
}

impl<Req, B, P> Endpoint<Req> for Retry<B, P>
where
    Req: Clone,
    B: Balancer<Req>,
    B::Error: From<Error>,
    P: RetryPolicy<B::Error>,
{
    type Response = B::Response;
    type Error = RetryError<B::Error>;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<B::Response, RetryError<B::Error>> {
        // From when the call began, if the caller knows (a server's turn
        // does): no clock read on the way to a first-time success.
        let began = cx.now_on(cx.clock());
        let bounded = cx.with_deadline(began.saturating_add(self.timeout));
        self.policy.started();
        let mut raw = Vec::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The first attempt starts when the call began: no need to ask
            // the clock again.
            let ready = if attempt == 1 {
                check_at(&bounded, began)
            } else {
                bounded.check()
            };
            if let Err(why) = ready {
                return Err(RetryError::interrupted(raw, why.into()));
            }
            let outcome = match self.balancer.pick() {
                Ok(endpoint) => endpoint.call(&bounded, req.clone()),
                Err(none) => Err(none.into()),
            };
            let err = match outcome {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            // Go kit returns as soon as its context is done, whatever the
            // attempt says; here the attempt had to finish first.
            if let Err(why) = bounded.check() {
                raw.push(err);
                return Err(RetryError::interrupted(raw, why.into()));
            }
            let (keep_trying, replacement) = self.policy.after(attempt, &err);
            if keep_trying {
                raw.push(err);
                continue;
            }
            return Err(match replacement {
                Some(last) => {
                    raw.push(err);
                    RetryError::replaced(raw, last)
                }
                None => RetryError::exhausted(raw, err),
            });
        }
    }
}

impl<B: fmt::Debug, P: fmt::Debug> fmt::Debug for Retry<B, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("balancer", &self.balancer)
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish()
    }
}

/// How a [`Retry`] failed: Go kit's `lb.RetryError`, every attempt's error
/// and the one that ended it.
#[derive(Clone, PartialEq, Eq)]
pub struct RetryError<E> {
    /// The errors of the attempts before the last (and of the last too,
    /// when the final error is not its own: replaced, or a deadline).
    earlier: Vec<E>,
    /// The error that ended the call (Go kit's `Final`).
    last: E,
    /// The time ran out or the caller cancelled (Go kit returns the bare
    /// context error then).
    interrupted: bool,
}

impl<E> RetryError<E> {
    fn exhausted(earlier: Vec<E>, last: E) -> RetryError<E> {
        RetryError {
            earlier,
            last,
            interrupted: false,
        }
    }

    /// `raw` holds every attempt's error, the last included; `last`
    /// replaces it as the final one.
    fn replaced(mut raw: Vec<E>, last: E) -> RetryError<E> {
        raw.pop();
        RetryError {
            earlier: raw,
            last,
            interrupted: false,
        }
    }

    fn interrupted(earlier: Vec<E>, last: E) -> RetryError<E> {
        RetryError {
            earlier,
            last,
            interrupted: true,
        }
    }

    /// The error that ended the call (Go kit's `Final`).
    pub fn last(&self) -> &E {
        &self.last
    }

    /// The errors of the attempts before the one that ended the call.
    pub fn earlier(&self) -> &[E] {
        &self.earlier
    }

    /// Whether the call ended because its time ran out or its caller
    /// cancelled, rather than because the attempts did.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted
    }
}

impl<E: From<Error>> From<Error> for RetryError<E> {
    fn from(e: Error) -> RetryError<E> {
        RetryError::interrupted(Vec::new(), e.into())
    }
}

/// Go kit's text: the final error, then `(previously: a; b)` naming the
/// attempts before it; an interrupted call says only why.
impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.last.fmt(f)?;
        if self.interrupted || self.earlier.is_empty() {
            return Ok(());
        }
        f.write_str(" (previously: ")?;
        for (i, e) in self.earlier.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            e.fmt(f)?;
        }
        f.write_str(")")
    }
}

impl<E: fmt::Debug> fmt::Debug for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryError")
            .field("earlier", &self.earlier)
            .field("last", &self.last)
            .field("interrupted", &self.interrupted)
            .finish()
    }
}

impl<E: core::error::Error + 'static> core::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.last)
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};
    use core::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::endpoint::endpoint_fn;
    use crate::lb::RoundRobin;
    use crate::time::ManualClock;

    #[derive(Clone, Debug, PartialEq)]
    struct Failed(String);

    impl fmt::Display for Failed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl From<Error> for Failed {
        fn from(e: Error) -> Failed {
            Failed(e.to_string())
        }
    }

    fn failing(text: &'static str) -> impl Endpoint<(), Response = u32, Error = Failed> {
        endpoint_fn(move |_: &Context<'_>, (): ()| Err::<u32, _>(Failed(text.into())))
    }

    #[test]
    fn three_failures_read_as_go_kits_retry_error() {
        let set = [failing("one"), failing("two"), failing("three")];
        let retry = Retry::new(3, Duration::from_secs(1), RoundRobin::new(&set[..]));
        let clock = ManualClock::new();
        let err = retry.call(&Context::new(&clock), ()).unwrap_err();
        assert_eq!(err.to_string(), "three (previously: one; two)");
        assert_eq!(err.last(), &Failed("three".into()));
        assert_eq!(err.earlier().len(), 2);
        assert!(!err.is_interrupted());
    }

    #[test]
    fn no_endpoints_is_an_attempt_like_any_other() {
        type Never = fn(&Context<'_>, ()) -> Result<u32, Failed>;
        let none: &[Never] = &[];
        let set: alloc::vec::Vec<_> = none.iter().map(|f| endpoint_fn(*f)).collect();
        let retry = Retry::new(2, Duration::from_secs(1), RoundRobin::new(set));
        let clock = ManualClock::new();
        let err = retry.call(&Context::new(&clock), ()).unwrap_err();
        let unavailable = Error::Unavailable.to_string();
        assert_eq!(
            err.to_string(),
            alloc::format!("{unavailable} (previously: {unavailable})")
        );
    }

    #[test]
    fn the_timeout_bounds_every_attempt_together() {
        let clock = ManualClock::new();
        let calls = AtomicUsize::new(0);
        let slow = endpoint_fn(|cx: &Context<'_>, (): ()| {
            let before = calls.fetch_add(1, Ordering::Relaxed);
            // Each attempt sees what the first 250 ms leave: 250, 150, 50.
            let left = [250, 150, 50].get(before).copied().unwrap_or(0);
            assert_eq!(cx.remaining(), Some(Duration::from_millis(left)));
            clock.advance(Duration::from_millis(100));
            Err::<u32, _>(Failed("slow".into()))
        });
        let set = [slow];
        let retry = Retry::new(10, Duration::from_millis(250), RoundRobin::new(&set[..]));
        let err = retry.call(&Context::new(&clock), ()).unwrap_err();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            3,
            "100 ms each: the third ends past 250 ms"
        );
        assert!(err.is_interrupted());
        assert_eq!(err.to_string(), Error::DeadlineExceeded.to_string());
        assert_eq!(err.earlier().len(), 3);
    }

    #[test]
    fn the_timeout_counts_from_when_the_call_began() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        // The call began (a server read the time) 200 ms before the retry.
        let began = root.with_now(crate::time::Clock::now(&clock));
        clock.advance(Duration::from_millis(200));
        let calls = AtomicUsize::new(0);
        let slow = endpoint_fn(|cx: &Context<'_>, (): ()| {
            calls.fetch_add(1, Ordering::Relaxed);
            assert_eq!(cx.remaining(), Some(Duration::from_millis(50)));
            clock.advance(Duration::from_millis(60));
            Err::<u32, _>(Failed("slow".into()))
        });
        let set = [slow];
        let retry = Retry::new(10, Duration::from_millis(250), RoundRobin::new(&set[..]));
        let err = retry.call(&began, ()).unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 1, "50 ms were left, not 250");
        assert!(err.is_interrupted());
    }

    #[test]
    fn a_cancelled_caller_stops_the_retries_at_once() {
        let clock = ManualClock::new();
        let token = crate::CancelToken::new();
        let calls = AtomicUsize::new(0);
        let cancelling = endpoint_fn(|_: &Context<'_>, (): ()| {
            calls.fetch_add(1, Ordering::Relaxed);
            token.cancel();
            Err::<u32, _>(Failed("failed".into()))
        });
        let set = [cancelling];
        let retry = Retry::new(5, Duration::from_secs(1), RoundRobin::new(&set[..]));
        let root = Context::new(&clock);
        let cx = root.with_cancel(&token);
        let err = retry.call(&cx, ()).unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert!(err.is_interrupted());
        assert_eq!(err.last(), &Failed(Error::Cancelled.to_string()));
    }

    #[test]
    fn a_policy_may_stop_early_and_replace_the_error() {
        let set = [failing("fatal"), failing("never reached")];
        let policy = |attempt: usize, err: &Failed| {
            if err.0 == "fatal" {
                (
                    false,
                    Some(Failed(alloc::format!("gave up after {attempt}"))),
                )
            } else {
                (true, None)
            }
        };
        let retry = Retry::with_policy(Duration::from_secs(1), RoundRobin::new(&set[..]), policy);
        let clock = ManualClock::new();
        let err = retry.call(&Context::new(&clock), ()).unwrap_err();
        assert_eq!(err.to_string(), "gave up after 1");
        assert!(err.earlier().is_empty());
    }

    #[test]
    fn a_budget_caps_the_retries_across_calls() {
        let clock = ManualClock::new();
        // 10 % of calls and no floor: 20 calls may retry twice in all.
        let budget = crate::lb::RetryBudget::new(10, 0, &clock);
        let calls = AtomicUsize::new(0);
        let down = endpoint_fn(|_: &Context<'_>, (): ()| {
            calls.fetch_add(1, Ordering::Relaxed);
            Err::<u32, _>(Failed("down".into()))
        });
        let set = [down];
        let policy = crate::lb::Budgeted::new(MaxAttempts(3), &budget);
        let retry = Retry::with_policy(Duration::from_secs(1), RoundRobin::new(&set[..]), policy);
        let cx = Context::new(&clock);
        for _ in 0..20 {
            assert!(retry.call(&cx, ()).is_err());
        }
        // 20 first attempts; the 2 retries earned by the first calls went
        // to them (the first call earns 0.1, the tenth brings it to 1).
        assert_eq!(calls.load(Ordering::Relaxed), 22);
    }

    #[test]
    fn a_first_time_success_tries_once() {
        let calls = AtomicUsize::new(0);
        let ok = endpoint_fn(|_: &Context<'_>, (): ()| {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok::<u32, Failed>(1)
        });
        let set = [ok];
        let retry = Retry::new(3, Duration::from_secs(1), RoundRobin::new(&set[..]));
        let clock = ManualClock::new();
        assert_eq!(retry.call(&Context::new(&clock), ()), Ok(1));
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
