use std::sync::OnceLock;

use super::{Clock, Instant, Timeline, duration_nanos};

/// What the system clock's timeline is named by (see [`Timeline::named`]):
/// [`SystemClock`] and `TscClock` both read it.
pub(crate) static SYSTEM_TIMELINE: u8 = 0;

/// The operating system's monotonic clock (`std::time::Instant`), as one
/// process-wide timeline.
///
/// Its epoch is the first time any `SystemClock` is read in the process, so
/// every `SystemClock` value agrees with every other: a deadline computed on
/// one thread means the same on another. It is a zero-sized handle; copy it
/// freely.
///
/// ```
/// use synkit_core::time::{Clock, SystemClock};
///
/// let a = SystemClock.now();
/// let b = SystemClock.now();
/// assert!(b >= a);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

fn epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

impl SystemClock {
    /// The `std::time::Instant` that `at` stands for, for handing a deadline
    /// to std APIs (socket timeouts, `Condvar::wait_timeout`).
    pub fn to_std(at: Instant) -> std::time::Instant {
        let e = epoch();
        e.checked_add(core::time::Duration::from_nanos(at.as_nanos()))
            .unwrap_or(e)
    }

    /// The instant on this clock's timeline that `at` stands for; instants
    /// before the epoch map to [`Instant::ZERO`].
    pub fn from_std(at: std::time::Instant) -> Instant {
        Instant::from_nanos(duration_nanos(at.saturating_duration_since(epoch())))
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        SystemClock::from_std(std::time::Instant::now())
    }

    #[inline]
    fn timeline(&self) -> Timeline {
        Timeline::named(&SYSTEM_TIMELINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_std_instants() {
        let now = SystemClock.now();
        assert_eq!(SystemClock::from_std(SystemClock::to_std(now)), now);
    }

    #[test]
    fn never_goes_backwards() {
        let mut last = SystemClock.now();
        for _ in 0..1000 {
            let next = SystemClock.now();
            assert!(next >= last);
            last = next;
        }
    }
}
