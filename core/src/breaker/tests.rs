extern crate std;

use core::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::vec::Vec;

use super::*;
use crate::endpoint::endpoint_fn;
use crate::time::{Clock, Duration, ManualClock};
use crate::{Context, Endpoint, Error};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn settings(open_secs: u64, probes: u16) -> Settings {
    Settings {
        open_timeout: secs(open_secs),
        half_open_max: probes,
    }
}

fn call<P: TripPolicy, C: Clock, O: Observer>(
    b: &CircuitBreaker<P, C, O>,
    ok: bool,
) -> Result<(), Error> {
    let ticket = b.allow()?;
    b.record(ticket, ok);
    Ok(())
}

#[test]
fn consecutive_failures_open_the_circuit_and_a_success_resets_the_run() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(ConsecutiveFailures::new(3), settings(10, 1), &clock);
    for ok in [false, false, true, false, false] {
        call(&b, ok).unwrap();
    }
    assert_eq!(b.state(), State::Closed, "the success broke the run");
    call(&b, false).unwrap();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.opens(), 1);
}

#[test]
fn an_open_circuit_refuses_without_calling_until_the_timeout() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(ConsecutiveFailures::new(1), settings(10, 1), &clock);
    let calls = AtomicU32::new(0);
    let ep = endpoint_fn(|_: &Context<'_>, ok: bool| {
        calls.fetch_add(1, Ordering::Relaxed);
        if ok { Ok(()) } else { Err(Error::Unavailable) }
    })
    .with(BreakerLayer::new(&b));
    let cx = Context::new(&clock);

    assert_eq!(ep.call(&cx, false), Err(Error::Unavailable));
    clock.advance(secs(9));
    assert_eq!(ep.call(&cx, true), Err(Error::CircuitOpen));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "the open circuit did not call through"
    );

    clock.advance(secs(1));
    assert_eq!(ep.call(&cx, true), Ok(()), "the probe went through");
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn half_open_admits_only_the_probe_quota_and_closes_after_that_many_successes() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(ConsecutiveFailures::new(1), settings(5, 2), &clock);
    call(&b, false).unwrap();
    clock.advance(secs(5));

    let p1 = b.allow().unwrap();
    let p2 = b.allow().unwrap();
    assert_eq!(
        b.allow(),
        Err(Error::CircuitOpen),
        "both probe slots are taken"
    );
    assert_eq!(b.state(), State::HalfOpen);
    b.record(p1, true);
    assert_eq!(b.state(), State::HalfOpen, "one success of two");
    b.record(p2, true);
    assert_eq!(b.state(), State::Closed);
    assert!(b.allow().is_ok());
}

#[test]
fn a_failed_probe_reopens_and_restarts_the_timeout() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(ConsecutiveFailures::new(1), settings(5, 1), &clock);
    call(&b, false).unwrap();
    clock.advance(secs(5));
    let probe = b.allow().unwrap();
    clock.advance(secs(2));
    b.record(probe, false);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.opens(), 2);

    clock.advance(secs(4));
    assert_eq!(
        b.allow(),
        Err(Error::CircuitOpen),
        "5 s from the failed probe, not the first trip"
    );
    clock.advance(secs(1));
    assert!(b.allow().is_ok());
}

#[test]
fn outcomes_from_an_older_generation_are_ignored() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(ConsecutiveFailures::new(2), settings(5, 1), &clock);
    let slow = b.allow().unwrap();
    call(&b, false).unwrap();
    call(&b, false).unwrap();
    assert_eq!(b.state(), State::Open);
    clock.advance(secs(5));
    let probe = b.allow().unwrap();
    // The slow call from before the trip finishes now, failing: it must not
    // reopen the circuit the probe is testing.
    b.record(slow, false);
    assert_eq!(b.state(), State::HalfOpen);
    b.record(probe, true);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn counts_policy_sees_gobreakers_counts_and_clears_them_every_interval() {
    let clock = ManualClock::new();
    let policy = CountsPolicy::new(Some(secs(10)), |c: &Counts| {
        c.requests >= 4 && c.total_failures * 2 >= c.requests
    });
    let b = CircuitBreaker::new(policy, settings(5, 1), &clock);
    for ok in [true, false, true] {
        call(&b, ok).unwrap();
    }
    assert_eq!(
        b.policy().counts(),
        Counts {
            requests: 3,
            total_successes: 2,
            total_failures: 1,
            consecutive_successes: 1,
            consecutive_failures: 0
        }
    );
    clock.advance(secs(10));
    call(&b, false).unwrap(); // a new interval: counts start again
    assert_eq!(b.policy().counts().requests, 1);
    assert_eq!(b.state(), State::Closed);
    for ok in [true, false, true] {
        call(&b, ok).unwrap();
    }
    assert_eq!(
        b.state(),
        State::Closed,
        "half the calls failed, but the trip is checked only on a failure"
    );
    call(&b, false).unwrap();
    assert_eq!(b.state(), State::Open, "3 failures in 5 calls");
}

