//! An HTTP/1.1 server on mio event loops and a thread pool, with Go kit's
//! `Server` semantics on top.
//!
//! Each connection is an HTTP/1.1 state machine that never touches a socket
//! (`h1`): it parses heads with httparse, frames bodies (`Content-Length`
//! or chunked, decoded as they arrive, with `Expect: 100-continue`), and
//! writes responses, keeping connections alive and answering pipelined
//! requests in order. The engine's event loops move bytes between sockets
//! and machines, one loop per core when endpoints run inline, and hand each
//! complete request to a [`Service`]: on a worker thread (fed through a
//! bounded crossbeam channel, answering through a mio `Waker`), or inline
//! on the loop thread for services that never block (`workers: 0`).
//!
//! Every limit has a documented default in [`ServerConfig`]. A request the
//! server cannot read gets a clear status (400, 408, 413, 414, 417, 431,
//! 501, 505), a JSON body saying why, and the connection is closed; a full
//! queue gets 503 with `Retry-After`; a panicking service gets the client a
//! 500 and the worker lives on; a client that disconnects has its request's
//! context cancelled (as in Go, so does one that only shuts its sending
//! side: the server cannot tell the two apart; the answer is still sent). Shutdown stops accepting, closes idle connections and
//! finishes requests already begun, within the grace given.
//!
//! ```no_run
//! use synkit_transports::http::server::{Server, ServerConfig, service_fn};
//!
//! let hello = service_fn(|_cx, _req, resp| resp.body_mut().extend_from_slice(b"hello\n"));
//! let server = Server::new(hello).bind("127.0.0.1:8080", &ServerConfig::default())?;
//! println!("listening on {}", server.local_addr());
//! server.wait();
//! # Ok::<(), std::io::Error>(())
//! ```

mod error;
mod h1;
mod h2;
mod handler;
mod json;
mod reply;
mod router;
mod service;

use std::fmt;
use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;

use synkit_core::Context;

use crate::engine::sniff::{Both, Sniff};
use crate::engine::{self, Failure, Running, Serve};
pub use crate::engine::{Handle, ServerClock, ServerConfig, Stats};
use crate::h2::frame::PREFACE;
pub use error::{DecodeError, EncodeError, ErrorResponse, encode_error};
#[cfg(feature = "grpc")]
pub(crate) use h2::deadline as h2_deadline;
pub use handler::{Handler, request};

/// The HTTP/1.1 session, for handlers that serve it beside another
/// protocol.
#[cfg(any(test, feature = "grpc"))]
pub(crate) type Http1 = h1::Connection;

/// An HTTP/1.1 request and its answer, as [`Http1`] hands them over.
#[cfg(feature = "grpc")]
pub(crate) type Http1Exchange = h1::Exchange;
pub use json::{decode_go_json, decode_json, encode_json, go_json, go_json_into};
pub use router::{PathParams, Router};
pub use service::{Service, ServiceFn, service_fn};

/// The request header a client sends to ask for a tighter deadline, in
/// milliseconds.
pub const REQUEST_TIMEOUT_HEADER: &str = "x-request-timeout-ms";

/// What an `X-Request-Timeout-Ms` value asks for, read alike over HTTP/1.1
/// and HTTP/2: a whole number of milliseconds, else `None`.
pub(crate) fn asked_timeout(value: &[u8]) -> Option<std::time::Duration> {
    let ms = std::str::from_utf8(value)
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(std::time::Duration::from_millis(ms))
}

/// The answer that refuses a request before its service for what its
/// `X-Request-Timeout-Ms` asked ([`asked_timeout`]): 400 for a value that
/// is not a whole number of milliseconds, 504 for 0 (no time was left).
pub(crate) fn timeout_refusal(
    asked: Option<std::time::Duration>,
) -> Option<(::http::StatusCode, &'static str)> {
    match asked {
        None => Some((
            ::http::StatusCode::BAD_REQUEST,
            "X-Request-Timeout-Ms must be a whole number of milliseconds",
        )),
        Some(std::time::Duration::ZERO) => Some((
            ::http::StatusCode::GATEWAY_TIMEOUT,
            "deadline exceeded: X-Request-Timeout-Ms is 0, so no time was left to serve the request",
        )),
        Some(_) => None,
    }
}

/// The parsers on arbitrary bytes, for the fuzz targets: never a panic,
/// never a read past the input.
#[cfg(fuzzing)]
pub(crate) fn fuzz_request(bytes: &[u8], config: &ServerConfig) {
    if let Ok(Some(head)) = h1::parse::parse_head(bytes, config) {
        assert!(head.len <= bytes.len());
    }
}

/// The connection state machine on an arbitrary stream, for the fuzz
/// target.
#[cfg(fuzzing)]
pub(crate) fn fuzz_connection(bytes: &[u8]) {
    h1::fuzz_stream(bytes);
}

/// An HTTP server of a [`Service`], ready to [`bind`](Self::bind) with a
/// [`ServerConfig`] — the shape of every synkit server (`grpc::Server`,
/// `netrpc::Server`): what is served first, then `bind(addr, &config)`. It
/// speaks HTTP/1.1, and HTTP/2 to clients that open with its preface (h2c
/// with prior knowledge), unless [`protocols`](Self::protocols) says
/// otherwise.
#[derive(Clone)]
pub struct Server<S> {
    service: S,
    protocols: Protocols,
}

