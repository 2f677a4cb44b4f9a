//! The state every instancer keeps and the subscribers it tells: Go kit's
//! `sd/internal/instance.Cache`, public so that a backend of your own can
//! be built on it.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use super::{DiscoveryError, Event, Instancer, Subscriber};
use crate::sync::{Mutex, RwLock};

/// An instancer's state, and the subscribers told of each change.
///
/// A backend calls [`update`](Self::update) with each set it reads from its
/// registry and [`fail`](Self::fail) when a read fails; the cache sorts the
/// set, drops duplicates and tells subscribers only of real changes (as Go
/// kit's does). A failure keeps the last good set: subscribers get it
/// again beside the error.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use synkit_core::sd::{DiscoveryError, Event, InstanceCache, Instancer};
///
/// let cache = InstanceCache::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// cache.register(Arc::new(move |e: &Event| log.lock().unwrap().push(e.clone())));
/// cache.update(vec!["b:1".into(), "a:1".into()]);
/// cache.update(vec!["a:1".into(), "b:1".into()]); // the same set: not sent
/// cache.fail(DiscoveryError::new("registry down"));
/// let seen = seen.lock().unwrap();
/// assert_eq!(seen.len(), 3); // the empty start, the set, the failure
/// assert_eq!(&*seen[1].instances, ["a:1", "b:1"]);
/// assert_eq!(&*seen[2].instances, ["a:1", "b:1"]);
/// assert_eq!(seen[2].err.as_ref().unwrap().message(), "registry down");
/// ```
pub struct InstanceCache {
    state: RwLock<Event>,
    // Held while an event is delivered, so subscribers get events in order.
    subscribers: Mutex<Vec<Arc<dyn Subscriber>>>,
}

impl InstanceCache {
    /// A cache with no instances and no error.
    pub fn new() -> InstanceCache {
        InstanceCache {
            state: RwLock::new(Event::default()),
            subscribers: Mutex::new(Vec::new()),
        }
    }

    /// The registry was read and holds `instances`: the new good set, the
    /// error cleared. Returns whether anything changed (and so was sent).
    pub fn update(&self, mut instances: Vec<String>) -> bool {
        instances.sort_unstable();
        instances.dedup();
        self.publish(|state| {
            if state.err.is_none() && *state.instances == *instances {
                return false;
            }
            state.instances = Arc::from(instances);
            state.err = None;
            true
        })
    }

    /// The registry could not be read: the last good set stays, beside
    /// `err`. Returns whether anything changed (a second identical error
    /// is not sent again).
    pub fn fail(&self, err: DiscoveryError) -> bool {
        self.publish(|state| {
            if state.err.as_ref() == Some(&err) {
                return false;
            }
            state.err = Some(err);
            true
        })
    }

    fn publish(&self, change: impl FnOnce(&mut Event) -> bool) -> bool {
        let subscribers = self.subscribers.lock();
        let event = {
            let mut state = self.state.write();
            if !change(&mut state) {
                return false;
            }
            state.clone()
        };
        for subscriber in subscribers.iter() {
            subscriber.update(&event);
        }
        true
    }
}

impl Instancer for InstanceCache {
    fn register(&self, subscriber: Arc<dyn Subscriber>) {
        let mut subscribers = self.subscribers.lock();
        let event = self.state.read().clone();
        subscriber.update(&event);
        subscribers.push(subscriber);
    }

    fn deregister(&self, subscriber: &Arc<dyn Subscriber>) {
        let target = Arc::as_ptr(subscriber).cast::<()>();
        self.subscribers
            .lock()
            .retain(|s| Arc::as_ptr(s).cast::<()>() != target);
    }

    fn state(&self) -> Event {
        self.state.read().clone()
    }
}

impl Default for InstanceCache {
    fn default() -> Self {
        InstanceCache::new()
    }
}

impl fmt::Debug for InstanceCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceCache")
            .field("state", &*self.state.read())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn recorder() -> (Arc<Mutex<Vec<Event>>>, Arc<dyn Subscriber>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let sub: Arc<dyn Subscriber> = Arc::new(move |e: &Event| log.lock().push(e.clone()));
        (seen, sub)
    }

    fn set(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_new_subscriber_gets_the_current_state_first() {
        let cache = InstanceCache::new();
        cache.update(set(&["x:1"]));
        let (seen, sub) = recorder();
        cache.register(sub);
        assert_eq!(&*seen.lock()[0].instances, ["x:1"]);
    }

    #[test]
    fn a_failure_keeps_the_last_good_set_and_a_success_clears_it() {
        let cache = InstanceCache::new();
        let (seen, sub) = recorder();
        cache.register(sub);
        cache.update(set(&["b:1", "a:1", "a:1"]));
        assert!(cache.fail(DiscoveryError::new("down")));
        assert!(!cache.fail(DiscoveryError::new("down")));
        assert!(cache.fail(DiscoveryError::new("still down")));
        // The same set again after a failure is news: the error is gone.
        assert!(cache.update(set(&["a:1", "b:1"])));
        let seen = seen.lock();
        let errs: Vec<_> = seen.iter().map(|e| e.err.clone()).collect();
        assert_eq!(
            errs,
            [
                None,
                None,
                Some(DiscoveryError::new("down")),
                Some(DiscoveryError::new("still down")),
                None
            ]
        );
        for e in &seen[1..] {
            assert_eq!(&*e.instances, ["a:1", "b:1"]);
        }
    }

    #[test]
    fn a_deregistered_subscriber_hears_nothing_more() {
        let cache = InstanceCache::new();
        let (seen, sub) = recorder();
        cache.register(sub.clone());
        cache.deregister(&sub);
        cache.update(set(&["a:1"]));
        assert_eq!(seen.lock().len(), 1);
        assert_eq!(Arc::strong_count(&sub), 1);
    }
}
