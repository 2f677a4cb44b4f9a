//! Logs, metrics and traces on the hot path, beside what Rust users pick
//! instead: prometheus-client for metrics, `log` + `env_logger` for lines.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use criterion::{Criterion, criterion_group, criterion_main};
use log::Log;
use log::kv::Value;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;
use synkit_core::log::{Format, GoDuration, Logger};
use synkit_core::metrics::{
    AtomicCounter, AtomicHistogram, Counter, Family, Histogram, Registry, prometheus,
};
use synkit_core::time::{ManualClock, SystemClock, TscClock};
use synkit_core::trace::{Kind, NoopReporter, Sampler, Tracer, system_micros};

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn metrics(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics");
    let ours = AtomicCounter::new();
    let theirs: PcCounter = PcCounter::default();
    g.bench_function("synkit_counter_inc", |b| b.iter(|| black_box(&ours).inc()));
    g.bench_function("synkit_counter_add_1", |b| {
        b.iter(|| black_box(&ours).add(1.0));
    });
    g.bench_function("prometheus_client_counter_inc", |b| {
        b.iter(|| black_box(&theirs).inc());
    });

    let ours = AtomicHistogram::new(&BUCKETS);
    let theirs = PcHistogram::new(BUCKETS);
    g.bench_function("synkit_histogram_observe", |b| {
        b.iter(|| black_box(&ours).observe(black_box(0.07)));
    });
    g.bench_function("prometheus_client_histogram_observe", |b| {
        b.iter(|| black_box(&theirs).observe(black_box(0.07)));
    });

    // A labelled counter: resolved once (the series kept), and looked up
    // per call by its label values.
    let registry = Registry::new();
    let family = registry
        .counter("requests", "Requests.", &["method", "error"])
        .unwrap();
    let series = family.with(&["uppercase", "false"]).unwrap();
    g.bench_function("synkit_labelled_counter_cached_series", |b| {
        b.iter(|| black_box(&series).add(1.0));
    });
    g.bench_function("synkit_labelled_counter_with_per_call", |b| {
        b.iter(|| {
            family
                .with(black_box(&["uppercase", "false"]))
                .unwrap()
                .add(1.0);
        });
    });
    let theirs: PcFamily<Vec<(&'static str, &'static str)>, PcCounter> = PcFamily::default();
    let labels = vec![("method", "uppercase"), ("error", "false")];
    g.bench_function("prometheus_client_family_get_or_create_per_call", |b| {
        b.iter(|| {
            theirs.get_or_create(black_box(&labels)).inc();
        });
    });

    // Exposition of 3 families × 10 series.
    let registry = Registry::new();
    let mut pc = prometheus_client::registry::Registry::default();
    let methods = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for name in ["one", "two", "three"] {
        let f = registry
            .counter(&format!("synkit_{name}_total"), "Help.", &["method"])
            .unwrap();
        let theirs: PcFamily<Vec<(&'static str, &'static str)>, PcCounter> = PcFamily::default();
        for m in methods {
            f.with(&[m]).unwrap().add(3.0);
            theirs.get_or_create(&vec![("method", m)]).inc_by(3);
        }
        pc.register(format!("synkit_{name}"), "Help.", theirs);
    }
    let mut text = String::with_capacity(8192);
    g.bench_function("synkit_encode_30_series", |b| {
        b.iter(|| {
            text.clear();
            prometheus::encode(&registry, &mut text).unwrap();
        });
    });
    g.bench_function("prometheus_client_encode_30_series", |b| {
        b.iter(|| {
            text.clear();
            prometheus_client::encoding::text::encode(&mut text, &pc).unwrap();
        });
    });
    g.finish();
}

fn logging(c: &mut Criterion) {
    let mut g = c.benchmark_group("logging");
    let took = GoDuration(core::time::Duration::from_nanos(1_234));
    let kvs: [(&str, Value<'_>); 5] = [
        ("method", Value::from("uppercase")),
        ("input", Value::from("hello, world")),
        ("output", Value::from("HELLO, WORLD")),
        ("err", Value::null()),
        ("took", Value::from_display(&took)),
    ];
    let pairs = kvs.as_slice();
    let record = || {
        log::Record::builder()
            .level(log::Level::Info)
            .target("stringsvc")
            .args(format_args!(""))
            .key_values(&pairs)
            .build()
    };
    log::set_max_level(log::LevelFilter::Info);
    let ours = Logger::new(Format::Logfmt).to(Box::new(std::io::sink()));
    g.bench_function("synkit_logfmt_stringsvc2_line", |b| {
        b.iter(|| ours.log(&record()));
    });
    let json = Logger::new(Format::Json).to(Box::new(std::io::sink()));
    g.bench_function("synkit_json_stringsvc2_line", |b| {
        b.iter(|| json.log(&record()));
    });
    // env_logger with its key-value output, and no timestamp (the line
    // compared has none).
    let theirs = env_logger::Builder::new()
        .filter_level(log::LevelFilter::Info)
        .format_timestamp(None)
        .target(env_logger::Target::Pipe(Box::new(std::io::sink())))
        .build();
    g.bench_function("env_logger_stringsvc2_line", |b| {
        b.iter(|| theirs.log(&record()));
    });
    g.finish();
}

fn tracing(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracing");
    let reporter = Arc::new(NoopReporter);
    let tsc = Tracer::new("bench", reporter.clone(), TscClock, system_micros());
    g.bench_function("sampled_server_span_tsc_clock", |b| {
        b.iter(|| tsc.start("POST", Kind::Server, None).finish());
    });
    let system = Tracer::system("bench", reporter.clone());
    g.bench_function("sampled_server_span_system_clocks", |b| {
        b.iter(|| system.start("POST", Kind::Server, None).finish());
    });
    g.bench_function("sampled_server_span_tsc_clock_two_tags", |b| {
        b.iter(|| {
            let mut span = tsc.start("POST", Kind::Server, None);
            span.tag("http.method", "POST");
            span.tag("http.status_code", 200);
            span.finish();
        });
    });
    let never = Tracer::new("bench", reporter, ManualClock::new(), 0).with_sampler(Sampler::Never);
    g.bench_function("unsampled_server_span", |b| {
        b.iter(|| never.start("POST", Kind::Server, None).finish());
    });
    let _ = SystemClock;
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(StdDuration::from_millis(500))
        .measurement_time(StdDuration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = metrics, logging, tracing
}
criterion_main!(benches);
