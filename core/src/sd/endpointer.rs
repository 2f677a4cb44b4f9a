//! Go kit's `sd.Endpointer`: one endpoint per live instance, ready to
//! balance over.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use super::{DiscoveryError, Event, Factory, Instancer, Subscriber};
use crate::Error;
use crate::lb::EndpointSet;
use crate::sync::{Mutex, RwLock};
use crate::time::{Clock, Duration, Instant};

/// How an [`Endpointer`] treats a failing registry.
///
/// The default is Go kit's: keep serving the last good set for as long as
/// the registry fails. [`invalidate_on_error`](Self::invalidate_on_error)
/// is Go kit's `InvalidateOnError(timeout)`.
#[derive(Clone, Default)]
pub struct EndpointerOptions {
    invalidate: Option<(Duration, Arc<dyn Clock + Send + Sync>)>,
}

impl EndpointerOptions {
    /// Keeps serving the last good set for `timeout` after the registry
    /// starts failing, then closes every endpoint and answers with the
    /// registry's error until it is read again. `clock` tells the time.
    #[must_use]
    pub fn invalidate_on_error(
        mut self,
        timeout: Duration,
        clock: Arc<dyn Clock + Send + Sync>,
    ) -> EndpointerOptions {
        self.invalidate = Some((timeout, clock));
        self
    }
}

impl fmt::Debug for EndpointerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointerOptions")
            .field(
                "invalidate_on_error",
                &self.invalidate.as_ref().map(|i| i.0),
            )
            .finish()
    }
}

/// The live set of endpoints for an [`Instancer`]'s instances: Go kit's
/// `sd.DefaultEndpointer`.
///
/// Subscribes to the instancer; for every instance that joins, the
/// [`Factory`] makes an endpoint (once); for every instance that leaves, it
/// is closed. The endpoints come in the instances' sorted order. As an
/// [`EndpointSet`] it is what the balancers in [`lb`](crate::lb) pick from:
/// a pick takes a reference-counted snapshot of the set, so an update never
/// waits for calls in flight and a call never sees a half-made set.
///
/// When the registry fails, the last good set keeps serving (Go kit's
/// rule), for good or, with
/// [`EndpointerOptions::invalidate_on_error`], for a while. Unlike Go kit,
/// an Endpointer that has never had a good set reports the registry's error
/// rather than an empty set. Dropping the Endpointer deregisters it.
pub struct Endpointer<E> {
    shared: Arc<Shared<E>>,
    instancer: Arc<dyn Instancer>,
    subscription: Arc<dyn Subscriber>,
}

struct Shared<E> {
    factory: Box<dyn Factory<Endpoint = E> + Send + Sync>,
    invalidate: Option<(Duration, Arc<dyn Clock + Send + Sync>)>,
    // Every endpoint made, by instance: changed only by updates.
    made: Mutex<BTreeMap<String, Arc<E>>>,
    live: RwLock<Live<E>>,
}

struct Live<E> {
    endpoints: Arc<[Arc<E>]>,
    err: Option<DiscoveryError>,
    // With invalidate-on-error: when the set stops being served.
    invalid_at: Option<Instant>,
}

impl<E: Send + Sync + 'static> Endpointer<E> {
    /// Subscribes to `instancer`, making endpoints with `factory`; keeps the
    /// last good set while the registry fails.
    pub fn new<F>(instancer: Arc<dyn Instancer>, factory: F) -> Endpointer<E>
    where
        F: Factory<Endpoint = E> + Send + Sync + 'static,
    {
        Endpointer::with_options(instancer, factory, EndpointerOptions::default())
    }

    /// As [`new`](Self::new), treating failures as `options` say.
    pub fn with_options<F>(
        instancer: Arc<dyn Instancer>,
        factory: F,
        options: EndpointerOptions,
    ) -> Endpointer<E>
    where
        F: Factory<Endpoint = E> + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared {
            factory: Box::new(factory),
            invalidate: options.invalidate,
            made: Mutex::new(BTreeMap::new()),
            live: RwLock::new(Live {
                endpoints: Arc::from(Vec::new()),
                err: None,
                invalid_at: None,
            }),
        });
        let subscription: Arc<dyn Subscriber> = shared.clone();
        instancer.register(subscription.clone());
        Endpointer {
            shared,
            instancer,
            subscription,
        }
    }
}

