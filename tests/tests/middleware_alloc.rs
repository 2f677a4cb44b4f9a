//! Every resilience middleware, and the whole stack, allocates nothing per
//! call — on the success path and on every error path.

use synkit_core::breaker::{
    BreakerLayer, CircuitBreaker, ConsecutiveFailures, CountsPolicy, FailureRate, RollingWindow,
    Settings,
};
use synkit_core::bulkhead::{Bulkhead, ConcurrencyLimitLayer};
use synkit_core::cache::{CacheLayer, SharedLru};
use synkit_core::endpoint::{Chain, Endpoint, endpoint_fn};
use synkit_core::ratelimit::{
    DelayingLimiterLayer, ErroringLimiterLayer, KeyedLimiterLayer, KeyedTokenBucket, Rate,
    TokenBucket,
};
use synkit_core::time::{Duration, ManualClock, ManualSleep, SystemClock};
use synkit_core::timeout::TimeoutLayer;
use synkit_core::{Context, Error};
use synkit_tests::assert_no_alloc;

/// An endpoint that fails for odd requests.
fn evens_only() -> impl Endpoint<u64, Response = u64, Error = Error> + Clone {
    endpoint_fn(|_: &Context<'_>, n: u64| {
        if n.is_multiple_of(2) {
            Ok(n / 2)
        } else {
            Err(Error::Unavailable)
        }
    })
}

#[test]
fn erroring_limiter_admitting_and_refusing() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::new(Rate::per_second(1), 3, &clock);
    let ep = evens_only().with(ErroringLimiterLayer::new(&bucket));
    let cx = Context::new(&clock);
    assert_no_alloc(|| {
        for _ in 0..3 {
            assert_eq!(ep.call(&cx, 4), Ok(2));
        }
        assert_eq!(ep.call(&cx, 4), Err(Error::RateLimited));
    });
}

#[test]
fn keyed_limiter_admitting_refusing_and_evicting() {
    let clock = ManualClock::new();
    let buckets = KeyedTokenBucket::new(Rate::per_second(1), 1, 4, &clock);
    let ep = evens_only().with(KeyedLimiterLayer::new(&buckets, |n: &u64| *n % 100));
    let cx = Context::new(&clock);
    assert_no_alloc(|| {
        assert_eq!(ep.call(&cx, 2), Ok(1));
        assert_eq!(ep.call(&cx, 2), Err(Error::RateLimited));
        for n in 0..50 {
            let _ = ep.call(&cx, n * 2); // more keys than slots
        }
    });
}

#[test]
fn delaying_limiter_waiting_and_giving_up() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
    let ep = evens_only().with(DelayingLimiterLayer::new(&bucket, ManualSleep(&clock)));
    let root = Context::new(&clock);
    let hurried = root.with_timeout(Duration::from_millis(1));
    assert_no_alloc(|| {
        assert_eq!(ep.call(&root, 2), Ok(1));
        assert_eq!(ep.call(&root, 2), Ok(1)); // waited 100 ms
        assert_eq!(ep.call(&hurried, 2), Err(Error::DeadlineExceeded));
    });
}

/// Closes, trips, refuses, then probes and closes again.
fn exercise(
    ep: &impl Endpoint<u64, Response = u64, Error = Error>,
    cx: &Context<'_>,
    clock: &ManualClock,
) {
    assert_eq!(ep.call(cx, 2), Ok(1));
    let _ = ep.call(cx, 1);
    let _ = ep.call(cx, 1);
    assert_eq!(ep.call(cx, 2), Err(Error::CircuitOpen));
    clock.advance(Duration::from_secs(1));
    assert_eq!(ep.call(cx, 2), Ok(1), "the half-open probe closes it");
}

#[test]
fn every_breaker_policy_closed_open_and_half_open() {
    let clock = ManualClock::new();
    let settings = Settings {
        open_timeout: Duration::from_secs(1),
        half_open_max: 1,
    };
    let consecutive = CircuitBreaker::new(ConsecutiveFailures::new(2), settings, &clock);
    let counts = CircuitBreaker::new(
        CountsPolicy::new(
            Some(Duration::from_secs(10)),
            |c: &synkit_core::breaker::Counts| c.consecutive_failures >= 2,
        ),
        settings,
        &clock,
    );
    let window = CircuitBreaker::new(
        RollingWindow::new(Duration::from_secs(10), 2, 50),
        settings,
        &clock,
    );
    let ewma = CircuitBreaker::new(FailureRate::new(0.5, 2, 2), settings, &clock);
    let cx = Context::new(&clock);

    let a = evens_only().with(BreakerLayer::new(&consecutive));
    let b = evens_only().with(BreakerLayer::new(&counts));
    let c = evens_only().with(BreakerLayer::new(&window));
    let d = evens_only().with(BreakerLayer::new(&ewma));
    assert_no_alloc(|| {
        exercise(&a, &cx, &clock);
        exercise(&b, &cx, &clock);
        exercise(&c, &cx, &clock);
        exercise(&d, &cx, &clock);
    });
}

#[test]
fn bulkhead_admitting_and_shedding() {
    let bulkhead = Bulkhead::new(1);
    let ep = evens_only().with(ConcurrencyLimitLayer::new(&bulkhead));
    let cx = Context::background();
    assert_no_alloc(|| {
        assert_eq!(ep.call(&cx, 8), Ok(4));
        let held = bulkhead.try_acquire().unwrap();
        assert_eq!(ep.call(&cx, 8), Err(Error::Overloaded));
        drop(held);
    });
}

