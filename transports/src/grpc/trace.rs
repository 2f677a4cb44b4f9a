//! Go kit's `tracing/zipkin` gRPC hooks (`GRPCServerTrace`,
//! `GRPCClientTrace`) over `synkit_core::trace`: a server span around
//! every call served and a client span around every call made, named by
//! the method, B3 carried in the metadata, Go kit's tags (`grpc.method`,
//! `grpc.status_code` and `error` on failure).

use synkit_core::Context;
use synkit_core::time::Clock;
use synkit_core::trace::{Kind, Span, SpanContext, Tracer, propagation};

use super::{Metadata, Status};

struct Md<'a>(&'a Metadata);

impl propagation::Headers for Md<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }
}

/// What a [`Server`](super::Server) traces its calls with (a
/// [`Tracer`]); the span's context rides in the endpoint's context.
pub trait ServerTrace: Send + Sync {
    /// Runs `serve` (which answers with the call's error, if any) inside a
    /// server span for `method`, joined to the caller's trace.
    fn around(
        &self,
        cx: &Context<'_>,
        method: &str,
        md: &Metadata,
        serve: &mut dyn FnMut(&Context<'_>) -> Option<Status>,
    );
}

impl<C: Clock + Send + Sync> ServerTrace for Tracer<C> {
    fn around(
        &self,
        cx: &Context<'_>,
        method: &str,
        md: &Metadata,
        serve: &mut dyn FnMut(&Context<'_>) -> Option<Status>,
    ) {
        let extracted = propagation::extract_b3(&Md(md));
        let mut span = self.start_server(method.to_owned(), extracted.as_ref(), true);
        if span.is_sampled() {
            span.tag("grpc.method", method.to_owned());
        }
        let context = *span.context();
        let scoped = cx.with_value(&context);
        let failed = serve(&scoped);
        if let Some(status) = failed
            && span.is_sampled()
        {
            span.tag("grpc.status_code", status.code as u8);
            span.tag("error", status.message);
        }
        span.finish();
    }
}

/// What a [`Client`](super::Client) traces its calls with (a [`Tracer`]).
pub trait ClientTrace: Send + Sync {
    /// Runs `call` inside a client span for `method`, the child of the
    /// span in `cx` if any, with B3 written into `md` first.
    fn around(
        &self,
        cx: &Context<'_>,
        method: &str,
        md: &mut Metadata,
        call: &mut dyn FnMut(&Metadata) -> Option<Status>,
    );

    /// Starts a client span for a streaming call to `method`, as
    /// [`around`](Self::around) would, with B3 written into `md`; the
    /// stream ends it. By default streams are not traced.
    fn start_stream<'t>(
        &'t self,
        cx: &Context<'_>,
        method: &str,
        md: &mut Metadata,
    ) -> Option<Box<dyn StreamSpan + 't>> {
        let _ = (cx, method, md);
        None
    }
}

/// A client span kept open while a stream is read.
pub trait StreamSpan: Send {
    /// Ends the span; `failed` is the status the stream ended with, if it
    /// did not end well.
    fn end(self: Box<Self>, failed: Option<&Status>);
}

impl<C: Clock + Send + Sync> StreamSpan for Span<'_, C> {
    fn end(self: Box<Self>, failed: Option<&Status>) {
        end_client_span(*self, failed);
    }
}

/// A client span for `method`, the child of the span in `cx` if any, its
/// B3 written into `md`: Go kit's `GRPCClientTrace` before the call.
fn client_span<'t, C: Clock>(
    tracer: &'t Tracer<C>,
    cx: &Context<'_>,
    method: &str,
    md: &mut Metadata,
) -> Span<'t, C> {
    let mut span = tracer.start(method.to_owned(), Kind::Client, cx.value::<SpanContext>());
    if span.is_sampled() {
        span.tag("grpc.method", method.to_owned());
    }
    propagation::inject_b3(span.context(), |name, value| md.set(name, value));
    span
}

/// Ends a client span, with Go kit's tags for a failed call.
fn end_client_span<C: Clock>(mut span: Span<'_, C>, failed: Option<&Status>) {
    if let Some(status) = failed
        && span.is_sampled()
    {
        span.tag("grpc.status_code", status.code as u8);
        span.tag("error", status.message.clone());
    }
    span.finish();
}

impl<C: Clock + Send + Sync> ClientTrace for Tracer<C> {
    fn around(
        &self,
        cx: &Context<'_>,
        method: &str,
        md: &mut Metadata,
        call: &mut dyn FnMut(&Metadata) -> Option<Status>,
    ) {
        let span = client_span(self, cx, method, md);
        let failed = call(md);
        end_client_span(span, failed.as_ref());
    }

    fn start_stream<'t>(
        &'t self,
        cx: &Context<'_>,
        method: &str,
        md: &mut Metadata,
    ) -> Option<Box<dyn StreamSpan + 't>> {
        Some(Box::new(client_span(self, cx, method, md)))
    }
}
