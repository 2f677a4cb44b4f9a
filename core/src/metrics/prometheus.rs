//! Prometheus's text exposition format, version 0.0.4.

use alloc::string::String;
use core::fmt::{self, Write};

use super::Registry;
use super::family::{Desc, Series};
use super::registry::Entry;

pub use super::registry::DEFAULT_BUCKETS;

/// The `Content-Type` of what [`encode`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes every metric in `registry`: `# HELP` and `# TYPE` lines, then
/// one line per series (histograms as cumulative `_bucket{le=…}` lines,
/// `_sum` and `_count`). Label values are escaped as the format says
/// (`\\`, `\"`, `\n`); help text escapes `\\` and `\n`.
pub fn encode(registry: &Registry, out: &mut impl Write) -> fmt::Result {
    for entry in registry.entries() {
        match entry {
            Entry::Counter(f) => family(out, &f.series, "counter", |out, desc, values, c| {
                sample(out, &desc.name, "", &desc.labels, values, None, c.get())
            })?,
            Entry::Gauge(f) => family(out, &f.series, "gauge", |out, desc, values, g| {
                sample(out, &desc.name, "", &desc.labels, values, None, g.get())
            })?,
            Entry::Histogram(f) => family(out, &f.series, "histogram", |out, desc, values, h| {
                histogram(out, &desc.name, &desc.labels, values, h)
            })?,
        }
    }
    Ok(())
}

/// One family: its header, then `write` for each series.
fn family<W: Write, S>(
    out: &mut W,
    series: &Series<S>,
    kind: &str,
    mut write: impl FnMut(&mut W, &Desc, &[String], &S) -> fmt::Result,
) -> fmt::Result {
    header(out, &series.desc.name, &series.desc.help, kind)?;
    series.try_each(|values, s| write(out, &series.desc, values, s))
}

fn header(out: &mut impl Write, name: &str, help: &str, kind: &str) -> fmt::Result {
    write!(out, "# HELP {name} ")?;
    escaped(out, help, false)?;
    writeln!(out, "\n# TYPE {name} {kind}")
}

fn histogram(
    out: &mut impl Write,
    name: &str,
    labels: &[String],
    values: &[String],
    h: &super::AtomicHistogram,
) -> fmt::Result {
    let (cumulative, sum) = h.snapshot();
    for (bound, count) in h.bounds().iter().zip(&cumulative) {
        sample(
            out,
            name,
            "_bucket",
            labels,
            values,
            Some(Le(*bound)),
            u64_f64(*count),
        )?;
    }
    let total = *cumulative.last().unwrap_or(&0);
    sample(
        out,
        name,
        "_bucket",
        labels,
        values,
        Some(Le(f64::INFINITY)),
        u64_f64(total),
    )?;
    sample(out, name, "_sum", labels, values, None, sum)?;
    sample(out, name, "_count", labels, values, None, u64_f64(total))
}

#[allow(clippy::cast_precision_loss)]
fn u64_f64(n: u64) -> f64 {
    n as f64
}

/// A bucket's `le` label.
#[derive(Clone, Copy)]
struct Le(f64);

fn sample(
    out: &mut impl Write,
    name: &str,
    suffix: &str,
    labels: &[String],
    values: &[String],
    le: Option<Le>,
    value: f64,
) -> fmt::Result {
    write!(out, "{name}{suffix}")?;
    if !labels.is_empty() || le.is_some() {
        out.write_char('{')?;
        for (i, (label, value)) in labels.iter().zip(values).enumerate() {
            if i > 0 {
                out.write_char(',')?;
            }
            out.write_str(label)?;
            out.write_str("=\"")?;
            escaped(out, value, true)?;
            out.write_char('"')?;
        }
        if let Some(Le(bound)) = le {
            if !labels.is_empty() {
                out.write_char(',')?;
            }
            out.write_str("le=\"")?;
            number(out, bound)?;
            out.write_char('"')?;
        }
        out.write_char('}')?;
    }
    out.write_char(' ')?;
    number(out, value)?;
    out.write_char('\n')
}

