use std::sync::OnceLock;

use super::{Clock, Instant, SystemClock, Timeline};

/// The CPU's time-stamp counter, through the `quanta` crate, on the
/// [`SystemClock`]'s timeline.
///
/// Reading it costs a third of the system clock here (about 11 ns against
/// 33 ns, see `BENCHMARKS.md`), which matters to middleware that reads the
/// time on every call: a token bucket, a rolling-window breaker, a timeout.
/// Where the counter is not invariant or not synchronised across cores,
/// quanta falls back to the operating system's clock.
///
/// Its instants are the system clock's, give or take the drift between the
/// counter's calibrated rate and the OS clock (parts per million), so a
/// deadline from [`Context::background`](crate::Context::background) and a
/// token bucket on a `TscClock` agree. The first read in a process
/// calibrates the counter, which takes a moment: make one at start-up.
///
/// ```
/// use synkit_core::time::{Clock, SystemClock, TscClock};
///
/// let tsc = TscClock.now();
/// let os = SystemClock.now();
/// let apart = if tsc > os { tsc - os } else { os - tsc };
/// assert!(apart.as_millis() < 5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TscClock;

struct Calibrated {
    clock: quanta::Clock,
    /// The counter's reading at `offset` on the system clock's timeline.
    base: u64,
    offset: u64,
}

fn calibrated() -> &'static Calibrated {
    static CALIBRATED: OnceLock<Calibrated> = OnceLock::new();
    CALIBRATED.get_or_init(|| {
        let clock = quanta::Clock::new();
        let base = clock.raw();
        let offset = SystemClock.now().as_nanos();
        Calibrated {
            clock,
            base,
            offset,
        }
    })
}

impl Clock for TscClock {
    #[inline]
    fn now(&self) -> Instant {
        let c = calibrated();
        let since = c.clock.delta_as_nanos(c.base, c.clock.raw());
        Instant::from_nanos(c.offset.saturating_add(since))
    }

    /// The system clock's: the counter is calibrated onto it.
    #[inline]
    fn timeline(&self) -> Timeline {
        Timeline::named(&super::system::SYSTEM_TIMELINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_forward_with_the_system_clock() {
        let a = TscClock.now();
        let os_a = SystemClock.now();
        // Let 20 ms of real time pass, watching the other clock.
        while SystemClock.now() - os_a < core::time::Duration::from_millis(20) {
            std::thread::yield_now();
        }
        let b = TscClock.now();
        let os_b = SystemClock.now();
        assert!(b > a);
        let tsc = (b - a).as_micros().cast_signed();
        let os = (os_b - os_a).as_micros().cast_signed();
        assert!((tsc - os).abs() < 2_000, "tsc {tsc} µs against os {os} µs");
    }
}
