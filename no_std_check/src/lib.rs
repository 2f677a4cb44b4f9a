//! The checks the `no_std` binary runs: synkit-core's endpoint model used for
//! real — endpoints, middleware, chains, contexts, the manual clock, the
//! error kinds — in a crate that has no `std`.
//!
//! The library is `#![no_std]`; `src/main.rs` links it into a bare binary
//! with its own `#[panic_handler]`, which fails to build if `std` reaches the
//! dependency graph. Under `cargo test` the same checks run hosted.

#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;

use core::sync::atomic::{AtomicU32, Ordering};

use synkit_core::breaker::{BreakerLayer, CircuitBreaker, ConsecutiveFailures, Settings, State};
use synkit_core::bulkhead::{Bulkhead, ConcurrencyLimitLayer};
use synkit_core::endpoint::{Chain, Endpoint, Middleware, endpoint_fn};
use synkit_core::ratelimit::{ErroringLimiterLayer, Rate, TokenBucket};
use synkit_core::time::{Duration, Instant, ManualClock};
use synkit_core::timeout::TimeoutLayer;
use synkit_core::{CancelToken, Context, Error};

/// A failed check: which one, in words.
pub type Failure = &'static str;

fn ensure(ok: bool, what: Failure) -> Result<(), Failure> {
    if ok { Ok(()) } else { Err(what) }
}

/// Counts calls, then passes them on.
struct Counting<'a>(&'a AtomicU32);

struct CountingEndpoint<'a, E> {
    inner: E,
    calls: &'a AtomicU32,
}

impl<'a, E> Middleware<E> for Counting<'a> {
    type Endpoint = CountingEndpoint<'a, E>;
    fn wrap(&self, inner: E) -> Self::Endpoint {
        CountingEndpoint {
            inner,
            calls: self.0,
        }
    }
}

impl<Req, E: Endpoint<Req>> Endpoint<Req> for CountingEndpoint<'_, E> {
    type Response = E::Response;
    type Error = E::Error;
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.call(cx, req)
    }
}

struct Tenant(u32);

/// Runs every check; the first failure is returned.
pub fn run() -> Result<(), Failure> {
    let clock = ManualClock::starting_at(Instant::from_nanos(1_000));
    let token = CancelToken::new();
    let calls = AtomicU32::new(0);

    let add = endpoint_fn(|cx: &Context<'_>, (a, b): (u32, u32)| {
        cx.check()?;
        let tenant = cx.value::<Tenant>().map_or(0, |t| t.0);
        a.checked_add(b)
            .and_then(|s| s.checked_add(tenant))
            .ok_or(Error::Unavailable)
    });
    let ep = Chain::new(Counting(&calls))
        .then(TimeoutLayer::new(Duration::from_millis(10)))
        .wrap(&add);

    let root = Context::new(&clock);
    let tenant = Tenant(100);
    let scoped = root.with_value(&tenant);
    let cx = scoped.with_cancel(&token);

    ensure(ep.call(&cx, (2, 3)) == Ok(105), "a call through the chain")?;
    ensure(
        ep.call(&cx, (u32::MAX, 1)) == Err(Error::Unavailable),
        "the endpoint's own error",
    )?;

    let tight = cx.with_timeout(Duration::from_millis(1));
    ensure(
        tight.remaining() == Some(Duration::from_millis(1)),
        "the tighter deadline wins",
    )?;
    clock.advance(Duration::from_millis(1));
    ensure(
        ep.call(&tight, (1, 1)) == Err(Error::DeadlineExceeded),
        "an expired deadline stops the call",
    )?;

    token.cancel();
    ensure(
        ep.call(&cx, (1, 1)) == Err(Error::Cancelled),
        "cancellation stops the call",
    )?;
    ensure(
        calls.load(Ordering::Relaxed) == 4,
        "the outer layer saw every call",
    )?;

    let method_form = add
        .with(TimeoutLayer::new(Duration::from_secs(1)))
        .with(Counting(&calls));
    ensure(
        method_form.call(&scoped, (1, 2)) == Ok(103),
        "the method form of composition",
    )?;
    ensure(
        Error::RateLimited.is_retryable() && !Error::Cancelled.is_retryable(),
        "error kinds say whether a retry may help",
    )?;

    run_resilience()?;
    #[cfg(feature = "alloc")]
    run_alloc(&scoped)?;
    Ok(())
}

/// The resilience middleware on bare metal: a rate limit, a breaker and a
/// bulkhead, on the manual clock.
fn run_resilience() -> Result<(), Failure> {
    let clock = ManualClock::new();
    let bucket = TokenBucket::new(Rate::per_second(10), 2, &clock);
    let breaker = CircuitBreaker::new(
        ConsecutiveFailures::new(2),
        Settings {
            open_timeout: Duration::from_secs(1),
            half_open_max: 1,
        },
        &clock,
    );
    let bulkhead = Bulkhead::new(1);
    let ep = Chain::new(ErroringLimiterLayer::new(&bucket))
        .then(BreakerLayer::new(&breaker))
        .then(ConcurrencyLimitLayer::new(&bulkhead))
        .wrap(endpoint_fn(|_: &Context<'_>, ok: bool| {
            if ok { Ok(()) } else { Err(Error::Unavailable) }
        }));
    let cx = Context::new(&clock);

    ensure(
        ep.call(&cx, true).is_ok(),
        "a call through the resilience stack",
    )?;
    ensure(
        ep.call(&cx, false) == Err(Error::Unavailable),
        "a failure passes through",
    )?;
    ensure(
        ep.call(&cx, true) == Err(Error::RateLimited),
        "the burst is spent",
    )?;
    clock.advance(Duration::from_millis(200));
    ensure(ep.call(&cx, false).is_err(), "a second failure")?;
    ensure(
        breaker.state() == State::Open,
        "two failures open the breaker",
    )?;
    ensure(
        ep.call(&cx, true) == Err(Error::CircuitOpen),
        "the open breaker refuses",
    )?;
    clock.advance(Duration::from_secs(1));
    ensure(ep.call(&cx, true).is_ok(), "the probe closes it again")?;
    let held = bulkhead.try_acquire();
    clock.advance(Duration::from_millis(100));
    ensure(
        ep.call(&cx, true) == Err(Error::Overloaded),
        "the bulkhead sheds",
    )?;
    drop(held);
    Ok(())
}

#[cfg(feature = "alloc")]
fn run_alloc(cx: &Context<'_>) -> Result<(), Failure> {
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use synkit_core::endpoint::{ArcEndpoint, BoxEndpoint};

    let set: Vec<BoxEndpoint<u32, u32, Error>> = alloc::vec![
        endpoint_fn(|_: &Context<'_>, n: u32| Ok(n + 1)).boxed(),
        endpoint_fn(|cx: &Context<'_>, n: u32| Ok(n + cx.value::<Tenant>().map_or(0, |t| t.0)))
            .boxed(),
    ];
    let sum: u32 = set.iter().map(|ep| ep.call(cx, 1).unwrap_or(0)).sum();
    ensure(sum == 103, "boxed endpoints in one collection")?;

    let shared: ArcEndpoint<u32, u32, Error> =
        Arc::new(endpoint_fn(|_: &Context<'_>, n: u32| Ok(n * 2)));
    let clone = Arc::clone(&shared);
    ensure(clone.call(cx, 21) == Ok(42), "a shared endpoint")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_check_passes_hosted() {
        assert_eq!(super::run(), Ok(()));
    }
}
