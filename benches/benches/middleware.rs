//! The resilience middleware, each layer and the whole stack, beside the
//! crates a user would pick instead: governor (rate limit), failsafe
//! (circuit breaker), lru (cache). One criterion group per comparison, so
//! each ratio is read from one run.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use synkit_core::breaker::{
    BreakerLayer, CircuitBreaker, ConsecutiveFailures, RollingWindow, Settings,
};
use synkit_core::bulkhead::{Bulkhead, ConcurrencyLimitLayer};
use synkit_core::cache::{CacheLayer, Lru, SharedLru};
use synkit_core::endpoint::{Chain, Endpoint, endpoint_fn};
use synkit_core::ratelimit::{ErroringLimiterLayer, KeyedTokenBucket, Rate, TokenBucket};
use synkit_core::time::{Clock, Duration, SystemClock, TscClock};
use synkit_core::timeout::TimeoutLayer;
use synkit_core::{Context, Error};

/// A bucket that never runs dry: the admitting path, every call.
fn roomy_bucket<C: Clock>(clock: C) -> TokenBucket<C> {
    TokenBucket::new(Rate::every(Duration::from_nanos(1)), 1_000_000, clock)
}

fn governor_roomy() -> governor::DefaultDirectRateLimiter {
    let quota = governor::Quota::per_second(NonZeroU32::MAX)
        .allow_burst(NonZeroU32::new(1_000_000).unwrap());
    governor::RateLimiter::direct(quota)
}

fn add() -> impl Endpoint<u64, Response = u64, Error = Error> + Clone {
    endpoint_fn(|_: &Context<'_>, n: u64| n.checked_add(1).ok_or(Error::Unavailable))
}

/// Runs `f` on the measured thread while a second thread runs it as fast as
/// it can: the 2-thread contended cost per call.
fn contended<F: Fn() + Sync>(b: &mut Bencher<'_>, f: F) {
    b.iter_custom(|iters| {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Walk the keys away from the measured thread (the sequence
                // repeats every 1024 steps; 512 apart is always another key).
                KEY_INDEX.with(|i| i.set(512));
                while !stop.load(Ordering::Relaxed) {
                    f();
                }
            });
            let start = StdInstant::now();
            for _ in 0..iters {
                f();
            }
            let took = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            took
        })
    });
}

