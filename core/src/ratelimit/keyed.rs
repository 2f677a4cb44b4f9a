use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, Hash};

use super::Rate;
use super::bucket::{admit, shape};
use crate::cache::DefaultHasher;
use crate::sync::{AtomicU64, Ordering};
use crate::time::{Clock, Instant};
use crate::{Context, Endpoint, Error, Middleware};

const WAYS: usize = 4;

/// One key's bucket: its fingerprint (0 when unused) and its theoretical
/// arrival time.
struct Slot {
    key: AtomicU64,
    tat: AtomicU64,
}

/// Four slots on one cache line: where a key may live.
#[repr(align(64))]
struct Group([Slot; WAYS]);

impl Group {
    /// The slot `fingerprint` owns, claiming one if it has none.
    fn slot_for(&self, fingerprint: u64, now: u64) -> &Slot {
        let group = &self.0;
        'look: loop {
            if let Some(slot) = group
                .iter()
                .find(|s| s.key.load(Ordering::Acquire) == fingerprint)
            {
                return slot;
            }
            // A free slot, or one whose bucket is full again: taking it over
            // loses nothing, and its arrival time already reads as full.
            for slot in group {
                let held = slot.key.load(Ordering::Acquire);
                if held == fingerprint {
                    // Claimed for this key since the look above.
                    return slot;
                }
                if held == 0 || slot.tat.load(Ordering::Relaxed) <= now {
                    if slot
                        .key
                        .compare_exchange(held, fingerprint, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return slot;
                    }
                    // Someone else took it, perhaps for this very key: look
                    // again before claiming another, or the key would get a
                    // second bucket (and a second burst).
                    continue 'look;
                }
            }
            // Every slot is a key in the middle of being limited: take over
            // the one closest to full, and give it a full bucket.
            let victim = group
                .iter()
                .min_by_key(|s| s.tat.load(Ordering::Relaxed))
                .unwrap_or(&group[0]);
            let held = victim.key.load(Ordering::Acquire);
            if held != fingerprint
                && victim
                    .key
                    .compare_exchange(held, fingerprint, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                victim.tat.store(0, Ordering::Relaxed);
                return victim;
            }
            // Another thread changed the group under us: look again.
        }
    }
}

/// A token bucket per key — per client, per user, per tenant — in a table
/// of fixed size, allocated once and lock-free.
///
/// Every key gets `burst` tokens refilled at `rate`, independently of the
/// others. A key hashes to a group of four slots. A slot whose bucket has
/// refilled completely holds no information (a fresh key would look the
/// same), so it is reused for a new key at once; only when all four slots of
/// a group hold keys in the middle of being limited does a new key take over
/// the one closest to full, forgetting its history. Size the table for the
/// number of keys active at once (within a refill time), and that never
/// happens.
///
/// Two keys can only share a bucket if their 64-bit hashes collide.
///
/// ```
/// use synkit_core::ratelimit::{KeyedTokenBucket, Rate};
/// use synkit_core::time::{Duration, ManualClock};
///
/// let clock = ManualClock::new();
/// let per_client = KeyedTokenBucket::new(Rate::per_second(1), 2, 1024, &clock);
/// assert!(per_client.try_acquire("alice") && per_client.try_acquire("alice"));
/// assert!(!per_client.try_acquire("alice"), "alice spent her burst");
/// assert!(per_client.try_acquire("bob"), "bob has his own");
/// clock.advance(Duration::from_secs(1));
/// assert!(per_client.try_acquire("alice"));
/// ```
pub struct KeyedTokenBucket<C, S = DefaultHasher> {
    groups: Box<[Group]>,
    mask: usize,
    interval: u64,
    tolerance: u64,
    clock: C,
    hasher: S,
}

impl<C: Clock> KeyedTokenBucket<C> {
    /// Buckets of `burst` tokens refilled at `rate`, for about `keys` keys
    /// active at once (rounded up to a power of two, at least four).
    pub fn new(rate: Rate, burst: u32, keys: usize, clock: C) -> KeyedTokenBucket<C> {
        KeyedTokenBucket::with_hasher(rate, burst, keys, clock, DefaultHasher::default())
    }
}

impl<C: Clock, S: BuildHasher> KeyedTokenBucket<C, S> {
    /// [`new`](KeyedTokenBucket::new) with a hasher of your choice.
    pub fn with_hasher(
        rate: Rate,
        burst: u32,
        keys: usize,
        clock: C,
        hasher: S,
    ) -> KeyedTokenBucket<C, S> {
        let groups = keys.div_ceil(WAYS).clamp(1, 1 << 26).next_power_of_two();
        let (interval, tolerance) = shape(rate, burst);
        let table: Vec<Group> = (0..groups)
            .map(|_| {
                Group(core::array::from_fn(|_| Slot {
                    key: AtomicU64::new(0),
                    tat: AtomicU64::new(0),
                }))
            })
            .collect();
        KeyedTokenBucket {
            groups: table.into_boxed_slice(),
            mask: groups - 1,
            interval,
            tolerance,
            clock,
            hasher,
        }
    }

    /// Takes a token from `key`'s bucket if it has one. Never blocks, never
    /// allocates.
    pub fn try_acquire<K: Hash + ?Sized>(&self, key: &K) -> bool {
        self.try_acquire_at(key, self.clock.now())
    }

    /// As [`try_acquire`](Self::try_acquire), at `now`: a reading of this
    /// table's clock (or one on its timeline) the caller already has.
    pub fn try_acquire_at<K: Hash + ?Sized>(&self, key: &K, now: Instant) -> bool {
        // 0 marks an unused slot, so fingerprints are odd.
        let fingerprint = self.hasher.hash_one(key) | 1;
        // The high half picks the group; truncation is the point.
        #[allow(clippy::cast_possible_truncation)]
        let group = &self.groups[(fingerprint >> 32) as usize & self.mask];
        let now = now.as_nanos();
        let slot = group.slot_for(fingerprint, now);
        admit(&slot.tat, now, self.interval, self.tolerance)
    }

