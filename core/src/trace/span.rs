//! Spans: started by a [`Tracer`](super::Tracer), finished (explicitly or
//! when dropped), then handed to its reporter.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Kind, SpanContext, Tracer};
use crate::time::{Clock, Instant};

/// A finished span, as a reporter gets it: Zipkin's v2 model.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Its ids and sampling state.
    pub context: SpanContext,
    /// What it did (Go kit names HTTP spans by method).
    pub name: Cow<'static, str>,
    /// Its role.
    pub kind: Kind,
    /// When it started, in microseconds since the Unix epoch.
    pub timestamp: u64,
    /// How long it took, in microseconds (at least 1).
    pub duration: u64,
    /// The service that recorded it.
    pub local_service: Cow<'static, str>,
    /// Key-value tags (`http.method`, `http.status_code`, `error`, …).
    pub tags: Vec<(Cow<'static, str>, String)>,
    /// Timestamped events: (microseconds since the epoch, what happened).
    pub annotations: Vec<(u64, String)>,
    /// A server span sharing its client's span id (B3's convention).
    pub shared: bool,
}

/// What a sampled span keeps while it runs.
#[derive(Debug)]
struct Recording {
    name: Cow<'static, str>,
    kind: Kind,
    started: Instant,
    timestamp: u64,
    tags: Vec<(Cow<'static, str>, String)>,
    annotations: Vec<(u64, String)>,
    shared: bool,
}

/// A span in progress. An unsampled span carries only its context (to
/// propagate the decision) and costs no allocation or clock read; a
/// sampled one records tags and annotations and is reported when it
/// finishes. Dropping a span finishes it.
#[derive(Debug)]
pub struct Span<'t, C: Clock> {
    tracer: &'t Tracer<C>,
    context: SpanContext,
    recording: Option<Box<Recording>>,
}

impl<'t, C: Clock> Span<'t, C> {
    #[inline]
    pub(super) fn new(
        tracer: &'t Tracer<C>,
        context: SpanContext,
        name: Cow<'static, str>,
        kind: Kind,
        shared: bool,
    ) -> Span<'t, C> {
        let recording = (context.sampled == Some(true)).then(|| {
            let started = tracer.now();
            Box::new(Recording {
                name,
                kind,
                started,
                timestamp: tracer.wall_now(started),
                tags: Vec::with_capacity(6),
                annotations: Vec::new(),
                shared,
            })
        });
        Span {
            tracer,
            context,
            recording,
        }
    }

    /// Its context: what to propagate, and the parent of its children.
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether it is being recorded.
    pub fn is_sampled(&self) -> bool {
        self.recording.is_some()
    }

    /// Sets tag `key` (a later value for the same key replaces it).
    pub fn tag(&mut self, key: impl Into<Cow<'static, str>>, value: impl core::fmt::Display) {
        if let Some(r) = &mut self.recording {
            let key = key.into();
            let value = alloc::format!("{value}");
            match r.tags.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => r.tags.push((key, value)),
            }
        }
    }

    /// Records that `what` happened now.
    pub fn annotate(&mut self, what: impl core::fmt::Display) {
        if let Some(r) = &mut self.recording {
            let at = self.tracer.wall_now(self.tracer.now());
            r.annotations.push((at, alloc::format!("{what}")));
        }
    }

    /// Renames it (a route known only after the span began).
    pub fn rename(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(r) = &mut self.recording {
            r.name = name.into();
        }
    }

    /// Finishes it now and reports it if sampled.
    #[inline]
    pub fn finish(mut self) {
        self.end();
    }

    #[inline]
    fn end(&mut self) {
        if let Some(r) = self.recording.take() {
            self.report(*r);
        }
    }

    fn report(&mut self, r: Recording) {
        let ended = self.tracer.now();
        let nanos = ended.saturating_duration_since(r.started).as_nanos();
        let record = SpanRecord {
            context: self.context,
            name: r.name,
            kind: r.kind,
            timestamp: r.timestamp,
            duration: u64::try_from(nanos / 1_000).unwrap_or(u64::MAX).max(1),
            local_service: self.tracer.service.clone(),
            tags: r.tags,
            annotations: r.annotations,
            shared: r.shared,
        };
        self.tracer.reporter.report(record);
    }
}

impl<C: Clock> Drop for Span<'_, C> {
    fn drop(&mut self) {
        self.end();
    }
}
