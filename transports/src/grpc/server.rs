//! Go kit's gRPC server: methods by path, each decode → endpoint → encode,
//! on the engine's HTTP/2 sessions.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use synkit_core::{Context, Endpoint};

use super::metadata::{ErrorHandler, Finalizer, ServerAfter, ServerBefore};
use super::status::percent_encode;
use super::stream::{Outbox, ServerStream, Sink, ok_trailers, response_headers};
use super::{Code, MAX_MESSAGE, Metadata, Status, ToStatus, framed, unframe_message};
use crate::engine::parts::Parts;
use crate::engine::{self, Failure, Handle, Serve, ServerConfig, Stats};
use crate::h2::server::Connection;
use crate::h2::{Exchange, Field, Fields, Response};

type Unary = Box<dyn Fn(&Context<'_>, &[u8]) -> Result<Vec<u8>, Status> + Send + Sync>;
type Streaming =
    Box<dyn Fn(&Context<'_>, &[u8], &mut dyn Sink) -> Result<(), Status> + Send + Sync>;

/// How a method answers.
enum Method {
    /// With one message.
    Unary(Unary),
    /// With a stream of them.
    ServerStreaming(Streaming),
}

/// How a call ended, as its answer is written.
struct Answer {
    /// A unary call's message, framed, or `None` for a stream's end; or the status
    /// the call failed with.
    outcome: Result<Option<Vec<u8>>, Status>,
    /// A stream's headers (and messages) have gone out.
    started: bool,
    header: Metadata,
    trailer: Metadata,
}

impl Answer {
    /// A call that failed with `status` before anything went out.
    fn failed(status: Status) -> Answer {
        Answer {
            outcome: Err(status),
            started: false,
            header: Metadata::new(),
            trailer: Metadata::new(),
        }
    }
}

/// A gRPC server: unary methods, each an endpoint between protobuf
/// messages, and server-streaming methods ([`ServerStream`]), served over
/// HTTP/2 cleartext.
///
/// ```no_run
/// use synkit_core::endpoint::endpoint_fn;
/// use synkit_core::{Context, Error};
/// use synkit_transports::grpc::Server;
/// use synkit_transports::http::server::ServerConfig;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct SumRequest { #[prost(int64, tag = "1")] a: i64, #[prost(int64, tag = "2")] b: i64 }
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct SumReply { #[prost(int64, tag = "1")] v: i64, #[prost(string, tag = "2")] err: String }
///
/// let sum = endpoint_fn(|_: &Context<'_>, r: SumRequest| {
///     Ok::<_, Error>(SumReply { v: r.a + r.b, err: String::new() })
/// });
/// let server = Server::new().method("/pb.Add/Sum", sum).bind("127.0.0.1:8082", &ServerConfig::default())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    methods: HashMap<String, Method>,
    max_message: usize,
    health: bool,
    before: Vec<ServerBefore>,
    after: Vec<ServerAfter>,
    on_error: Option<ErrorHandler>,
    finalizers: Vec<Finalizer>,
    tracer: Option<Arc<dyn super::ServerTrace>>,
    /// Streaming calls served at once, at most.
    streams: Option<synkit_core::bulkhead::Bulkhead>,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            methods: HashMap::new(),
            max_message: MAX_MESSAGE,
            health: true,
            before: Vec::new(),
            after: Vec::new(),
            on_error: None,
            finalizers: Vec::new(),
            tracer: None,
            streams: None,
        }
    }
}

impl Server {
    /// A server with no methods but the health check.
    pub fn new() -> Server {
        Server::default()
    }

