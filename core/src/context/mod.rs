//! The [`Context`] a call carries: its deadline, its cancellation, and
//! request-scoped values.
//!
//! Go's `context.Context`, without the garbage collector: a context is a small
//! value on the stack, and deriving a child (a tighter deadline, a
//! cancellation token, one more value) makes a new stack value that borrows
//! its parent. Nothing is allocated, nothing is reference-counted, and the
//! borrow checker guarantees a child never outlives what it points to.
//!
//! ```
//! use synkit_core::Context;
//! use synkit_core::time::{Duration, ManualClock};
//!
//! struct RequestId(u64);
//!
//! let clock = ManualClock::new();
//! let root = Context::new(&clock);
//! let with_id = root.with_value(&RequestId(7));
//! let cx = with_id.with_timeout(Duration::from_millis(100));
//!
//! assert_eq!(cx.value::<RequestId>().map(|id| id.0), Some(7));
//! assert_eq!(cx.remaining(), Some(Duration::from_millis(100)));
//!
//! clock.advance(Duration::from_millis(100));
//! assert!(cx.is_expired());
//! assert_eq!(cx.check(), Err(synkit_core::Error::DeadlineExceeded));
//! ```

mod cancel;

use core::any::Any;
use core::fmt;

pub use cancel::CancelToken;

use crate::Error;
use crate::time::{Clock, Duration, Instant, Timeline};

/// A call's deadline, cancellation and request-scoped values.
///
/// Every [`Endpoint::call`](crate::Endpoint::call) receives one. Code that
/// would block checks it ([`check`](Self::check), [`remaining`](Self::remaining))
/// and gives up when the answer is no longer wanted; middleware derives
/// children to tighten the deadline or attach values for the layers below.
///
/// # Rules
///
/// - **The earlier deadline wins.** A child's deadline is the earlier of its
///   own and its parent's; a child can never extend the time its parent
///   allowed.
/// - **Cancellation flows down.** A context is cancelled when its own token or
///   any ancestor's token is.
/// - **The nearest value wins.** [`value::<T>()`](Self::value) returns the
///   value of type `T` attached closest to this context, so a child can
///   shadow its parent's.
///
/// A context reads time from the [`Clock`] it was created with; a child shares
/// its parent's clock.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    parent: Option<&'a Context<'a>>,
    clock: &'a (dyn Clock + Sync),
    /// The effective deadline: already the earliest along the chain.
    deadline: Option<Instant>,
    cancel: Option<&'a CancelToken>,
    value: Option<&'a (dyn Any + Sync)>,
    /// A reading of the clock taken when the call began, and the timeline
    /// it is on: what time-based layers use instead of reading again.
    began: Option<(Instant, Timeline)>,
}

impl<'a> Context<'a> {
    /// A root context reading time from `clock`, with no deadline, no
    /// cancellation and no values.
    ///
    /// In tests, pass a [`ManualClock`](crate::time::ManualClock); with `std`,
    /// [`Context::background`] uses the system clock.
    pub const fn new(clock: &'a (dyn Clock + Sync)) -> Context<'a> {
        Context {
            parent: None,
            clock,
            deadline: None,
            cancel: None,
            value: None,
            began: None,
        }
    }

    /// A child whose deadline is the earlier of `at` and this context's.
    #[must_use]
    pub fn with_deadline(&self, at: Instant) -> Context<'_> {
        let deadline = match self.deadline {
            Some(d) if d <= at => d,
            _ => at,
        };
        Context {
            deadline: Some(deadline),
            ..self.child()
        }
    }

