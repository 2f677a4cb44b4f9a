use core::fmt;

use crate::sync::{AtomicU64, Ordering};

/// At most `max` calls at once: a counting semaphore that never queues
/// unless asked to.
///
/// Taking a slot is one atomic add (and a subtract when refused); the slot
/// comes back when the [`Permit`] drops, even if the call panicked. With
/// `std`, [`acquire`](Self::acquire) waits for a slot, woken as soon as one
/// is released.
pub struct Bulkhead {
    max: u64,
    in_flight: AtomicU64,
    #[cfg(feature = "std")]
    waiting: waiting::Waiters,
}

/// A slot in a [`Bulkhead`], given back on drop.
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct Permit<'a> {
    bulkhead: &'a Bulkhead,
}

impl Bulkhead {
    /// A bulkhead admitting `max` calls at once (`max` of 0 is taken as 1).
    pub fn new(max: u32) -> Bulkhead {
        Bulkhead {
            max: u64::from(max.max(1)),
            in_flight: AtomicU64::new(0),
            #[cfg(feature = "std")]
            waiting: waiting::Waiters::default(),
        }
    }

    /// Takes a slot if one is free. Never blocks.
    #[inline]
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let permit = self.try_acquire_quietly();
        if permit.is_none() {
            // The refused attempt held a slot count for a moment, which may
            // have turned a waiter away: let it look again.
            #[cfg(feature = "std")]
            self.waiting.notify_one();
        }
        permit
    }

    /// `try_acquire` without waking a waiter on refusal: for a waiter, which
    /// holds the waiters' lock while it tries.
    #[inline]
    fn try_acquire_quietly(&self) -> Option<Permit<'_>> {
        // SeqCst here and in `release` and the waiters' count: a waiter
        // publishes its count then reads the slots, a releaser publishes a
        // slot then reads the count, and only a total order guarantees one of
        // them sees the other.
        if self.in_flight.fetch_add(1, Ordering::SeqCst) < self.max {
            Some(Permit { bulkhead: self })
        } else {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            None
        }
    }

    /// Calls running now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed).min(self.max)
    }

    /// The most calls admitted at once.
    pub fn max(&self) -> u64 {
        self.max
    }

    #[inline]
    fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        #[cfg(feature = "std")]
        self.waiting.notify_one();
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.release();
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("max", &self.max)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

#[cfg(feature = "std")]
mod waiting {
    use parking_lot::{Condvar, Mutex};

    use super::{Bulkhead, Permit};
    use crate::sync::{AtomicU64, Ordering};
    use crate::time::{Duration, Instant};
    use crate::{Context, Error};

    /// Threads waiting for a slot. Releasing costs one atomic load while no
    /// one waits; the lock is taken only to wake a waiter.
    #[derive(Default)]
    pub(super) struct Waiters {
        pub(super) count: AtomicU64,
        lock: Mutex<()>,
        ready: Condvar,
    }

    impl Waiters {
        #[inline]
        pub(super) fn notify_one(&self) {
            if self.count.load(Ordering::SeqCst) != 0 {
                let _guard = self.lock.lock();
                self.ready.notify_one();
            }
        }
    }

    /// How often a waiter wakes to notice cancellation (a `CancelToken` is a
    /// flag, not a waker).
    const CANCEL_POLL: Duration = Duration::from_millis(5);

    impl Bulkhead {
        /// Takes a slot, waiting for one until `cx`'s deadline or, if
        /// sooner, `max_wait` from now.
        ///
        /// Fails with [`Error::DeadlineExceeded`] when the deadline ends the
        /// wait, [`Error::Overloaded`] when `max_wait` does, and
        /// [`Error::Cancelled`] when `cx` is cancelled. The wait is measured
        /// on `cx`'s clock but slept in real time, so use it with a real
        /// clock.
        pub fn acquire(
            &self,
            cx: &Context<'_>,
            max_wait: Option<Duration>,
        ) -> Result<Permit<'_>, Error> {
            if let Some(p) = self.try_acquire() {
                return Ok(p);
            }
            let start = cx.now();
            let give_up = max_wait.map_or(Instant::MAX, |w| start + w);
            let deadline = cx.deadline().unwrap_or(Instant::MAX);
            let waiters = &self.waiting;
            waiters.count.fetch_add(1, Ordering::SeqCst);
            let out = loop {
                cx.check()?;
                let mut guard = waiters.lock.lock();
                // Checked under the lock: a release after this point must
                // take the lock to notify, so its wake-up cannot be missed.
                if let Some(p) = self.try_acquire_quietly() {
                    break Ok(p);
                }
                let now = cx.now();
                if now >= deadline {
                    break Err(Error::DeadlineExceeded);
                }
                if now >= give_up {
                    break Err(Error::Overloaded);
                }
                let wait = (deadline.min(give_up) - now).min(CANCEL_POLL);
                self.waiting.ready.wait_for(&mut guard, wait);
            };
            waiters.count.fetch_sub(1, Ordering::AcqRel);
            out
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn admits_up_to_max_and_releases_on_drop() {
        let b = Bulkhead::new(2);
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none());
        assert_eq!(b.in_flight(), 2);
        drop(p1);
        let p3 = b.try_acquire().unwrap();
        drop((p2, p3));
        assert_eq!(b.in_flight(), 0);
    }

