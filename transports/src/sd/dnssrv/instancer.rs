//! Go kit's `dnssrv.Instancer`: an SRV name, looked up on a schedule.

use std::thread;
use std::time::Duration;

use synkit_core::sd::{InstanceCache, Instancer};

use super::Resolver;
use crate::sd::Background;

/// The instances an SRV name points at, looked up every `interval`: Go
/// kit's `dnssrv.Instancer`.
///
/// The first lookup happens before [`new`](Self::new) returns, so the
/// state is real from the start; a thread repeats it every interval. A
/// failed lookup is reported beside the last good set, which stays.
/// Dropping it (or [`stop`](Instancer::stop)) ends the thread at once,
/// or after the lookup in progress.
pub struct DnsSrvInstancer {
    background: Background,
}

impl DnsSrvInstancer {
    /// Looks `name` up through `resolver` now and every `interval`.
    pub fn new(resolver: Resolver, name: impl Into<String>, interval: Duration) -> DnsSrvInstancer {
        let name = name.into();
        let background = Background::new();
        let cache = background.cache.clone();
        let found = lookup(&resolver, &name, &cache);
        match found {
            Ok(n) => log::info!(name = name.as_str(), instances = n; "dnssrv instancer"),
            Err(ref e) => log::warn!(name = name.as_str(), err = e.as_str(); "dnssrv instancer"),
        }
        let (poll_cache, poll_stop) = (cache.clone(), background.stop.clone());
        let spawned = thread::Builder::new()
            .name("synkit-dnssrv".into())
            .spawn(move || {
                while !poll_stop.sleep(interval) {
                    if let Err(e) = lookup(&resolver, &name, &poll_cache) {
                        log::warn!(name = name.as_str(), err = e.as_str(); "dnssrv lookup");
                    }
                }
            });
        if let Err(e) = spawned {
            cache.fail(synkit_core::sd::DiscoveryError::new(format_args!(
                "cannot start the lookup thread: {e}"
            )));
        }
        DnsSrvInstancer { background }
    }
}

/// One lookup into the cache: how many instances, or what went wrong.
fn lookup(resolver: &Resolver, name: &str, cache: &InstanceCache) -> Result<usize, String> {
    match resolver.lookup_srv(name) {
        Ok(instances) => {
            let n = instances.len();
            cache.update(instances);
            Ok(n)
        }
        Err(e) => {
            let text = e.to_string();
            cache.fail(e.into());
            Err(text)
        }
    }
}

crate::sd::instancer_by_background!(DnsSrvInstancer);