fn layers(c: &mut Criterion) {
    // The fast configuration: contexts and time-based layers on the TSC clock.
    let cx = Context::new(&TscClock);
    let bucket = roomy_bucket(TscClock);
    let consecutive =
        CircuitBreaker::new(ConsecutiveFailures::new(5), Settings::default(), TscClock);
    let window = CircuitBreaker::new(
        RollingWindow::hystrix_defaults(),
        Settings::default(),
        TscClock,
    );
    let bulkhead = Bulkhead::new(64);
    let cache = SharedLru::new(1024, 8);
    // The same stack on the system clock, for comparison.
    let sys_cx = Context::background();
    let sys_bucket = roomy_bucket(SystemClock);
    let sys_breaker = CircuitBreaker::new(
        ConsecutiveFailures::new(5),
        Settings::default(),
        SystemClock,
    );

    let bare = add();
    let limited = add().with(ErroringLimiterLayer::new(&bucket));
    let broken = add().with(BreakerLayer::new(&consecutive));
    let windowed = add().with(BreakerLayer::new(&window));
    let bulkheaded = add().with(ConcurrencyLimitLayer::new(&bulkhead));
    let timed = add().with(TimeoutLayer::new(Duration::from_secs(1)));
    let cached = add().with(CacheLayer::new(&cache, |n: &u64| Some(*n)));
    let stack = Chain::new(ErroringLimiterLayer::new(&bucket))
        .then(BreakerLayer::new(&consecutive))
        .then(ConcurrencyLimitLayer::new(&bulkhead))
        .then(CacheLayer::new(&cache, |n: &u64| Some(*n)))
        .wrap(add());
    let sys_limited = add().with(ErroringLimiterLayer::new(&sys_bucket));
    let sys_stack = Chain::new(ErroringLimiterLayer::new(&sys_bucket))
        .then(BreakerLayer::new(&sys_breaker))
        .then(ConcurrencyLimitLayer::new(&bulkhead))
        .then(CacheLayer::new(&cache, |n: &u64| Some(*n)))
        .wrap(add());

    let mut g = c.benchmark_group("layers");
    g.bench_function("bare", |b| b.iter(|| bare.call(&cx, black_box(7))));
    g.bench_function("erroring_limiter", |b| {
        b.iter(|| limited.call(&cx, black_box(7)));
    });
    g.bench_function("erroring_limiter_system_clock", |b| {
        b.iter(|| sys_limited.call(&sys_cx, black_box(7)));
    });
    g.bench_function("breaker_consecutive", |b| {
        b.iter(|| broken.call(&cx, black_box(7)));
    });
    g.bench_function("breaker_rolling_window", |b| {
        b.iter(|| windowed.call(&cx, black_box(7)));
    });
    g.bench_function("bulkhead", |b| {
        b.iter(|| bulkheaded.call(&cx, black_box(7)));
    });
    g.bench_function("timeout", |b| b.iter(|| timed.call(&cx, black_box(7))));
    g.bench_function("cache_hit", |b| b.iter(|| cached.call(&cx, black_box(7))));
    g.bench_function("full_stack_cache_hit", |b| {
        b.iter(|| stack.call(&cx, black_box(7)));
    });
    g.bench_function("full_stack_cache_hit_system_clock", |b| {
        b.iter(|| sys_stack.call(&sys_cx, black_box(7)));
    });
    // As a server runs it: one system clock reading per request (or per
    // loop turn) handed to every layer through the context.
    g.bench_function("full_stack_cache_hit_system_clock_read_per_request", |b| {
        b.iter(|| {
            let began = sys_cx.with_now(SystemClock.now());
            sys_stack.call(&began, black_box(7))
        });
    });
    g.bench_function("full_stack_cache_hit_system_clock_read_per_turn", |b| {
        b.iter_custom(|iters| {
            let start = StdInstant::now();
            let mut done = 0;
            while done < iters {
                // A loop turn under load serves many requests on one reading.
                let began = sys_cx.with_now(SystemClock.now());
                for _ in 0..iters.saturating_sub(done).min(64) {
                    let _ = black_box(sys_stack.call(&began, black_box(7)));
                    done += 1;
                }
            }
            start.elapsed()
        });
    });
    g.bench_function("full_stack_cache_hit_2_threads", |b| {
        contended(b, || {
            let _ = black_box(stack.call(&cx, black_box(7)));
        });
    });
    g.finish();
}

fn token_bucket(c: &mut Criterion) {
    let ours = roomy_bucket(TscClock);
    let ours_sys = roomy_bucket(SystemClock);
    let theirs = governor_roomy();
    let mut g = c.benchmark_group("token_bucket");
    g.bench_function("synkit_try_acquire", |b| b.iter(|| ours.try_acquire()));
    g.bench_function("synkit_try_acquire_system_clock", |b| {
        b.iter(|| ours_sys.try_acquire());
    });
    g.bench_function("governor_check", |b| b.iter(|| theirs.check().is_ok()));
    let keyed = KeyedTokenBucket::new(
        Rate::every(Duration::from_nanos(1)),
        1_000_000,
        4096,
        TscClock,
    );
    let keyed_theirs = governor::RateLimiter::keyed(
        governor::Quota::per_second(NonZeroU32::MAX)
            .allow_burst(NonZeroU32::new(1_000_000).unwrap()),
    );
    let mut k = 0u64;
    g.bench_function("synkit_keyed_try_acquire", |b| {
        b.iter(|| {
            k = (k + 1) & 1023;
            keyed.try_acquire(&k)
        });
    });
    g.bench_function("governor_keyed_check", |b| {
        b.iter(|| {
            k = (k + 1) & 1023;
            keyed_theirs.check_key(&k).is_ok()
        });
    });
    g.bench_function("synkit_try_acquire_2_threads", |b| {
        contended(b, || {
            black_box(ours.try_acquire());
        });
    });
    g.bench_function("governor_check_2_threads", |b| {
        contended(b, || {
            black_box(theirs.check().is_ok());
        });
    });
    g.finish();
}