impl<E> Endpointer<E> {
    /// The endpoints now, in instance order, or the registry's error: Go
    /// kit's `Endpoints()`. Allocates nothing: the set is shared.
    pub fn endpoints(&self) -> Result<Arc<[Arc<E>]>, DiscoveryError> {
        let shared = &*self.shared;
        if let Some(serving) = shared.live.read().serving(shared) {
            return serving;
        }
        // The grace period is over: close everything, report the error.
        // Locks are taken in the order updates take them.
        let mut made = shared.made.lock();
        let mut live = shared.live.write();
        if let Some(serving) = live.serving(shared) {
            return serving;
        }
        live.endpoints = Arc::from(Vec::new());
        live.invalid_at = None;
        Shared::close_all(&*shared.factory, &mut made);
        Err(live
            .err
            .clone()
            .unwrap_or_else(|| DiscoveryError::new("no endpoints")))
    }
}

impl<E> Live<E> {
    /// What to answer now, or `None` when the set must be invalidated.
    fn serving(&self, shared: &Shared<E>) -> Option<Result<Arc<[Arc<E>]>, DiscoveryError>> {
        let Some(err) = &self.err else {
            return Some(Ok(self.endpoints.clone()));
        };
        if self.endpoints.is_empty() {
            // Never had a good set, or already invalidated: nothing to serve.
            return Some(Err(err.clone()));
        }
        match (self.invalid_at, &shared.invalidate) {
            (Some(at), Some((_, clock))) if clock.now() >= at => None,
            _ => Some(Ok(self.endpoints.clone())),
        }
    }
}

impl<E> Shared<E> {
    /// Makes the endpoints for `instances` (sorted), keeping those already
    /// made and closing those no longer wanted; returns the new set.
    fn replace(
        factory: &dyn Factory<Endpoint = E>,
        made: &mut BTreeMap<String, Arc<E>>,
        instances: &[String],
    ) -> Arc<[Arc<E>]> {
        let mut kept = BTreeMap::new();
        let mut endpoints = Vec::with_capacity(instances.len());
        for instance in instances {
            let endpoint = match made.remove(instance) {
                Some(endpoint) => endpoint,
                None => match factory.make(instance) {
                    Ok(endpoint) => Arc::new(endpoint),
                    Err(_) => continue,
                },
            };
            endpoints.push(endpoint.clone());
            kept.insert(instance.clone(), endpoint);
        }
        Shared::close_all(factory, made);
        *made = kept;
        Arc::from(endpoints)
    }

    fn close_all(factory: &dyn Factory<Endpoint = E>, made: &mut BTreeMap<String, Arc<E>>) {
        for (instance, endpoint) in core::mem::take(made) {
            factory.close(&instance, &endpoint);
        }
    }
}

impl<E: Send + Sync> Subscriber for Shared<E> {
    fn update(&self, event: &Event) {
        let Some(err) = &event.err else {
            let mut made = self.made.lock();
            let endpoints = Shared::replace(&*self.factory, &mut made, &event.instances);
            let mut live = self.live.write();
            live.endpoints = endpoints;
            live.err = None;
            live.invalid_at = None;
            return;
        };
        let mut live = self.live.write();
        if live.err.is_some() {
            // Already failing: keep the first error and its deadline.
            return;
        }
        live.err = Some(err.clone());
        live.invalid_at = self
            .invalidate
            .as_ref()
            .map(|(timeout, clock)| clock.now().saturating_add(*timeout));
    }
}

impl<E> EndpointSet for Endpointer<E> {
    type Endpoint = Arc<E>;
    type Snapshot<'a>
        = Arc<[Arc<E>]>
    where
        E: 'a;

    /// The endpoints now; [`Error::Unavailable`] when the registry's error
    /// is being reported ([`Endpointer::endpoints`] says which).
    #[inline]
    fn snapshot(&self) -> Result<Arc<[Arc<E>]>, Error> {
        self.endpoints().map_err(|_| Error::Unavailable)
    }
}

impl<E> Drop for Endpointer<E> {
    fn drop(&mut self) {
        self.instancer.deregister(&self.subscription);
    }
}

