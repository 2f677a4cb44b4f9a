use core::fmt;

use crate::sync::{AtomicU64, Ordering};
use crate::time::{Clock, Duration, Instant, duration_nanos};

/// How fast tokens come back: one every [`interval`](Self::interval).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    interval: u64,
}

impl Rate {
    /// `n` tokens a second.
    ///
    /// # Panics
    ///
    /// If `n` is zero: a bucket that never refills is a counter, not a rate
    /// limiter.
    pub const fn per_second(n: u32) -> Rate {
        Rate::per(n, Duration::from_secs(1))
    }

    /// `n` tokens every `period`, spread evenly: one every `period / n`
    /// (at least a nanosecond).
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub const fn per(n: u32, period: Duration) -> Rate {
        assert!(n > 0, "a rate needs at least one token per period");
        Rate::every(Duration::from_nanos(duration_nanos(period) / n as u64))
    }

    /// One token every `interval` (at least a nanosecond).
    pub const fn every(interval: Duration) -> Rate {
        let i = duration_nanos(interval);
        Rate {
            interval: if i == 0 { 1 } else { i },
        }
    }

    /// The time between two tokens.
    pub const fn interval(self) -> Duration {
        Duration::from_nanos(self.interval)
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rate(1 per {:?})", self.interval())
    }
}

/// GCRA admission on one theoretical-arrival-time word: one load and, when
/// admitted, one compare-exchange; a refusal writes nothing.
#[inline]
pub(crate) fn admit(tat: &AtomicU64, now: u64, interval: u64, tolerance: u64) -> bool {
    let mut seen = tat.load(Ordering::Relaxed);
    loop {
        let next = seen.max(now).saturating_add(interval);
        if next - now > tolerance {
            return false;
        }
        match tat.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(current) => seen = current,
        }
    }
}

/// The arithmetic of a bucket: nanoseconds per token, and how far ahead of
/// now the arrival time may run (`burst` tokens' worth).
pub(crate) fn shape(rate: Rate, burst: u32) -> (u64, u64) {
    // A whole burst takes at most 2^62 ns to refill, which keeps the
    // arithmetic exact for any process that runs less than a century.
    const MAX_TOLERANCE: u64 = 1 << 62;
    let burst = u64::from(burst.max(1));
    let interval = rate.interval.min(MAX_TOLERANCE / burst);
    (interval, interval * burst)
}

/// A token reserved by [`TokenBucket::reserve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The instant from which the token may be used.
    pub ready: Instant,
    /// How long from the reservation until then; zero if it is ready now.
    pub wait: Duration,
}

/// A lock-free token bucket: `burst` tokens at most, one more every
/// `rate.interval()`.
///
/// It is the generic cell rate algorithm (GCRA), the form of a token bucket
/// that needs a single word of state: the *theoretical arrival time* of the
/// next token. Taking a token is one atomic read and, when admitted, one
/// compare-exchange; refusing writes nothing, so a bucket hammered past its
/// rate stays cheap. Over any interval of length `t` it admits at most
/// `burst + t / interval` calls.
///
/// Time comes from the clock `C`; share a bucket between endpoints by
/// reference or `Arc`.
///
/// ```
/// use synkit_core::ratelimit::{Rate, TokenBucket};
/// use synkit_core::time::{Duration, ManualClock};
///
/// let clock = ManualClock::new();
/// let bucket = TokenBucket::new(Rate::per_second(10), 2, &clock);
/// assert!(bucket.try_acquire());
/// assert!(bucket.try_acquire());
/// assert!(!bucket.try_acquire(), "the burst is spent");
///
/// clock.advance(Duration::from_millis(100));
/// assert!(bucket.try_acquire(), "one token back after 1/10 s");
/// assert!(!bucket.try_acquire());
/// ```
pub struct TokenBucket<C> {
    clock: C,
    /// Theoretical arrival time, in the clock's nanoseconds: when the bucket
    /// will next be full if nothing else is taken. Admission needs
    /// `tat + interval <= now + tolerance`.
    tat: AtomicU64,
    interval: u64,
    /// `burst * interval`: how far ahead of now the arrival time may run.
    tolerance: u64,
}

impl<C: Clock> TokenBucket<C> {
    /// A full bucket of `burst` tokens, refilled at `rate`.
    ///
    /// A burst of zero is taken as one: a bucket that could never admit
    /// anything is a bug. A whole burst takes at most 2^62 ns (146 years) to
    /// refill; a slower rate is clamped to that, which keeps the arithmetic
    /// exact for any process that runs less than a century.
    pub fn new(rate: Rate, burst: u32, clock: C) -> TokenBucket<C> {
        let (interval, tolerance) = shape(rate, burst);
        TokenBucket {
            clock,
            tat: AtomicU64::new(0),
            interval,
            tolerance,
        }
    }