fn breaker(c: &mut Criterion) {
    let ours = CircuitBreaker::new(ConsecutiveFailures::new(5), Settings::default(), TscClock);
    let guarded = add().with(BreakerLayer::new(&ours));
    let theirs = failsafe::Config::new().build();
    let cx = Context::new(&TscClock);
    let mut g = c.benchmark_group("breaker");
    g.bench_function("synkit_call", |b| {
        b.iter(|| guarded.call(&cx, black_box(7)));
    });
    g.bench_function("failsafe_call", |b| {
        b.iter(|| {
            failsafe::CircuitBreaker::call(&theirs, || {
                black_box(7u64).checked_add(1).ok_or(Error::Unavailable)
            })
        });
    });
    g.bench_function("synkit_call_2_threads", |b| {
        contended(b, || {
            let _ = black_box(guarded.call(&cx, black_box(7)));
        });
    });
    g.bench_function("failsafe_call_2_threads", |b| {
        contended(b, || {
            let _ = black_box(failsafe::CircuitBreaker::call(&theirs, || {
                black_box(7u64).checked_add(1).ok_or(Error::Unavailable)
            }));
        });
    });
    g.finish();
}

const KEYS: u64 = 1024;

thread_local! {
    static KEY_INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Each thread walks the key sequence on its own.
fn next_key_index() -> usize {
    KEY_INDEX.with(|i| {
        let next = (i.get() + 1) & 4095;
        i.set(next);
        next
    })
}

/// A fixed, scattered sequence of keys, all present in a full cache.
fn key_sequence() -> Vec<u64> {
    (0..4096u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % KEYS)
        .collect()
}

fn lru_cache(c: &mut Criterion) {
    let keys = key_sequence();
    let cap = usize::try_from(KEYS).unwrap();
    let mut ours = Lru::new(cap);
    let mut theirs = lru::LruCache::new(std::num::NonZeroUsize::new(cap).unwrap());
    // Shards fill unevenly, so a sharded cache needs headroom to hold every
    // key: twice the keys, so each lookup below is a hit, as in the others.
    let shared = SharedLru::new(2 * cap, 8);
    let locked = parking_lot::Mutex::new(lru::LruCache::new(
        std::num::NonZeroUsize::new(cap).unwrap(),
    ));
    for k in 0..KEYS {
        ours.insert(k, k);
        theirs.put(k, k);
        shared.insert(k, k);
        locked.lock().put(k, k);
    }

    let mut g = c.benchmark_group("lru");
    let mut i = 0usize;
    let mut next = move || {
        i = (i + 1) & 4095;
        i
    };
    g.bench_function("synkit_lru_get", |b| {
        b.iter(|| ours.get(&keys[next()]).copied());
    });
    g.bench_function("lru_get", |b| b.iter(|| theirs.get(&keys[next()]).copied()));
    g.bench_function("synkit_shared_get", |b| {
        b.iter(|| shared.get(&keys[next()]));
    });
    g.bench_function("lru_behind_mutex_get", |b| {
        b.iter(|| locked.lock().get(&keys[next()]).copied());
    });
    g.bench_function("synkit_lru_insert_evicting", |b| {
        let mut k = KEYS;
        b.iter(|| {
            k += 1;
            ours.insert(k, k)
        });
    });
    g.bench_function("lru_put_evicting", |b| {
        let mut k = KEYS;
        b.iter(|| {
            k += 1;
            theirs.push(k, k)
        });
    });
    g.bench_function("synkit_shared_get_2_threads", |b| {
        contended(b, || {
            black_box(shared.get(&keys[next_key_index()]));
        });
    });
    g.bench_function("lru_behind_mutex_get_2_threads", |b| {
        contended(b, || {
            black_box(locked.lock().get(&keys[next_key_index()]).copied());
        });
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(StdDuration::from_millis(500))
        .measurement_time(StdDuration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = layers, token_bucket, breaker, lru_cache
}
criterion_main!(benches);