    /// Keys the table holds room for.
    pub fn capacity(&self) -> usize {
        self.groups.len() * WAYS
    }
}

impl<C, S> fmt::Debug for KeyedTokenBucket<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedTokenBucket")
            .field("slots", &(self.groups.len() * WAYS))
            .finish_non_exhaustive()
    }
}

/// Refuses a caller's calls beyond its own rate with
/// [`Error::RateLimited`]: the erroring limiter, per key.
///
/// `key` maps a request to its caller's key; return something `Copy` (an id,
/// an address) to stay allocation-free.
///
/// ```
/// use synkit_core::endpoint::{Endpoint, endpoint_fn};
/// use synkit_core::ratelimit::{KeyedLimiterLayer, KeyedTokenBucket, Rate};
/// use synkit_core::time::ManualClock;
/// use synkit_core::{Context, Error};
///
/// let clock = ManualClock::new();
/// let buckets = KeyedTokenBucket::new(Rate::per_second(10), 1, 64, &clock);
/// let ep = endpoint_fn(|_: &Context<'_>, (user, _): (u32, &str)| Ok::<_, Error>(user))
///     .with(KeyedLimiterLayer::new(&buckets, |req: &(u32, &str)| req.0));
/// let cx = Context::new(&clock);
/// assert_eq!(ep.call(&cx, (1, "a")), Ok(1));
/// assert_eq!(ep.call(&cx, (1, "b")), Err(Error::RateLimited));
/// assert_eq!(ep.call(&cx, (2, "c")), Ok(2));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct KeyedLimiterLayer<B, F> {
    buckets: B,
    key: F,
}

impl<B, F> KeyedLimiterLayer<B, F> {
    /// Limits each key of `key(&request)` with its bucket in `buckets`.
    pub const fn new(buckets: B, key: F) -> KeyedLimiterLayer<B, F> {
        KeyedLimiterLayer { buckets, key }
    }
}

/// An endpoint wrapped by [`KeyedLimiterLayer`].
#[derive(Clone, Copy, Debug)]
pub struct KeyedLimiter<E, B, F> {
    inner: E,
    limiter: KeyedLimiterLayer<B, F>,
}

impl<E, B: Clone, F: Clone> Middleware<E> for KeyedLimiterLayer<B, F> {
    type Endpoint = KeyedLimiter<E, B, F>;

    fn wrap(&self, inner: E) -> Self::Endpoint {
        KeyedLimiter {
            inner,
            limiter: self.clone(),
        }
    }
}

impl<Req, E, B, F, K, C, S> Endpoint<Req> for KeyedLimiter<E, B, F>
where
    E: Endpoint<Req>,
    E::Error: From<Error>,
    B: core::ops::Deref<Target = KeyedTokenBucket<C, S>>,
    F: Fn(&Req) -> K,
    K: Hash,
    C: Clock,
    S: BuildHasher,
{
    type Response = E::Response;
    type Error = E::Error;

    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        let key = (self.limiter.key)(&req);
        let buckets = &*self.limiter.buckets;
        if !buckets.try_acquire_at(&key, cx.now_on(&buckets.clock)) {
            return Err(Error::RateLimited.into());
        }
        self.inner.call(cx, req)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;

    use super::*;
    use crate::time::{Duration, ManualClock};

    #[test]
    fn keys_are_limited_independently() {
        let clock = ManualClock::new();
        let b = KeyedTokenBucket::new(Rate::per_second(10), 3, 64, &clock);
        for key in 0u32..20 {
            assert!(
                (0..3).all(|_| b.try_acquire(&key)),
                "key {key} gets its burst"
            );
            assert!(!b.try_acquire(&key), "key {key} is then limited");
        }
        clock.advance(Duration::from_millis(100));
        assert!(
            (0u32..20).all(|k| b.try_acquire(&k)),
            "one token back for each"
        );
    }

    #[test]
    fn refilled_slots_are_reused_by_new_keys() {
        let clock = ManualClock::new();
        let b = KeyedTokenBucket::new(Rate::per_second(100), 1, 4, &clock);
        assert_eq!(b.capacity(), 4);
        // Far more keys than slots, but each is idle again before the next
        // arrive: everyone is served, nobody is mistaken for anyone else.
        for round in 0u64..100 {
            for k in 0..4 {
                let key = round * 4 + k;
                assert!(b.try_acquire(&key));
                assert!(!b.try_acquire(&key));
            }
            clock.advance(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_full_table_makes_room_without_failing_the_new_key() {
        let clock = ManualClock::new();
        let b = KeyedTokenBucket::new(Rate::per_second(1), 1, 4, &clock);
        for key in 0u32..4 {
            assert!(b.try_acquire(&key));
        }
        // Every slot is mid-refill; a fifth key still gets its burst.
        assert!(b.try_acquire(&99u32));
        assert!(!b.try_acquire(&99u32));
    }

    #[test]
    fn racing_threads_on_one_key_never_exceed_its_burst() {
        let clock = ManualClock::new();
        let b = KeyedTokenBucket::new(Rate::per_second(1), 5, 64, &clock);
        let admitted = core::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        if b.try_acquire("shared") {
                            admitted.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                        }
                        let _ = b.try_acquire("other");
                    }
                });
            }
        });
        assert_eq!(admitted.load(core::sync::atomic::Ordering::Relaxed), 5);
    }
}
