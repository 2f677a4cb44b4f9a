//! Families: one metric name, one series per combination of label values.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cmp::Ordering;

use super::series::{AtomicCounter, AtomicGauge, AtomicHistogram};
use super::{Family, MetricError, valid_label, valid_name};
use crate::sync::RwLock;

/// A metric's name, help and label names, checked.
#[derive(Debug)]
pub(crate) struct Desc {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) labels: Box<[String]>,
}

impl Desc {
    pub(crate) fn new(name: &str, help: &str, labels: &[&str]) -> Result<Desc, MetricError> {
        if !valid_name(name) {
            return Err(MetricError::BadName(name.to_string()));
        }
        for (i, label) in labels.iter().enumerate() {
            if !valid_label(label) || labels[..i].contains(label) || *label == "le" {
                return Err(MetricError::BadLabel((*label).to_string()));
            }
        }
        Ok(Desc {
            name: name.to_string(),
            help: help.to_string(),
            labels: labels.iter().map(ToString::to_string).collect(),
        })
    }
}

/// Label values compared without building anything.
fn compare(stored: &[String], wanted: &[&str]) -> Ordering {
    stored
        .iter()
        .map(String::as_str)
        .cmp(wanted.iter().copied())
}

/// The series of one family, sorted by label values, found by binary
/// search under a shared lock: resolving an existing series allocates
/// nothing.
#[derive(Debug)]
pub(crate) struct Series<S> {
    pub(crate) desc: Desc,
    all: RwLock<Vec<Labelled<S>>>,
}

/// A series and its label values.
type Labelled<S> = (Box<[String]>, Arc<S>);

impl<S> Series<S> {
    fn new(desc: Desc) -> Series<S> {
        Series {
            desc,
            all: RwLock::new(Vec::new()),
        }
    }

    fn get_or_make(
        &self,
        values: &[&str],
        make: impl FnOnce() -> S,
    ) -> Result<Arc<S>, MetricError> {
        if values.len() != self.desc.labels.len() {
            return Err(MetricError::LabelCount {
                name: self.desc.name.clone(),
                expected: self.desc.labels.len(),
                got: values.len(),
            });
        }
        if let Ok(at) = self
            .all
            .read()
            .binary_search_by(|(v, _)| compare(v, values))
        {
            return Ok(self.all.read()[at].1.clone());
        }
        let mut all = self.all.write();
        match all.binary_search_by(|(v, _)| compare(v, values)) {
            Ok(at) => Ok(all[at].1.clone()),
            Err(at) => {
                let series = Arc::new(make());
                let key = values.iter().map(ToString::to_string).collect();
                all.insert(at, (key, series.clone()));
                Ok(series)
            }
        }
    }

    /// Every series with its label values, in order, until `f` fails.
    pub(crate) fn try_each<E>(
        &self,
        mut f: impl FnMut(&[String], &S) -> Result<(), E>,
    ) -> Result<(), E> {
        for (values, series) in self.all.read().iter() {
            f(values, series)?;
        }
        Ok(())
    }
}

macro_rules! family {
    ($(#[$doc:meta])* $name:ident, $series:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            pub(crate) series: Series<$series>,
        }

        impl $name {
            /// The metric's name.
            pub fn name(&self) -> &str {
                &self.series.desc.name
            }

            /// Its label names.
            pub fn labels(&self) -> &[String] {
                &self.series.desc.labels
            }
        }
    };
}

family!(
    /// Counters of one name, one per combination of label values.
    CounterFamily,
    AtomicCounter
);
family!(
    /// Gauges of one name, one per combination of label values.
    GaugeFamily,
    AtomicGauge
);
/// Histograms of one name, with one set of buckets, one per combination
/// of label values.
#[derive(Debug)]
pub struct HistogramFamily {
    pub(crate) series: Series<AtomicHistogram>,
    buckets: Box<[f64]>,
}

impl HistogramFamily {
    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.series.desc.name
    }

    /// Its label names.
    pub fn labels(&self) -> &[String] {
        &self.series.desc.labels
    }
}

impl CounterFamily {
    pub(crate) fn new(desc: Desc) -> CounterFamily {
        CounterFamily {
            series: Series::new(desc),
        }
    }
}

impl GaugeFamily {
    pub(crate) fn new(desc: Desc) -> GaugeFamily {
        GaugeFamily {
            series: Series::new(desc),
        }
    }
}

impl HistogramFamily {
    pub(crate) fn new(desc: Desc, buckets: &[f64]) -> Result<HistogramFamily, MetricError> {
        let increasing = buckets.windows(2).all(|w| w[0] < w[1]);
        if buckets.is_empty() || !increasing || buckets.iter().any(|b| !b.is_finite()) {
            return Err(MetricError::BadBuckets(desc.name));
        }
        Ok(HistogramFamily {
            series: Series::new(desc),
            buckets: buckets.into(),
        })
    }
}

impl Family for CounterFamily {
    type Series = Arc<AtomicCounter>;
    fn with(&self, values: &[&str]) -> Result<Arc<AtomicCounter>, MetricError> {
        self.series.get_or_make(values, AtomicCounter::new)
    }
}

impl Family for GaugeFamily {
    type Series = Arc<AtomicGauge>;
    fn with(&self, values: &[&str]) -> Result<Arc<AtomicGauge>, MetricError> {
        self.series.get_or_make(values, AtomicGauge::new)
    }
}

impl Family for HistogramFamily {
    type Series = Arc<AtomicHistogram>;
    fn with(&self, values: &[&str]) -> Result<Arc<AtomicHistogram>, MetricError> {
        self.series
            .get_or_make(values, || AtomicHistogram::new(&self.buckets))
    }
}
