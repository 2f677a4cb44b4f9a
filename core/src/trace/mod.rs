//! Distributed tracing, Zipkin's model: spans with trace, span and parent
//! ids, a kind, a start and a duration, tags and annotations; samplers;
//! and the context's propagation in B3 and W3C Trace Context headers.
//!
//! A [`Tracer`] starts spans and hands finished ones to a [`Reporter`]
//! (Zipkin's HTTP reporter lives in `synkit-transports`). The current
//! span's [`SpanContext`] travels in the request's
//! [`Context`](crate::Context) as a value (`cx.with_value(&span_context)`,
//! read back with `cx.value::<SpanContext>()`), so a client call made
//! while serving becomes the server span's child. An unsampled span costs
//! an id and nothing else. Needs `alloc` (and the `log` feature, whose
//! JSON string encoder [`zipkin::encode`] shares).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use synkit_core::trace::{Kind, Reporter, Sampler, SpanRecord, Tracer};
//! use synkit_core::time::ManualClock;
//!
//! #[derive(Default)]
//! struct Keep(Mutex<Vec<SpanRecord>>);
//! impl Reporter for Keep {
//!     fn report(&self, span: SpanRecord) { self.0.lock().unwrap().push(span) }
//! }
//! let kept = Arc::new(Keep::default());
//! let tracer = Tracer::new("stringsvc", kept.clone(), ManualClock::new(), 1_700_000_000_000_000);
//! let mut server = tracer.start("POST", Kind::Server, None);
//! server.tag("http.path", "/uppercase");
//! let client = tracer.start("GET", Kind::Client, Some(server.context()));
//! let (server_id, client_parent) = (server.context().span_id, client.context().parent_id);
//! client.finish();
//! server.finish();
//! let spans = kept.0.lock().unwrap();
//! assert_eq!(spans.len(), 2);
//! assert_eq!(client_parent, Some(server_id));
//! assert_eq!(spans[0].context.trace_id, spans[1].context.trace_id);
//! ```

mod id;
pub mod propagation;
mod sampler;
mod span;
#[cfg(feature = "log")]
pub mod zipkin;

use alloc::borrow::Cow;
use alloc::sync::Arc;

use id::Ids;
pub use id::{SpanId, TraceId};
pub use sampler::{RateLimit, Sampler};
pub use span::{Span, SpanRecord};

use crate::time::{Clock, Instant};

/// A span's identity and sampling state: what crosses process
/// boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// The span it is a child of, if any.
    pub parent_id: Option<SpanId>,
    /// The sampling decision, if one was made.
    pub sampled: Option<bool>,
    /// Forced recording (B3's debug flag).
    pub debug: bool,
}

impl SpanContext {
    /// A decision without ids (B3's `b3: 0`).
    pub fn decision(sampled: Option<bool>, debug: bool) -> SpanContext {
        SpanContext {
            trace_id: TraceId::default(),
            span_id: SpanId(0),
            parent_id: None,
            sampled,
            debug,
        }
    }

    /// Whether it names a trace and a span (not a bare decision).
    pub fn has_ids(&self) -> bool {
        self.span_id.0 != 0 && (self.trace_id.low != 0 || self.trace_id.high != 0)
    }
}

/// A span's role, as Zipkin names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The caller's side of a remote call.
    Client,
    /// The callee's side of a remote call.
    Server,
    /// Sending a message.
    Producer,
    /// Receiving a message.
    Consumer,
    /// Work within the process.
    Local,
}

/// Where finished spans go. Called on the thread that finished the span:
/// an implementation must not block (queue and send elsewhere).
pub trait Reporter: Send + Sync {
    /// One finished, sampled span.
    fn report(&self, span: SpanRecord);
}

/// A reporter that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopReporter;

impl Reporter for NoopReporter {
    fn report(&self, _: SpanRecord) {}
}

/// Starts spans for one service: zipkin-go's `Tracer`.
pub struct Tracer<C> {
    pub(crate) service: Cow<'static, str>,
    sampler: Sampler,
    pub(crate) reporter: Arc<dyn Reporter>,
    clock: C,
    // Wall-clock microseconds at `base`, to turn the clock's instants
    // into Zipkin's timestamps.
    wall_base: u64,
    base: Instant,
    ids: Ids,
    shared_spans: bool,
    trace_id_128: bool,
    // Reads the wall clock (microseconds since the epoch) for timestamps;
    // without it they are reckoned from `wall_base` on `clock`.
    wall: Option<fn() -> u64>,
}

impl<C: Clock> Tracer<C> {
    /// A tracer for `service`, reporting to `reporter`, timing with
    /// `clock`; `wall_micros_now` is the wall-clock time now in
    /// microseconds since the Unix epoch (what timestamps count from).
    /// Samples everything, shares server spans with their B3 callers (as
    /// zipkin-go does by default) and makes 64-bit trace ids.
    pub fn new(
        service: impl Into<Cow<'static, str>>,
        reporter: Arc<dyn Reporter>,
        clock: C,
        wall_micros_now: u64,
    ) -> Tracer<C> {
        let base = clock.now();
        Tracer {
            service: service.into(),
            sampler: Sampler::Always,
            reporter,
            wall_base: wall_micros_now,
            base,
            ids: Ids::new(
                wall_micros_now ^ base.as_nanos().rotate_left(29) ^ 0x5eed_5eed_5eed_5eed,
            ),
            clock,
            shared_spans: true,
            trace_id_128: false,
            wall: None,
        }
    }

