#[cfg(feature = "std")]
use super::Duration;
use super::{Clock, Instant, ManualClock};
use crate::{Context, Error};

/// Blocks the calling thread until an instant, giving up early when the
/// context is cancelled.
///
/// Middleware that waits (the delaying rate limiter, a bulkhead that queues)
/// is generic over `Sleep`, just as it is over [`Clock`], so a test pairs a
/// [`ManualClock`] with a [`ManualSleep`] that moves it, and never sleeps for
/// real.
pub trait Sleep {
    /// Returns `Ok` once `cx`'s clock reads `until` or later, or
    /// `Err(Error::Cancelled)` as soon as `cx` is cancelled.
    ///
    /// It does not check the deadline: callers decide beforehand whether
    /// `until` fits in the time the context allows.
    fn sleep_until(&self, cx: &Context<'_>, until: Instant) -> Result<(), Error>;
}

impl<S: Sleep + ?Sized> Sleep for &S {
    fn sleep_until(&self, cx: &Context<'_>, until: Instant) -> Result<(), Error> {
        (**self).sleep_until(cx, until)
    }
}

/// Sleeps the thread with `std::thread::sleep`, waking every
/// [`poll`](Self::poll) to notice cancellation.
///
/// A `CancelToken` is a flag, not a waker, so a cancelled sleeper notices
/// within one poll interval. The default, 5 ms, keeps an idle waiter at 200
/// wake-ups a second and cancellation prompt enough for a request path.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Clone, Copy, Debug)]
pub struct ThreadSleep {
    /// The longest single sleep between checks for cancellation.
    pub poll: Duration,
}

#[cfg(feature = "std")]
impl Default for ThreadSleep {
    fn default() -> ThreadSleep {
        ThreadSleep {
            poll: Duration::from_millis(5),
        }
    }
}

#[cfg(feature = "std")]
impl Sleep for ThreadSleep {
    fn sleep_until(&self, cx: &Context<'_>, until: Instant) -> Result<(), Error> {
        loop {
            if cx.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let now = cx.now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(self.poll));
        }
    }
}

/// Sleeping for tests: moves a [`ManualClock`] to the wake-up instant at
/// once, unless the context is already cancelled.
///
/// ```
/// use synkit_core::time::{Clock, Duration, ManualClock, ManualSleep, Sleep};
/// use synkit_core::Context;
///
/// let clock = ManualClock::new();
/// let cx = Context::new(&clock);
/// ManualSleep(&clock).sleep_until(&cx, clock.now() + Duration::from_secs(3)).unwrap();
/// assert_eq!(clock.now().as_nanos(), 3_000_000_000);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ManualSleep<'a>(pub &'a ManualClock);

impl Sleep for ManualSleep<'_> {
    fn sleep_until(&self, cx: &Context<'_>, until: Instant) -> Result<(), Error> {
        if cx.is_cancelled() {
            return Err(Error::Cancelled);
        }
        self.0.set(until);
        debug_assert!(self.0.now() >= until);
        Ok(())
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::CancelToken;

    #[test]
    fn thread_sleep_returns_once_the_instant_is_reached() {
        let root = Context::background();
        let until = root.now() + Duration::from_millis(2);
        assert_eq!(ThreadSleep::default().sleep_until(&root, until), Ok(()));
        assert!(root.now() >= until);
    }

    #[test]
    fn thread_sleep_gives_up_when_another_thread_cancels() {
        let token = CancelToken::new();
        let root = Context::background();
        let cx = root.with_cancel(&token);
        // An hour away: only cancellation can end this sleep in time.
        let until = cx.now() + Duration::from_secs(3600);
        let out = std::thread::scope(|s| {
            let sleeper = s.spawn(|| ThreadSleep::default().sleep_until(&cx, until));
            token.cancel();
            sleeper.join().unwrap()
        });
        assert_eq!(out, Err(Error::Cancelled));
    }

    #[test]
    fn manual_sleep_moves_the_clock_unless_cancelled() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        let root = Context::new(&clock);
        let cx = root.with_cancel(&token);
        ManualSleep(&clock)
            .sleep_until(&cx, Instant::from_nanos(50))
            .unwrap();
        assert_eq!(clock.now(), Instant::from_nanos(50));
        token.cancel();
        assert_eq!(
            ManualSleep(&clock).sleep_until(&cx, Instant::from_nanos(90)),
            Err(Error::Cancelled)
        );
        assert_eq!(clock.now(), Instant::from_nanos(50));
    }
}