    /// Takes a token if there is one. Never blocks.
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_at(self.clock.now())
    }

    /// Takes a token if there is one at `now`, a reading of this bucket's
    /// clock (or one on its timeline) the caller already has: a layer passes
    /// the instant its call began, and saves a clock read.
    #[inline]
    pub fn try_acquire_at(&self, now: Instant) -> bool {
        admit(&self.tat, now.as_nanos(), self.interval, self.tolerance)
    }

    /// Reserves the next token and says when it may be used: now if one is
    /// available, later if the caller must wait.
    ///
    /// If that instant would be after `latest`, nothing is reserved and
    /// `None` is returned. A caller that reserves and then does not wait
    /// gives the token back with [`cancel_reservation`](Self::cancel_reservation).
    pub fn reserve(&self, latest: Option<Instant>) -> Option<Reservation> {
        let now = self.clock.now().as_nanos();
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(self.interval);
            let ready = next.saturating_sub(self.tolerance).max(now);
            if latest.is_some_and(|l| ready > l.as_nanos()) {
                return None;
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Some(Reservation {
                        ready: Instant::from_nanos(ready),
                        wait: Duration::from_nanos(ready - now),
                    });
                }
                Err(seen) => tat = seen,
            }
        }
    }

    /// Returns one reserved token to the bucket, as if it had never been
    /// taken (for a caller that gave up waiting).
    pub fn cancel_reservation(&self) {
        let _ = self
            .tat
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                Some(tat.saturating_sub(self.interval))
            });
    }

    /// Tokens available right now (0 to burst).
    pub fn available(&self) -> u64 {
        let now = self.clock.now().as_nanos();
        let tat = self.tat.load(Ordering::Relaxed).max(now);
        let ahead = tat - now;
        self.tolerance.saturating_sub(ahead) / self.interval
    }

    /// The clock the bucket reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<C> fmt::Debug for TokenBucket<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucket")
            .field("interval", &Duration::from_nanos(self.interval))
            .field("burst", &(self.tolerance / self.interval))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rate_spreads_tokens_evenly() {
        assert_eq!(Rate::per_second(4).interval(), ms(250));
        assert_eq!(Rate::per(3, ms(30)).interval(), ms(10));
        assert_eq!(Rate::every(ms(7)).interval(), ms(7));
        assert_eq!(
            Rate::per_second(2_000_000_000).interval(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    fn starts_full_and_refuses_past_the_burst() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(1), 3, &clock);
        assert_eq!(bucket.available(), 3);
        assert!((0..3).all(|_| bucket.try_acquire()));
        assert!(!bucket.try_acquire());
        assert_eq!(bucket.available(), 0);
    }

    #[test]
    fn refills_one_token_per_interval_up_to_the_burst() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(10), 2, &clock);
        assert!(bucket.try_acquire() && bucket.try_acquire());

        clock.advance(ms(99));
        assert!(!bucket.try_acquire(), "not yet a whole interval");
        clock.advance(ms(1));
        assert!(bucket.try_acquire());
        assert!(!bucket.try_acquire());

        clock.advance(Duration::from_mins(1));
        assert_eq!(bucket.available(), 2, "never more than the burst");
    }

    #[test]
    fn a_refused_call_takes_nothing() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
        assert!(bucket.try_acquire());
        for _ in 0..100 {
            assert!(!bucket.try_acquire());
        }
        clock.advance(ms(100));
        assert!(
            bucket.try_acquire(),
            "the refusals did not push the refill back"
        );
    }

    #[test]
    fn reserve_says_when_the_token_is_ready() {
        let clock = ManualClock::starting_at(Instant::from_nanos(1_000));
        let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
        let now = clock.now();
        assert_eq!(bucket.reserve(None).map(|r| r.ready), Some(now));
        let second = bucket.reserve(None).unwrap();
        assert_eq!((second.ready, second.wait), (now + ms(100), ms(100)));
        assert_eq!(bucket.reserve(None).map(|r| r.wait), Some(ms(200)));
    }

    #[test]
    fn reserve_refuses_a_wait_past_the_latest_instant_and_takes_nothing() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
        assert!(bucket.try_acquire());
        assert_eq!(bucket.reserve(Some(Instant::ZERO + ms(99))), None);
        assert_eq!(
            bucket
                .reserve(Some(Instant::ZERO + ms(100)))
                .map(|r| r.ready),
            Some(Instant::ZERO + ms(100))
        );
    }

    #[test]
    fn a_cancelled_reservation_is_given_back() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
        assert!(bucket.try_acquire());
        assert_eq!(bucket.reserve(None).map(|r| r.wait), Some(ms(100)));
        bucket.cancel_reservation();
        assert_eq!(bucket.reserve(None).map(|r| r.wait), Some(ms(100)));
    }

    #[test]
    #[should_panic(expected = "at least one token per period")]
    fn a_zero_rate_is_refused() {
        let _ = Rate::per_second(0);
    }

    #[test]
    fn a_very_slow_rate_does_not_overflow() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::every(Duration::MAX), 3, &clock);
        assert!((0..3).all(|_| bucket.try_acquire()));
        assert!(!bucket.try_acquire());
        // Clamped to a burst per 2^62 ns: one token per ~48.7 years.
        clock.advance(Duration::from_secs(1_500_000_000)); // 47.5 years
        assert!(!bucket.try_acquire());
        clock.advance(Duration::from_secs(50_000_000)); // 49.1 years
        assert!(bucket.try_acquire());
        assert!(!bucket.try_acquire());
    }

    #[test]
    fn threads_hammering_never_exceed_burst_plus_rate_times_time() {
        const THREADS: u64 = 4;
        const BURST: u64 = 5;
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(1000), 5, &clock);
        let admitted = core::sync::atomic::AtomicU64::new(0);
        let steps = 200u64; // 200 ms of manual time, 1 ms a step
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for _ in 0..steps * 10 {
                        if bucket.try_acquire() {
                            admitted.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
            for _ in 0..steps {
                clock.advance(ms(1));
                std::thread::yield_now();
            }
        });
        let elapsed_ms = clock.now().as_nanos() / 1_000_000;
        let admitted = admitted.load(core::sync::atomic::Ordering::Relaxed);
        assert!(
            admitted <= BURST + elapsed_ms,
            "admitted {admitted} in {elapsed_ms} ms at 1/ms with burst {BURST}"
        );
        assert!(admitted >= BURST, "the burst itself is always admitted");
    }
}

