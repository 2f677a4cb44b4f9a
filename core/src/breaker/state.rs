use core::fmt;

use super::policy::TripPolicy;
use crate::Error;
use crate::sync::{AtomicU64, Ordering};
use crate::time::{Clock, Duration, Instant, duration_nanos};

/// The three states of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls go through; results feed the trip policy.
    Closed,
    /// Calls are refused at once with [`Error::CircuitOpen`] until the open
    /// timeout passes.
    Open,
    /// A limited number of probe calls go through; enough successes close
    /// the circuit, one failure opens it again.
    HalfOpen,
}

/// Told of every state change, on the thread that caused it: for logs and
/// metrics. Closures `Fn(State, State)` are observers.
pub trait Observer {
    /// The breaker went from `from` to `to`.
    fn state_changed(&self, from: State, to: State);
}

/// The observer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    #[inline]
    fn state_changed(&self, _from: State, _to: State) {}
}

impl<F: Fn(State, State)> Observer for F {
    fn state_changed(&self, from: State, to: State) {
        self(from, to);
    }
}

/// How long a breaker stays open, and how many probes it lets through when
/// half-open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How long the circuit stays open before letting probes through.
    /// Default 60 s (gobreaker's `Timeout`; Hystrix's `SleepWindow` is 5 s).
    pub open_timeout: Duration,
    /// Probe calls admitted while half-open, and the successes among them
    /// that close the circuit. Default 1 (gobreaker's `MaxRequests`;
    /// Hystrix and handy probe with a single call). At most 65 535.
    pub half_open_max: u16,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            open_timeout: Duration::from_secs(60),
            half_open_max: 1,
        }
    }
}

// The whole state machine is one word, so every transition is one
// compare-exchange: bits 0-1 the state, 2-17 probes admitted while
// half-open, 18-33 probe successes, 34-63 a generation that every
// transition bumps, so results of calls admitted before it are ignored.
const STATE_BITS: u64 = 0b11;
const PROBE_SHIFT: u32 = 2;
const SUCCESS_SHIFT: u32 = 18;
const COUNT_MASK: u64 = 0xffff;
const GEN_SHIFT: u32 = 34;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    fn state(self) -> State {
        match self.0 & STATE_BITS {
            0 => State::Closed,
            1 => State::Open,
            _ => State::HalfOpen,
        }
    }
    fn generation(self) -> u32 {
        // 30 bits: the shift leaves nothing else.
        (self.0 >> GEN_SHIFT) as u32
    }
    fn probes(self) -> u64 {
        (self.0 >> PROBE_SHIFT) & COUNT_MASK
    }
    fn successes(self) -> u64 {
        (self.0 >> SUCCESS_SHIFT) & COUNT_MASK
    }
    /// The first word of the next generation, in `to`.
    fn next(self, to: State) -> Word {
        let generation = (self.0 >> GEN_SHIFT).wrapping_add(1) << GEN_SHIFT;
        let state = match to {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        };
        Word(generation | state)
    }
}

/// Admission to call through a [`CircuitBreaker`]; hand it back with the
/// outcome to [`CircuitBreaker::record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a ticket's outcome must be recorded, or a half-open probe is never counted"]
pub struct Ticket {
    generation: u32,
}

/// A circuit breaker: closed, open or half-open, with a pluggable
/// [`TripPolicy`] deciding when a closed circuit opens.
///
/// Lock-free: the state, the half-open probe counts and a generation share
/// one atomic word, so every transition is a single compare-exchange and a
/// call in the closed state costs one atomic load before and the policy's
/// bookkeeping after. Results of calls admitted before a transition are
/// ignored, as gobreaker ignores results from an older generation.
///
/// Used as middleware through [`BreakerLayer`](super::BreakerLayer);
/// usable directly with [`allow`](Self::allow) and [`record`](Self::record).
///
/// ```
/// use synkit_core::breaker::{CircuitBreaker, ConsecutiveFailures, Settings, State};
/// use synkit_core::time::{Duration, ManualClock};
///
/// let clock = ManualClock::new();
/// let settings = Settings { open_timeout: Duration::from_secs(5), ..Settings::default() };
/// let breaker = CircuitBreaker::new(ConsecutiveFailures::new(2), settings, &clock);
///
/// for _ in 0..2 {
///     let ticket = breaker.allow().unwrap();
///     breaker.record(ticket, false);
/// }
/// assert_eq!(breaker.state(), State::Open);
/// assert!(breaker.allow().is_err());
///
/// clock.advance(Duration::from_secs(5));
/// let probe = breaker.allow().unwrap();
/// assert_eq!(breaker.state(), State::HalfOpen);
/// breaker.record(probe, true);
/// assert_eq!(breaker.state(), State::Closed);
/// ```
pub struct CircuitBreaker<P, C, O = NoObserver> {
    word: AtomicU64,
    /// When the circuit last opened, in the clock's nanoseconds. Written just
    /// before the transition that opens it (by every thread that tries), so
    /// whoever sees the open state sees a time of that moment.
    opened_at: AtomicU64,
    opens: AtomicU64,
    open_timeout: u64,
    half_open_max: u64,
    policy: P,
    clock: C,
    observer: O,
}

