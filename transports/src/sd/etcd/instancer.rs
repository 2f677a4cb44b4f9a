//! Go kit's `etcdv3.Instancer`: the values under a prefix, kept current by
//! a watch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use synkit_core::sd::{InstanceCache, Instancer};

use super::EtcdError;
use super::client::{Client, WatchNews};
use crate::sd::Background;
use crate::stop::{Backoff, Stop};

/// The instances registered under a prefix in etcd: Go kit's
/// `etcdv3.Instancer`.
///
/// Made with a first read of the prefix (so its state is real from the
/// start: the set, or why etcd could not be read), then a thread watches
/// the prefix from the revision read. The instances are the keys' values,
/// sorted. When the watch breaks (etcd restarted, the revision compacted,
/// the connection lost) the thread reads the prefix again, backing off
/// from 100 ms to 5 s while etcd cannot be reached, and watches on from
/// the new revision: changes made while it was away are in the read.
/// While etcd cannot be read, subscribers get its error beside the last
/// good set.
///
/// Dropping it (or [`stop`](Instancer::stop)) ends the thread within the
/// client's [`watch_idle`](super::ClientOptions::watch_idle).
pub struct EtcdInstancer {
    background: Background,
}

/// The watching thread's state.
struct Watch {
    client: Arc<Client>,
    prefix: String,
    cache: Arc<InstanceCache>,
    stop: Arc<Stop>,
    keys: BTreeMap<String, String>,
    /// The last revision applied; `None` when a resync is due.
    revision: Option<i64>,
}

impl EtcdInstancer {
    /// Reads `prefix` through `client` and watches it from then on.
    pub fn new(client: Arc<Client>, prefix: impl Into<String>) -> EtcdInstancer {
        let background = Background::new();
        let cache = background.cache.clone();
        let mut watch = Watch {
            client,
            prefix: prefix.into(),
            cache: cache.clone(),
            stop: background.stop.clone(),
            keys: BTreeMap::new(),
            revision: None,
        };
        match watch.resync() {
            Ok(()) => {
                log::info!(prefix = watch.prefix.as_str(), instances = watch.keys.len(); "etcd instancer");
            }
            Err(e) => log::warn!(prefix = watch.prefix.as_str(), err:display = e; "etcd instancer"),
        }
        let spawned = thread::Builder::new()
            .name("synkit-etcd-watch".into())
            .spawn(move || watch.run());
        if let Err(e) = spawned {
            cache
                .fail(EtcdError::Unreachable(format!("cannot start the watch thread: {e}")).into());
        }
        EtcdInstancer { background }
    }
}

impl Watch {
    fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        while !self.stop.is_stopped() {
            let Some(revision) = self.revision else {
                match self.resync() {
                    Ok(()) => {}
                    Err(e) => {
                        log::warn!(prefix = self.prefix.as_str(), err:display = e; "etcd resync failed");
                        if self.stop.sleep(backoff.next()) {
                            return;
                        }
                    }
                }
                continue;
            };
            let mut heard = false;
            let mut canceled = None;
            let (client, prefix) = (self.client.clone(), self.prefix.clone());
            let outcome = client.watch(&prefix, revision + 1, |news| {
                heard = true;
                match news {
                    WatchNews::Changes {
                        revision,
                        puts,
                        deletes,
                    } => self.apply(revision, puts, deletes),
                    WatchNews::Nothing => {}
                    WatchNews::Canceled(why) => {
                        canceled = Some(why);
                        return false;
                    }
                }
                !self.stop.is_stopped()
            });
            match outcome {
                // Silent for a while: re-arm from where it was.
                Ok(true) => backoff.reset(),
                Ok(false) => {
                    if let Some(why) = canceled {
                        log::info!(prefix = self.prefix.as_str(), why = why.as_str(); "etcd watch canceled; resyncing");
                    }
                    self.revision = None;
                    if !heard && self.stop.sleep(backoff.next()) {
                        return;
                    }
                }
                Err(e) => {
                    log::warn!(prefix = self.prefix.as_str(), err:display = e; "etcd watch broke; resyncing");
                    self.revision = None;
                    if self.stop.sleep(backoff.next()) {
                        return;
                    }
                }
            }
        }
    }

    /// Reads the whole prefix afresh.
    fn resync(&mut self) -> Result<(), EtcdError> {
        match self.client.entries(&self.prefix) {
            Ok(entries) => {
                self.keys = entries.kvs.into_iter().collect();
                self.revision = Some(entries.revision);
                self.publish();
                Ok(())
            }
            Err(e) => {
                self.cache.fail(e.clone().into());
                Err(e)
            }
        }
    }

    fn apply(&mut self, revision: i64, puts: Vec<(String, String)>, deletes: Vec<String>) {
        for (key, value) in puts {
            self.keys.insert(key, value);
        }
        for key in deletes {
            self.keys.remove(&key);
        }
        self.revision = Some(revision.max(self.revision.unwrap_or(0)));
        self.publish();
    }

    fn publish(&self) {
        self.cache.update(self.keys.values().cloned().collect());
    }
}

crate::sd::instancer_by_background!(EtcdInstancer);
