//! StatsD and DogStatsD over UDP: Go kit's `metrics/statsd` and
//! `metrics/dogstatsd`.
//!
//! As Go kit's do, the metrics here accumulate between flushes and a
//! thread sends them every interval: a counter sends what was added since
//! the last flush (`name:1.000000|c`), a gauge its last value (`|g`), a
//! histogram every observation (`|ms` for StatsD timings, `|h` for
//! DogStatsD histograms). DogStatsD adds the label values as tags
//! (`|#method:uppercase,error:false`); plain StatsD has no tags, so series
//! of one name are summed by the server, as Go kit's statsd ignores label
//! values. Lines are batched into packets of at most `max_packet` bytes
//! (1432 by default: one Ethernet frame's UDP payload).
//!
//! Updating a counter or gauge is one atomic operation; a histogram
//! observation takes a short lock on a preallocated buffer, and one that
//! finds it full is dropped and counted, never waited for. The crate a
//! Rust user might reach for, cadence, sends a packet per call; Go kit's
//! model (aggregate, flush on an interval) costs the hot path less.
//!
//! ```no_run
//! use std::time::Duration;
//! use synkit_core::metrics::{Counter, Family};
//! use synkit_transports::export::statsd::{Flavor, Statsd};
//!
//! let statsd = Statsd::new("stringsvc.", Flavor::DogStatsd);
//! let requests = statsd.counter("request_count", &["method", "error"]);
//! requests.with(&["uppercase", "false"])?.add(1.0);
//! let _sender = statsd.send_every("127.0.0.1:8125".parse()?, Duration::from_secs(1))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use synkit_core::metrics::{Counter, Family, Gauge, Histogram, MetricError};

/// Which dialect to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Etsy's StatsD: no tags; histograms as timings (`|ms`).
    Statsd,
    /// Datadog's DogStatsD: label values as tags; histograms as `|h`.
    DogStatsd,
}

/// How many observations a histogram series keeps between flushes.
const OBSERVATIONS: usize = 4096;

/// A counter's delta, a gauge's value or a histogram's observations.
#[doc(hidden)]
#[derive(Debug)]
pub enum Value {
    Counter(AtomicU64),
    Gauge(AtomicU64, AtomicBool),
    Histogram(Mutex<Vec<f64>>, AtomicU64),
}

/// One series: what it is called and tagged, and what it holds.
#[doc(hidden)]
#[derive(Debug)]
pub struct Series {
    name: String,
    tags: String,
    value: Value,
}

/// Adds `delta` to an `f64` kept as bits.
fn add_f64(cell: &AtomicU64, delta: f64) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        Some((f64::from_bits(bits) + delta).to_bits())
    });
}

/// A StatsD counter series.
#[derive(Debug, Clone)]
pub struct StatsdCounter(Arc<Series>);
/// A StatsD gauge series.
#[derive(Debug, Clone)]
pub struct StatsdGauge(Arc<Series>);
/// A StatsD histogram (timing) series.
#[derive(Debug, Clone)]
pub struct StatsdHistogram(Arc<Series>);

impl Counter for StatsdCounter {
    fn add(&self, delta: f64) {
        if let Value::Counter(sum) = &self.0.value {
            add_f64(sum, delta);
        }
    }
}

impl Gauge for StatsdGauge {
    fn set(&self, value: f64) {
        if let Value::Gauge(bits, set) = &self.0.value {
            bits.store(value.to_bits(), Ordering::Relaxed);
            set.store(true, Ordering::Relaxed);
        }
    }
    fn add(&self, delta: f64) {
        if let Value::Gauge(bits, set) = &self.0.value {
            add_f64(bits, delta);
            set.store(true, Ordering::Relaxed);
        }
    }
}

