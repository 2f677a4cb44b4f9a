//! Instrumenting middleware, Go kit's stringsvc2 `instrumentingMiddleware`:
//! a request count and latency per method and outcome, and the result of
//! every `count`, under stringsvc2's metric names.

use std::time::Instant;

use synkit_core::metrics::{Counter, Family, Histogram, MetricError, Registry};

use super::{StringError, StringService};

/// stringsvc2's counter: requests by `method` and `error`.
pub const REQUEST_COUNT: &str = "my_group_string_service_request_count";
/// stringsvc2's latency, by `method` and `error`. Go kit observes seconds
/// under this name (a summary there; a histogram here).
pub const REQUEST_LATENCY: &str = "my_group_string_service_request_latency_microseconds";
/// The result of each `count`.
pub const COUNT_RESULT: &str = "my_group_string_service_count_result";

/// The latency buckets, in seconds: 10 µs to 1 s.
pub const LATENCY_BUCKETS: [f64; 11] = [
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 1e-1, 0.5, 1.0,
];
/// The count-result buckets, in bytes.
pub const COUNT_BUCKETS: [f64; 8] = [1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0];

/// stringsvc2's three metrics, as families of any backend (Prometheus's
/// registry, StatsD, or a pair of both).
#[derive(Debug)]
pub struct Metrics<C, H> {
    /// Requests by method and error.
    pub request_count: C,
    /// Latency by method and error, in seconds.
    pub request_latency: H,
    /// The result of each count.
    pub count_result: H,
}

impl
    Metrics<
        std::sync::Arc<synkit_core::metrics::CounterFamily>,
        std::sync::Arc<synkit_core::metrics::HistogramFamily>,
    >
{
    /// stringsvc2's metrics, registered in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, MetricError> {
        Ok(Metrics {
            request_count: registry.counter(
                REQUEST_COUNT,
                "Number of requests received.",
                &["method", "error"],
            )?,
            request_latency: registry.histogram(
                REQUEST_LATENCY,
                "Total duration of requests in microseconds.",
                &["method", "error"],
                &LATENCY_BUCKETS,
            )?,
            count_result: registry.histogram(
                COUNT_RESULT,
                "The result of each count method.",
                &[],
                &COUNT_BUCKETS,
            )?,
        })
    }
}

/// The series one outcome of one method updates.
#[derive(Debug)]
struct Outcome<C, H> {
    count: C,
    latency: H,
}

impl<C: Counter, H: Histogram> Outcome<C, H> {
    fn record(&self, begin: Instant) {
        self.count.add(1.0);
        self.latency.observe(begin.elapsed().as_secs_f64());
    }
}

/// A [`StringService`] that counts and times every call to the one it
/// wraps. Every series is resolved when it is made, so a call only adds
/// and observes: no lookup, no allocation.
#[derive(Debug)]
pub struct InstrumentingMiddleware<S, C, H> {
    next: S,
    uppercase_ok: Outcome<C, H>,
    uppercase_err: Outcome<C, H>,
    count: Outcome<C, H>,
    count_result: H,
}

impl<S, C, H> InstrumentingMiddleware<S, C, H> {
    /// Instruments `next` with `metrics`.
    pub fn new<CF, HF>(next: S, metrics: &Metrics<CF, HF>) -> Result<Self, MetricError>
    where
        CF: Family<Series = C>,
        HF: Family<Series = H>,
    {
        let outcome = |method: &str, error: &str| -> Result<Outcome<C, H>, MetricError> {
            Ok(Outcome {
                count: metrics.request_count.with(&[method, error])?,
                latency: metrics.request_latency.with(&[method, error])?,
            })
        };
        Ok(InstrumentingMiddleware {
            next,
            uppercase_ok: outcome("uppercase", "false")?,
            uppercase_err: outcome("uppercase", "true")?,
            count: outcome("count", "false")?,
            count_result: metrics.count_result.with(&[])?,
        })
    }
}

impl<S: StringService, C: Counter, H: Histogram> StringService
    for InstrumentingMiddleware<S, C, H>
{
    fn uppercase(&self, s: &str) -> Result<String, StringError> {
        let begin = Instant::now();
        let out = self.next.uppercase(s);
        match out {
            Ok(_) => self.uppercase_ok.record(begin),
            Err(_) => self.uppercase_err.record(begin),
        }
        out
    }

    fn count(&self, s: &str) -> usize {
        let begin = Instant::now();
        let n = self.next.count(s);
        self.count.record(begin);
        // Counts far below 2^53: exact.
        #[allow(clippy::cast_precision_loss)]
        self.count_result.observe(n as f64);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stringsvc::Strings;

    #[test]
    fn every_call_is_counted_by_method_and_outcome() {
        let registry = Registry::new();
        let metrics = Metrics::register(&registry).unwrap();
        let svc = InstrumentingMiddleware::new(Strings, &metrics).unwrap();
        svc.uppercase("a").unwrap();
        svc.uppercase("b").unwrap();
        let _ = svc.uppercase("");
        assert_eq!(svc.count("hello"), 5);
        let mut text = String::new();
        synkit_core::metrics::prometheus::encode(&registry, &mut text).unwrap();
        assert!(
            text.contains(
                "my_group_string_service_request_count{method=\"uppercase\",error=\"false\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "my_group_string_service_request_count{method=\"uppercase\",error=\"true\"} 1\n"
        ));
        assert!(text.contains(
            "my_group_string_service_request_count{method=\"count\",error=\"false\"} 1\n"
        ));
        assert!(text.contains("my_group_string_service_count_result_sum 5\n"));
        assert!(text.contains("my_group_string_service_request_latency_microseconds_count{method=\"uppercase\",error=\"false\"} 2\n"));
    }
}
