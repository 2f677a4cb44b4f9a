//! Service discovery on etcd v3: Go kit's `sd/etcdv3`, over etcd's JSON
//! gateway with ureq (no gRPC stack, no async runtime).
//!
//! - [`EtcdInstancer`] reads every key under a prefix, then watches the
//!   prefix from the revision it read; the instances are the keys' values.
//!   A broken watch is re-established with backoff and resynced by a fresh
//!   read, so no change is lost; while etcd cannot be read, subscribers get
//!   the error beside the last good set.
//! - [`EtcdRegistrar`] writes one instance under a lease with a TTL and
//!   keeps the lease alive from a heartbeat thread; if the lease is lost
//!   (etcd restarted, the heartbeat stalled past the TTL) it registers
//!   again. Deregistering deletes the key and revokes the lease.
//!
//! The key layout is Go kit's: an instance at `10.0.0.7:8080` registered
//! under `/services/stringsvc/` is the key `/services/stringsvc/10.0.0.7:8080`
//! with the value `10.0.0.7:8080`, so Go kit and synkit services can share
//! a registry.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use synkit_core::sd::{Instancer, Registrar};
//! use synkit_transports::sd::etcd::{Client, EtcdInstancer, EtcdRegistrar, Service, TtlOption};
//!
//! let client = Arc::new(Client::new(["http://127.0.0.1:2379"]));
//! let registrar = EtcdRegistrar::new(
//!     client.clone(),
//!     Service::under("/services/stringsvc/", "127.0.0.1:8080"),
//!     TtlOption::new(Duration::from_secs(1), Duration::from_secs(5)),
//! );
//! registrar.register()?;
//! let instancer = EtcdInstancer::new(client, "/services/stringsvc/");
//! assert!(instancer.state().instances.contains(&"127.0.0.1:8080".to_owned()));
//! registrar.deregister()?;
//! # Ok::<(), synkit_core::sd::DiscoveryError>(())
//! ```

mod client;
mod instancer;
mod registrar;
mod wire;

use std::fmt;

pub use client::{Client, ClientOptions, Entries, Lease};
pub use instancer::EtcdInstancer;
pub use registrar::{EtcdRegistrar, Service, TtlOption};

use synkit_core::sd::DiscoveryError;

/// What went wrong talking to etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EtcdError {
    /// No member could be reached, or the connection broke.
    Unreachable(String),
    /// etcd answered with an error (its message).
    Status(String),
    /// The reply was not what etcd's gateway sends: garbage, or a shape we
    /// do not know.
    Malformed(String),
    /// The lease is gone (expired or revoked).
    LeaseExpired(i64),
}

impl fmt::Display for EtcdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtcdError::Unreachable(why) => write!(f, "etcd cannot be reached: {why}"),
            EtcdError::Status(message) => write!(f, "etcd refused: {message}"),
            EtcdError::Malformed(what) => write!(f, "etcd's reply makes no sense: {what}"),
            EtcdError::LeaseExpired(id) => write!(f, "etcd lease {id:x} has expired"),
        }
    }
}

impl std::error::Error for EtcdError {}

impl From<EtcdError> for DiscoveryError {
    fn from(e: EtcdError) -> DiscoveryError {
        DiscoveryError::new(e)
    }
}