impl Histogram for StatsdHistogram {
    fn observe(&self, value: f64) {
        if let Value::Histogram(values, dropped) = &self.0.value {
            let mut values = values.lock().unwrap_or_else(PoisonError::into_inner);
            if values.len() < values.capacity() {
                values.push(value);
            } else {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A kind of StatsD series: how to make its value, and its handle.
pub trait Kind: sealed::Sealed {
    /// The handle `with` returns.
    type Handle;
    #[doc(hidden)]
    fn value() -> Value;
    #[doc(hidden)]
    fn handle(series: Arc<Series>) -> Self::Handle;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::StatsdCounter {}
    impl Sealed for super::StatsdGauge {}
    impl Sealed for super::StatsdHistogram {}
}

impl Kind for StatsdCounter {
    type Handle = StatsdCounter;
    fn value() -> Value {
        Value::Counter(AtomicU64::new(0f64.to_bits()))
    }
    fn handle(series: Arc<Series>) -> StatsdCounter {
        StatsdCounter(series)
    }
}

impl Kind for StatsdGauge {
    type Handle = StatsdGauge;
    fn value() -> Value {
        Value::Gauge(AtomicU64::new(0), AtomicBool::new(false))
    }
    fn handle(series: Arc<Series>) -> StatsdGauge {
        StatsdGauge(series)
    }
}

impl Kind for StatsdHistogram {
    type Handle = StatsdHistogram;
    fn value() -> Value {
        Value::Histogram(
            Mutex::new(Vec::with_capacity(OBSERVATIONS)),
            AtomicU64::new(0),
        )
    }
    fn handle(series: Arc<Series>) -> StatsdHistogram {
        StatsdHistogram(series)
    }
}

#[derive(Debug)]
struct Inner {
    prefix: String,
    flavor: Flavor,
    series: Mutex<Vec<Arc<Series>>>,
}

/// A set of StatsD metrics and the sender that flushes them.
#[derive(Debug, Clone)]
pub struct Statsd {
    inner: Arc<Inner>,
}

/// Metrics of one name and kind, one series per combination of label
/// values (tags).
#[derive(Debug)]
pub struct StatsdFamily<K> {
    inner: Arc<Inner>,
    name: String,
    labels: Vec<String>,
    kind: std::marker::PhantomData<K>,
}

impl Statsd {
    /// Metrics whose names all start with `prefix`, in `flavor`.
    pub fn new(prefix: &str, flavor: Flavor) -> Statsd {
        Statsd {
            inner: Arc::new(Inner {
                prefix: prefix.to_owned(),
                flavor,
                series: Mutex::new(Vec::new()),
            }),
        }
    }

    fn family<K>(&self, name: &str, labels: &[&str]) -> StatsdFamily<K> {
        StatsdFamily {
            inner: self.inner.clone(),
            name: format!("{}{name}", self.inner.prefix),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            kind: std::marker::PhantomData,
        }
    }

    /// A counter family: Go kit's `NewCounter`.
    pub fn counter(&self, name: &str, labels: &[&str]) -> StatsdFamily<StatsdCounter> {
        self.family(name, labels)
    }

    /// A gauge family: Go kit's `NewGauge`.
    pub fn gauge(&self, name: &str, labels: &[&str]) -> StatsdFamily<StatsdGauge> {
        self.family(name, labels)
    }

    /// A histogram family: Go kit's `NewTiming` (StatsD) or
    /// `NewHistogram` (DogStatsD).
    pub fn histogram(&self, name: &str, labels: &[&str]) -> StatsdFamily<StatsdHistogram> {
        self.family(name, labels)
    }

    /// Everything accumulated since the last call, as lines, in packets of
    /// at most `max_packet` bytes; the accumulators start again from zero.
    pub fn drain(&self, max_packet: usize) -> Vec<String> {
        let series = self
            .inner
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut packets = Vec::new();
        let mut packet = String::new();
        let mut line = String::new();
        let dog = self.inner.flavor == Flavor::DogStatsd;
        let push = |line: &str, packets: &mut Vec<String>, packet: &mut String| {
            if !packet.is_empty() && packet.len() + line.len() > max_packet {
                packets.push(std::mem::take(packet));
            }
            packet.push_str(line);
        };
        for s in &series {
            let tags = if dog { s.tags.as_str() } else { "" };
            match &s.value {
                Value::Counter(sum) => {
                    let delta = f64::from_bits(sum.swap(0f64.to_bits(), Ordering::Relaxed));
                    if delta != 0.0 {
                        line.clear();
                        let _ = writeln!(line, "{}:{delta:.6}|c{tags}", s.name);
                        push(&line, &mut packets, &mut packet);
                    }
                }
                Value::Gauge(bits, set) => {
                    if set.swap(false, Ordering::Relaxed) {
                        let value = f64::from_bits(bits.load(Ordering::Relaxed));
                        line.clear();
                        let _ = writeln!(line, "{}:{value:.6}|g{tags}", s.name);
                        push(&line, &mut packets, &mut packet);
                    }
                }
                Value::Histogram(values, _) => {
                    let taken: Vec<f64> = {
                        let mut values = values.lock().unwrap_or_else(PoisonError::into_inner);
                        values.drain(..).collect()
                    };
                    let unit = if dog { "h" } else { "ms" };
                    for value in taken {
                        line.clear();
                        let _ = writeln!(line, "{}:{value:.6}|{unit}{tags}", s.name);
                        push(&line, &mut packets, &mut packet);
                    }
                }
            }
        }
        if !packet.is_empty() {
            packets.push(packet);
        }
        packets
    }

    /// Observations dropped because a histogram's buffer was full.
    pub fn dropped(&self) -> u64 {
        self.inner
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|s| match &s.value {
                Value::Histogram(_, dropped) => dropped.load(Ordering::Relaxed),
                _ => 0,
            })
            .sum()
    }

    /// Sends everything to `addr` every `interval`, in 1432-byte packets,
    /// from a thread that runs until the returned [`Sender`] is dropped
    /// (which sends what is left). Go kit's `SendLoop`.
    pub fn send_every(&self, addr: SocketAddr, interval: Duration) -> std::io::Result<Sender> {
        self.send_every_with(addr, interval, 1432)
    }

    /// As [`send_every`](Self::send_every), with packets of at most
    /// `max_packet` bytes.
    pub fn send_every_with(
        &self,
        addr: SocketAddr,
        interval: Duration,
        max_packet: usize,
    ) -> std::io::Result<Sender> {
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(|_| std::io::Error::other("unspecified address"))?;
        let socket = UdpSocket::bind(local)?;
        socket.connect(addr)?;
        let stop = Arc::new(crate::stop::Stop::default());
        let (statsd, stopping) = (self.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("synkit-statsd".into())
            .spawn(move || {
                loop {
                    let last = stopping.sleep(interval);
                    for packet in statsd.drain(max_packet) {
                        // A lost datagram is StatsD's nature: nothing to retry.
                        let _ = socket.send(packet.as_bytes());
                    }
                    if last {
                        return;
                    }
                }
            })?;
        Ok(Sender {
            stop,
            thread: Some(thread),
        })
    }
}

impl<K: Kind> Family for StatsdFamily<K> {
    type Series = K::Handle;

    fn with(&self, values: &[&str]) -> Result<K::Handle, MetricError> {
        if values.len() != self.labels.len() {
            return Err(MetricError::LabelCount {
                name: self.name.clone(),
                expected: self.labels.len(),
                got: values.len(),
            });
        }
        let mut tags = String::new();
        for (i, (label, value)) in self.labels.iter().zip(values).enumerate() {
            tags.push_str(if i == 0 { "|#" } else { "," });
            let _ = write!(tags, "{label}:{value}");
        }
        let mut all = self
            .inner
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = all.iter().find(|s| s.name == self.name && s.tags == tags) {
            return Ok(K::handle(existing.clone()));
        }
        let series = Arc::new(Series {
            name: self.name.clone(),
            tags,
            value: K::value(),
        });
        all.push(series.clone());
        Ok(K::handle(series))
    }
}

/// The thread that flushes a [`Statsd`]; dropping it sends what is left
/// and ends the thread.
#[derive(Debug)]
pub struct Sender {
    stop: Arc<crate::stop::Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_each_flavor_and_packets_stay_under_the_limit() {
        for (flavor, want) in [
            (
                Flavor::Statsd,
                "svc.requests:2.000000|c\nsvc.depth:7.000000|g\nsvc.latency:0.250000|ms\nsvc.latency:1.500000|ms\n",
            ),
            (
                Flavor::DogStatsd,
                "svc.requests:2.000000|c|#method:uppercase,error:false\nsvc.depth:7.000000|g\n\
                 svc.latency:0.250000|h|#method:count\nsvc.latency:1.500000|h|#method:count\n",
            ),
        ] {
            let s = Statsd::new("svc.", flavor);
            let c = s
                .counter("requests", &["method", "error"])
                .with(&["uppercase", "false"])
                .unwrap();
            let g = s.gauge("depth", &[]).with(&[]).unwrap();
            let h = s
                .histogram("latency", &["method"])
                .with(&["count"])
                .unwrap();
            c.add(1.0);
            c.add(1.0);
            g.set(7.0);
            h.observe(0.25);
            h.observe(1.5);
            assert_eq!(s.drain(1432).concat(), want, "{flavor:?}");
            assert!(
                s.drain(1432).is_empty(),
                "drained: nothing until updated again"
            );
            for _ in 0..100 {
                h.observe(1.0);
            }
            let packets = s.drain(120);
            assert!(packets.iter().all(|p| p.len() <= 120 && p.ends_with('\n')));
            assert_eq!(packets.concat().lines().count(), 100);
        }
    }

    #[test]
    fn a_wrong_label_count_is_an_error_when_the_series_is_made() {
        let s = Statsd::new("", Flavor::Statsd);
        assert!(s.counter("c", &["a"]).with(&[]).is_err());
    }
}
