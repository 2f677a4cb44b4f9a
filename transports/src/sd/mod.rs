//! Service discovery backends that talk to real registries: the
//! instancers and registrars of `synkit_core::sd` for etcd v3 (feature
//! `etcd`) and DNS SRV (feature `dnssrv`). The model they plug into —
//! `Instancer`, `Endpointer`, `Factory`, `Registrar`, the fixed instancer —
//! is in `synkit_core::sd`.

#[cfg(feature = "dnssrv")]
#[cfg_attr(docsrs, doc(cfg(feature = "dnssrv")))]
pub mod dnssrv;
#[cfg(feature = "etcd")]
#[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
pub mod etcd;

/// The state, subscribers and stop signal of an instancer that a thread
/// keeps current, and its `Instancer` impl, which hands everything to the
/// cache; dropping it stops the thread.
#[cfg(any(feature = "etcd", feature = "dnssrv"))]
struct Background {
    cache: std::sync::Arc<synkit_core::sd::InstanceCache>,
    stop: std::sync::Arc<crate::stop::Stop>,
}

#[cfg(any(feature = "etcd", feature = "dnssrv"))]
impl Background {
    fn new() -> Background {
        Background {
            cache: std::sync::Arc::default(),
            stop: std::sync::Arc::default(),
        }
    }
}

#[cfg(any(feature = "etcd", feature = "dnssrv"))]
impl synkit_core::sd::Instancer for Background {
    fn register(&self, subscriber: std::sync::Arc<dyn synkit_core::sd::Subscriber>) {
        self.cache.register(subscriber);
    }

    fn deregister(&self, subscriber: &std::sync::Arc<dyn synkit_core::sd::Subscriber>) {
        self.cache.deregister(subscriber);
    }

    fn state(&self) -> synkit_core::sd::Event {
        self.cache.state()
    }

    fn stop(&self) {
        self.stop.stop();
    }
}

#[cfg(any(feature = "etcd", feature = "dnssrv"))]
impl Drop for Background {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// `impl Instancer for $t` by its `background` field.
macro_rules! instancer_by_background {
    ($t:ty) => {
        impl synkit_core::sd::Instancer for $t {
            fn register(&self, subscriber: std::sync::Arc<dyn synkit_core::sd::Subscriber>) {
                self.background.register(subscriber);
            }
            fn deregister(&self, subscriber: &std::sync::Arc<dyn synkit_core::sd::Subscriber>) {
                self.background.deregister(subscriber);
            }
            fn state(&self) -> synkit_core::sd::Event {
                self.background.state()
            }
            fn stop(&self) {
                self.background.stop();
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("state", &self.background.cache.state())
                    .finish_non_exhaustive()
            }
        }
    };
}
use instancer_by_background;
