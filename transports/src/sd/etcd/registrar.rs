//! Go kit's `etcdv3.Registrar`: one instance under a lease, kept alive.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use synkit_core::sd::{DiscoveryError, Registrar};

use super::EtcdError;
use super::client::Client;
use crate::stop::Stop;

/// The instance a [`EtcdRegistrar`] publishes: Go kit's `etcdv3.Service`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The key, unique per instance, e.g. `/services/stringsvc/10.0.0.7:8080`.
    pub key: String,
    /// What subscribers get as the instance string, e.g. `10.0.0.7:8080`.
    pub value: String,
}

impl Service {
    /// Go kit's layout: `instance` under `prefix` (key = prefix + instance,
    /// value = instance).
    pub fn under(prefix: &str, instance: &str) -> Service {
        Service {
            key: format!("{prefix}{instance}"),
            value: instance.to_owned(),
        }
    }
}

/// How long a registration lives without a heartbeat, and how often the
/// heartbeat goes: Go kit's `etcdv3.TTLOption`, with its rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TtlOption {
    heartbeat: Duration,
    ttl: Duration,
}

impl TtlOption {
    /// A heartbeat every `heartbeat` (at least 500 ms) for a lease of
    /// `ttl`, which must be longer: if it is not, it becomes three
    /// heartbeats (Go kit's `NewTTLOption`). etcd counts whole seconds, so
    /// the lease is granted for `ttl` rounded up to one.
    pub fn new(heartbeat: Duration, ttl: Duration) -> TtlOption {
        let heartbeat = heartbeat.max(Duration::from_millis(500));
        let ttl = if ttl <= heartbeat { heartbeat * 3 } else { ttl };
        TtlOption { heartbeat, ttl }
    }

    /// The heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// The lease's time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn ttl_seconds(&self) -> i64 {
        let whole = self.ttl.as_secs() + u64::from(self.ttl.subsec_nanos() > 0);
        i64::try_from(whole.max(1)).unwrap_or(i64::MAX)
    }
}

impl Default for TtlOption {
    /// Go kit's suggestion: a 3 s heartbeat for a 10 s lease.
    fn default() -> Self {
        TtlOption::new(Duration::from_secs(3), Duration::from_secs(10))
    }
}

/// Registers one instance in etcd under a lease and keeps it alive: Go
/// kit's `etcdv3.Registrar`.
///
/// [`register`](Registrar::register) grants a lease of the TTL, writes the
/// key with it and starts a heartbeat thread that renews the lease every
/// heartbeat. If a renewal finds the lease gone (the process stalled past
/// the TTL, etcd lost it), the registrar grants a new one and writes the
/// key again. [`deregister`](Registrar::deregister) stops the heartbeat,
/// deletes the key and revokes the lease; dropping a registered registrar
/// does the same.
pub struct EtcdRegistrar {
    client: Arc<Client>,
    service: Service,
    ttl: TtlOption,
    running: Mutex<Option<Heartbeat>>,
}

struct Heartbeat {
    stop: Arc<Stop>,
    lease: Arc<AtomicI64>,
    thread: JoinHandle<()>,
}

impl EtcdRegistrar {
    /// A registrar for `service` through `client`, with `ttl`.
    pub fn new(client: Arc<Client>, service: Service, ttl: TtlOption) -> EtcdRegistrar {
        EtcdRegistrar {
            client,
            service,
            ttl,
            running: Mutex::new(None),
        }
    }

    /// The lease the instance is registered under, while it is.
    pub fn lease(&self) -> Option<i64> {
        self.lock()
            .as_ref()
            .map(|h| h.lease.load(Ordering::Relaxed))
    }

    /// The service registered.
    pub fn service(&self) -> &Service {
        &self.service
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Heartbeat>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Grants a lease and writes the key under it; the lease's ID.
fn publish(client: &Client, service: &Service, ttl: &TtlOption) -> Result<i64, EtcdError> {
    let lease = client.grant(ttl.ttl_seconds())?;
    if let Err(e) = client.put(&service.key, &service.value, Some(lease.id)) {
        let _ = client.revoke(lease.id);
        return Err(e);
    }
    Ok(lease.id)
}

fn heartbeat(client: &Client, service: &Service, ttl: &TtlOption, stop: &Stop, lease: &AtomicI64) {
    while !stop.sleep(ttl.heartbeat) {
        let id = lease.load(Ordering::Relaxed);
        match client.keep_alive(id) {
            Ok(_) => {}
            Err(EtcdError::LeaseExpired(_)) => {
                log::warn!(key = service.key.as_str(), lease = id; "etcd lease lost; registering again");
                match publish(client, service, ttl) {
                    Ok(id) => {
                        lease.store(id, Ordering::Relaxed);
                        log::info!(key = service.key.as_str(), lease = id; "etcd registered again");
                    }
                    Err(e) => {
                        log::warn!(key = service.key.as_str(), err:display = e; "etcd register");
                    }
                }
            }
            Err(e) => log::warn!(key = service.key.as_str(), err:display = e; "etcd heartbeat"),
        }
    }
}

impl Registrar for EtcdRegistrar {
    fn register(&self) -> Result<(), DiscoveryError> {
        let mut running = self.lock();
        if running.is_some() {
            return Ok(());
        }
        let id = publish(&self.client, &self.service, &self.ttl)?;
        let stop = Arc::new(Stop::default());
        let lease = Arc::new(AtomicI64::new(id));
        let thread = {
            let (client, service, ttl) = (self.client.clone(), self.service.clone(), self.ttl);
            let (stop, lease) = (stop.clone(), lease.clone());
            thread::Builder::new()
                .name("synkit-etcd-heartbeat".into())
                .spawn(move || heartbeat(&client, &service, &ttl, &stop, &lease))
                .map_err(|e| DiscoveryError::new(format_args!("cannot start the heartbeat: {e}")))?
        };
        log::info!(key = self.service.key.as_str(), value = self.service.value.as_str(), lease = id; "etcd register");
        *running = Some(Heartbeat {
            stop,
            lease,
            thread,
        });
        Ok(())
    }

    fn deregister(&self) -> Result<(), DiscoveryError> {
        let Some(heartbeat) = self.lock().take() else {
            return Ok(());
        };
        heartbeat.stop.stop();
        let _ = heartbeat.thread.join();
        let id = heartbeat.lease.load(Ordering::Relaxed);
        let deleted = self.client.delete(&self.service.key);
        let revoked = self.client.revoke(id);
        log::info!(key = self.service.key.as_str(); "etcd deregister");
        deleted?;
        match revoked {
            // Already gone: the key went with it.
            Ok(()) | Err(EtcdError::Status(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for EtcdRegistrar {
    fn drop(&mut self) {
        if let Err(e) = self.deregister() {
            log::warn!(key = self.service.key.as_str(), err:display = e; "etcd deregister");
        }
    }
}

impl std::fmt::Debug for EtcdRegistrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdRegistrar")
            .field("service", &self.service)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_options_follow_go_kits_rules() {
        let s = Duration::from_secs;
        let t = TtlOption::new(Duration::from_millis(100), s(10));
        assert_eq!(t.heartbeat(), Duration::from_millis(500));
        let t = TtlOption::new(s(3), s(2));
        assert_eq!(t.ttl(), s(9));
        assert_eq!(
            TtlOption::new(s(1), Duration::from_millis(5_200)).ttl_seconds(),
            6
        );
        assert_eq!(
            Service::under("/services/x/", "h:1"),
            Service {
                key: "/services/x/h:1".into(),
                value: "h:1".into()
            }
        );
    }
}
