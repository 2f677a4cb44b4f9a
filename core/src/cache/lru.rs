use alloc::boxed::Box;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};

use super::DefaultHasher;

const NONE: u32 = u32::MAX;

struct Entry<K, V> {
    key: K,
    value: V,
    hash: u64,
    /// Nanoseconds on the caller's clock after which the entry is stale;
    /// `u64::MAX` for never.
    expires: u64,
    /// Towards the most recently used end.
    prev: u32,
    /// Towards the least recently used end.
    next: u32,
}

/// A least-recently-used map of fixed capacity, allocated once.
///
/// All storage — the entries and a linear-probing index at most half full —
/// is allocated by [`new`](Self::new); `get`, `insert` and eviction are O(1)
/// and never allocate. When full, inserting a new key evicts the least
/// recently used entry. Entries may carry an expiry instant (for TTLs), read
/// against whatever clock the caller uses.
///
/// Single-threaded (`get` reorders, so it takes `&mut self`); share one
/// between threads as a [`SharedLru`](super::SharedLru).
///
/// ```
/// use synkit_core::cache::Lru;
///
/// let mut lru = Lru::new(2);
/// lru.insert("a", 1);
/// lru.insert("b", 2);
/// assert_eq!(lru.get("a"), Some(&1)); // "a" is now the most recent
/// lru.insert("c", 3);                 // evicts "b"
/// assert_eq!(lru.get("b"), None);
/// assert_eq!(lru.len(), 2);
/// ```
pub struct Lru<K, V, S = DefaultHasher> {
    entries: Vec<Entry<K, V>>,
    /// Entry indices by hash; `NONE` marks a free slot.
    index: Box<[u32]>,
    mask: usize,
    head: u32,
    tail: u32,
    capacity: usize,
    hasher: S,
}

impl<K: Hash + Eq, V> Lru<K, V> {
    /// An empty map holding at most `capacity` entries (at least 1, at most
    /// 2^30).
    pub fn new(capacity: usize) -> Lru<K, V> {
        Lru::with_hasher(capacity, DefaultHasher::default())
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> Lru<K, V, S> {
    /// An empty map of `capacity` entries hashing keys with `hasher`.
    pub fn with_hasher(capacity: usize, hasher: S) -> Lru<K, V, S> {
        let capacity = capacity.clamp(1, 1 << 30);
        let slots = (capacity * 2).next_power_of_two();
        Lru {
            entries: Vec::with_capacity(capacity),
            index: alloc::vec![NONE; slots].into_boxed_slice(),
            mask: slots - 1,
            head: NONE,
            tail: NONE,
            capacity,
            hasher,
        }
    }

    /// The hash this map uses for `key`.
    pub fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The value for `key`, marking it most recently used.
    #[inline]
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.get_hashed(hash, key, 0)
    }

    /// [`get`](Self::get) with the key's [`hash`](Self::hash) already
    /// computed, treating entries that expire at or before `now` (in the
    /// caller's clock nanoseconds) as absent — and removing them.
    // Always: left to itself the compiler calls it out of line, and the
    // call's prologue and epilogue were a fifth of a cache hit (callgrind).
    #[allow(clippy::inline_always)] // measured, see above
    #[inline(always)]
    pub fn get_hashed<Q>(&mut self, hash: u64, key: &Q, now: u64) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let (slot, i) = self.find(hash, key)?;
        if self.entries[i as usize].expires <= now {
            self.remove_at(slot, i);
            return None;
        }
        self.touch(i);
        Some(&self.entries[i as usize].value)
    }

