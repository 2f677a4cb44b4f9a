use core::fmt;

use portable_atomic::{AtomicU64, Ordering};

use super::{Clock, Duration, Instant, duration_nanos};

/// A clock that moves only when told to: the test double for every
/// time-based middleware.
///
/// It is shared by reference (`&ManualClock` is a [`Clock`]), so a test keeps
/// one handle to move time while the code under test reads it from another
/// thread if it likes. Time never goes backwards: [`set`](Self::set) to an
/// earlier instant is ignored.
///
/// ```
/// use synkit_core::time::{Clock, Duration, Instant, ManualClock};
///
/// let clock = ManualClock::new();
/// assert_eq!(clock.now(), Instant::ZERO);
///
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now(), Instant::from_nanos(2_000_000_000));
/// ```
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at its epoch, [`Instant::ZERO`].
    pub const fn new() -> ManualClock {
        ManualClock::starting_at(Instant::ZERO)
    }

    /// A clock standing at `start`.
    pub const fn starting_at(start: Instant) -> ManualClock {
        ManualClock {
            nanos: AtomicU64::new(start.as_nanos()),
        }
    }

    /// Moves time forward by `d` (saturating at [`Instant::MAX`]).
    pub fn advance(&self, d: Duration) {
        let step = duration_nanos(d);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(step))
            });
    }

    /// Moves time forward to `at`; an earlier `at` leaves the clock where it is.
    pub fn set(&self, at: Instant) {
        self.nanos.fetch_max(at.as_nanos(), Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_forward_and_saturates() {
        let clock = ManualClock::starting_at(Instant::from_nanos(10));
        clock.advance(Duration::from_nanos(5));
        assert_eq!(clock.now(), Instant::from_nanos(15));
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), Instant::MAX);
    }

    #[test]
    fn set_never_moves_backwards() {
        let clock = ManualClock::new();
        clock.set(Instant::from_nanos(100));
        clock.set(Instant::from_nanos(40));
        assert_eq!(clock.now(), Instant::from_nanos(100));
    }
}