#[test]
fn rolling_window_needs_volume_then_error_percentage() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(RollingWindow::new(secs(10), 5, 50), settings(5, 1), &clock);
    for _ in 0..4 {
        call(&b, false).unwrap();
    }
    assert_eq!(b.state(), State::Closed, "100% errors, but only 4 calls");
    call(&b, false).unwrap();
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rolling_window_forgets_outcomes_older_than_the_window() {
    let clock = ManualClock::new();
    let window = RollingWindow::new(secs(10), 4, 50);
    let b = CircuitBreaker::new(window, settings(5, 1), &clock);
    for _ in 0..3 {
        call(&b, false).unwrap();
    }
    clock.advance(secs(11));
    assert_eq!(b.policy().totals(clock.now()), (0, 0));
    for ok in [true, true, true, false] {
        call(&b, ok).unwrap();
    }
    assert_eq!(b.state(), State::Closed, "25% errors in the window");
    assert_eq!(b.policy().totals(clock.now()), (4, 1));
}

#[test]
fn rolling_window_counts_across_buckets_within_the_window() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(RollingWindow::new(secs(10), 4, 50), settings(5, 1), &clock);
    call(&b, false).unwrap();
    clock.advance(secs(3));
    call(&b, true).unwrap();
    clock.advance(secs(3));
    call(&b, true).unwrap();
    clock.advance(secs(3));
    call(&b, false).unwrap();
    assert_eq!(b.state(), State::Open, "2 of 4 calls across 9 s");
}

#[test]
fn failure_rate_opens_at_the_threshold_after_enough_observations() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(FailureRate::new(0.5, 4, 6), settings(5, 1), &clock);
    for _ in 0..5 {
        call(&b, false).unwrap();
    }
    assert_eq!(b.state(), State::Closed, "too few observations");
    call(&b, false).unwrap();
    assert_eq!(b.state(), State::Open);

    let healthy = FailureRate::new(0.5, 4, 1);
    for ok in [true, true, true, false] {
        assert!(!healthy.record(ok, crate::time::Instant::ZERO));
    }
    assert!(healthy.rate() < 0.5);
}

#[test]
fn classified_errors_do_not_count_and_panics_do() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::new(ConsecutiveFailures::new(2), settings(5, 1), &clock);
    let ep = endpoint_fn(|_: &Context<'_>, what: u8| match what {
        0 => Ok(()),
        1 => Err(Error::RateLimited),
        _ => panic!("endpoint bug"),
    })
    .with(BreakerLayer::new(&b).failure_if(|e: &Error| *e != Error::RateLimited));
    let cx = Context::new(&clock);
    for _ in 0..5 {
        assert_eq!(ep.call(&cx, 1), Err(Error::RateLimited));
    }
    assert_eq!(b.state(), State::Closed);
    for _ in 0..2 {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ep.call(&cx, 2)));
        assert!(caught.is_err());
    }
    assert_eq!(b.state(), State::Open, "two panics are two failures");
}

#[test]
fn the_observer_sees_every_transition_in_order() {
    let clock = ManualClock::new();
    let seen = Mutex::new(Vec::new());
    let b = CircuitBreaker::with_observer(
        ConsecutiveFailures::new(1),
        settings(1, 1),
        &clock,
        |from, to| {
            seen.lock().unwrap().push((from, to));
        },
    );
    call(&b, false).unwrap();
    clock.advance(secs(1));
    call(&b, false).unwrap();
    clock.advance(secs(1));
    call(&b, true).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed),
        ]
    );
}

#[test]
fn racing_failures_open_the_circuit_exactly_once() {
    for _ in 0..50 {
        let clock = ManualClock::new();
        let b = CircuitBreaker::new(ConsecutiveFailures::new(8), settings(60, 1), &clock);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        let _ = call(&b, false);
                    }
                });
            }
        });
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.opens(), 1);
    }
}

#[test]
fn racing_probes_never_exceed_the_quota() {
    for _ in 0..50 {
        let clock = ManualClock::new();
        let b = CircuitBreaker::new(ConsecutiveFailures::new(1), settings(1, 3), &clock);
        call(&b, false).unwrap();
        clock.advance(secs(1));
        let admitted = AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        if let Ok(t) = b.allow() {
                            admitted.fetch_add(1, Ordering::Relaxed);
                            let _ = t;
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.load(Ordering::Relaxed), 3);
    }
}