impl<S> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("protocols", &self.protocols)
            .finish_non_exhaustive()
    }
}

/// Which HTTP versions a server speaks on its port (Go's `http.Protocols`
/// for a cleartext listener).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocols {
    /// HTTP/1.1, and HTTP/2 for a connection that opens with HTTP/2's
    /// preface: each connection's first bytes tell them apart, at no cost
    /// to HTTP/1.1. Bytes that are not the preface are HTTP/1.1's, so a
    /// mangled preface is answered as a malformed HTTP/1.1 request (400),
    /// as Go's `h2c` handler answers it.
    #[default]
    Both,
    /// HTTP/1.1 only: an HTTP/2 preface is a malformed request.
    Http1,
    /// HTTP/2 only (h2c with prior knowledge): a connection that opens
    /// with anything but the preface gets a GOAWAY and is closed.
    Http2,
}

/// Serves HTTP requests with a [`Service`], whichever HTTP carried them.
pub(crate) struct HttpHandler<S>(pub(crate) S);

/// A request named in a log line: its method and path.
struct RequestLabel<'a>(&'a ::http::Request<Vec<u8>>);

impl fmt::Display for RequestLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.method(), self.0.uri().path())
    }
}

impl<S: Service> Serve<h1::Connection> for HttpHandler<S> {
    fn describe<'a>(&self, exchange: &'a h1::Exchange) -> impl fmt::Display + 'a {
        RequestLabel(&exchange.request)
    }

    fn handle(
        &self,
        cx: &Context<'_>,
        exchange: &mut h1::Exchange,
        _: Option<&engine::parts::Parts<h1::Exchange>>,
    ) {
        self.0
            .serve(cx, &mut exchange.request, &mut exchange.response);
    }

    fn fail(&self, exchange: &mut h1::Exchange, failure: Failure) {
        reply::write_failure(&mut exchange.response, failure);
    }
}

impl<S: Service> Server<S> {
    /// A server of `service`.
    pub fn new(service: S) -> Server<S> {
        Server {
            service,
            protocols: Protocols::Both,
        }
    }

    /// Speaks only `protocols` (both HTTP/1.1 and HTTP/2 unless told).
    ///
    /// ```no_run
    /// use synkit_transports::http::server::{Protocols, Server, ServerConfig, service_fn};
    ///
    /// let hello = service_fn(|_cx, _req, resp| resp.body_mut().extend_from_slice(b"hello\n"));
    /// // `curl --http2-prior-knowledge` and h2load, nothing else.
    /// let h2c = Server::new(hello)
    ///     .protocols(Protocols::Http2)
    ///     .bind("127.0.0.1:8080", &ServerConfig::default())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn protocols(mut self, protocols: Protocols) -> Server<S> {
        self.protocols = protocols;
        self
    }

    /// Listens on `addr` and serves on background threads, with
    /// `config`'s threads, limits and timeouts, until the returned handle
    /// stops it.
    pub fn bind(self, addr: impl ToSocketAddrs, config: &ServerConfig) -> io::Result<Handle> {
        let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")
        })?;
        let listener = std::net::TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let config = Arc::new(config.clone());
        let handler = HttpHandler(self.service);
        let running = match self.protocols {
            Protocols::Both => start_with(&listener, &config, handler, h2::options(&config))?,
            Protocols::Http1 => {
                let stats = Arc::new(Stats::default());
                let http1 = http1_sessions(&config, &stats);
                engine::start(
                    &listener,
                    config.engine("synkit-http"),
                    stats,
                    handler,
                    move |_| http1(),
                )?
            }
            Protocols::Http2 => {
                let options = h2::options(&config);
                engine::start(
                    &listener,
                    config.engine("synkit-http"),
                    Arc::new(Stats::default()),
                    handler,
                    move |_| crate::h2::server::connection(options),
                )?
            }
        };
        Ok(Handle::new(local_addr, running))
    }
}

/// Starts an engine on `listener` whose connections speak HTTP/1.1 or
/// HTTP/2 (made with `options`), each request served by `handler`: an
/// HTTP service, or (`grpc::Server::bind_with_http`) a handler that also
/// serves gRPC.
pub(crate) fn start_with<H>(
    listener: &std::net::TcpListener,
    config: &Arc<ServerConfig>,
    handler: H,
    options: crate::h2::server::Options,
) -> io::Result<Running>
where
    H: Serve<h1::Connection> + Serve<crate::h2::server::Connection>,
{
    let stats = Arc::new(Stats::default());
    let http1 = http1_sessions(config, &stats);
    engine::start(
        listener,
        config.engine("synkit-http"),
        stats,
        Both(handler),
        move |_| {
            Sniff::new(http1(), PREFACE, move || {
                crate::h2::server::connection(options)
            })
        },
    )
}

/// Makes each connection's HTTP/1.1 session, all counting into `stats`.
fn http1_sessions(
    config: &Arc<ServerConfig>,
    stats: &Arc<Stats>,
) -> impl Fn() -> h1::Connection + Clone + Send + 'static {
    let (config, stats) = (Arc::clone(config), Arc::clone(stats));
    move || h1::Connection::new(Arc::clone(&config), Arc::clone(&stats))
}
