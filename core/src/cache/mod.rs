//! Caching: a fixed-capacity [`Lru`], its thread-shared form [`SharedLru`],
//! and [`CacheLayer`], which answers repeated requests from it.
//!
//! Storage is allocated once, when a cache is made; after that a lookup, an
//! insert or an eviction allocates nothing and takes O(1). Needs `alloc`.

mod lru;
mod middleware;
mod shared;

pub use lru::Lru;
pub use middleware::{Cache, CacheLayer, Expiry, NoTtl, Ttl};
pub use shared::SharedLru;

/// The hasher caches use unless told otherwise: foldhash, seeded randomly
/// per process with `std` (so keys chosen by clients cannot be made to
/// collide), with a fixed seed without it.
#[cfg(feature = "std")]
pub type DefaultHasher = foldhash::fast::RandomState;
/// The hasher caches use unless told otherwise: foldhash, seeded randomly
/// per process with `std` (so keys chosen by clients cannot be made to
/// collide), with a fixed seed without it.
#[cfg(not(feature = "std"))]
pub type DefaultHasher = foldhash::fast::FixedState;

type Lock<T> = crate::sync::Mutex<T>;