    /// The value for `key` without touching its recency.
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (_, i) = self.find(self.hash(key), key)?;
        Some(&self.entries[i as usize].value)
    }

    /// Inserts or replaces `key`'s value, making it most recently used.
    /// Returns the entry evicted to make room, if any (a replaced value is
    /// returned with its key).
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        let hash = self.hash(&key);
        self.insert_hashed(hash, key, value, u64::MAX)
    }

    /// [`insert`](Self::insert) with the key's hash already computed and an
    /// expiry instant (`u64::MAX` for never).
    pub fn insert_hashed(&mut self, hash: u64, key: K, value: V, expires: u64) -> Option<(K, V)> {
        if let Some((_, i)) = self.find(hash, &key) {
            let e = &mut self.entries[i as usize];
            let old_value = core::mem::replace(&mut e.value, value);
            let old_key = core::mem::replace(&mut e.key, key);
            e.expires = expires;
            self.touch(i);
            return Some((old_key, old_value));
        }
        let fresh = Entry {
            key,
            value,
            hash,
            expires,
            prev: NONE,
            next: NONE,
        };
        let (i, evicted) = if self.entries.len() < self.capacity {
            // Within the capacity reserved at construction: no allocation.
            self.entries.push(fresh);
            (self.last_index(), None)
        } else {
            let victim = self.tail;
            let slot = self.slot_of(victim);
            self.unlink(victim);
            self.free_slot(slot);
            let old = core::mem::replace(&mut self.entries[victim as usize], fresh);
            (victim, Some((old.key, old.value)))
        };
        self.claim_slot(hash, i);
        self.push_front(i);
        evicted
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (slot, i) = self.find(self.hash(key), key)?;
        Some(self.remove_at(slot, i).1)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most entries held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys from most to least recently used.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        let mut at = self.head;
        core::iter::from_fn(move || {
            let e = self.entries.get(at as usize)?;
            at = e.next;
            Some(&e.key)
        })
    }

    fn last_index(&self) -> u32 {
        // The capacity is at most 2^30, so indices fit.
        #[allow(clippy::cast_possible_truncation)]
        let i = (self.entries.len() - 1) as u32;
        i
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        // Only the low bits are kept by the mask; truncation is the point.
        #[allow(clippy::cast_possible_truncation)]
        let h = hash as usize;
        h & self.mask
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<(usize, u32)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut slot = self.home(hash);
        loop {
            let i = self.index[slot];
            if i == NONE {
                return None;
            }
            let e = &self.entries[i as usize];
            if e.hash == hash && e.key.borrow() == key {
                return Some((slot, i));
            }
            slot = (slot + 1) & self.mask;
        }
    }

    fn slot_of(&self, i: u32) -> usize {
        let mut slot = self.home(self.entries[i as usize].hash);
        while self.index[slot] != i {
            slot = (slot + 1) & self.mask;
        }
        slot
    }

    fn claim_slot(&mut self, hash: u64, i: u32) {
        let mut slot = self.home(hash);
        while self.index[slot] != NONE {
            slot = (slot + 1) & self.mask;
        }
        self.index[slot] = i;
    }

    /// Empties `slot`, shifting later members of its probe run back so
    /// every lookup still finds them without tombstones.
    fn free_slot(&mut self, mut hole: usize) {
        let mut slot = hole;
        loop {
            slot = (slot + 1) & self.mask;
            let i = self.index[slot];
            if i == NONE {
                break;
            }
            let ideal = self.home(self.entries[i as usize].hash);
            // Move it into the hole unless its ideal lies cyclically in
            // (hole, slot]: then it is already as close to ideal as it can be.
            let stays = if hole <= slot {
                hole < ideal && ideal <= slot
            } else {
                hole < ideal || ideal <= slot
            };
            if !stays {
                self.index[hole] = i;
                hole = slot;
            }
        }
        self.index[hole] = NONE;
    }

    /// Removes entry `i` (found at `slot`), moving the last entry into its
    /// place so the entries stay dense.
    fn remove_at(&mut self, slot: usize, i: u32) -> (K, V) {
        self.unlink(i);
        self.free_slot(slot);
        let last = self.last_index();
        if i != last {
            // The last entry moves to `i`: repoint its index slot and links.
            let last_slot = self.slot_of(last);
            self.index[last_slot] = i;
            let (prev, next) = {
                let e = &self.entries[last as usize];
                (e.prev, e.next)
            };
            self.set_next(prev, i);
            self.set_prev(next, i);
            if self.head == last {
                self.head = i;
            }
            if self.tail == last {
                self.tail = i;
            }
        }
        let e = self.entries.swap_remove(i as usize);
        (e.key, e.value)
    }

    fn set_next(&mut self, at: u32, to: u32) {
        if at != NONE {
            self.entries[at as usize].next = to;
        }
    }

    fn set_prev(&mut self, at: u32, to: u32) {
        if at != NONE {
            self.entries[at as usize].prev = to;
        }
    }

    #[inline]
    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let e = &self.entries[i as usize];
            (e.prev, e.next)
        };
        if prev == NONE {
            self.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NONE {
            self.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
    }

    #[inline]
    fn push_front(&mut self, i: u32) {
        let old = self.head;
        {
            let e = &mut self.entries[i as usize];
            e.prev = NONE;
            e.next = old;
        }
        self.set_prev(old, i);
        self.head = i;
        if self.tail == NONE {
            self.tail = i;
        }
    }

    #[inline]
    fn touch(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }
}