    /// Serves `endpoint` at `path` (`/package.Service/Method`).
    #[must_use]
    pub fn method<E, Req>(mut self, path: &str, endpoint: E) -> Server
    where
        E: Endpoint<Req> + Send + Sync + 'static,
        E::Response: prost::Message,
        E::Error: ToStatus,
        Req: prost::Message + Default,
    {
        let call = move |cx: &Context<'_>, message: &[u8]| -> Result<Vec<u8>, Status> {
            let req = Req::decode(message).map_err(|e| {
                Status::new(
                    Code::InvalidArgument,
                    format!("the request is not a valid message: {e}"),
                )
            })?;
            let reply = endpoint.call(cx, req).map_err(|e| e.to_status())?;
            Ok(framed(&reply))
        };
        self.methods
            .insert(path.to_owned(), Method::Unary(Box::new(call)));
        self
    }

    /// Serves the server-streaming method at `path`: `handler` answers
    /// each request with the messages it [sends](ServerStream::send), then
    /// returns; an error it returns ends the stream with that status.
    ///
    /// A streaming call keeps its worker for as long as it runs, waiting
    /// included: a client that reads slowly holds one until the call's
    /// deadline. Size `workers` for the streams served at once, and cap
    /// them with [`max_streams`](Self::max_streams) so unary calls always
    /// find a worker.
    #[must_use]
    pub fn server_streaming<Req, Resp, E, F>(mut self, path: &str, handler: F) -> Server
    where
        F: Fn(&Context<'_>, Req, &mut ServerStream<'_, Resp>) -> Result<(), E>
            + Send
            + Sync
            + 'static,
        E: ToStatus,
        Req: prost::Message + Default,
        Resp: prost::Message,
    {
        let call = move |cx: &Context<'_>, message: &[u8], sink: &mut dyn Sink| {
            let req = Req::decode(message).map_err(|e| {
                Status::new(
                    Code::InvalidArgument,
                    format!("the request is not a valid message: {e}"),
                )
            })?;
            handler(cx, req, &mut ServerStream::new(sink)).map_err(|e| e.to_status())
        };
        self.methods
            .insert(path.to_owned(), Method::ServerStreaming(Box::new(call)));
        self
    }

    /// The largest request message taken (default 4 MiB).
    #[must_use]
    pub fn max_message(mut self, bytes: usize) -> Server {
        self.max_message = bytes;
        self
    }

    /// Go kit's `ServerBefore`: `f` sees (and may change) each request's
    /// metadata before the endpoint runs; the endpoint reads it with
    /// [`metadata`](super::metadata).
    #[must_use]
    pub fn before(
        mut self,
        f: impl Fn(&Context<'_>, &mut Metadata) + Send + Sync + 'static,
    ) -> Server {
        self.before.push(Box::new(f));
        self
    }

    /// Go kit's `ServerAfter`: `f` sets the header and trailer metadata of
    /// each successful answer.
    #[must_use]
    pub fn after(
        mut self,
        f: impl Fn(&Context<'_>, &mut Metadata, &mut Metadata) + Send + Sync + 'static,
    ) -> Server {
        self.after.push(Box::new(f));
        self
    }

    /// Go kit's `ServerErrorHandler`: `f` is told of every failed call.
    /// One handler, as in Go kit and the HTTP server: a second call
    /// replaces the first (`before`, `after` and `finalizer` add to theirs).
    #[must_use]
    pub fn error_handler(
        mut self,
        f: impl Fn(&Context<'_>, &Status) + Send + Sync + 'static,
    ) -> Server {
        self.on_error = Some(Box::new(f));
        self
    }

    /// Go kit's `ServerFinalizer`: `f` is told how every call ended, with
    /// its method's path.
    #[must_use]
    pub fn finalizer(
        mut self,
        f: impl Fn(&Context<'_>, &str, Code) + Send + Sync + 'static,
    ) -> Server {
        self.finalizers.push(Box::new(f));
        self
    }

    /// Go kit's `GRPCServerTrace`: every call in a server span named by
    /// its method, joined to the caller's trace (B3 in the metadata); the
    /// span's context rides in the endpoint's context.
    #[must_use]
    pub fn traced(mut self, tracer: Arc<dyn super::ServerTrace>) -> Server {
        self.tracer = Some(tracer);
        self
    }

    /// At most `n` streaming calls at once (all streaming methods
    /// together); one more is refused with `RESOURCE_EXHAUSTED` at once.
    /// Unlimited by default.
    #[must_use]
    pub fn max_streams(mut self, n: u32) -> Server {
        self.streams = Some(synkit_core::bulkhead::Bulkhead::new(n));
        self
    }

    /// Leaves out `grpc.health.v1.Health/Check`.
    #[must_use]
    pub fn without_health(mut self) -> Server {
        self.health = false;
        self
    }

    /// Serves on `addr` with `config`'s threads and limits; each call gets
    /// `request_timeout`, or less if its `grpc-timeout` says so.
    ///
    /// # Errors
    ///
    /// Besides the listener's own, `InvalidInput` for server-streaming
    /// methods with `workers: 0`: served on the event loop, a stream could
    /// send nothing before its call returned, so it is refused rather than
    /// buffered whole.
    pub fn bind(self, addr: impl ToSocketAddrs, config: &ServerConfig) -> io::Result<Handle> {
        self.check_streams(config)?;
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let timeout = config.request_timeout;
        // The body is the message and its 5-byte prefix.
        let max_body = self.max_message.saturating_add(5);
        let running = engine::start(
            &listener,
            config.engine("synkit-grpc"),
            Arc::new(Stats::default()),
            Methods(Arc::new(self)),
            move |_| crate::h2::server::connection(h2_options(timeout, max_body)),
        )?;
        Ok(engine::Handle::new(local_addr, running))
    }

    /// Serves gRPC and, on the same port, HTTP (1.1 and 2) with `http`:
    /// each connection's first bytes tell HTTP/1.1 from HTTP/2 (its
    /// preface, or anything else), and each HTTP/2 request's content-type
    /// tells gRPC (`application/grpc…`) from the rest. The engine's
    /// threads, limits and timeouts are `config`'s for both.
    ///
    /// ```no_run
    /// use synkit_transports::grpc::Server;
    /// use synkit_transports::http::server::{ServerConfig, service_fn};
    ///
    /// let hello = service_fn(|_cx, _req, resp| resp.body_mut().extend_from_slice(b"hello\n"));
    /// // curl and gRPC clients alike on 8080.
    /// let both = Server::new().bind_with_http("127.0.0.1:8080", &ServerConfig::default(), hello)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "http-server")]
    pub fn bind_with_http<S: crate::http::server::Service>(
        self,
        addr: impl ToSocketAddrs,
        config: &ServerConfig,
        http: S,
    ) -> io::Result<Handle> {
        self.check_streams(config)?;
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let timeout = config.request_timeout;
        let max_body = self.max_message.saturating_add(5);
        let mut options = h2_options(timeout, max_body);
        // HTTP requests on this port keep their own deadline header.
        options.deadline = |request| {
            if is_grpc(request) {
                request.header("grpc-timeout").and_then(grpc_timeout)
            } else {
                crate::http::server::h2_deadline(request)
            }
        };
        let handler = WithHttp {
            grpc: Methods(Arc::new(self)),
            http: crate::http::server::HttpHandler(http),
        };
        let running = crate::http::server::start_with(
            &listener,
            &Arc::new(config.clone()),
            handler,
            options,
        )?;
        Ok(engine::Handle::new(local_addr, running))
    }

    /// Refuses streaming methods on a server with no worker pool.
    fn check_streams(&self, config: &ServerConfig) -> io::Result<()> {
        let streams = self
            .methods
            .iter()
            .find(|(_, m)| matches!(m, Method::ServerStreaming(_)));
        match (config.workers, streams) {
            (0, Some((path, _))) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{path} streams, and with workers: 0 a stream could send nothing before its call returned: give the server workers"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Serves one call: hooks, then the method, then hooks.
    fn serve_call(
        &self,
        cx: &Context<'_>,
        exchange: &mut Exchange,
        parts: Option<&Parts<Exchange>>,
    ) -> Answer {
        // The request's fields become its metadata, moved, not copied.
        let mut md = Metadata::from_pairs(std::mem::take(&mut exchange.request.headers));
        for before in &self.before {
            before(cx, &mut md);
        }
        let cx = cx.with_value(&md);
        let Some(tracer) = self.tracer.clone() else {
            return self.serve_inner(&cx, exchange, parts);
        };
        let mut answer = None;
        let path = exchange.request.path.clone();
        tracer.around(&cx, &path, &md, &mut |traced| {
            let served = self.serve_inner(traced, exchange, parts);
            let failed = served.outcome.as_ref().err().cloned();
            answer = Some(served);
            failed
        });
        answer.unwrap_or_else(|| Answer::failed(Status::new(Code::Internal, "not served")))
    }

    /// [`serve_call`](Self::serve_call) past the metadata: the call, its
    /// hooks and finalizers.
    fn serve_inner(
        &self,
        cx: &Context<'_>,
        exchange: &mut Exchange,
        parts: Option<&Parts<Exchange>>,
    ) -> Answer {
        let mut outbox = Outbox::new(cx, parts);
        let outcome = self.serve(cx, exchange, &mut outbox);
        let (mut header, mut trailer) = (outbox.take_header(), Metadata::new());
        match &outcome {
            Ok(_) => {
                for after in &self.after {
                    after(cx, &mut header, &mut trailer);
                }
            }
            Err(status) => {
                if let Some(handler) = &self.on_error {
                    handler(cx, status);
                }
            }
        }
        let code = outcome.as_ref().map_or_else(|s| s.code, |_| Code::Ok);
        for finalizer in &self.finalizers {
            finalizer(cx, &exchange.request.path, code);
        }
        Answer {
            outcome,
            started: outbox.started,
            header,
            trailer,
        }
    }

    fn serve(
        &self,
        cx: &Context<'_>,
        exchange: &mut Exchange,
        outbox: &mut Outbox<'_>,
    ) -> Result<Option<Vec<u8>>, Status> {
        let request = &exchange.request;
        let message = unframe_message(&request.body, self.max_message)?;
        if self.health && request.path == "/grpc.health.v1.Health/Check" {
            // HealthCheckResponse{status: SERVING}, framed.
            return Ok(Some(vec![0, 0, 0, 0, 2, 0x08, 0x01]));
        }
        let Some(method) = self.methods.get(&request.path) else {
            return Err(self.unknown(&request.path));
        };
        cx.check().map_err(|e| e.to_status())?;
        match method {
            Method::Unary(call) => call(cx, message).map(Some),
            Method::ServerStreaming(call) => {
                let _slot = match &self.streams {
                    None => None,
                    Some(streams) => Some(streams.try_acquire().ok_or_else(|| {
                        Status::new(Code::ResourceExhausted, "too many streams at once")
                    })?),
                };
                call(cx, message, outbox).map(|()| None)
            }
        }
    }
}

impl Server {
    /// Go's grpc server's words for a path it does not serve.
    fn unknown(&self, path: &str) -> Status {
        let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return Status::new(
                Code::Unimplemented,
                format!("malformed method name: {path:?}"),
            );
        };
        let prefix = format!("/{service}/");
        let known = self.methods.keys().any(|k| k.starts_with(&prefix))
            || (self.health && service == "grpc.health.v1.Health");
        if known {
            Status::new(
                Code::Unimplemented,
                format!("unknown method {method} for service {service}"),
            )
        } else {
            Status::new(Code::Unimplemented, format!("unknown service {service}"))
        }
    }
}

/// Writes a gRPC answer: the reply as one message (or a stream's end)
/// and `grpc-status: 0`, or the error's status; trailers-only when nothing
/// else goes; with the metadata the hooks set.
fn answer(exchange: &mut Exchange, answer: Answer) {
    let Answer {
        outcome,
        started,
        header,
        trailer,
    } = answer;
    // A stream already under way has sent its headers.
    let headers = if started {
        Fields::Borrowed(&[])
    } else {
        response_headers(header)
    };
    exchange.response = match outcome {
        Ok(reply) => Response {
            status: 200,
            headers,
            body: reply.unwrap_or_default(),
            trailers: ok_trailers(trailer),
        },
        Err(status) => Response {
            status: 200,
            headers,
            body: Vec::new(),
            trailers: vec![
                ("grpc-status".into(), (status.code as u8).to_string().into()),
                (
                    "grpc-message".into(),
                    percent_encode(&status.message).into(),
                ),
            ]
            .into(),
        },
    };
}

/// Field names gRPC requests commonly carry, kept as constants.
const COMMON_NAMES: &[&str] = &[
    "content-type",
    "te",
    "user-agent",
    "grpc-timeout",
    "grpc-accept-encoding",
    "grpc-encoding",
    "accept-encoding",
];

/// Field values (and methods) gRPC requests commonly carry.
const COMMON_VALUES: &[&str] = &[
    "POST",
    "application/grpc",
    "trailers",
    "identity,deflate,gzip",
    "identity",
    "gzip",
];

/// What the HTTP/2 server is told of gRPC: each call's deadline is
/// `timeout` or its `grpc-timeout`, whichever is sooner; a body is the
/// message and its 5-byte prefix, `max_body` at most.
fn h2_options(timeout: Duration, max_body: usize) -> crate::h2::server::Options {
    crate::h2::server::Options {
        timeout,
        max_body,
        deadline: |request| request.header("grpc-timeout").and_then(grpc_timeout),
        common: crate::h2::fields::Common {
            names: COMMON_NAMES,
            values: COMMON_VALUES,
        },
        // gRPC's services read no `:authority`.
        authority: false,
    }
}

/// `grpc-timeout` (`1S`, `200m`, …) as a duration.
pub(crate) fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The plain HTTP answer to a request that is not a gRPC call, as
/// grpc-go's `ServeHTTP` gives it: `405` for a method other than POST,
/// `415` for a content type other than `application/grpc[+codec]`, each
/// with a line of text, before any hook or method sees it.
fn not_grpc(request: &crate::h2::Request) -> Option<Response> {
    let refuse = |status, why: String| Response {
        status,
        headers: Fields::Borrowed(&[
            (
                Field::Borrowed("content-type"),
                Field::Borrowed("text/plain; charset=utf-8"),
            ),
            (
                Field::Borrowed("x-content-type-options"),
                Field::Borrowed("nosniff"),
            ),
        ]),
        body: format!("{why}\n").into_bytes(),
        trailers: Fields::Borrowed(&[]),
    };
    if request.method != "POST" {
        let why = format!("invalid gRPC request method {:?}", &*request.method);
        return Some(refuse(405, why));
    }
    if is_grpc(request) {
        return None;
    }
    let content_type = request.header("content-type").unwrap_or("");
    let why = format!("invalid gRPC request content-type {content_type:?}");
    Some(refuse(415, why))
}

/// Whether a request says it is gRPC: `application/grpc`, alone or with
/// a `+codec` or parameters.
fn is_grpc(request: &crate::h2::Request) -> bool {
    request
        .header("content-type")
        .and_then(|ct| ct.strip_prefix("application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['+', ';']))
}

struct Methods(Arc<Server>);

/// gRPC and an HTTP service on one port: HTTP/1.1 goes to the service,
/// HTTP/2 by content-type (`application/grpc…` to gRPC, anything else to
/// the service), as Go's `grpc.Server.ServeHTTP` beside a mux does.
#[cfg(feature = "http-server")]
struct WithHttp<S> {
    grpc: Methods,
    http: crate::http::server::HttpHandler<S>,
}

#[cfg(feature = "http-server")]
impl<S: crate::http::server::Service> Serve<crate::http::server::Http1> for WithHttp<S> {
    fn describe<'a>(
        &self,
        exchange: &'a crate::http::server::Http1Exchange,
    ) -> impl fmt::Display + 'a {
        Serve::<crate::http::server::Http1>::describe(&self.http, exchange)
    }

    fn handle(
        &self,
        cx: &Context<'_>,
        exchange: &mut crate::http::server::Http1Exchange,
        _: Option<&Parts<crate::http::server::Http1Exchange>>,
    ) {
        Serve::<crate::http::server::Http1>::handle(&self.http, cx, exchange, None);
    }

    fn fail(&self, exchange: &mut crate::http::server::Http1Exchange, failure: Failure) {
        Serve::<crate::http::server::Http1>::fail(&self.http, exchange, failure);
    }
}

#[cfg(feature = "http-server")]
impl<S: crate::http::server::Service> Serve<Connection> for WithHttp<S> {
    fn describe<'a>(&self, exchange: &'a Exchange) -> impl fmt::Display + 'a {
        // One type for both: the path names a gRPC call, and an HTTP
        // request's log line is its path too.
        &exchange.request.path
    }

    fn handle(&self, cx: &Context<'_>, exchange: &mut Exchange, parts: Option<&Parts<Exchange>>) {
        if is_grpc(&exchange.request) {
            self.grpc.handle(cx, exchange, parts);
        } else {
            Serve::<Connection>::handle(&self.http, cx, exchange, None);
        }
    }

    fn fail(&self, exchange: &mut Exchange, failure: Failure) {
        if is_grpc(&exchange.request) {
            self.grpc.fail(exchange, failure);
        } else {
            Serve::<Connection>::fail(&self.http, exchange, failure);
        }
    }
}

impl Serve<Connection> for Methods {
    fn describe<'a>(&self, exchange: &'a Exchange) -> impl fmt::Display + 'a {
        &exchange.request.path
    }

    fn handle(&self, cx: &Context<'_>, exchange: &mut Exchange, parts: Option<&Parts<Exchange>>) {
        if let Some(refusal) = not_grpc(&exchange.request) {
            exchange.response = refusal;
            return;
        }
        if exchange.request.over_limit {
            // Refused before any hook: the message was never read whole.
            let status = Status::new(
                Code::ResourceExhausted,
                format!(
                    "a request over {} bytes",
                    self.0.max_message.saturating_add(5)
                ),
            );
            answer(exchange, Answer::failed(status));
            return;
        }
        let served = self.0.serve_call(cx, exchange, parts);
        answer(exchange, served);
    }

    fn fail(&self, exchange: &mut Exchange, failure: Failure) {
        // The status a gRPC client retries or reports: UNAVAILABLE can be
        // tried elsewhere, DEADLINE_EXCEEDED and INTERNAL are final.
        let status = match failure {
            Failure::Overloaded => Status::new(Code::Unavailable, "server overloaded"),
            Failure::ExpiredInQueue => Status::new(
                Code::DeadlineExceeded,
                "deadline passed before the call was served",
            ),
            Failure::Panicked => Status::new(Code::Internal, "the service failed"),
        };
        answer(exchange, Answer::failed(status));
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut paths: Vec<&String> = self.methods.keys().collect();
        paths.sort();
        f.debug_struct("Server")
            .field("methods", &paths)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::grpc_timeout;
    use std::time::Duration;

    #[test]
    fn grpc_timeouts_are_read_in_every_unit() {
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(grpc_timeout("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "S", "123456789S", "5x", "-1S", "1.5S"] {
            assert_eq!(grpc_timeout(bad), None, "{bad}");
        }
    }
}
