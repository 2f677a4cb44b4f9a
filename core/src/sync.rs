//! The atomics the core's lock-free state machines use: `portable-atomic`'s
//! normally (64-bit atomics on every target), loom's under `cfg(loom)` so
//! the model checker sees every access.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use portable_atomic::{AtomicU64, Ordering};
