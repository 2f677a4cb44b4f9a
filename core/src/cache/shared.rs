use alloc::boxed::Box;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};

use super::{DefaultHasher, Lock, Lru};

/// One shard on cache lines of its own, so threads working different shards
/// do not invalidate each other's lines (128 bytes: adjacent-line prefetch
/// pairs 64-byte lines on x86).
#[repr(align(128))]
struct Shard<T>(T);

type LockedShard<K, V, S> = Shard<Lock<Lru<K, V, S>>>;

/// A [`Lru`] many threads share: the capacity split over shards, each
/// behind its own lock, picked by the key's hash.
///
/// Two threads contend only when their keys land in the same shard, and a
/// lock is held for one O(1) map operation. Eviction is least-recently-used
/// within a shard, which approximates it over the whole. Storage is
/// allocated once, in [`new`](Self::new). Locks are `parking_lot` mutexes
/// with `std`, spin locks without.
///
/// ```
/// use synkit_core::cache::SharedLru;
///
/// let cache = SharedLru::new(1024, 8);
/// cache.insert(7u64, "seven");
/// std::thread::scope(|s| {
///     s.spawn(|| assert_eq!(cache.get(&7), Some("seven")));
/// });
/// ```
pub struct SharedLru<K, V, S = DefaultHasher> {
    shards: Box<[LockedShard<K, V, S>]>,
    hasher: S,
    mask: usize,
}

impl<K: Hash + Eq, V> SharedLru<K, V> {
    /// At most about `capacity` entries over `shards` shards (rounded up to
    /// a power of two; a few per core is plenty).
    pub fn new(capacity: usize, shards: usize) -> SharedLru<K, V> {
        SharedLru::with_hasher(capacity, shards, DefaultHasher::default())
    }
}

impl<K: Hash + Eq, V, S: BuildHasher + Clone> SharedLru<K, V, S> {
    /// [`new`](SharedLru::new) with a hasher of your choice.
    pub fn with_hasher(capacity: usize, shards: usize, hasher: S) -> SharedLru<K, V, S> {
        let n = shards.clamp(1, 1 << 16).next_power_of_two();
        let per_shard = capacity.div_ceil(n).max(1);
        let shards: Vec<_> = (0..n)
            .map(|_| Shard(Lock::new(Lru::with_hasher(per_shard, hasher.clone()))))
            .collect();
        SharedLru {
            shards: shards.into_boxed_slice(),
            hasher,
            mask: n - 1,
        }
    }

    /// The hash used for `key`: compute it once and pass it to the
    /// `_hashed` methods.
    #[inline]
    pub fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Lock<Lru<K, V, S>> {
        // The high half picks the shard; the low bits pick the slot inside.
        #[allow(clippy::cast_possible_truncation)]
        let i = (hash >> 32) as usize & self.mask;
        &self.shards[i].0
    }

    /// A clone of `key`'s value, marking it most recently used.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_hashed(self.hash(key), key, 0)
    }

    /// [`get`](Self::get) with the hash computed, treating entries expiring
    /// at or before `now` (caller's clock nanoseconds) as absent.
    // Always, like `Lru::get_hashed`: measured with callgrind.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn get_hashed<Q>(&self, hash: u64, key: &Q, now: u64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
        V: Clone,
    {
        self.shard(hash).lock().get_hashed(hash, key, now).cloned()
    }

    /// Inserts or replaces `key`'s value; returns what was evicted or
    /// replaced.
    pub fn insert(&self, key: K, value: V) -> Option<(K, V)> {
        let hash = self.hash(&key);
        self.insert_hashed(hash, key, value, u64::MAX)
    }

    /// [`insert`](Self::insert) with the hash computed and an expiry
    /// (`u64::MAX` for never).
    pub fn insert_hashed(&self, hash: u64, key: K, value: V, expires: u64) -> Option<(K, V)> {
        self.shard(hash)
            .lock()
            .insert_hashed(hash, key, value, expires)
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(self.hash(key)).lock().remove(key)
    }

    /// Entries held, over all shards (a moment's snapshot).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().len()).sum()
    }

    /// Whether no shard holds an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K, V, S> fmt::Debug for SharedLru<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedLru")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
