//! Reading and writing a span's context in headers: B3 (Zipkin's, multi-
//! header and single) and W3C Trace Context.
//!
//! A header that cannot be read is as if it were absent: the server starts
//! a new trace, never refuses the request.

use core::fmt::Write;

use super::{SpanContext, SpanId, TraceId};

/// The headers a context is read from and written to, in any container:
/// names are lowercase.
pub trait Headers {
    /// The value of `name`, if present and text.
    fn get(&self, name: &str) -> Option<&str>;
}

/// Reads B3: the single `b3` header if present, else `X-B3-TraceId`,
/// `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled` (`1`/`0`, or
/// `true`/`false`) and `X-B3-Flags` (`1`: debug). `None` if there is no
/// usable context; a bare sampling decision (`b3: 0`, or only
/// `X-B3-Sampled`) comes back as a context without ids.
pub fn extract_b3(headers: &impl Headers) -> Option<SpanContext> {
    if let Some(single) = headers.get("b3") {
        return single_b3(single);
    }
    let sampled = match headers.get("x-b3-sampled") {
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        _ => None,
    };
    let debug = headers.get("x-b3-flags") == Some("1");
    let ids = match (headers.get("x-b3-traceid"), headers.get("x-b3-spanid")) {
        (Some(t), Some(s)) => Some((TraceId::parse(t)?, SpanId::parse(s)?)),
        (None, None) => None,
        _ => return None,
    };
    let parent = match headers.get("x-b3-parentspanid") {
        Some(p) => Some(SpanId::parse(p)?),
        None => None,
    };
    Some(match ids {
        Some((trace_id, span_id)) => SpanContext {
            trace_id,
            span_id,
            parent_id: parent,
            sampled: if debug { Some(true) } else { sampled },
            debug,
        },
        None if sampled.is_some() || debug => {
            SpanContext::decision(if debug { Some(true) } else { sampled }, debug)
        }
        None => return None,
    })
}