impl<E> fmt::Debug for Endpointer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self.shared.live.read();
        f.debug_struct("Endpointer")
            .field("endpoints", &live.endpoints.len())
            .field("err", &live.err)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sd::InstanceCache;
    use crate::time::ManualClock;
    use alloc::string::ToString;

    /// A factory that records what it made and closed.
    #[derive(Default)]
    struct Recording {
        log: Mutex<Vec<String>>,
    }

    impl Factory for Arc<Recording> {
        type Endpoint = String;
        fn make(&self, instance: &str) -> Result<String, DiscoveryError> {
            if instance.starts_with("bad") {
                return Err(DiscoveryError::new("cannot dial"));
            }
            self.log.lock().push(alloc::format!("make {instance}"));
            Ok(instance.to_string())
        }
        fn close(&self, instance: &str, endpoint: &String) {
            assert_eq!(instance, endpoint);
            self.log.lock().push(alloc::format!("close {instance}"));
        }
    }

    fn names(e: &Endpointer<String>) -> Vec<String> {
        e.endpoints()
            .unwrap()
            .iter()
            .map(|s| String::clone(s))
            .collect()
    }

    fn set(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_instance_gets_one_endpoint_closed_when_it_leaves() {
        let cache = Arc::new(InstanceCache::new());
        let factory = Arc::new(Recording::default());
        let e = Endpointer::new(cache.clone(), factory.clone());
        cache.update(set(&["b", "a", "bad"]));
        assert_eq!(names(&e), ["a", "b"]);
        let held = e.endpoints().unwrap();
        cache.update(set(&["c", "b"]));
        assert_eq!(names(&e), ["b", "c"]);
        // The snapshot taken before the change is untouched.
        assert_eq!(*held[0], "a");
        assert_eq!(
            *factory.log.lock(),
            ["make a", "make b", "make c", "close a"]
        );
    }

    #[test]
    fn by_default_a_failing_registry_leaves_the_last_set_serving() {
        let cache = Arc::new(InstanceCache::new());
        let e = Endpointer::new(cache.clone(), Arc::new(Recording::default()));
        cache.update(set(&["a"]));
        cache.fail(DiscoveryError::new("etcd down"));
        assert_eq!(names(&e), ["a"]);
    }

    #[test]
    fn a_registry_that_never_answered_is_an_error_not_an_empty_set() {
        let cache = Arc::new(InstanceCache::new());
        cache.fail(DiscoveryError::new("connection refused"));
        let e = Endpointer::new(cache.clone(), Arc::new(Recording::default()));
        assert_eq!(e.endpoints().unwrap_err().message(), "connection refused");
        assert_eq!(e.snapshot().unwrap_err(), Error::Unavailable);
        cache.update(set(&["a"]));
        assert_eq!(names(&e), ["a"]);
    }

    #[test]
    fn invalidate_on_error_serves_for_the_timeout_then_reports_the_first_error() {
        let clock = Arc::new(ManualClock::new());
        let cache = Arc::new(InstanceCache::new());
        let factory = Arc::new(Recording::default());
        let options =
            EndpointerOptions::default().invalidate_on_error(Duration::from_secs(5), clock.clone());
        let e = Endpointer::with_options(cache.clone(), factory.clone(), options);
        cache.update(set(&["a", "b"]));
        cache.fail(DiscoveryError::new("first"));
        clock.advance(Duration::from_secs(3));
        // A second failure neither replaces the error nor moves the deadline.
        cache.fail(DiscoveryError::new("second"));
        clock.advance(Duration::from_millis(1_999));
        assert_eq!(names(&e), ["a", "b"]);
        clock.advance(Duration::from_millis(1));
        assert_eq!(e.endpoints().unwrap_err().message(), "first");
        assert_eq!(e.endpoints().unwrap_err().message(), "first");
        assert_eq!(
            *factory.log.lock(),
            ["make a", "make b", "close a", "close b"]
        );
        // The registry answers again: the set is made afresh.
        cache.update(set(&["a"]));
        assert_eq!(names(&e), ["a"]);
        assert_eq!(factory.log.lock().last().unwrap(), "make a");
    }

    #[test]
    fn dropping_the_endpointer_unsubscribes_it() {
        let cache = Arc::new(InstanceCache::new());
        let factory = Arc::new(Recording::default());
        let e = Endpointer::new(cache.clone(), factory.clone());
        drop(e);
        cache.update(set(&["a"]));
        assert!(factory.log.lock().is_empty());
    }
}