    /// A child that must finish within `timeout` of now (or sooner, if this
    /// context's deadline is sooner).
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Context<'_> {
        self.with_deadline(self.now() + timeout)
    }

    /// A child that is also cancelled when `token` is.
    #[must_use]
    pub fn with_cancel<'s>(&'s self, token: &'s CancelToken) -> Context<'s> {
        Context {
            cancel: Some(token),
            ..self.child()
        }
    }

    /// A child carrying `value`, found by its type with
    /// [`value::<T>()`](Self::value) from this child and its descendants.
    ///
    /// The type is the key, as in Go kit's `context.WithValue` with a private
    /// key type: wrap a plain `u64` or `String` in a newtype that says what it
    /// is.
    #[must_use]
    pub fn with_value<'s, T: Any + Sync>(&'s self, value: &'s T) -> Context<'s> {
        Context {
            value: Some(value),
            ..self.child()
        }
    }

    fn child(&self) -> Context<'_> {
        Context {
            parent: Some(self),
            clock: self.clock,
            deadline: self.deadline,
            cancel: None,
            value: None,
            began: self.began,
        }
    }

    /// A child that knows the call began at `at` on this context's clock,
    /// so the time-based layers below it ([`now_on`](Self::now_on)) use
    /// that reading instead of each reading the clock again. A server
    /// reads the clock once per request and hands every layer the same
    /// instant; the rate limiter, the breaker and the timeout then cost no
    /// clock read at all.
    ///
    /// Deadline checks ([`is_expired`](Self::is_expired),
    /// [`remaining`](Self::remaining)) still read the clock: they must see
    /// time pass while the call runs.
    ///
    /// ```
    /// use synkit_core::Context;
    /// use synkit_core::time::{Clock, Duration, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let root = Context::new(&clock);
    /// let cx = root.with_now(clock.now());
    /// clock.advance(Duration::from_millis(5));
    /// assert_eq!(cx.now_on(&clock), root.now() - Duration::from_millis(5));
    /// let other = ManualClock::new();
    /// assert_eq!(cx.now_on(&other), other.now(), "another timeline: read it");
    /// ```
    #[must_use]
    pub fn with_now(&self, at: Instant) -> Context<'_> {
        Context {
            began: Some((at, self.clock.timeline())),
            ..self.child()
        }
    }

    /// The instant the call began, if `clock` is on the timeline that
    /// reading was taken on ([`with_now`](Self::with_now)); otherwise
    /// `clock`'s current reading. Time-based middleware asks this of the
    /// clock it was built with.
    #[inline]
    pub fn now_on<C: Clock + ?Sized>(&self, clock: &C) -> Instant {
        match self.began {
            Some((at, timeline)) if timeline == clock.timeline() => at,
            _ => clock.now(),
        }
    }

    /// The instant by which the call must finish, if there is one.
    #[inline]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline: `None` without a deadline, zero once
    /// it has passed.
    #[inline]
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(self.now()))
    }

    /// Whether the deadline has been reached.
    #[inline]
    pub fn is_expired(&self) -> bool {
        self.deadline.is_some_and(|d| self.now() >= d)
    }

    /// Whether this context's token, or any ancestor's, has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        let mut node = Some(self);
        while let Some(cx) = node {
            if cx.cancel.is_some_and(CancelToken::is_cancelled) {
                return true;
            }
            node = cx.parent;
        }
        false
    }

    /// `Ok` while the answer is still wanted; otherwise why not — like Go's
    /// `ctx.Err()`. Cancellation is reported before an expired deadline.
    ///
    /// Endpoints call it before expensive work; with a `From<Error>` impl on
    /// their error type, `cx.check()?` is all it takes.
    pub fn check(&self) -> Result<(), Error> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else if self.is_expired() {
            Err(Error::DeadlineExceeded)
        } else {
            Ok(())
        }
    }

    /// The value of type `T` attached nearest to this context, if any.
    pub fn value<T: Any>(&self) -> Option<&'a T> {
        let mut node: &Context<'a> = self;
        loop {
            if let Some(v) = node.value.and_then(|v| (v as &dyn Any).downcast_ref::<T>()) {
                return Some(v);
            }
            node = node.parent?;
        }
    }

    /// The clock this context reads time from.
    #[inline]
    pub fn clock(&self) -> &'a (dyn Clock + Sync) {
        self.clock
    }

    /// The current instant on this context's clock.
    #[inline]
    pub fn now(&self) -> Instant {
        self.clock.now()
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl Context<'static> {
    /// A root context on the [`SystemClock`](crate::time::SystemClock), with
    /// no deadline, no cancellation and no values: Go's
    /// `context.Background()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use synkit_core::Context;
    ///
    /// let root = Context::background();
    /// let cx = root.with_timeout(Duration::from_secs(1));
    /// assert!(cx.remaining().unwrap() <= Duration::from_secs(1));
    /// ```
    pub const fn background() -> Context<'static> {
        Context::new(&crate::time::SystemClock)
    }
}