/// `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]`, or a bare
/// sampling state `0`, `1` or `d`.
fn single_b3(value: &str) -> Option<SpanContext> {
    let state = |s: &str| match s {
        "0" => Some((Some(false), false)),
        "1" => Some((Some(true), false)),
        "d" => Some((Some(true), true)),
        _ => None,
    };
    let mut parts = value.split('-');
    let first = parts.next()?;
    let Some(second) = parts.next() else {
        let (sampled, debug) = state(first)?;
        return Some(SpanContext::decision(sampled, debug));
    };
    let trace_id = TraceId::parse(first)?;
    let span_id = SpanId::parse(second)?;
    let (sampled, debug) = match parts.next() {
        Some(s) => state(s)?,
        None => (None, false),
    };
    let parent_id = match parts.next() {
        Some(p) => Some(SpanId::parse(p)?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(SpanContext {
        trace_id,
        span_id,
        parent_id,
        sampled,
        debug,
    })
}

/// Writes B3's multi-header form through `set(name, value)`, as Go kit's
/// and zipkin-go's clients do.
pub fn inject_b3(cx: &SpanContext, mut set: impl FnMut(&'static str, &str)) {
    let mut buf = Hex::default();
    if cx.has_ids() {
        set("X-B3-TraceId", buf.trace(cx.trace_id));
        set("X-B3-SpanId", buf.span(cx.span_id));
        if let Some(parent) = cx.parent_id {
            set("X-B3-ParentSpanId", buf.span(parent));
        }
    }
    if cx.debug {
        set("X-B3-Flags", "1");
    } else if let Some(sampled) = cx.sampled {
        set("X-B3-Sampled", if sampled { "1" } else { "0" });
    }
}

/// Reads W3C `traceparent` (`00-{32 hex trace}-{16 hex parent}-{2 hex
/// flags}`; flag 01 is sampled). The span id read is the caller's, so it
/// becomes the new span's parent.
pub fn extract_w3c(headers: &impl Headers) -> Option<SpanContext> {
    let value = headers.get("traceparent")?.trim();
    let mut parts = value.split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    if version.len() != 2 || version == "ff" || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Version 00 has exactly four fields; later versions may add more.
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace.len() != 32 || flags.len() != 2 {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(SpanContext {
        trace_id: TraceId::parse(trace)?,
        span_id: SpanId::parse(span)?,
        parent_id: None,
        sampled: Some(flags & 1 == 1),
        debug: false,
    })
}

/// Writes W3C `traceparent` (a 64-bit trace id is padded to 128 bits).
pub fn inject_w3c(cx: &SpanContext, mut set: impl FnMut(&'static str, &str)) {
    if !cx.has_ids() {
        return;
    }
    let mut text = heapless_line::Line::default();
    let _ = write!(
        text,
        "00-{:016x}{:016x}-{}-{}",
        cx.trace_id.high,
        cx.trace_id.low,
        cx.span_id,
        if cx.sampled == Some(true) { "01" } else { "00" }
    );
    set("traceparent", text.as_str());
}

/// Ids as hex, in a buffer on the stack.
#[derive(Default)]
struct Hex {
    buf: [u8; 32],
}

impl Hex {
    fn trace(&mut self, id: TraceId) -> &str {
        let mut line = heapless_line::Line::default();
        let _ = write!(line, "{id}");
        let n = line.len;
        self.buf[..n].copy_from_slice(&line.buf[..n]);
        core::str::from_utf8(&self.buf[..n]).unwrap_or("")
    }

    fn span(&mut self, id: SpanId) -> &str {
        let mut line = heapless_line::Line::default();
        let _ = write!(line, "{id}");
        let n = line.len;
        self.buf[..n].copy_from_slice(&line.buf[..n]);
        core::str::from_utf8(&self.buf[..n]).unwrap_or("")
    }
}

mod heapless_line {
    /// A short line of text on the stack.
    pub(super) struct Line {
        pub(super) buf: [u8; 64],
        pub(super) len: usize,
    }

    impl Default for Line {
        fn default() -> Line {
            Line {
                buf: [0; 64],
                len: 0,
            }
        }
    }

    impl Line {
        pub(super) fn as_str(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
        }
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            if end > self.buf.len() {
                return Err(core::fmt::Error);
            }
            self.buf[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::collections::BTreeMap;
    use std::string::{String, ToString};
    use std::vec::Vec;

    use super::*;

    struct Map(BTreeMap<String, String>);

    impl Headers for Map {
        fn get(&self, name: &str) -> Option<&str> {
            self.0.get(name).map(String::as_str)
        }
    }

    fn map(pairs: &[(&str, &str)]) -> Map {
        Map(pairs
            .iter()
            .map(|(k, v)| ((*k).to_lowercase(), (*v).to_string()))
            .collect())
    }

    #[test]
    fn b3_multi_and_single_headers_read_the_same_context() {
        let multi = extract_b3(&map(&[
            ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-ParentSpanId", "0020000000000001"),
            ("X-B3-Sampled", "1"),
        ]))
        .unwrap();
        let single = extract_b3(&map(&[(
            "b3",
            "463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-1-0020000000000001",
        )]))
        .unwrap();
        assert_eq!(multi, single);
        assert_eq!(multi.parent_id, SpanId::parse("0020000000000001"));
        assert_eq!(multi.sampled, Some(true));
        let mut out = Vec::new();
        inject_b3(&multi, |k, v| out.push((k, v.to_string())));
        assert_eq!(
            out,
            [
                (
                    "X-B3-TraceId",
                    "463ac35c9f6413ad48485a3953bb6124".to_string()
                ),
                ("X-B3-SpanId", "a2fb4a1d1a96d312".to_string()),
                ("X-B3-ParentSpanId", "0020000000000001".to_string()),
                ("X-B3-Sampled", "1".to_string()),
            ]
        );
    }

    #[test]
    fn malformed_headers_are_no_context_at_all() {
        for bad in [
            &[("X-B3-TraceId", "zz"), ("X-B3-SpanId", "a2fb4a1d1a96d312")][..],
            &[("X-B3-TraceId", "463ac35c9f6413ad")][..],
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "0000000000000000"),
            ][..],
            &[("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-x")][..],
            &[(
                "b3",
                "463ac35c9f6413ad-a2fb4a1d1a96d312-1-0020000000000001-9",
            )][..],
            &[("b3", "-")][..],
            &[("b3", "\u{0}\u{fffd}")][..],
        ] {
            assert_eq!(extract_b3(&map(bad)), None, "{bad:?}");
        }
        for bad in [
            "",
            "00-463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312",
            "00-00000000000000000000000000000000-a2fb4a1d1a96d312-01",
            "00-463ac35c9f6413ad48485a3953bb6124-0000000000000000-01",
            "ff-463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-01",
            "00-463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-01-extra",
            "00-463ac35c9f6413ad48485a3953bb612g-a2fb4a1d1a96d312-01",
            "0-463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-01",
        ] {
            assert_eq!(extract_w3c(&map(&[("traceparent", bad)])), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bare_sampling_decision_is_kept() {
        let no = extract_b3(&map(&[("b3", "0")])).unwrap();
        assert!(!no.has_ids());
        assert_eq!(no.sampled, Some(false));
        let debug = extract_b3(&map(&[("X-B3-Flags", "1")])).unwrap();
        assert!(debug.debug && debug.sampled == Some(true));
    }

    #[test]
    fn traceparent_round_trips() {
        let cx = extract_w3c(&map(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]))
        .unwrap();
        assert_eq!(cx.sampled, Some(true));
        let mut out = Vec::new();
        inject_w3c(&cx, |k, v| out.push((k, v.to_string())));
        assert_eq!(
            out,
            [(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string()
            )]
        );
        // A later version with more fields is read for what it shares.
        assert!(
            extract_w3c(&map(&[(
                "traceparent",
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more"
            )]))
            .is_some()
        );
    }
}
