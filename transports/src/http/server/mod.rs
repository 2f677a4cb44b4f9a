//! An HTTP/1.1 server on a mio event loop and a thread pool, with Go kit's
//! `Server` semantics on top.
//!
//! One event loop thread owns every socket: it accepts, reads, parses heads
//! with httparse, frames bodies (`Content-Length` or chunked, with
//! `Expect: 100-continue`), and writes responses, keeping connections alive
//! and answering pipelined requests in order. Each complete request goes to
//! a [`Service`]: on a worker thread (fed through a bounded crossbeam
//! channel, answering through a mio `Waker`), or inline on the loop thread
//! for services that never block (`workers: 0`).
//!
//! Every limit has a documented default in [`ServerConfig`]. A request the
//! server cannot read gets a clear status (400, 408, 413, 431, 501) and the
//! connection is closed; a full queue gets 503 with `Retry-After`; a
//! panicking service gets the client a 500 and the worker lives on; a client
//! that disconnects has its request's context cancelled.
//!
//! ```no_run
//! use synkit_transports::http::server::{Server, ServerConfig, service_fn};
//! use synkit_transports::http::{Response, StatusCode};
//!
//! let hello = service_fn(|_cx, _req| Response::new(b"hello\n".to_vec()));
//! let server = Server::new(ServerConfig::default()).bind("127.0.0.1:8080", hello)?;
//! println!("listening on {}", server.local_addr());
//! server.wait();
//! # Ok::<(), std::io::Error>(())
//! ```

mod config;
mod engine;
mod error;
mod handler;
mod json;
mod parse;
mod router;
mod service;
mod write;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Interest, Poll, Waker};

pub use config::{REQUEST_TIMEOUT_HEADER, ServerConfig};
pub use error::{DecodeError, EncodeError, ErrorResponse, encode_error};
pub use handler::{Handler, request};
pub use json::{decode_json, encode_json, go_json};
pub use router::{PathParams, Router};
pub use service::{Service, ServiceFn, service_fn};

/// The parsers on arbitrary bytes, for the fuzz targets: never a panic,
/// never a read past the input.
#[cfg(fuzzing)]
pub(crate) fn fuzz_request(bytes: &[u8], config: &ServerConfig) {
    if let Ok(Some(head)) = parse::parse_head(bytes, config) {
        assert!(head.len <= bytes.len());
        let rest = &bytes[head.len..];
        if head.framing == parse::Framing::Chunked {
            let mut decoder = parse::ChunkedDecoder::default();
            if let Ok(Some((body, used))) = decoder.feed(rest, config.max_body_bytes) {
                assert!(used <= rest.len());
                assert!(body.len() <= config.max_body_bytes);
            }
        }
    }
}

/// What the event loop and the workers share.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) stats: Stats,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) grace_nanos: AtomicU64,
}

/// Counters a running server keeps; read them with [`ServerHandle::stats`].
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused because `max_connections` were open.
    pub refused_connections: AtomicU64,
    /// Complete requests read and handed to the service (or refused for
    /// overload).
    pub requests: AtomicU64,
    /// Requests the server could not read (400, 413, 431, 501).
    pub bad_requests: AtomicU64,
    /// Requests not received within `request_read_timeout` (408).
    pub timed_out_reads: AtomicU64,
    /// Requests refused with 503 because the worker queue was full.
    pub overloaded: AtomicU64,
    /// Requests whose deadline passed while they waited for a worker (504).
    pub expired_in_queue: AtomicU64,
    /// Service calls that panicked (answered 500).
    pub panics: AtomicU64,
}

/// An HTTP/1.1 server, configured and ready to [`bind`](Self::bind).
#[derive(Clone, Debug, Default)]
pub struct Server {
    config: ServerConfig,
}

impl Server {
    /// A server with `config`.
    pub fn new(config: ServerConfig) -> Server {
        Server { config }
    }

    /// Listens on `addr` and serves `service` on background threads until
    /// the returned handle shuts it down.
    pub fn bind<A: ToSocketAddrs, S: Service>(
        self,
        addr: A,
        service: S,
    ) -> io::Result<ServerHandle> {
        let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")
        })?;
        let mut listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, engine::LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), engine::WAKER)?);
        let shared = Arc::new(Shared {
            config: self.config,
            stats: Stats::default(),
            shutting_down: AtomicBool::new(false),
            grace_nanos: AtomicU64::new(0),
        });
        let service = Arc::new(service);
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let workers = shared.config.workers;
        let mut threads = Vec::with_capacity(workers + 1);
        let jobs = if workers == 0 {
            None
        } else {
            let (jobs_tx, jobs_rx) =
                crossbeam_channel::bounded(shared.config.queue_capacity.max(1));
            for n in 0..workers {
                let (shared, service, jobs_rx, done_tx, waker) = (
                    Arc::clone(&shared),
                    Arc::clone(&service),
                    jobs_rx.clone(),
                    done_tx.clone(),
                    Arc::clone(&waker),
                );
                threads.push(
                    std::thread::Builder::new()
                        .name(format!("synkit-http-worker-{n}"))
                        .spawn(move || {
                            engine::work(&shared, &*service, &jobs_rx, &done_tx, &waker);
                        })?,
                );
            }
            Some(jobs_tx)
        };
        drop(done_tx);
        let event_loop =
            engine::EventLoop::new(poll, listener, Arc::clone(&shared), service, jobs, done_rx);
        threads.push(
            std::thread::Builder::new()
                .name("synkit-http-loop".into())
                .spawn(move || event_loop.run())?,
        );
        Ok(ServerHandle {
            local_addr,
            shared,
            waker,
            threads,
        })
    }
}

/// A running server: its address, its counters, and the way to stop it.
#[must_use = "dropping the handle leaves the server running until the process exits"]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    waker: Arc<Waker>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Stops gracefully: stops accepting at once, lets requests already
    /// read finish and be answered for up to `grace`, closes idle
    /// connections, then closes the rest, cancels the contexts of requests
    /// still running, and joins every thread — so it returns once those
    /// requests' endpoints notice the cancellation and return.
    pub fn shutdown(self, grace: Duration) {
        let nanos = u64::try_from(grace.as_nanos()).unwrap_or(u64::MAX);
        self.shared.grace_nanos.store(nanos, Ordering::Release);
        self.shared.shutting_down.store(true, Ordering::Release);
        let _ = self.waker.wake();
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Blocks until the server stops (it runs until shut down).
    pub fn wait(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}