impl<K, V, S> fmt::Debug for Lru<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lru")
            .field("len", &self.entries.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut lru = Lru::new(3);
        for k in 1..=3 {
            assert_eq!(lru.insert(k, k * 10), None);
        }
        assert_eq!(lru.get(&1), Some(&10));
        assert_eq!(lru.insert(4, 40), Some((2, 20)));
        assert_eq!(lru.keys().copied().collect::<Vec<_>>(), [4, 1, 3]);
    }

    #[test]
    fn replacing_a_value_refreshes_it_and_evicts_nothing() {
        let mut lru = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.insert("a", 3), Some(("a", 1)));
        assert_eq!(lru.insert("c", 4), Some(("b", 2)));
        assert_eq!(lru.peek("a"), Some(&3));
    }

    #[test]
    fn looks_up_owned_keys_by_borrowed_form() {
        let mut lru: Lru<alloc::string::String, u8> = Lru::new(4);
        lru.insert("key".into(), 1);
        assert_eq!(lru.get("key"), Some(&1));
        assert_eq!(lru.remove("key"), Some(1));
        assert!(lru.is_empty());
    }

    #[test]
    fn expired_entries_are_absent_and_removed() {
        let mut lru = Lru::new(4);
        let h = lru.hash(&7u32);
        lru.insert_hashed(h, 7u32, "seven", 100);
        assert_eq!(lru.get_hashed(h, &7, 99), Some(&"seven"));
        assert_eq!(lru.get_hashed(h, &7, 100), None);
        assert_eq!(lru.len(), 0);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Get(u8),
        Insert(u8, u16),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct keys, so hits, evictions and probe collisions are common.
        prop_oneof![
            (0u8..24).prop_map(Op::Get),
            (0u8..24, any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..24).prop_map(Op::Remove),
        ]
    }

    /// The reference: a vector from most to least recently used.
    #[derive(Default)]
    struct Model {
        items: Vec<(u8, u16)>,
        capacity: usize,
    }

    impl Model {
        fn get(&mut self, k: u8) -> Option<u16> {
            let at = self.items.iter().position(|&(key, _)| key == k)?;
            let item = self.items.remove(at);
            self.items.insert(0, item);
            Some(item.1)
        }
        fn insert(&mut self, k: u8, v: u16) -> Option<(u8, u16)> {
            if let Some(at) = self.items.iter().position(|&(key, _)| key == k) {
                let old = self.items.remove(at);
                self.items.insert(0, (k, v));
                return Some(old);
            }
            let evicted = if self.items.len() == self.capacity {
                self.items.pop()
            } else {
                None
            };
            self.items.insert(0, (k, v));
            evicted
        }
        fn remove(&mut self, k: u8) -> Option<u16> {
            let at = self.items.iter().position(|&(key, _)| key == k)?;
            Some(self.items.remove(at).1)
        }
    }

    /// A hasher that sends every key to a few buckets, so probe runs are
    /// long and wrap around the index.
    #[derive(Clone, Copy, Default)]
    struct Clumping;
    struct ClumpingHasher(u64);
    impl core::hash::Hasher for ClumpingHasher {
        fn finish(&self) -> u64 {
            (self.0 % 3)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(u64::MAX - 1)
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = self.0.wrapping_mul(31).wrapping_add(u64::from(*b));
            }
        }
    }
    impl BuildHasher for Clumping {
        type Hasher = ClumpingHasher;
        fn build_hasher(&self) -> ClumpingHasher {
            ClumpingHasher(0)
        }
    }

    fn check<S: BuildHasher>(mut lru: Lru<u8, u16, S>, ops: &[Op]) -> Result<(), TestCaseError> {
        let mut model = Model {
            capacity: lru.capacity(),
            ..Model::default()
        };
        for op in ops {
            match *op {
                Op::Get(k) => prop_assert_eq!(lru.get(&k).copied(), model.get(k)),
                Op::Insert(k, v) => prop_assert_eq!(lru.insert(k, v), model.insert(k, v)),
                Op::Remove(k) => prop_assert_eq!(lru.remove(&k), model.remove(k)),
            }
            let keys: Vec<u8> = lru.keys().copied().collect();
            let expected: Vec<u8> = model.items.iter().map(|&(k, _)| k).collect();
            prop_assert_eq!(keys, expected);
            prop_assert_eq!(lru.len(), model.items.len());
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn behaves_like_the_vector_model(capacity in 1usize..10, ops in proptest::collection::vec(op(), 0..300)) {
            check(Lru::new(capacity), &ops)?;
        }

        #[test]
        fn behaves_like_the_model_when_every_hash_collides(capacity in 1usize..10, ops in proptest::collection::vec(op(), 0..300)) {
            check(Lru::with_hasher(capacity, Clumping), &ops)?;
        }
    }
}