impl<P: TripPolicy, C: Clock> CircuitBreaker<P, C> {
    /// A closed breaker that opens when `policy` says so.
    pub fn new(policy: P, settings: Settings, clock: C) -> CircuitBreaker<P, C> {
        CircuitBreaker::with_observer(policy, settings, clock, NoObserver)
    }
}

impl<P: TripPolicy, C: Clock, O: Observer> CircuitBreaker<P, C, O> {
    /// A closed breaker that tells `observer` of every state change.
    pub fn with_observer(
        policy: P,
        settings: Settings,
        clock: C,
        observer: O,
    ) -> CircuitBreaker<P, C, O> {
        CircuitBreaker {
            word: AtomicU64::new(0),
            opened_at: AtomicU64::new(0),
            opens: AtomicU64::new(0),
            open_timeout: duration_nanos(settings.open_timeout),
            half_open_max: u64::from(settings.half_open_max.max(1)),
            policy,
            clock,
            observer,
        }
    }

    /// Asks to make a call. `Err(Error::CircuitOpen)` while open, or while
    /// half-open with every probe slot taken.
    #[inline]
    pub fn allow(&self) -> Result<Ticket, Error> {
        let mut word = Word(self.word.load(Ordering::Acquire));
        loop {
            match word.state() {
                State::Closed => {
                    return Ok(Ticket {
                        generation: word.generation(),
                    });
                }
                State::Open => {
                    let now = self.clock.now().as_nanos();
                    let opened = self.opened_at.load(Ordering::Acquire);
                    if now < opened.saturating_add(self.open_timeout) {
                        return Err(Error::CircuitOpen);
                    }
                    // Timeout passed: try to go half-open, then take a probe slot.
                    let half = word.next(State::HalfOpen);
                    match self.swap(word, half) {
                        Ok(()) => {
                            self.observer.state_changed(State::Open, State::HalfOpen);
                            word = half;
                        }
                        Err(seen) => word = seen,
                    }
                }
                State::HalfOpen => {
                    if word.probes() >= self.half_open_max {
                        return Err(Error::CircuitOpen);
                    }
                    let taken = Word(word.0 + (1 << PROBE_SHIFT));
                    match self.swap(word, taken) {
                        Ok(()) => {
                            return Ok(Ticket {
                                generation: word.generation(),
                            });
                        }
                        Err(seen) => word = seen,
                    }
                }
            }
        }
    }

    /// Records how an admitted call went: `success` or not. Outcomes of
    /// calls admitted before the latest state change are ignored.
    #[inline]
    pub fn record(&self, ticket: Ticket, success: bool) {
        let mut word = Word(self.word.load(Ordering::Acquire));
        loop {
            if word.generation() != ticket.generation {
                return;
            }
            match word.state() {
                State::Closed => {
                    let now = if !success || self.policy.needs_clock() {
                        self.clock.now()
                    } else {
                        Instant::ZERO
                    };
                    if self.policy.record(success, now) {
                        // A closed word never changes within its generation,
                        // so a failed swap means another transition won.
                        let _ = self.open(word, now);
                    }
                    return;
                }
                // Only calls admitted while half-open share its generation.
                State::Open => return,
                State::HalfOpen if !success => match self.open(word, self.clock.now()) {
                    Ok(()) => return,
                    // Another probe's outcome changed the word: look again.
                    Err(seen) => word = seen,
                },
                State::HalfOpen => {
                    let next = if word.successes() + 1 >= self.half_open_max {
                        word.next(State::Closed)
                    } else {
                        Word(word.0 + (1 << SUCCESS_SHIFT))
                    };
                    match self.swap(word, next) {
                        Ok(()) => {
                            if next.state() == State::Closed {
                                self.policy.reset(self.clock.now());
                                self.observer.state_changed(State::HalfOpen, State::Closed);
                            }
                            return;
                        }
                        Err(seen) => word = seen,
                    }
                }
            }
        }
    }