/// Model checks: every interleaving of a few threads on one bucket.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    extern crate std;

    use super::*;
    use crate::time::ManualClock;

    #[test]
    fn racing_threads_take_exactly_the_burst() {
        loom::model(|| {
            let clock = std::sync::Arc::new(ManualClock::new());
            let bucket = Arc::new(TokenBucket::new(
                Rate::per_second(1),
                2,
                std::sync::Arc::clone(&clock),
            ));
            let threads: std::vec::Vec<_> = (0..3)
                .map(|_| {
                    let bucket = Arc::clone(&bucket);
                    thread::spawn(move || bucket.try_acquire())
                })
                .collect();
            let admitted = threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|&ok| ok)
                .count();
            assert_eq!(admitted, 2);
            assert!(!bucket.try_acquire());
        });
    }

    #[test]
    fn reservations_are_handed_out_one_interval_apart() {
        loom::model(|| {
            let clock = std::sync::Arc::new(ManualClock::new());
            let bucket = Arc::new(TokenBucket::new(
                Rate::per_second(10),
                1,
                std::sync::Arc::clone(&clock),
            ));
            let other = {
                let bucket = Arc::clone(&bucket);
                thread::spawn(move || bucket.reserve(None).unwrap().wait)
            };
            let mine = bucket.reserve(None).unwrap().wait;
            let theirs = other.join().unwrap();
            let mut waits = [mine, theirs];
            waits.sort();
            assert_eq!(waits, [Duration::ZERO, Duration::from_millis(100)]);
        });
    }

    #[test]
    fn a_cancelled_reservation_racing_an_acquire_loses_no_token() {
        loom::model(|| {
            let clock = std::sync::Arc::new(ManualClock::new());
            let bucket = Arc::new(TokenBucket::new(
                Rate::per_second(10),
                1,
                std::sync::Arc::clone(&clock),
            ));
            assert!(bucket.try_acquire());
            let r = bucket.reserve(None).unwrap();
            assert_eq!(r.wait, Duration::from_millis(100));
            let canceller = {
                let bucket = Arc::clone(&bucket);
                thread::spawn(move || bucket.cancel_reservation())
            };
            let seen = bucket.reserve(None).unwrap().wait;
            canceller.join().unwrap();
            // Either order: one reservation stands, one was given back, so
            // the second reservation waits one or two intervals.
            assert!(seen == Duration::from_millis(100) || seen == Duration::from_millis(200));
            assert_eq!(
                bucket.reserve(None).unwrap().wait,
                Duration::from_millis(200)
            );
        });
    }
}
