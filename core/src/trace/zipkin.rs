//! Zipkin's v2 JSON span format (`POST /api/v2/spans`).

use core::fmt::{self, Write};

use super::{Kind, SpanRecord};
use crate::log::json;

/// Writes `spans` as the JSON list Zipkin's v2 API takes: ids in lowercase
/// hex, `timestamp` and `duration` in microseconds, `kind` in capitals,
/// `localEndpoint.serviceName`, `tags` as strings.
///
/// ```
/// use synkit_core::trace::{Kind, SpanContext, SpanId, SpanRecord, TraceId, zipkin};
///
/// let span = SpanRecord {
///     context: SpanContext {
///         trace_id: TraceId { high: 0, low: 0x48485a3953bb6124 },
///         span_id: SpanId(0x2fb4a1d1a96d312),
///         parent_id: None,
///         sampled: Some(true),
///         debug: false,
///     },
///     name: "post".into(),
///     kind: Kind::Server,
///     timestamp: 1_700_000_000_000_000,
///     duration: 150,
///     local_service: "stringsvc".into(),
///     tags: vec![("http.status_code".into(), "200".into())],
///     annotations: vec![],
///     shared: false,
/// };
/// let mut text = String::new();
/// zipkin::encode(&[span], &mut text).unwrap();
/// assert_eq!(text, r#"[{"traceId":"48485a3953bb6124","id":"02fb4a1d1a96d312","name":"post","kind":"SERVER","timestamp":1700000000000000,"duration":150,"localEndpoint":{"serviceName":"stringsvc"},"tags":{"http.status_code":"200"}}]"#);
/// ```
pub fn encode(spans: &[SpanRecord], out: &mut impl Write) -> fmt::Result {
    out.write_char('[')?;
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        one(span, out)?;
    }
    out.write_char(']')
}

fn one(span: &SpanRecord, out: &mut impl Write) -> fmt::Result {
    let cx = &span.context;
    write!(
        out,
        "{{\"traceId\":\"{}\",\"id\":\"{}\"",
        cx.trace_id, cx.span_id
    )?;
    if let Some(parent) = cx.parent_id {
        write!(out, ",\"parentId\":\"{parent}\"")?;
    }
    out.write_str(",\"name\":")?;
    json::string(out, &span.name)?;
    if let Some(kind) = match span.kind {
        Kind::Client => Some("CLIENT"),
        Kind::Server => Some("SERVER"),
        Kind::Producer => Some("PRODUCER"),
        Kind::Consumer => Some("CONSUMER"),
        Kind::Local => None,
    } {
        write!(out, ",\"kind\":\"{kind}\"")?;
    }
    write!(
        out,
        ",\"timestamp\":{},\"duration\":{},\"localEndpoint\":{{\"serviceName\":",
        span.timestamp, span.duration
    )?;
    json::string(out, &span.local_service)?;
    out.write_char('}')?;
    if !span.annotations.is_empty() {
        out.write_str(",\"annotations\":[")?;
        for (i, (at, value)) in span.annotations.iter().enumerate() {
            if i > 0 {
                out.write_char(',')?;
            }
            write!(out, "{{\"timestamp\":{at},\"value\":")?;
            json::string(out, value)?;
            out.write_char('}')?;
        }
        out.write_char(']')?;
    }
    if !span.tags.is_empty() {
        out.write_str(",\"tags\":{")?;
        for (i, (key, value)) in span.tags.iter().enumerate() {
            if i > 0 {
                out.write_char(',')?;
            }
            json::string(out, key)?;
            out.write_char(':')?;
            json::string(out, value)?;
        }
        out.write_char('}')?;
    }
    if cx.debug {
        out.write_str(",\"debug\":true")?;
    }
    if span.shared {
        out.write_str(",\"shared\":true")?;
    }
    out.write_char('}')
}
