//! Time as middleware sees it: a monotonic [`Instant`] in nanoseconds, read
//! from a [`Clock`] the caller chooses.
//!
//! Every time-based piece of synkit (deadlines, token buckets, breakers,
//! caches with a TTL) reads the time through a `Clock`, never from the
//! operating system directly. Production code passes [`SystemClock`]; tests
//! pass a [`ManualClock`] and move it forward by hand, so no test sleeps.
//!
//! Durations are [`core::time::Duration`], re-exported here as [`Duration`].
//!
//! ```
//! use synkit_core::time::{Clock, Duration, ManualClock};
//!
//! let clock = ManualClock::new();
//! let start = clock.now();
//! clock.advance(Duration::from_millis(250));
//! assert_eq!(clock.now().saturating_duration_since(start), Duration::from_millis(250));
//! ```

mod manual;
mod sleep;
#[cfg(feature = "std")]
mod system;
#[cfg(feature = "tsc")]
mod tsc;

use core::fmt;
use core::ops::{Add, Sub};

pub use core::time::Duration;
pub use manual::ManualClock;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use sleep::ThreadSleep;
pub use sleep::{ManualSleep, Sleep};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use system::SystemClock;
#[cfg(feature = "tsc")]
#[cfg_attr(docsrs, doc(cfg(feature = "tsc")))]
pub use tsc::TscClock;

/// A point on a clock's monotonic timeline, in nanoseconds since that clock's
/// epoch.
///
/// Instants from different clocks are not comparable; [`SystemClock`] is one
/// process-wide timeline, so all of its instants are. A `u64` of nanoseconds
/// covers 584 years, and arithmetic saturates rather than wrapping or
/// panicking, so "now plus a huge timeout" is simply "never".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch of the clock: its first instant.
    pub const ZERO: Instant = Instant(0);
    /// The last representable instant; later than any real deadline.
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after the clock's epoch.
    #[inline]
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// Nanoseconds since the clock's epoch.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, or [`Instant::MAX`] if that does not fit.
    #[inline]
    #[must_use]
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(duration_nanos(d)))
    }

    /// `self - d`, or [`Instant::ZERO`] if `d` reaches before the epoch.
    #[inline]
    #[must_use]
    pub const fn saturating_sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(duration_nanos(d)))
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    #[inline]
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time elapsed from `earlier` to `self`, or `None` if `earlier` is later.
    #[inline]
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(n) => Some(Duration::from_nanos(n)),
            None => None,
        }
    }
}

/// Saturating: an instant past [`Instant::MAX`] is `Instant::MAX`.
impl Add<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

/// Saturating: an instant before the epoch is [`Instant::ZERO`].
impl Sub<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

/// Saturating: the time from a later instant is zero.
impl Sub<Instant> for Instant {
    type Output = Duration;
    #[inline]
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

/// A [`Duration`] as whole nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub const fn duration_nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(d.subsec_nanos() as u64)
}

/// A source of monotonic time.
///
/// Implementations must never go backwards. synkit reads the clock on the
/// request path, so `now` should be cheap: [`SystemClock`] is one vDSO call,
/// [`ManualClock`] one atomic load.
///
/// Middleware that needs time is generic over `C: Clock`; pass the clock by
/// value, or by reference to share one (`&C` and, with `alloc`, `Arc<C>` are
/// clocks too).
///
/// ```
/// use synkit_core::time::{Clock, Instant};
///
/// /// A clock that is always at the epoch, for a test that never moves time.
/// struct Frozen;
///
/// impl Clock for Frozen {
///     fn now(&self) -> Instant {
///         Instant::ZERO
///     }
/// }
///
/// assert_eq!(Frozen.now(), Instant::ZERO);
/// ```
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;

    /// The timeline this clock's instants are on. Two clocks on one
    /// timeline give instants that can be compared, so a reading of one
    /// may stand in for a reading of the other (see
    /// [`Context::now_on`](crate::Context::now_on)). Default: a timeline of
    /// this clock's own, named by its address.
    #[inline]
    fn timeline(&self) -> Timeline {
        Timeline::of(self)
    }
}

/// Names the timeline a [`Clock`] reads: see [`Clock::timeline`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeline(usize);

impl Timeline {
    /// The timeline of a clock that keeps its own time, named by where the
    /// clock lives (a [`ManualClock`] and a reference to it share one).
    #[inline]
    pub fn of<T: ?Sized>(clock: &T) -> Timeline {
        Timeline(core::ptr::from_ref(clock).cast::<u8>() as usize)
    }

    /// A process-wide timeline, named by a `static` that only stands for
    /// it: every clock that answers with `Timeline::named(&S)` for the same
    /// `S` agrees with the others.
    #[inline]
    pub fn named(anchor: &'static u8) -> Timeline {
        Timeline(core::ptr::from_ref(anchor) as usize)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }

    #[inline]
    fn timeline(&self) -> Timeline {
        (**self).timeline()
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<C: Clock + ?Sized> Clock for alloc::sync::Arc<C> {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }

    #[inline]
    fn timeline(&self) -> Timeline {
        (**self).timeline()
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<C: Clock + ?Sized> Clock for alloc::boxed::Box<C> {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }

    #[inline]
    fn timeline(&self) -> Timeline {
        (**self).timeline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        let late = Instant::from_nanos(u64::MAX - 5);
        assert_eq!(late + Duration::from_secs(1), Instant::MAX);
        assert_eq!(
            Instant::from_nanos(3) - Duration::from_secs(1),
            Instant::ZERO
        );
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
    }

    #[test]
    fn duration_between_instants_is_never_negative() {
        let a = Instant::from_nanos(1_000);
        let b = Instant::from_nanos(4_000);
        assert_eq!(b - a, Duration::from_micros(3));
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(a.checked_duration_since(b), None);
        assert_eq!(b.checked_duration_since(a), Some(Duration::from_micros(3)));
    }

    #[test]
    fn duration_nanos_saturates_past_u64() {
        assert_eq!(duration_nanos(Duration::from_millis(2)), 2_000_000);
        assert_eq!(duration_nanos(Duration::MAX), u64::MAX);
    }
}