#[test]
fn timeout_passing_and_refusing() {
    let clock = ManualClock::new();
    let ep = evens_only().with(TimeoutLayer::new(Duration::from_millis(5)));
    let root = Context::new(&clock);
    let expired = root.with_timeout(Duration::ZERO);
    assert_no_alloc(|| {
        assert_eq!(ep.call(&root, 6), Ok(3));
        assert_eq!(ep.call(&expired, 6), Err(Error::DeadlineExceeded));
    });
}

#[test]
fn cache_hits_misses_and_uncached_errors() {
    let cache = SharedLru::new(64, 4);
    let ep = evens_only().with(CacheLayer::new(&cache, |n: &u64| Some(*n)));
    let cx = Context::background();
    // Fill once outside the count: storage was allocated at construction,
    // but the first miss of each key is what fills it.
    assert_eq!(ep.call(&cx, 10), Ok(5));
    assert_no_alloc(|| {
        assert_eq!(ep.call(&cx, 10), Ok(5)); // hit
        assert_eq!(ep.call(&cx, 12), Ok(6)); // miss, stored
        assert_eq!(ep.call(&cx, 11), Err(Error::Unavailable)); // error, not stored
        for n in 0..200 {
            let _ = ep.call(&cx, n * 2); // evictions
        }
    });
}

#[test]
fn the_full_stack_on_every_path() {
    // rate limit -> breaker -> bulkhead -> cache, on the real clock.
    let bucket = TokenBucket::new(Rate::per_second(1_000_000), 1_000_000, SystemClock);
    let breaker = CircuitBreaker::new(
        ConsecutiveFailures::new(3),
        Settings::default(),
        SystemClock,
    );
    let bulkhead = Bulkhead::new(8);
    let cache = SharedLru::new(256, 4);
    let stack = Chain::new(ErroringLimiterLayer::new(&bucket))
        .then(BreakerLayer::new(&breaker))
        .then(ConcurrencyLimitLayer::new(&bulkhead))
        .then(CacheLayer::new(&cache, |n: &u64| (*n < 1000).then_some(*n)));
    let ep = stack.wrap(evens_only());
    let cx = Context::background();
    let _ = cx.now(); // fix the system clock's epoch outside the count
    assert_eq!(ep.call(&cx, 42), Ok(21));

    assert_no_alloc(|| {
        for _ in 0..1000 {
            assert_eq!(ep.call(&cx, 42), Ok(21)); // cache hit through every layer
        }
        assert_eq!(ep.call(&cx, 2000), Ok(1000)); // uncached success
        for _ in 0..3 {
            assert_eq!(ep.call(&cx, 2001), Err(Error::Unavailable)); // failures trip the breaker
        }
        assert_eq!(ep.call(&cx, 42), Err(Error::CircuitOpen));
    });

    let starved = TokenBucket::new(Rate::per_second(1), 1, SystemClock);
    let limited = Chain::new(ErroringLimiterLayer::new(&starved))
        .then(ConcurrencyLimitLayer::new(&bulkhead))
        .wrap(evens_only());
    assert_no_alloc(|| {
        assert_eq!(limited.call(&cx, 2), Ok(1));
        assert_eq!(limited.call(&cx, 2), Err(Error::RateLimited));
    });
}

#[test]
fn balancers_picking_and_retry_succeeding() {
    use synkit_core::lb::{Balancer, Random, Retry, RoundRobin};

    let clock = ManualClock::new();
    let cx = Context::new(&clock);
    let set = [evens_only(), evens_only(), evens_only()];
    let rr = RoundRobin::new(&set[..]);
    let random = Random::new(&set[..], 7);
    let retry = Retry::new(3, Duration::from_millis(250), RoundRobin::new(&set[..]));
    assert_no_alloc(|| {
        for _ in 0..10 {
            assert_eq!(rr.pick().unwrap().call(&cx, 4), Ok(2));
            assert_eq!(random.pick().unwrap().call(&cx, 4), Ok(2));
            assert_eq!(retry.call(&cx, 4), Ok(2));
        }
    });
    // A failing call keeps its attempts' errors: that path allocates.
    assert_eq!(retry.call(&cx, 3).unwrap_err().earlier().len(), 2);
}

#[test]
fn p2c_and_the_live_set_of_service_discovery_pick_without_allocating() {
    use std::sync::Arc;
    use synkit_core::lb::{Balancer, P2c, PeakEwma, Retry, RoundRobin};
    use synkit_core::sd::{DiscoveryError, Endpointer, FixedInstancer};

    let clock = ManualClock::new();
    let cx = Context::new(&clock);
    let set = [
        PeakEwma::new(evens_only()),
        PeakEwma::new(evens_only()),
        PeakEwma::new(evens_only()),
    ];
    let p2c = P2c::new(&set[..], &clock, 7);
    // The set an Endpointer keeps, built once from the instances.
    let instancer = Arc::new(FixedInstancer::new(["a:1", "b:1", "c:1"]));
    let live = Endpointer::new(instancer.clone(), |_: &str| {
        Ok::<_, DiscoveryError>(PeakEwma::new(evens_only()))
    });
    let live_rr = RoundRobin::new(&live);
    let live_p2c = P2c::new(&live, &clock, 7);
    let retry = Retry::new(3, Duration::from_millis(250), RoundRobin::new(&live));
    assert_no_alloc(|| {
        for _ in 0..10 {
            assert_eq!(p2c.pick().unwrap().call(&cx, 4), Ok(2));
            assert_eq!(live_rr.pick().unwrap().call(&cx, 4), Ok(2));
            assert_eq!(live_p2c.pick().unwrap().call(&cx, 4), Ok(2));
            assert_eq!(retry.call(&cx, 4), Ok(2));
        }
    });
}
