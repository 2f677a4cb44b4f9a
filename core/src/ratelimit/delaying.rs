use core::ops::Deref;

use super::TokenBucket;
use crate::time::{Clock, Sleep};
use crate::{Context, Endpoint, Error, Middleware};

/// Waits for a token before each call: Go kit's `NewDelayingLimiter`.
///
/// The wait is bounded by the context: if the token would come after the
/// context's deadline, the call fails at once with
/// [`Error::DeadlineExceeded`] and takes no token; if the context is
/// cancelled while waiting, the call fails with [`Error::Cancelled`] and the
/// token goes back to the bucket. The sleeping is done by `S`
/// ([`ThreadSleep`](crate::time::ThreadSleep) in a program,
/// [`ManualSleep`](crate::time::ManualSleep) in a test).
///
/// ```
/// use synkit_core::endpoint::{Endpoint, endpoint_fn};
/// use synkit_core::ratelimit::{DelayingLimiterLayer, Rate, TokenBucket};
/// use synkit_core::time::{Clock, Duration, ManualClock, ManualSleep};
/// use synkit_core::{Context, Error};
///
/// let clock = ManualClock::new();
/// let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
/// let ep = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>(()))
///     .with(DelayingLimiterLayer::new(&bucket, ManualSleep(&clock)));
///
/// let root = Context::new(&clock);
/// ep.call(&root, ()).unwrap(); // the burst: no wait
/// ep.call(&root, ()).unwrap(); // waits 100 ms for the next token
/// assert_eq!(clock.now().as_nanos(), 100_000_000);
///
/// let hurried = root.with_timeout(Duration::from_millis(50));
/// assert_eq!(ep.call(&hurried, ()), Err(Error::DeadlineExceeded));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct DelayingLimiterLayer<B, S> {
    bucket: B,
    sleep: S,
}

impl<B, S> DelayingLimiterLayer<B, S> {
    /// A limiter drawing tokens from `bucket`, waiting with `sleep`.
    pub const fn new(bucket: B, sleep: S) -> DelayingLimiterLayer<B, S> {
        DelayingLimiterLayer { bucket, sleep }
    }
}

/// An endpoint wrapped by [`DelayingLimiterLayer`].
#[derive(Clone, Copy, Debug)]
pub struct DelayingLimiter<E, B, S> {
    inner: E,
    bucket: B,
    sleep: S,
}

impl<E, B: Clone, S: Clone> Middleware<E> for DelayingLimiterLayer<B, S> {
    type Endpoint = DelayingLimiter<E, B, S>;

    fn wrap(&self, inner: E) -> Self::Endpoint {
        DelayingLimiter {
            inner,
            bucket: self.bucket.clone(),
            sleep: self.sleep.clone(),
        }
    }
}

impl<Req, E, B, C, S> Endpoint<Req> for DelayingLimiter<E, B, S>
where
    E: Endpoint<Req>,
    E::Error: From<Error>,
    B: Deref<Target = TokenBucket<C>>,
    C: Clock,
    S: Sleep,
{
    type Response = E::Response;
    type Error = E::Error;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        cx.check()?;
        let Some(token) = self.bucket.reserve(cx.deadline()) else {
            return Err(Error::DeadlineExceeded.into());
        };
        if !token.wait.is_zero()
            && let Err(e) = self.sleep.sleep_until(cx, token.ready)
        {
            self.bucket.cancel_reservation();
            return Err(e.into());
        }
        self.inner.call(cx, req)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::CancelToken;
    use crate::endpoint::endpoint_fn;
    use crate::ratelimit::Rate;
    use crate::time::{Duration, Instant, ManualClock, ManualSleep};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn waits_exactly_until_the_next_token() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(4), 2, &clock);
        let ep = endpoint_fn(|cx: &Context<'_>, (): ()| Ok::<_, Error>(cx.now()))
            .with(DelayingLimiterLayer::new(&bucket, ManualSleep(&clock)));
        let cx = Context::new(&clock);
        let times: [Instant; 4] = core::array::from_fn(|_| ep.call(&cx, ()).unwrap());
        assert_eq!(
            times,
            [
                Instant::ZERO,
                Instant::ZERO,
                Instant::ZERO + ms(250),
                Instant::ZERO + ms(500)
            ]
        );
    }

    #[test]
    fn gives_up_without_waiting_when_the_deadline_is_sooner() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::new(Rate::per_second(1), 1, &clock);
        let calls = core::sync::atomic::AtomicU32::new(0);
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| {
            calls.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            Ok::<_, Error>(())
        })
        .with(DelayingLimiterLayer::new(&bucket, ManualSleep(&clock)));
        let root = Context::new(&clock);
        ep.call(&root, ()).unwrap();

        let cx = root.with_timeout(ms(999));
        assert_eq!(ep.call(&cx, ()), Err(Error::DeadlineExceeded));
        assert_eq!(clock.now(), Instant::ZERO, "it did not wait at all");
        assert_eq!(calls.load(core::sync::atomic::Ordering::Relaxed), 1);

        // The refusal took no token: a caller with time enough waits one interval.
        let cx = root.with_timeout(Duration::from_secs(1));
        ep.call(&cx, ()).unwrap();
        assert_eq!(clock.now(), Instant::ZERO + Duration::from_secs(1));
    }

    /// A sleeper whose caller is cancelled while it sleeps.
    #[derive(Clone)]
    struct CancelledWhileSleeping<'a>(&'a CancelToken);

    impl Sleep for CancelledWhileSleeping<'_> {
        fn sleep_until(&self, _cx: &Context<'_>, _until: Instant) -> Result<(), Error> {
            self.0.cancel();
            Err(Error::Cancelled)
        }
    }

    #[test]
    fn stops_waiting_when_cancelled_and_gives_the_token_back() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>(())).with(
            DelayingLimiterLayer::new(&bucket, CancelledWhileSleeping(&token)),
        );
        let root = Context::new(&clock);
        let cx = root.with_cancel(&token);
        ep.call(&cx, ()).unwrap();
        assert_eq!(ep.call(&cx, ()), Err(Error::Cancelled));
        assert_eq!(
            bucket.reserve(None).map(|r| r.ready),
            Some(Instant::ZERO + ms(100)),
            "the abandoned token came back"
        );
    }

    #[test]
    fn a_cancelled_context_is_refused_before_reserving() {
        let clock = ManualClock::new();
        let token = CancelToken::new();
        token.cancel();
        let bucket = TokenBucket::new(Rate::per_second(10), 1, &clock);
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>(()))
            .with(DelayingLimiterLayer::new(&bucket, ManualSleep(&clock)));
        let root = Context::new(&clock);
        assert_eq!(
            ep.call(&root.with_cancel(&token), ()),
            Err(Error::Cancelled)
        );
        assert_eq!(bucket.available(), 1);
    }

    #[cfg(feature = "std")]
    #[test]
    fn thread_sleep_waits_on_the_system_clock() {
        use crate::time::{SystemClock, ThreadSleep};
        let bucket = TokenBucket::new(Rate::every(ms(20)), 1, SystemClock);
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| Ok::<_, Error>(()))
            .with(DelayingLimiterLayer::new(&bucket, ThreadSleep::default()));
        let root = Context::background();
        let start = root.now();
        ep.call(&root, ()).unwrap();
        ep.call(&root, ()).unwrap();
        assert!(
            root.now() - start >= ms(20),
            "the second call waited for its token"
        );
    }
}
