use core::hash::{BuildHasher, Hash};
use core::ops::Deref;

use super::SharedLru;
use crate::time::{Clock, Duration, duration_nanos};
use crate::{Context, Endpoint, Middleware};

/// When a cached response goes stale: [`NoTtl`] or [`Ttl`].
pub trait Expiry {
    /// The instant (clock nanoseconds) to judge staleness at, and when a
    /// response cached now expires. Entries never expire with `(0, u64::MAX)`.
    fn now_and_expiry(&self) -> (u64, u64);
}

/// Cached responses never go stale; evicted only to make room. Reads no
/// clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTtl;

impl Expiry for NoTtl {
    #[inline]
    fn now_and_expiry(&self) -> (u64, u64) {
        (0, u64::MAX)
    }
}

/// Cached responses go stale `ttl` after they were stored, on clock `C`.
#[derive(Clone, Copy, Debug)]
pub struct Ttl<C> {
    ttl: u64,
    clock: C,
}

impl<C: Clock> Expiry for Ttl<C> {
    #[inline]
    fn now_and_expiry(&self) -> (u64, u64) {
        let now = self.clock.now().as_nanos();
        (now, now.saturating_add(self.ttl))
    }
}

/// Answers repeated requests from a [`SharedLru`] without calling the
/// endpoint: Go kit's "LRU cache endpoint".
///
/// `key` maps a request to its cache key, or `None` for requests that must
/// not be cached. A hit returns a clone of the stored response; only
/// successful responses are stored. With [`ttl`](Self::ttl), a stored
/// response is served for that long, then fetched again. For large
/// responses, make the response type an `Arc` so a hit clones a pointer.
///
/// ```
/// use synkit_core::cache::{CacheLayer, SharedLru};
/// use synkit_core::endpoint::{Endpoint, endpoint_fn};
/// use synkit_core::{Context, Error};
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// let calls = AtomicU32::new(0);
/// let square = endpoint_fn(|_: &Context<'_>, n: u64| {
///     calls.fetch_add(1, Ordering::Relaxed);
///     Ok::<_, Error>(n * n)
/// });
/// let cache = SharedLru::new(100, 4);
/// let cached = square.with(CacheLayer::new(&cache, |n: &u64| Some(*n)));
///
/// let cx = Context::background();
/// assert_eq!(cached.call(&cx, 12), Ok(144));
/// assert_eq!(cached.call(&cx, 12), Ok(144));
/// assert_eq!(calls.load(Ordering::Relaxed), 1);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CacheLayer<B, F, X = NoTtl> {
    cache: B,
    key: F,
    expiry: X,
}

impl<B, F> CacheLayer<B, F> {
    /// Caches in `cache`, keyed by `key(&request)`; entries never expire.
    pub const fn new(cache: B, key: F) -> CacheLayer<B, F> {
        CacheLayer {
            cache,
            key,
            expiry: NoTtl,
        }
    }

    /// Serves a stored response for `ttl` after storing it, by `clock`.
    pub fn ttl<C: Clock>(self, ttl: Duration, clock: C) -> CacheLayer<B, F, Ttl<C>> {
        CacheLayer {
            cache: self.cache,
            key: self.key,
            expiry: Ttl {
                ttl: duration_nanos(ttl),
                clock,
            },
        }
    }
}

/// An endpoint wrapped by [`CacheLayer`].
#[derive(Clone, Copy, Debug)]
pub struct Cache<E, B, F, X> {
    inner: E,
    store: B,
    key: F,
    expiry: X,
}

impl<E, B: Clone, F: Clone, X: Clone> Middleware<E> for CacheLayer<B, F, X> {
    type Endpoint = Cache<E, B, F, X>;

    fn wrap(&self, inner: E) -> Self::Endpoint {
        Cache {
            inner,
            store: self.cache.clone(),
            key: self.key.clone(),
            expiry: self.expiry.clone(),
        }
    }
}

impl<Req, E, B, F, X, K, S> Endpoint<Req> for Cache<E, B, F, X>
where
    E: Endpoint<Req>,
    E::Response: Clone,
    B: Deref<Target = SharedLru<K, E::Response, S>>,
    F: Fn(&Req) -> Option<K>,
    X: Expiry,
    K: Hash + Eq,
    S: BuildHasher + Clone,
{
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        let Some(key) = (self.key)(&req) else {
            return self.inner.call(cx, req);
        };
        let hash = self.store.hash(&key);
        let (now, expires) = self.expiry.now_and_expiry();
        if let Some(hit) = self.store.get_hashed(hash, &key, now) {
            return Ok(hit);
        }
        let resp = self.inner.call(cx, req)?;
        self.store.insert_hashed(hash, key, resp.clone(), expires);
        Ok(resp)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use core::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::endpoint::endpoint_fn;
    use crate::time::ManualClock;

    #[test]
    fn only_successes_are_cached_and_unkeyed_requests_pass_through() {
        let calls = AtomicU32::new(0);
        let ep = endpoint_fn(|_: &Context<'_>, n: i32| {
            calls.fetch_add(1, Ordering::Relaxed);
            if n < 0 { Err("negative") } else { Ok(n + 1) }
        });
        let cache = SharedLru::new(8, 2);
        let cached = ep.with(CacheLayer::new(&cache, |n: &i32| (*n != 0).then_some(*n)));
        let clock = ManualClock::new();
        let cx = Context::new(&clock);
        for _ in 0..3 {
            assert_eq!(cached.call(&cx, -1), Err("negative"));
            assert_eq!(cached.call(&cx, 0), Ok(1));
            assert_eq!(cached.call(&cx, 5), Ok(6));
        }
        // -1 and 0 every time; 5 once.
        assert_eq!(calls.load(Ordering::Relaxed), 7);
    }

    #[test]
    fn a_stored_response_expires_after_its_ttl() {
        let clock = ManualClock::new();
        let calls = AtomicU32::new(0);
        let ep = endpoint_fn(|_: &Context<'_>, (): ()| {
            Ok::<_, ()>(calls.fetch_add(1, Ordering::Relaxed))
        });
        let cache = SharedLru::new(8, 1);
        let cached = ep
            .with(CacheLayer::new(&cache, |(): &()| Some(())).ttl(Duration::from_secs(10), &clock));
        let cx = Context::new(&clock);
        assert_eq!(cached.call(&cx, ()), Ok(0));
        clock.advance(Duration::from_secs(9));
        assert_eq!(cached.call(&cx, ()), Ok(0));
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            cached.call(&cx, ()),
            Ok(1),
            "stale after 10 s: fetched again"
        );
        clock.advance(Duration::from_secs(9));
        assert_eq!(cached.call(&cx, ()), Ok(1));
    }
}
