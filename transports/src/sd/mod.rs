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
mod stop;
