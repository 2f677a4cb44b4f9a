//! Balancers and retry: a pick and a call through each balancer, over a
//! fixed set and over service discovery's live set, beside tower's
//! power-of-two-choices balancer; and Go kit's Retry succeeding at once,
//! beside the bare call.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration as StdDuration;

use criterion::{Criterion, criterion_group, criterion_main};
use synkit_core::endpoint::endpoint_fn;
use synkit_core::lb::{Balancer, P2c, PeakEwma, Random, Retry, RoundRobin};
use synkit_core::sd::{DiscoveryError, Endpointer, FixedInstancer};
use synkit_core::time::{Duration, ManualClock, SystemClock, TscClock};
use synkit_core::{Context, Endpoint, Error};
use tower::Service;

/// The endpoint every instance is: halves its input.
fn halve() -> impl Endpoint<u64, Response = u64, Error = Error> + Clone {
    endpoint_fn(|_: &Context<'_>, n: u64| Ok::<_, Error>(n / 2))
}

fn picks(c: &mut Criterion) {
    let mut g = c.benchmark_group("lb/pick_and_call");
    let clock = ManualClock::new();
    let cx = Context::new(&clock);
    let fixed = [halve(), halve(), halve()];
    let weighed = [
        PeakEwma::new(halve()),
        PeakEwma::new(halve()),
        PeakEwma::new(halve()),
    ];
    let instancer = Arc::new(FixedInstancer::new(["a:1", "b:1", "c:1"]));
    let live = Endpointer::new(
        instancer.clone(),
        |_: &str| Ok::<_, DiscoveryError>(halve()),
    );
    let live_weighed = Endpointer::new(instancer, |_: &str| {
        Ok::<_, DiscoveryError>(PeakEwma::new(halve()))
    });

    // What one reading of each clock costs: a timed pick takes two.
    g.bench_function("clock_read_tsc", |b| {
        b.iter(|| synkit_core::time::Clock::now(&TscClock));
    });
    g.bench_function("clock_read_system", |b| {
        b.iter(|| synkit_core::time::Clock::now(&SystemClock));
    });
    g.bench_function("bare_call", |b| {
        b.iter(|| fixed[0].call(&cx, black_box(8)));
    });
    let rr = RoundRobin::new(&fixed[..]);
    g.bench_function("round_robin", |b| {
        b.iter(|| rr.pick().unwrap().call(&cx, black_box(8)));
    });
    let random = Random::new(&fixed[..], 1);
    g.bench_function("random", |b| {
        b.iter(|| random.pick().unwrap().call(&cx, black_box(8)));
    });
    let p2c_tsc = P2c::new(&weighed[..], TscClock, 1);
    g.bench_function("p2c_peak_ewma_tsc_clock", |b| {
        b.iter(|| p2c_tsc.pick().unwrap().call(&cx, black_box(8)));
    });
    g.bench_function("p2c_pick_only_tsc_clock", |b| {
        b.iter(|| p2c_tsc.pick().unwrap().index());
    });
    let p2c_manual = P2c::new(&weighed[..], &clock, 1);
    g.bench_function("p2c_pick_only_manual_clock", |b| {
        b.iter(|| p2c_manual.pick().unwrap().index());
    });
    let p2c_sys = P2c::new(&weighed[..], SystemClock, 1);
    g.bench_function("p2c_peak_ewma_system_clock", |b| {
        b.iter(|| p2c_sys.pick().unwrap().call(&cx, black_box(8)));
    });
    let live_rr = RoundRobin::new(&live);
    g.bench_function("round_robin_over_endpointer", |b| {
        b.iter(|| live_rr.pick().unwrap().call(&cx, black_box(8)));
    });
    let live_p2c = P2c::new(&live_weighed, TscClock, 1);
    g.bench_function("p2c_over_endpointer_tsc_clock", |b| {
        b.iter(|| live_p2c.pick().unwrap().call(&cx, black_box(8)));
    });

    // tower's p2c over PeakEwma-wrapped services: poll_ready picks, call
    // dispatches, and the ready future is polled once (no runtime needed).
    let services =
        (0..3).map(|_| tower::service_fn(|n: u64| std::future::ready(Ok::<_, Infallible>(n / 2))));
    let discover = tower::load::PeakEwmaDiscover::new(
        tower::discover::ServiceList::new::<u64>(services.collect::<Vec<_>>()),
        StdDuration::from_secs(1),
        StdDuration::from_secs(10),
        tower::load::CompleteOnResponse::default(),
    );
    let mut balance = tower::balance::p2c::Balance::new(discover);
    let mut task = TaskContext::from_waker(Waker::noop());
    g.bench_function("tower_p2c_peak_ewma", |b| {
        b.iter(|| {
            assert!(matches!(balance.poll_ready(&mut task), Poll::Ready(Ok(()))));
            let mut fut = std::pin::pin!(balance.call(black_box(8)));
            match fut.as_mut().poll(&mut task) {
                Poll::Ready(Ok(v)) => v,
                _ => unreachable!("a ready service answers at once"),
            }
        });
    });
    g.finish();
}

fn retry(c: &mut Criterion) {
    let mut g = c.benchmark_group("lb/retry_first_success");
    let clock = ManualClock::new();
    let cx = Context::new(&clock);
    let fixed = [halve(), halve(), halve()];
    let rr = RoundRobin::new(&fixed[..]);
    g.bench_function("round_robin_pick_and_call", |b| {
        b.iter(|| rr.pick().unwrap().call(&cx, black_box(8)));
    });
    let retry = Retry::new(3, Duration::from_millis(250), RoundRobin::new(&fixed[..]));
    g.bench_function("retry_over_round_robin", |b| {
        b.iter(|| retry.call(&cx, black_box(8)));
    });
    // With a real clock: the retry reads it once for its deadline.
    let tsc = TscClock;
    let cx_tsc = Context::new(&tsc);
    g.bench_function("round_robin_pick_and_call_tsc_clock", |b| {
        b.iter(|| rr.pick().unwrap().call(&cx_tsc, black_box(8)));
    });
    g.bench_function("retry_over_round_robin_tsc_clock", |b| {
        b.iter(|| retry.call(&cx_tsc, black_box(8)));
    });
    // As a server calls it: the context knows when the call began.
    let began = cx_tsc.with_now(synkit_core::time::Clock::now(&tsc));
    g.bench_function("round_robin_pick_and_call_tsc_clock_began", |b| {
        b.iter(|| rr.pick().unwrap().call(&began, black_box(8)));
    });
    g.bench_function("retry_over_round_robin_tsc_clock_began", |b| {
        b.iter(|| retry.call(&began, black_box(8)));
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
    targets = picks, retry
}
criterion_main!(benches);
