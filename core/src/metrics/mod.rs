//! Go kit's `metrics`: counters, gauges and histograms with label values,
//! lock-free and allocation-free to update once a series is resolved.
//!
//! The traits [`Counter`], [`Gauge`] and [`Histogram`] are Go kit's
//! interfaces; a [`Family`] turns label values into a series
//! ([`Family::with`], Go kit's `With`) and checks their number once, when
//! the series is resolved, not on every update. The in-memory families
//! here ([`CounterFamily`], [`GaugeFamily`], [`HistogramFamily`]) live in
//! a [`Registry`] that [`prometheus::encode`] writes in Prometheus's text
//! format; other exporters (StatsD in `synkit-transports`) implement the
//! same traits, a pair `(a, b)` of families or series updates both, as
//! Go kit's `multi` does, and an `Option` of one is a backend that may be
//! off. Needs `alloc`.
//!
//! ```
//! use synkit_core::metrics::{Counter, Family, Registry, prometheus};
//!
//! let registry = Registry::new();
//! let requests = registry.counter(
//!     "my_group_string_service_request_count",
//!     "Number of requests received.",
//!     &["method", "error"],
//! )?;
//! // Resolve the series once; updating it is one atomic add.
//! let ok = requests.with(&["uppercase", "false"])?;
//! ok.add(1.0);
//! ok.add(1.0);
//! let mut text = String::new();
//! prometheus::encode(&registry, &mut text)?;
//! assert!(text.contains(r#"my_group_string_service_request_count{method="uppercase",error="false"} 2"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod family;
pub mod prometheus;
mod registry;
mod series;

use alloc::string::String;
use core::fmt;

pub use family::{CounterFamily, GaugeFamily, HistogramFamily};
pub use registry::Registry;
pub use series::{AtomicCounter, AtomicGauge, AtomicHistogram};

/// A value that only goes up: Go kit's `metrics.Counter`.
pub trait Counter {
    /// Adds `delta` (not negative).
    fn add(&self, delta: f64);
}

/// A value that goes up and down: Go kit's `metrics.Gauge`.
pub trait Gauge {
    /// Sets the value.
    fn set(&self, value: f64);
    /// Adds `delta` (which may be negative).
    fn add(&self, delta: f64);
}

/// Observations summarised by buckets: Go kit's `metrics.Histogram`.
pub trait Histogram {
    /// Records one observation.
    fn observe(&self, value: f64);
}

/// Metrics of one name, one series per combination of label values.
pub trait Family {
    /// One series.
    type Series;
    /// The series for `values`, one per label name, in order: Go kit's
    /// `With`. A wrong number of values is an error here, so a series
    /// resolved at start-up can never fail later.
    fn with(&self, values: &[&str]) -> Result<Self::Series, MetricError>;
}

impl<C: Counter + ?Sized> Counter for alloc::sync::Arc<C> {
    #[inline]
    fn add(&self, delta: f64) {
        (**self).add(delta);
    }
}

impl<G: Gauge + ?Sized> Gauge for alloc::sync::Arc<G> {
    #[inline]
    fn set(&self, value: f64) {
        (**self).set(value);
    }
    #[inline]
    fn add(&self, delta: f64) {
        (**self).add(delta);
    }
}

impl<H: Histogram + ?Sized> Histogram for alloc::sync::Arc<H> {
    #[inline]
    fn observe(&self, value: f64) {
        (**self).observe(value);
    }
}

impl<A: Counter, B: Counter> Counter for (A, B) {
    #[inline]
    fn add(&self, delta: f64) {
        self.0.add(delta);
        self.1.add(delta);
    }
}

impl<A: Gauge, B: Gauge> Gauge for (A, B) {
    #[inline]
    fn set(&self, value: f64) {
        self.0.set(value);
        self.1.set(value);
    }
    #[inline]
    fn add(&self, delta: f64) {
        self.0.add(delta);
        self.1.add(delta);
    }
}

impl<A: Histogram, B: Histogram> Histogram for (A, B) {
    #[inline]
    fn observe(&self, value: f64) {
        self.0.observe(value);
        self.1.observe(value);
    }
}

impl<A: Family, B: Family> Family for (A, B) {
    type Series = (A::Series, B::Series);
    fn with(&self, values: &[&str]) -> Result<Self::Series, MetricError> {
        Ok((self.0.with(values)?, self.1.with(values)?))
    }
}

/// An optional backend: `None` records nothing.
impl<C: Counter> Counter for Option<C> {
    #[inline]
    fn add(&self, delta: f64) {
        if let Some(c) = self {
            c.add(delta);
        }
    }
}

impl<G: Gauge> Gauge for Option<G> {
    #[inline]
    fn set(&self, value: f64) {
        if let Some(g) = self {
            g.set(value);
        }
    }
    #[inline]
    fn add(&self, delta: f64) {
        if let Some(g) = self {
            g.add(delta);
        }
    }
}

impl<H: Histogram> Histogram for Option<H> {
    #[inline]
    fn observe(&self, value: f64) {
        if let Some(h) = self {
            h.observe(value);
        }
    }
}

impl<F: Family> Family for Option<F> {
    type Series = Option<F::Series>;
    fn with(&self, values: &[&str]) -> Result<Self::Series, MetricError> {
        self.as_ref().map(|f| f.with(values)).transpose()
    }
}

impl<F: Family + ?Sized> Family for alloc::sync::Arc<F> {
    type Series = F::Series;
    fn with(&self, values: &[&str]) -> Result<F::Series, MetricError> {
        (**self).with(values)
    }
}

/// Why a metric or a series could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricError {
    /// The name is not a Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    BadName(String),
    /// A label name is not a Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`,
    /// not starting `__`), or is given twice.
    BadLabel(String),
    /// A metric of this name is already registered.
    Duplicate(String),
    /// `with` was given a number of values other than the labels'.
    LabelCount {
        /// The metric.
        name: String,
        /// Its label names.
        expected: usize,
        /// The values given.
        got: usize,
    },
    /// Histogram buckets must be finite, increasing, and at least one.
    BadBuckets(String),
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricError::BadName(n) => write!(f, "{n:?} is not a valid metric name"),
            MetricError::BadLabel(l) => write!(f, "{l:?} is not a valid (or unique) label name"),
            MetricError::Duplicate(n) => write!(f, "a metric named {n:?} is already registered"),
            MetricError::LabelCount {
                name,
                expected,
                got,
            } => write!(f, "{name} has {expected} labels but was given {got} values"),
            MetricError::BadBuckets(n) => {
                write!(
                    f,
                    "{n}: buckets must be finite, increasing and at least one"
                )
            }
        }
    }
}

impl core::error::Error for MetricError {}

/// Whether `name` is a valid metric name.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `label` is a valid label name.
pub(crate) fn valid_label(label: &str) -> bool {
    let mut chars = label.chars();
    !label.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