/// `text` with `\\`, `\n` (and, in label values, `"`) escaped; runs
/// without any go out whole.
fn escaped(out: &mut impl Write, text: &str, quotes: bool) -> fmt::Result {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'"' if quotes => "\\\"",
            _ => continue,
        };
        out.write_str(&text[start..i])?;
        out.write_str(escape)?;
        start = i + 1;
    }
    out.write_str(&text[start..])
}

/// A sample value as the format spells it: `+Inf`, `-Inf`, `NaN`, else
/// the shortest decimal that reads back the same.
fn number(out: &mut impl Write, x: f64) -> fmt::Result {
    if x.is_nan() {
        out.write_str("NaN")
    } else if x.is_infinite() {
        out.write_str(if x > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        // Counts are whole: print them as integers, the quicker path.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            clippy::float_cmp
        )]
        let whole = x.abs() < 9.0e15 && (x as i64) as f64 == x;
        if whole {
            #[allow(clippy::cast_possible_truncation)]
            let n = x as i64;
            write!(out, "{n}")
        } else {
            write!(out, "{x}")
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use alloc::string::{String, ToString};

    use super::*;
    use crate::metrics::{Counter, Family, Gauge, Histogram};

    #[test]
    #[allow(clippy::many_single_char_names)]
    fn the_exposition_is_prometheus_0_0_4() {
        let r = Registry::new();
        let c = r
            .counter(
                "requests",
                "Requests.\nAll of them \\ each.",
                &["method", "error"],
            )
            .unwrap();
        c.with(&["uppercase", "false"]).unwrap().add(3.0);
        c.with(&["say \"hi\"\n", "true"]).unwrap().add(1.0);
        let g = r.gauge("in_flight", "In flight.", &[]).unwrap();
        g.with(&[]).unwrap().set(2.5);
        let h = r
            .histogram("latency_seconds", "Latency.", &["method"], &[0.1, 1.0])
            .unwrap();
        let u = h.with(&["count"]).unwrap();
        u.observe(0.05);
        u.observe(0.5);
        u.observe(7.0);
        let mut text = String::new();
        encode(&r, &mut text).unwrap();
        assert_eq!(
            text,
            "# HELP requests Requests.\\nAll of them \\\\ each.\n\
             # TYPE requests counter\n\
             requests{method=\"say \\\"hi\\\"\\n\",error=\"true\"} 1\n\
             requests{method=\"uppercase\",error=\"false\"} 3\n\
             # HELP in_flight In flight.\n\
             # TYPE in_flight gauge\n\
             in_flight 2.5\n\
             # HELP latency_seconds Latency.\n\
             # TYPE latency_seconds histogram\n\
             latency_seconds_bucket{method=\"count\",le=\"0.1\"} 1\n\
             latency_seconds_bucket{method=\"count\",le=\"1\"} 2\n\
             latency_seconds_bucket{method=\"count\",le=\"+Inf\"} 3\n\
             latency_seconds_sum{method=\"count\"} 7.55\n\
             latency_seconds_count{method=\"count\"} 3\n"
        );
    }

    #[test]
    fn mistakes_are_caught_when_a_metric_or_series_is_made() {
        let r = Registry::new();
        assert_eq!(
            r.counter("1bad", "", &[]).unwrap_err(),
            crate::metrics::MetricError::BadName("1bad".into())
        );
        assert!(r.counter("ok", "", &["a", "a"]).is_err());
        assert!(r.counter("ok", "", &["__reserved"]).is_err());
        assert!(r.histogram("h", "", &[], &[2.0, 1.0]).is_err());
        let c = r.counter("ok", "", &["a"]).unwrap();
        assert!(r.counter("ok", "", &[]).is_err(), "duplicate");
        assert_eq!(
            c.with(&["x", "y"]).unwrap_err().to_string(),
            "ok has 1 labels but was given 2 values"
        );
        let same = c.with(&["x"]).unwrap();
        assert!(alloc::sync::Arc::ptr_eq(&same, &c.with(&["x"]).unwrap()));
    }
}
