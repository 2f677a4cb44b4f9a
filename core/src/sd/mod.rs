//! Service discovery: Go kit's `sd`, without the I/O.
//!
//! An [`Instancer`] knows the live set of a service's instances (address
//! strings such as `10.0.0.7:8080`) and tells its [`Subscriber`]s every
//! time the set changes, or the registry behind it fails, as an [`Event`].
//! An [`Endpointer`] subscribes, turns each instance into an endpoint
//! with a [`Factory`] (once per instance, closed when the instance leaves)
//! and offers the current endpoints as an
//! [`EndpointSet`](crate::lb::EndpointSet) that the balancers in
//! [`lb`](crate::lb) pick from. A [`Registrar`] puts this instance into a
//! registry and takes it out again.
//!
//! The instancers that talk to registries (etcd, DNS SRV) live in
//! `synkit-transports`; here is the one that needs none,
//! [`FixedInstancer`], and [`InstanceCache`], the state and subscriber list
//! every instancer keeps. Needs `alloc`.
//!
//! ```
//! use std::sync::Arc;
//! use synkit_core::endpoint::{Endpoint, endpoint_fn};
//! use synkit_core::lb::{Balancer, RoundRobin};
//! use synkit_core::sd::{DiscoveryError, Endpointer, FixedInstancer};
//! use synkit_core::{Context, Error};
//!
//! // A factory: an instance string in, an endpoint for it out. A real one
//! // makes an HTTP client for the address.
//! let factory = |instance: &str| -> Result<_, DiscoveryError> {
//!     let name = instance.to_owned();
//!     Ok(endpoint_fn(move |_: &Context<'_>, (): ()| Ok::<_, Error>(name.clone())))
//! };
//! let instancer = Arc::new(FixedInstancer::new(["b:80", "a:80"]));
//! let endpointer = Endpointer::new(instancer, factory);
//! let rr = RoundRobin::new(endpointer);
//! let cx = Context::background();
//! // Endpoints come in the instances' sorted order.
//! assert_eq!(rr.pick().unwrap().call(&cx, ()).unwrap(), "a:80");
//! assert_eq!(rr.pick().unwrap().call(&cx, ()).unwrap(), "b:80");
//! ```

mod cache;
mod endpointer;
mod factory;
mod fixed;

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

pub use cache::InstanceCache;
pub use endpointer::{Endpointer, EndpointerOptions};
pub use factory::Factory;
pub use fixed::FixedInstancer;

/// What an [`Instancer`] tells its subscribers: Go kit's `sd.Event`.
///
/// `instances` is the last good set, sorted and without duplicates; `err`
/// says why the registry could not be read the last time it was asked
/// (it is `None` once a read succeeds again). Unlike Go kit, an event with
/// an error still carries the last good set, so a subscriber need not have
/// kept it: what to do with it is the subscriber's choice (an
/// [`Endpointer`] keeps serving it, for a while or for good).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The instances, sorted.
    pub instances: Arc<[String]>,
    /// Why the last read of the registry failed, if it did.
    pub err: Option<DiscoveryError>,
}

/// Why a registry could not be read or written: a message for people,
/// cheap to clone into every subscriber's event.
#[derive(Clone, PartialEq, Eq)]
pub struct DiscoveryError(Arc<str>);

impl DiscoveryError {
    /// An error that says `message`.
    pub fn new(message: impl fmt::Display) -> DiscoveryError {
        DiscoveryError(Arc::from(alloc::format!("{message}")))
    }

    /// What went wrong, in words.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DiscoveryError({:?})", &*self.0)
    }
}

impl core::error::Error for DiscoveryError {}

/// Told of every change to an [`Instancer`]'s state: the receiving end of
/// Go kit's `chan sd.Event`.
///
/// An instancer calls [`update`](Self::update) on its own thread, one event
/// at a time and in order. It must not register or deregister subscribers
/// from inside `update` (the instancer holds its subscriber list while it
/// delivers).
pub trait Subscriber: Send + Sync {
    /// The instancer's new state.
    fn update(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync> Subscriber for F {
    fn update(&self, event: &Event) {
        self(event);
    }
}

/// A live set of instances that tells its subscribers when it changes: Go
/// kit's `sd.Instancer`.
///
/// A subscriber gets the current state as soon as it registers, then every
/// change. An instancer that talks to a registry keeps doing so until it
/// is [stopped](Self::stop) or dropped.
pub trait Instancer: Send + Sync {
    /// Sends `subscriber` the current state, then every change.
    fn register(&self, subscriber: Arc<dyn Subscriber>);

    /// Stops sending to `subscriber` (the same `Arc` that was registered).
    fn deregister(&self, subscriber: &Arc<dyn Subscriber>);

    /// The state now: the last good set, and the last error if there is
    /// one.
    fn state(&self) -> Event;

    /// Stops watching the registry. Subscribers keep the last state.
    /// Default: nothing (an instancer with nothing to watch).
    fn stop(&self) {}
}

impl<I: Instancer + ?Sized> Instancer for Arc<I> {
    fn register(&self, subscriber: Arc<dyn Subscriber>) {
        (**self).register(subscriber);
    }
    fn deregister(&self, subscriber: &Arc<dyn Subscriber>) {
        (**self).deregister(subscriber);
    }
    fn state(&self) -> Event {
        (**self).state()
    }
    fn stop(&self) {
        (**self).stop();
    }
}

/// Puts this instance into a registry and takes it out: Go kit's
/// `sd.Registrar`.
pub trait Registrar {
    /// Registers the instance (and, where the registry wants one, keeps a
    /// heartbeat going until [`deregister`](Self::deregister)).
    fn register(&self) -> Result<(), DiscoveryError>;

    /// Takes the instance out of the registry, typically just before
    /// shutdown.
    fn deregister(&self) -> Result<(), DiscoveryError>;
}
