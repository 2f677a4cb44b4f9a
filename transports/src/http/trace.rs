//! Go kit's `tracing/zipkin` HTTP hooks (`HTTPServerTrace`,
//! `HTTPClientTrace`) over `synkit_core::trace`: a server span around every
//! request served, a client span around every call made, B3 (or W3C)
//! headers read and written, and Go kit's tag names.

use std::borrow::Cow;
#[cfg(feature = "http-server")]
use std::sync::Arc;

use ::http::{HeaderMap, Method};
use synkit_core::Context;
use synkit_core::time::Clock;
#[cfg(feature = "http-client")]
use synkit_core::trace::Kind;
use synkit_core::trace::{SpanContext, Tracer, propagation};

/// The span name for a method: Go kit names HTTP spans by method, and the
/// standard ones cost no allocation.
pub(crate) fn method_name(method: &Method) -> Cow<'static, str> {
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return Cow::Owned(method.as_str().to_owned()),
    };
    Cow::Borrowed(name)
}

/// Header lookup for the propagation readers.
pub(crate) struct Headers<'a>(pub(crate) &'a HeaderMap);

impl propagation::Headers for Headers<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The caller's span context from B3 headers (then W3C `traceparent`),
/// and whether it came as B3. Unreadable headers count as none.
#[cfg_attr(not(feature = "http-server"), allow(dead_code))]
pub(crate) fn extract(headers: &HeaderMap) -> (Option<SpanContext>, bool) {
    let headers = Headers(headers);
    match propagation::extract_b3(&headers) {
        Some(cx) => (Some(cx), true),
        None => (propagation::extract_w3c(&headers), false),
    }
}

#[cfg(feature = "http-client")]
/// Traces a client call: what [`Client::traced`](super::client::Client::traced)
/// holds, whatever the tracer's clock.
pub trait ClientTrace: Send + Sync {
    /// Starts a client span (the child of the context's span), writes its
    /// B3 headers into `request`, sends it with `send`, tags the outcome and
    /// finishes the span: Go kit's `HTTPClientTrace`.
    fn trace(
        &self,
        cx: &Context<'_>,
        request: ::http::Request<Vec<u8>>,
        send: &mut dyn FnMut(
            ::http::Request<Vec<u8>>,
        )
            -> Result<::http::Response<Vec<u8>>, super::client::ClientError>,
    ) -> Result<::http::Response<Vec<u8>>, super::client::ClientError>;
}

#[cfg(feature = "http-client")]
impl<C: Clock + Send + Sync> ClientTrace for Tracer<C> {
    fn trace(
        &self,
        cx: &Context<'_>,
        mut request: ::http::Request<Vec<u8>>,
        send: &mut dyn FnMut(
            ::http::Request<Vec<u8>>,
        )
            -> Result<::http::Response<Vec<u8>>, super::client::ClientError>,
    ) -> Result<::http::Response<Vec<u8>>, super::client::ClientError> {
        let mut span = self.start(
            method_name(request.method()),
            Kind::Client,
            cx.value::<SpanContext>(),
        );
        if span.is_sampled() {
            span.tag("http.method", request.method());
            span.tag("http.url", request.uri());
        }
        let headers = request.headers_mut();
        propagation::inject_b3(span.context(), |name, value| {
            if let Ok(value) = ::http::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        });
        let out = send(request);
        if span.is_sampled() {
            match &out {
                Ok(resp) => {
                    let size = resp
                        .headers()
                        .get(::http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .map_or_else(|| resp.body().len().to_string(), str::to_owned);
                    span.tag("http.response.size", size);
                    span.tag("http.status_code", resp.status().as_u16());
                    if resp.status().as_u16() > 399 {
                        span.tag("error", resp.status().as_u16());
                    }
                }
                Err(e) => span.tag("error", e),
            }
        }
        span.finish();
        out
    }
}

/// A [`Service`](super::server::Service) traced as Go kit's
/// `HTTPServerTrace` traces one: a server span per request, named by
/// method, joining the caller's trace from B3 headers (sharing the
/// caller's span id, zipkin-go's default) or W3C `traceparent` (as a
/// child), tagged `http.method`, `http.path`, `http.status_code`,
/// `http.response.size` and, for a status above 399, `error` with the
/// status text. The span's context rides in the request's [`Context`], so
/// clients called while serving make child spans. Headers that cannot be
/// read start a new trace.
#[cfg(feature = "http-server")]
#[derive(Debug)]
pub struct TracedService<S, C> {
    inner: S,
    tracer: Arc<Tracer<C>>,
}

#[cfg(feature = "http-server")]
impl<S, C> TracedService<S, C> {
    /// Traces `inner` with `tracer`.
    pub fn new(inner: S, tracer: Arc<Tracer<C>>) -> TracedService<S, C> {
        TracedService { inner, tracer }
    }
}

#[cfg(feature = "http-server")]
impl<S, C> super::server::Service for TracedService<S, C>
where
    S: super::server::Service,
    C: Clock + Send + Sync + 'static,
{
    fn serve(
        &self,
        cx: &Context<'_>,
        req: &mut ::http::Request<Vec<u8>>,
        resp: &mut ::http::Response<Vec<u8>>,
    ) {
        let (extracted, b3) = extract(req.headers());
        let mut span = self
            .tracer
            .start_server(method_name(req.method()), extracted.as_ref(), b3);
        if span.is_sampled() {
            span.tag("http.method", req.method());
            span.tag("http.path", req.uri().path());
        }
        let context = *span.context();
        let scoped = cx.with_value(&context);
        self.inner.serve(&scoped, req, resp);
        if span.is_sampled() {
            let status = resp.status();
            span.tag("http.status_code", status.as_u16());
            if status.as_u16() > 399 {
                span.tag("error", status.canonical_reason().unwrap_or("error"));
            }
            span.tag("http.response.size", resp.body().len());
        }
        span.finish();
    }
}