    /// Reads `wall` (microseconds since the Unix epoch) for every span's
    /// timestamp, rather than reckoning it from the tracer's start on its
    /// clock: right when the wall clock and the clock drift apart, at the
    /// cost of one more reading per sampled span.
    #[must_use]
    pub fn with_wall_clock(mut self, wall: fn() -> u64) -> Tracer<C> {
        self.wall = Some(wall);
        self
    }

    /// Decides new traces with `sampler`.
    #[must_use]
    pub fn with_sampler(mut self, sampler: Sampler) -> Tracer<C> {
        self.sampler = sampler;
        self
    }

    /// Whether a server span takes its B3 caller's span id (zipkin-go's
    /// `WithSharedSpans`, default true) rather than a child id.
    #[must_use]
    pub fn shared_spans(mut self, shared: bool) -> Tracer<C> {
        self.shared_spans = shared;
        self
    }

    /// Makes 128-bit trace ids (W3C's width) rather than 64-bit ones.
    #[must_use]
    pub fn trace_id_128(mut self, wide: bool) -> Tracer<C> {
        self.trace_id_128 = wide;
        self
    }

    /// The service name spans are reported under.
    pub fn service(&self) -> &str {
        &self.service
    }

    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The wall-clock time now, in microseconds since the epoch.
    pub(crate) fn wall_now(&self, at: Instant) -> u64 {
        match self.wall {
            Some(read) => read(),
            None => self.micros(at),
        }
    }

    pub(crate) fn micros(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.base).as_micros();
        self.wall_base
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    /// Starts a span named `name` of `kind`, the child of `parent` (or a
    /// new trace's root). The sampling decision is the parent's if it made
    /// one, else the sampler's.
    pub fn start(
        &self,
        name: impl Into<Cow<'static, str>>,
        kind: Kind,
        parent: Option<&SpanContext>,
    ) -> Span<'_, C> {
        let context = self.child_of(parent);
        Span::new(self, context, name.into(), kind, false)
    }

    /// Starts the server span for a request whose caller sent `extracted`
    /// (in B3 if `b3`): with shared spans, a B3 caller's span id is taken
    /// over (Zipkin's convention); otherwise the span is its child.
    pub fn start_server(
        &self,
        name: impl Into<Cow<'static, str>>,
        extracted: Option<&SpanContext>,
        b3: bool,
    ) -> Span<'_, C> {
        match extracted {
            Some(cx) if cx.has_ids() && b3 && self.shared_spans => {
                let mut context = *cx;
                if context.sampled.is_none() {
                    context.sampled = Some(self.sampler.sample(cx.trace_id, || self.clock.now()));
                }
                Span::new(self, context, name.into(), Kind::Server, true)
            }
            _ => self.start(name, Kind::Server, extracted),
        }
    }

    #[inline]
    fn child_of(&self, parent: Option<&SpanContext>) -> SpanContext {
        let joins = parent.is_some_and(SpanContext::has_ids);
        let told = parent.and_then(|p| p.sampled);
        if !joins
            && (told == Some(false) || (told.is_none() && matches!(self.sampler, Sampler::Never)))
        {
            // Not recorded and joining no trace: only the decision travels
            // on (B3's `X-B3-Sampled: 0`); no ids to make.
            return SpanContext::decision(Some(false), false);
        }
        let span_id = SpanId(self.ids.next());
        match parent {
            Some(p) if p.has_ids() => SpanContext {
                trace_id: p.trace_id,
                span_id,
                parent_id: Some(p.span_id),
                sampled: p
                    .sampled
                    .or_else(|| Some(self.sampler.sample(p.trace_id, || self.clock.now()))),
                debug: p.debug,
            },
            _ => {
                let trace_id = TraceId {
                    high: if self.trace_id_128 {
                        self.ids.next()
                    } else {
                        0
                    },
                    low: span_id.0,
                };
                let sampled = match parent.and_then(|p| p.sampled) {
                    Some(decided) => decided,
                    None => self.sampler.sample(trace_id, || self.clock.now()),
                };
                SpanContext {
                    trace_id,
                    span_id,
                    parent_id: None,
                    sampled: Some(sampled),
                    debug: parent.is_some_and(|p| p.debug),
                }
            }
        }
    }
}

#[cfg(feature = "std")]
impl Tracer<crate::time::SystemClock> {
    /// A tracer for `service` on the system clocks: durations from the
    /// monotonic clock, timestamps from the wall clock.
    pub fn system(service: impl Into<Cow<'static, str>>, reporter: Arc<dyn Reporter>) -> Self {
        Tracer::new(service, reporter, crate::time::SystemClock, system_micros())
            .with_wall_clock(system_micros)
    }
}

/// The wall clock, in microseconds since the Unix epoch.
#[cfg(feature = "std")]
pub fn system_micros() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

impl<C> core::fmt::Debug for Tracer<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tracer")
            .field("service", &self.service)
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}