    fn open(&self, from: Word, now: Instant) -> Result<(), Word> {
        self.opened_at.store(now.as_nanos(), Ordering::Release);
        self.swap(from, from.next(State::Open))?;
        self.opens.fetch_add(1, Ordering::Relaxed);
        self.observer.state_changed(from.state(), State::Open);
        Ok(())
    }

    fn swap(&self, from: Word, to: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Word)
    }

    /// The current state. An open breaker whose timeout has passed reports
    /// `Open` until the next call moves it to half-open.
    pub fn state(&self) -> State {
        Word(self.word.load(Ordering::Acquire)).state()
    }

    /// How many times the circuit has opened.
    pub fn opens(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }

    /// The trip policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

impl<P, C, O> fmt::Debug for CircuitBreaker<P, C, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &Word(self.word.load(Ordering::Acquire)).state())
            .field("opens", &self.opens.load(Ordering::Relaxed))
            .field("open_timeout", &Duration::from_nanos(self.open_timeout))
            .finish_non_exhaustive()
    }
}

/// Model checks: every interleaving of a few threads on one breaker.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    extern crate std;

    use super::*;
    use crate::breaker::ConsecutiveFailures;
    use crate::time::ManualClock;

    fn breaker(
        failures: u32,
        probes: u16,
    ) -> Arc<CircuitBreaker<ConsecutiveFailures, std::sync::Arc<ManualClock>>> {
        let settings = Settings {
            open_timeout: Duration::from_secs(1),
            half_open_max: probes,
        };
        Arc::new(CircuitBreaker::new(
            ConsecutiveFailures::new(failures),
            settings,
            std::sync::Arc::new(ManualClock::new()),
        ))
    }

    #[test]
    fn racing_failures_open_once() {
        loom::model(|| {
            let b = breaker(2, 1);
            let t = {
                let b = Arc::clone(&b);
                thread::spawn(move || {
                    if let Ok(ticket) = b.allow() {
                        b.record(ticket, false);
                    }
                })
            };
            if let Ok(ticket) = b.allow() {
                b.record(ticket, false);
            }
            t.join().unwrap();
            assert_eq!(b.state(), State::Open);
            assert_eq!(b.opens(), 1);
        });
    }

    #[test]
    fn racing_probes_respect_the_quota_and_one_failure_reopens() {
        loom::model(|| {
            let b = breaker(1, 1);
            b.record(b.allow().unwrap(), false);
            b.clock.advance(Duration::from_secs(1));
            let t = {
                let b = Arc::clone(&b);
                thread::spawn(move || b.allow().ok())
            };
            let mine = b.allow().ok();
            let theirs = t.join().unwrap();
            let probes: std::vec::Vec<Ticket> = mine.into_iter().chain(theirs).collect();
            assert_eq!(probes.len(), 1, "one probe slot");
            assert_eq!(b.state(), State::HalfOpen);
            b.record(probes[0], false);
            assert_eq!(b.state(), State::Open);
            assert_eq!(b.opens(), 2);
        });
    }

    #[test]
    fn a_probe_failure_racing_a_probe_success_still_reopens() {
        loom::model(|| {
            let b = breaker(1, 2);
            b.record(b.allow().unwrap(), false);
            b.clock.advance(Duration::from_secs(1));
            let p1 = b.allow().unwrap();
            let p2 = b.allow().unwrap();
            let t = {
                let b = Arc::clone(&b);
                thread::spawn(move || b.record(p1, true))
            };
            b.record(p2, false);
            t.join().unwrap();
            // The failure reopens whichever way they interleave: with two
            // probes required, one success alone cannot close the circuit.
            assert_eq!(b.state(), State::Open);
        });
    }
}
