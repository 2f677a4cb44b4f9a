//! Where metrics are made and found for exposition.

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::MetricError;
use super::family::{CounterFamily, Desc, GaugeFamily, HistogramFamily};
use crate::sync::Mutex;

/// One registered metric.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    Counter(Arc<CounterFamily>),
    Gauge(Arc<GaugeFamily>),
    Histogram(Arc<HistogramFamily>),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::Counter(f) => f.name(),
            Entry::Gauge(f) => f.name(),
            Entry::Histogram(f) => f.name(),
        }
    }
}

/// The metrics a service exposes, in the order they were made: what
/// [`prometheus::encode`](super::prometheus::encode) writes.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<Vec<Entry>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    fn add(&self, entry: Entry) -> Result<(), MetricError> {
        let mut entries = self.entries.lock();
        if entries.iter().any(|e| e.name() == entry.name()) {
            return Err(MetricError::Duplicate(entry.name().to_string()));
        }
        entries.push(entry);
        Ok(())
    }

    /// A counter named `name` with these label names.
    pub fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Arc<CounterFamily>, MetricError> {
        let family = Arc::new(CounterFamily::new(Desc::new(name, help, labels)?));
        self.add(Entry::Counter(family.clone()))?;
        Ok(family)
    }

    /// A gauge named `name` with these label names.
    pub fn gauge(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Arc<GaugeFamily>, MetricError> {
        let family = Arc::new(GaugeFamily::new(Desc::new(name, help, labels)?));
        self.add(Entry::Gauge(family.clone()))?;
        Ok(family)
    }

    /// A histogram named `name` with these label names and bucket upper
    /// bounds (finite, increasing; `+Inf` is implied).
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<Arc<HistogramFamily>, MetricError> {
        let family = Arc::new(HistogramFamily::new(
            Desc::new(name, help, labels)?,
            buckets,
        )?);
        self.add(Entry::Histogram(family.clone()))?;
        Ok(family)
    }

    /// The metrics registered, for exporters.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        self.entries.lock().clone()
    }
}

/// Prometheus's default buckets, in seconds (`.005` to `10`).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
