use core::sync::atomic::{AtomicBool, Ordering};

/// A flag that one thread raises to tell others their work is no longer
/// wanted.
///
/// A server owns one per request, hands it to the request's [`Context`] with
/// [`Context::with_cancel`], and raises it when the client disconnects; the
/// endpoint, or whatever it blocks on, sees [`Context::is_cancelled`] turn
/// true. Raising it is final for everyone watching: only its sole owner can
/// [`reset`](Self::reset) it, for the next call.
///
/// The token is shared by reference, so it lives as long as the longest
/// borrower: on the stack for scoped threads, in an `Arc` otherwise.
///
/// ```
/// use synkit_core::{CancelToken, Context};
/// use synkit_core::time::ManualClock;
///
/// let clock = ManualClock::new();
/// let token = CancelToken::new();
/// let root = Context::new(&clock);
/// let cx = root.with_cancel(&token);
///
/// std::thread::scope(|s| {
///     s.spawn(|| token.cancel());
/// });
/// assert!(cx.is_cancelled());
/// ```
///
/// [`Context`]: super::Context
/// [`Context::with_cancel`]: super::Context::with_cancel
/// [`Context::is_cancelled`]: super::Context::is_cancelled
#[derive(Debug, Default)]
pub struct CancelToken {
    cancelled: AtomicBool,
}

impl CancelToken {
    /// A token that has not been cancelled.
    pub const fn new() -> CancelToken {
        CancelToken {
            cancelled: AtomicBool::new(false),
        }
    }

    /// Raises the flag. Every context that carries this token, and every
    /// context derived from one, reports cancelled from now on.
    #[inline]
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Lowers the flag again, for reuse by the next call. It takes `&mut`
    /// so that nobody can still be watching the token: a server recycles
    /// one per connection once the request that carried it is done.
    ///
    /// ```
    /// use synkit_core::CancelToken;
    ///
    /// let mut token = CancelToken::new();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// token.reset();
    /// assert!(!token.is_cancelled());
    /// ```
    #[inline]
    pub fn reset(&mut self) {
        *self.cancelled.get_mut() = false;
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}