    #[test]
    fn racing_threads_never_hold_more_than_max() {
        let b = Bulkhead::new(3);
        let holding = core::sync::atomic::AtomicU64::new(0);
        let peak = core::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..2000 {
                        if let Some(p) = b.try_acquire() {
                            let now =
                                holding.fetch_add(1, core::sync::atomic::Ordering::SeqCst) + 1;
                            peak.fetch_max(now, core::sync::atomic::Ordering::SeqCst);
                            holding.fetch_sub(1, core::sync::atomic::Ordering::SeqCst);
                            drop(p);
                        }
                    }
                });
            }
        });
        assert!(peak.load(core::sync::atomic::Ordering::SeqCst) <= 3);
        assert_eq!(b.in_flight(), 0);
    }

    #[cfg(feature = "std")]
    mod waiting {
        use super::*;
        use crate::time::{Duration, ManualClock};
        use crate::{CancelToken, Context, Error};
        use std::vec::Vec;

        #[test]
        fn a_waiter_gets_the_slot_when_it_is_released() {
            let b = Bulkhead::new(1);
            let held = b.try_acquire().unwrap();
            let root = Context::background();
            std::thread::scope(|s| {
                let waiter = s.spawn(|| b.acquire(&root, None).map(|_| ()));
                while b.waiting.count.load(Ordering::Acquire) == 0 {
                    std::thread::yield_now();
                }
                drop(held);
                assert_eq!(waiter.join().unwrap(), Ok(()));
            });
        }

        #[test]
        fn an_expired_deadline_ends_the_wait_at_once() {
            let clock = ManualClock::new();
            let b = Bulkhead::new(1);
            let _held = b.try_acquire().unwrap();
            let root = Context::new(&clock);
            let cx = root.with_timeout(Duration::from_millis(1));
            clock.advance(Duration::from_millis(1));
            assert_eq!(
                b.acquire(&cx, None).map(|_| ()),
                Err(Error::DeadlineExceeded)
            );
        }

        #[test]
        fn a_zero_max_wait_sheds_at_once() {
            let clock = ManualClock::new();
            let b = Bulkhead::new(1);
            let _held = b.try_acquire().unwrap();
            let cx = Context::new(&clock);
            assert_eq!(
                b.acquire(&cx, Some(Duration::ZERO)).map(|_| ()),
                Err(Error::Overloaded)
            );
        }

        #[test]
        fn cancellation_ends_the_wait() {
            let b = Bulkhead::new(1);
            let _held = b.try_acquire().unwrap();
            let token = CancelToken::new();
            let root = Context::background();
            let cx = root.with_cancel(&token);
            let out = std::thread::scope(|s| {
                let waiter = s.spawn(|| b.acquire(&cx, None).map(|_| ()));
                while b.waiting.count.load(Ordering::Acquire) == 0 {
                    std::thread::yield_now();
                }
                token.cancel();
                waiter.join().unwrap()
            });
            assert_eq!(out, Err(Error::Cancelled));
        }

        #[test]
        fn many_waiters_all_get_through_one_slot() {
            let b = Bulkhead::new(1);
            let root = Context::background();
            let done: Vec<bool> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4)
                    .map(|_| s.spawn(|| (0..50).all(|_| b.acquire(&root, None).is_ok())))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(done, [true; 4]);
            assert_eq!(b.in_flight(), 0);
        }
    }
}
