use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use synkit_core::time::{Clock, SystemClock};

/// How a server on the engine runs and what it puts up with: HTTP's
/// (`http::server::Server`), gRPC's and net/rpc's alike. The threads,
/// connection limits, timeouts and clock are the engine's, for every
/// protocol; the head and body limits bound HTTP requests (over HTTP/1.1
/// and HTTP/2; gRPC's messages have `grpc::Server::max_message`, net/rpc's
/// calls `netrpc::MAX_CALL`). Every default is chosen for a small host and
/// documented with its reason.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Threads running endpoints; 0 runs them inline on the event loop
    /// thread (for endpoints that never block: the fastest path).
    /// Default: the number of cores, at most 8 — endpoints that block on
    /// I/O want more, so raise it for them.
    pub workers: usize,
    /// Event loop threads, each accepting connections and owning their
    /// sockets. 0 (the default) picks: one per core when endpoints run
    /// inline (`workers: 0`), so the fast path scales with the cores; one
    /// when a worker pool runs them, since the loop then only moves bytes.
    pub event_loops: usize,
    /// Requests waiting for a worker before new ones get 503 with
    /// `Retry-After`. Default 256: a few milliseconds of work for a small
    /// host, enough to ride out a burst; a longer queue only hides an
    /// overload (and its slots are allocated up front).
    pub queue_capacity: usize,
    /// Largest request head (request line and headers). Default 16 KiB,
    /// twice the common 8 KiB of proxies. Beyond it: 431.
    pub max_head_bytes: usize,
    /// Most header fields in a request (at most 256). Default 100, as
    /// Go's and hyper's servers allow. Beyond it: 431.
    pub max_headers: usize,
    /// Largest request body. Default 1 MiB, ample for JSON RPC. Beyond it:
    /// 413.
    pub max_body_bytes: usize,
    /// Time a client has to send a whole request once it has started one —
    /// against slowloris. Default 10 s. Past it: 408 and close.
    pub request_read_timeout: Duration,
    /// How long an idle keep-alive connection stays open. Default 60 s.
    pub idle_timeout: Duration,
    /// Time a response may take to be accepted by a client that stopped
    /// reading. Default 30 s. Past it the connection is closed.
    pub write_timeout: Duration,
    /// Open connections at most, across every event loop; beyond it new
    /// ones are refused in their protocol's words (HTTP/1.1's 503, HTTP/2's
    /// GOAWAY) and closed. Default 10 000.
    pub max_connections: usize,
    /// The deadline placed in every request's `Context`. Clients may ask for
    /// less with the `X-Request-Timeout-Ms` header (milliseconds), never for
    /// more. Default 30 s. When it passes: 504, or the endpoint's own error.
    pub request_timeout: Duration,
    /// The clock deadlines and timeouts are read from. Default: the
    /// [`SystemClock`]; a test may drive a server on its own clock.
    pub clock: ServerClock,
}

/// The clock a server reads, shared by its threads.
#[derive(Clone)]
pub struct ServerClock(pub Arc<dyn Clock + Send + Sync>);

impl ServerClock {
    /// Reads `clock`.
    pub fn new(clock: impl Clock + Send + Sync + 'static) -> ServerClock {
        ServerClock(Arc::new(clock))
    }
}

impl Default for ServerClock {
    fn default() -> ServerClock {
        ServerClock::new(SystemClock)
    }
}

impl fmt::Debug for ServerClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerClock")
    }
}

impl ServerConfig {
    /// The engine's settings for a server of this configuration, its
    /// threads named `name`.
    pub(crate) fn engine(&self, name: &'static str) -> crate::engine::EngineConfig {
        crate::engine::EngineConfig {
            workers: self.workers,
            queue_capacity: self.queue_capacity,
            event_loops: self.event_loops(),
            max_connections: self.max_connections,
            timeouts: crate::engine::timeouts::Limits {
                idle: self.idle_timeout,
                read: self.request_read_timeout,
                write: self.write_timeout,
            },
            clock: Arc::clone(&self.clock.0),
            name,
        }
    }

    /// The number of event loops to run: [`event_loops`](Self::event_loops),
    /// or the automatic choice it documents.
    pub fn event_loops(&self) -> usize {
        match (self.event_loops, self.workers) {
            (0, 0) => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            (0, _) => 1,
            (n, _) => n,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
            queue_capacity: 256,
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
            request_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            request_timeout: Duration::from_secs(30),
            event_loops: 0,
            clock: ServerClock::default(),
        }
    }
}
