//! The atomics the core's lock-free state machines use: `portable-atomic`'s
//! normally (64-bit atomics on every target), loom's under `cfg(loom)` so
//! the model checker sees every access.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use portable_atomic::{AtomicU64, Ordering};

/// The locks the core's `alloc` pieces take (a cache's shards, the live
/// endpoint set): `parking_lot`'s with `std`, spinning ones without, where
/// there is no thread to park.
#[cfg(feature = "std")]
pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
#[cfg(all(feature = "alloc", not(feature = "std")))]
pub(crate) type Mutex<T> = spin::Mutex<T>;
#[cfg(feature = "std")]
pub(crate) type RwLock<T> = parking_lot::RwLock<T>;
#[cfg(all(feature = "alloc", not(feature = "std")))]
pub(crate) type RwLock<T> = spin::RwLock<T>;
