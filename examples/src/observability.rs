//! The examples' metrics: stringsvc2's three metrics in a Prometheus
//! registry (served at `GET /metrics`) and, with `--statsd` or
//! `--dogstatsd`, sent there as well.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use synkit_core::metrics::{CounterFamily, HistogramFamily, Registry};
use synkit_core::time::SystemClock;
use synkit_core::trace::{NoopReporter, Reporter, Sampler, Tracer};
use synkit_transports::export::statsd::{
    Flavor, Sender, Statsd, StatsdCounter, StatsdFamily, StatsdHistogram,
};
use synkit_transports::export::zipkin::ZipkinReporter;

use crate::cli::Args;
use crate::stringsvc::instrumenting::{COUNT_RESULT, Metrics, REQUEST_COUNT, REQUEST_LATENCY};

/// Counters in the registry and, if asked for, StatsD.
pub type CounterFamilies = (Arc<CounterFamily>, Option<StatsdFamily<StatsdCounter>>);
/// Histograms in the registry and, if asked for, StatsD.
pub type HistogramFamilies = (Arc<HistogramFamily>, Option<StatsdFamily<StatsdHistogram>>);

/// How often StatsD gets what accumulated.
const STATSD_INTERVAL: Duration = Duration::from_secs(1);

/// What the flags ask a service to export.
#[derive(Debug)]
pub struct Observability {
    /// The registry `GET /metrics` serves.
    pub registry: Arc<Registry>,
    /// stringsvc2's metrics, in the registry and, if asked, StatsD.
    pub metrics: Metrics<CounterFamilies, HistogramFamilies>,
    /// The StatsD sender, to keep alive while serving.
    pub statsd: Option<Sender>,
}

/// The registry and stringsvc2's metrics in it (and in StatsD when the
/// flags ask).
pub fn metrics(args: &Args) -> Result<Observability, String> {
    let registry = Arc::new(Registry::new());
    let prom = Metrics::register(&registry).map_err(|e| e.to_string())?;
    let target = match (&args.statsd, &args.dogstatsd) {
        (Some(_), Some(_)) => return Err("give --statsd or --dogstatsd, not both".into()),
        (Some(a), None) => Some((a, Flavor::Statsd)),
        (None, Some(a)) => Some((a, Flavor::DogStatsd)),
        (None, None) => None,
    };
    let (statsd, sender) = match target {
        None => (None, None),
        Some((addr, flavor)) => {
            let addr: SocketAddr = addr
                .parse()
                .map_err(|e| format!("--statsd takes HOST:PORT, not {addr:?}: {e}"))?;
            let statsd = Statsd::new("", flavor);
            let sender = statsd
                .send_every(addr, STATSD_INTERVAL)
                .map_err(|e| format!("cannot send to {addr}: {e}"))?;
            (Some(statsd), Some(sender))
        }
    };
    let metrics = Metrics {
        request_count: (
            prom.request_count,
            statsd
                .as_ref()
                .map(|s| s.counter(REQUEST_COUNT, &["method", "error"])),
        ),
        request_latency: (
            prom.request_latency,
            statsd
                .as_ref()
                .map(|s| s.histogram(REQUEST_LATENCY, &["method", "error"])),
        ),
        count_result: (
            prom.count_result,
            statsd.as_ref().map(|s| s.histogram(COUNT_RESULT, &[])),
        ),
    };
    Ok(Observability {
        registry,
        metrics,
        statsd: sender,
    })
}

/// The examples' tracer: spans timed by the system clock.
pub type ServiceTracer = Tracer<SystemClock>;

/// A tracer for `service`: with `--zipkin-url`, sampling every request
/// and reporting to that collector (flushed at shutdown); without it,
/// sampling none (spans still carry ids to propagate).
pub fn tracer(args: &Args, service: &'static str) -> Arc<ServiceTracer> {
    let (reporter, sampler): (Arc<dyn Reporter>, Sampler) = match &args.zipkin_url {
        Some(url) => {
            let zipkin = Arc::new(ZipkinReporter::new(url));
            let flushed = zipkin.clone();
            crate::cli::at_shutdown(move || flushed.flush(Duration::from_secs(2)));
            (zipkin, Sampler::Always)
        }
        None => (Arc::new(NoopReporter), Sampler::Never),
    };
    Arc::new(Tracer::system(service, reporter).with_sampler(sampler))
}
