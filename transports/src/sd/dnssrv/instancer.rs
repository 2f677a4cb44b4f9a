//! Go kit's `dnssrv.Instancer`: an SRV name, looked up on a schedule.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use synkit_core::sd::{Event, InstanceCache, Instancer, Subscriber};

use super::Resolver;
use crate::sd::stop::Stop;

/// The instances an SRV name points at, looked up every `interval`: Go
/// kit's `dnssrv.Instancer`.
///
/// The first lookup happens before [`new`](Self::new) returns, so the
/// state is real from the start; a thread repeats it every interval. A
/// failed lookup is reported beside the last good set, which stays.
/// Dropping it (or [`stop`](Instancer::stop)) ends the thread at once,
/// or after the lookup in progress.
pub struct DnsSrvInstancer {
    cache: Arc<InstanceCache>,
    stop: Arc<Stop>,
}

impl DnsSrvInstancer {
    /// Looks `name` up through `resolver` now and every `interval`.
    pub fn new(resolver: Resolver, name: impl Into<String>, interval: Duration) -> DnsSrvInstancer {
        let name = name.into();
        let cache = Arc::new(InstanceCache::new());
        let stop = Arc::new(Stop::default());
        let found = lookup(&resolver, &name, &cache);
        match found {
            Ok(n) => log::info!(name = name.as_str(), instances = n; "dnssrv instancer"),
            Err(ref e) => log::warn!(name = name.as_str(), err = e.as_str(); "dnssrv instancer"),
        }
        let (poll_cache, poll_stop) = (cache.clone(), stop.clone());
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
        DnsSrvInstancer { cache, stop }
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

impl Instancer for DnsSrvInstancer {
    fn register(&self, subscriber: Arc<dyn Subscriber>) {
        self.cache.register(subscriber);
    }

    fn deregister(&self, subscriber: &Arc<dyn Subscriber>) {
        self.cache.deregister(subscriber);
    }

    fn state(&self) -> Event {
        self.cache.state()
    }

    fn stop(&self) {
        self.stop.stop();
    }
}

impl Drop for DnsSrvInstancer {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

impl std::fmt::Debug for DnsSrvInstancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsSrvInstancer")
            .field("state", &self.cache.state())
            .finish_non_exhaustive()
    }
}
