//! Exporters: metrics and traces out of the process. Prometheus's
//! `GET /metrics` (feature `prometheus`), StatsD and DogStatsD over UDP
//! (feature `statsd`), and Zipkin's v2 span API (feature `zipkin`). What
//! they export — `synkit_core::metrics` and `synkit_core::trace` — is pure
//! logic in the core.

#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;
#[cfg(feature = "statsd")]
#[cfg_attr(docsrs, doc(cfg(feature = "statsd")))]
pub mod statsd;
#[cfg(feature = "zipkin")]
#[cfg_attr(docsrs, doc(cfg(feature = "zipkin")))]
pub mod zipkin;