#[cfg(feature = "std")]
impl Default for Context<'static> {
    fn default() -> Context<'static> {
        Context::background()
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut depth = 0usize;
        let mut node = self.parent;
        while let Some(cx) = node {
            depth += 1;
            node = cx.parent;
        }
        f.debug_struct("Context")
            .field("deadline", &self.deadline)
            .field("cancelled", &self.is_cancelled())
            .field("depth", &depth)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn root_has_no_deadline_and_never_expires() {
        let clock = ManualClock::new();
        let cx = Context::new(&clock);
        clock.advance(Duration::from_secs(1_000_000));
        assert_eq!(cx.deadline(), None);
        assert_eq!(cx.remaining(), None);
        assert!(!cx.is_expired());
        assert_eq!(cx.check(), Ok(()));
    }

    #[test]
    fn tighter_child_deadline_wins() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        let parent = root.with_timeout(ms(100));
        let child = parent.with_timeout(ms(30));
        assert_eq!(child.remaining(), Some(ms(30)));
        assert_eq!(parent.remaining(), Some(ms(100)));
    }

    #[test]
    fn looser_child_deadline_cannot_extend_the_parent() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        let parent = root.with_timeout(ms(50));
        let child = parent.with_timeout(ms(500));
        assert_eq!(child.deadline(), parent.deadline());
        let grandchild = child.with_deadline(Instant::MAX);
        assert_eq!(grandchild.remaining(), Some(ms(50)));
    }

    #[test]
    fn deadline_expires_exactly_when_the_manual_clock_reaches_it() {
        let clock = ManualClock::starting_at(Instant::from_nanos(5_000));
        let root = Context::new(&clock);
        let cx = root.with_timeout(ms(10));
        assert_eq!(cx.deadline(), Some(Instant::from_nanos(5_000) + ms(10)));

        clock.advance(ms(9));
        assert!(!cx.is_expired());
        assert_eq!(cx.remaining(), Some(ms(1)));

        clock.advance(ms(1));
        assert!(cx.is_expired());
        assert_eq!(cx.remaining(), Some(Duration::ZERO));
        assert_eq!(cx.check(), Err(Error::DeadlineExceeded));

        clock.advance(ms(100));
        assert_eq!(cx.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn timeout_is_measured_from_when_the_child_is_made() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        clock.advance(ms(40));
        let cx = root.with_timeout(ms(10));
        assert_eq!(cx.deadline(), Some(Instant::ZERO + ms(50)));
    }

    #[test]
    fn children_share_the_parent_deadline_when_they_add_none() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        let root = Context::new(&clock);
        let timed = root.with_timeout(ms(20));
        let cx = timed.with_cancel(&token);
        let cx = cx.with_value(&1u8);
        assert_eq!(cx.deadline(), timed.deadline());
    }

    #[test]
    fn cancellation_from_another_thread_reaches_every_descendant() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        let root = Context::new(&clock);
        let cancellable = root.with_cancel(&token);
        let child = cancellable.with_timeout(ms(10));
        let grandchild = child.with_value(&"scope");

        assert!(!grandchild.is_cancelled());
        std::thread::scope(|s| {
            s.spawn(|| token.cancel()).join().unwrap();
        });
        assert!(grandchild.is_cancelled());
        assert!(child.is_cancelled());
        assert!(!root.is_cancelled(), "cancellation never flows up");
        assert_eq!(grandchild.check(), Err(Error::Cancelled));
    }

    #[test]
    fn a_waiting_thread_sees_cancellation() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        let root = Context::new(&clock);
        let cx = root.with_cancel(&token);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let mut spins = 0u64;
                while !cx.is_cancelled() {
                    spins += 1;
                    std::thread::yield_now();
                }
                spins
            });
            token.cancel();
            waiter.join().unwrap();
        });
        assert!(cx.is_cancelled());
    }

    #[test]
    fn cancellation_is_reported_before_expiry() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        let root = Context::new(&clock);
        let timed = root.with_timeout(ms(1));
        let cx = timed.with_cancel(&token);
        clock.advance(ms(5));
        token.cancel();
        assert_eq!(cx.check(), Err(Error::Cancelled));
    }

    #[test]
    fn a_childs_own_token_does_not_cancel_its_parent() {
        let clock = ManualClock::new();
        let outer = CancelToken::new();
        let inner = CancelToken::new();
        let root = Context::new(&clock);
        let parent = root.with_cancel(&outer);
        let child = parent.with_cancel(&inner);
        inner.cancel();
        assert!(child.is_cancelled());
        assert!(!parent.is_cancelled());
    }

    #[derive(Debug, PartialEq)]
    struct TraceId(u128);
    #[derive(Debug, PartialEq)]
    struct User(&'static str);

    #[test]
    fn values_are_found_by_type_through_nested_children() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        let traced = root.with_value(&TraceId(0xabc));
        let timed = traced.with_timeout(ms(5));
        let authed = timed.with_value(&User("ada"));
        let leaf = authed.with_timeout(ms(1));

        assert_eq!(leaf.value::<TraceId>(), Some(&TraceId(0xabc)));
        assert_eq!(leaf.value::<User>(), Some(&User("ada")));
        assert_eq!(
            timed.value::<User>(),
            None,
            "a parent never sees a child's value"
        );
        assert_eq!(leaf.value::<u32>(), None);
    }

    #[test]
    fn the_nearest_value_shadows_an_ancestors() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        let outer = root.with_value(&User("outer"));
        let inner = outer.with_value(&User("inner"));
        assert_eq!(inner.value::<User>(), Some(&User("inner")));
        assert_eq!(outer.value::<User>(), Some(&User("outer")));
    }

    #[test]
    fn a_found_value_outlives_the_child_it_was_found_through() {
        let clock = ManualClock::new();
        let root = Context::new(&clock);
        let user = User("grace");
        let with_user = root.with_value(&user);
        let found = {
            let leaf = with_user.with_timeout(ms(1));
            leaf.value::<User>()
        };
        assert_eq!(found, Some(&User("grace")));
    }

    #[test]
    fn context_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Context<'_>>();
        assert_send_sync::<CancelToken>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn background_runs_on_the_system_clock() {
        let root = Context::background();
        let cx = root.with_timeout(Duration::from_hours(1));
        let left = cx.remaining().unwrap();
        assert!(left > Duration::from_secs(3500) && left <= Duration::from_hours(1));
    }
}
