//! The engine every server transport runs on: mio event loops that move
//! bytes and timers, protocol state machines that make sense of them, and a
//! worker pool that runs the endpoints.
//!
//! What a user sees of it is shared by every server on it — HTTP's, gRPC's
//! and net/rpc's: one [`ServerConfig`] (threads, connection limits, the
//! idle, read and write timeouts, the clock), one [`Handle`] to the running
//! server, one set of [`Stats`]. Each transport module re-exports them.
//!
//! The seam between them is `Session`: one connection's protocol as a
//! sans-IO state machine. The loop (`event_loop`) reads from a socket only
//! while the session `wants_read`, hands it the bytes,
//! takes the complete requests it produces and runs them (inline on the loop
//! thread, or on the `pool`), gives it their responses, writes what it
//! wants written, fires its timer, and closes the socket when it says so.
//! HTTP/1.1, HTTP/2 and net/rpc are such sessions, each with its own
//! request and response types, and `sniff` makes one port's connections
//! one of two sessions by their first bytes. (NATS is a client: its
//! connection is its own thread, not a session.)
//!
//! # Several loops
//!
//! An engine runs one or more loops. Each registers its own handle on the
//! one listening socket and accepts from it; a connection then lives on the
//! loop that accepted it, so loops share nothing on the hot path (no lock,
//! no channel, no cache line written by two cores). Endpoints that never
//! block run inline on the loop that read the request: the fast path, one
//! loop per core by default. With a worker pool, one loop is the default,
//! since it only moves bytes; each job names the loop its answer goes back
//! to.
//!
//! What it should give on 16 cores: the inline path is one core's work per
//! request end to end (read, parse, serve, write: about 5 µs here), so 16
//! loops should serve close to 16 times one loop's requests, until the NIC
//! or the kernel's accept queue becomes the limit. Accepting from shared
//! handles wakes every idle loop for each new connection (the kernel has no
//! exclusive wake-up through mio); that costs a few wasted wake-ups per
//! connection, not per request, and balances connections only roughly. A
//! host with many short connections would want `SO_REUSEPORT` listeners
//! (one per loop, balanced by the kernel) instead. Tested here (2 cores)
//! for correctness only: two loops share a set of connections, each
//! answering its own.

mod config;
pub(crate) mod event_loop;
#[cfg(any(test, fuzzing))]
pub(crate) mod fuzz;
mod handle;
pub(crate) mod messages;
// Streamed answers: only gRPC's server streams use them today.
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) mod parts;
pub(crate) mod pool;
#[cfg(feature = "http-server")]
pub(crate) mod sniff;
pub(crate) mod timeouts;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::{Interest, Poll, Waker};
use synkit_core::Context;
use synkit_core::time::{Clock, Instant};

pub use config::{ServerClock, ServerConfig};
pub use handle::Handle;
pub(crate) use timeouts::Activity;
pub(crate) use timeouts::Timeout;

/// The time a session is told: the loop's clock (for deadlines and timers)
/// and the wall clock's second (for protocols that print dates), both read
/// once per loop turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Now {
    /// The server's clock.
    pub(crate) at: Instant,
    /// Whole seconds since the Unix epoch.
    pub(crate) unix_secs: u64,
}

impl Now {
    /// `at` on the server's clock, with the wall clock read now.
    pub(crate) fn read(at: Instant) -> Now {
        let unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Now { at, unix_secs }
    }
}

/// Bytes a session has queued for its socket, and how far the loop has
/// written them. It is the `Vec` it appends to (`Deref`), so framing
/// code writes into it as into any buffer.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    buf: Vec<u8>,
    written: usize,
}

impl Outgoing {
    /// What is still to be written: [`Session::output`].
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// The loop wrote `n` more bytes: [`Session::wrote`]. The buffer is
    /// emptied (keeping its room) once all of it is out.
    pub(crate) fn wrote(&mut self, n: usize) {
        self.written = (self.written + n).min(self.buf.len());
        if self.written == self.buf.len() {
            self.buf.clear();
            self.written = 0;
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn unwritten(&self) -> usize {
        self.buf.len() - self.written
    }
}

impl std::ops::Deref for Outgoing {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl std::ops::DerefMut for Outgoing {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

/// A complete request a session hands to the loop.
#[derive(Debug)]
pub(crate) struct Incoming<X> {
    /// The session's name for the request, given back with its answer.
    pub(crate) id: u32,
    /// The request, with room for its answer: handed to the service and
    /// back, then reused for the connection's next request.
    pub(crate) exchange: X,
    /// When the answer stops being wanted.
    pub(crate) deadline: Instant,
}

/// Why the engine answers a request itself instead of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Every worker is busy and the queue is full.
    Overloaded,
    /// The deadline passed while the request waited for a worker.
    ExpiredInQueue,
    /// The service panicked.
    Panicked,
}

/// One connection's protocol, as a sans-IO state machine. Every method
/// returns at once; none touches a socket.
pub(crate) trait Session: Send + 'static {
    /// One request and its answer: the session fills in the request, the
    /// service the answer; the session keeps it for the next request.
    type Exchange: Send + 'static + From<Self::Part>;

    /// What a part of a streamed answer is (for sessions that do not
    /// stream, anything: [`STREAMS`](Self::STREAMS) is false).
    type Part: Send + 'static;

    /// Bytes read from the peer.
    fn received(&mut self, bytes: &[u8], now: &Now);
    /// The peer will send nothing more (end of stream or a read error).
    fn read_closed(&mut self, now: &Now);
    /// Whether the end of the peer's stream cancels the request being
    /// served: HTTP's peer that hangs up wants no answer; a net/rpc peer
    /// that half-closes still reads the answers to what it sent.
    fn cancel_on_read_close(&self) -> bool {
        true
    }
    /// A request the peer no longer wants (HTTP/2's `RST_STREAM`), whose
    /// worker is told through its context; `None` when there is none.
    fn take_cancelled(&mut self) -> Option<u32> {
        None
    }
    /// Whether the loop should read from the socket now. False bounds the
    /// session's memory: the loop leaves the bytes in the kernel.
    fn wants_read(&self) -> bool;
    /// A complete request, if one is ready.
    fn next_request(&mut self, now: &Now) -> Option<Incoming<Self::Exchange>>;
    /// Request `id` answered; one the session no longer waits for is
    /// dropped.
    fn respond(&mut self, id: u32, exchange: Self::Exchange, now: &Now);

    /// Whether a request's answer may come in parts before the whole: the
    /// engine then gives each worker's call a [`parts::Parts`] of
    /// [`Part`](Self::Part) in its context.
    const STREAMS: bool = false;

    /// Takes a part of request `id`'s answer, more to come; with the first
    /// part, the hold on the call's credit, which the session credits as
    /// it writes the part's bytes and drops when the stream ends.
    fn respond_part(
        &mut self,
        id: u32,
        part: Self::Exchange,
        credit: Option<parts::CreditGuard>,
        now: &Now,
    ) {
        // Only sessions that stream get parts.
        let _ = (id, part, credit, now);
    }
    /// Bytes waiting to be written.
    fn output(&self) -> &[u8];
    /// `n` bytes of [`output`](Self::output) were written.
    fn wrote(&mut self, n: usize, now: &Now);
    /// What the connection is doing: which of the engine's timeouts
    /// runs ([`timeouts`]).
    fn activity(&self) -> Activity;
    /// The idle or read timeout ran out: the session queues its goodbye
    /// (or nothing) and the engine closes the connection once that is
    /// written, whatever the session says after.
    fn timed_out(&mut self, timeout: Timeout, now: &Now) {
        let _ = (timeout, now);
    }
    /// The bytes a connection refused at the connection limit is sent
    /// before it is closed (none: closed at once).
    const REFUSAL: &'static [u8] = b"";
    /// When [`on_timer`](Self::on_timer) wants to run, if ever: a timer of
    /// the protocol's own, beside the engine's timeouts.
    fn next_timer(&self) -> Option<Instant> {
        None
    }
    /// Time passed; timers due at or before `now` fire.
    fn on_timer(&mut self, now: &Now) {
        let _ = now;
    }
    /// The server is shutting down: finish what has begun, start nothing
    /// new.
    fn shutdown(&mut self, now: &Now);
    /// Whether the socket should be closed now.
    fn wants_close(&self) -> bool;
}

/// Counters a running server keeps, whatever its protocol; read them
/// with [`Handle::stats`](crate::engine::Handle::stats).
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Accepted connections since closed, for whatever reason; the open
    /// ones are [`open`](Stats::open).
    pub closed: AtomicU64,
    /// Connections refused because `max_connections` were open (each in
    /// its protocol's words: HTTP/1.1's 503, HTTP/2's GOAWAY, net/rpc's
    /// close).
    pub refused_connections: AtomicU64,
    /// Complete requests (HTTP requests, HTTP/2 streams, gRPC and net/rpc
    /// calls) the engine took from their connections to serve, and
    /// requests the protocol answered itself without serving (HTTP's
    /// `X-Request-Timeout-Ms: 0`).
    pub requests: AtomicU64,
    /// HTTP/1.1 requests the server could not read (400, 413, 414, 417,
    /// 431, 501, 505).
    pub bad_requests: AtomicU64,
    /// Requests not received whole within `request_read_timeout` (HTTP/1.1
    /// answers 408; HTTP/2 and net/rpc close).
    pub timed_out_reads: AtomicU64,
    /// Connections closed because they were idle past `idle_timeout`.
    pub timed_out_idle: AtomicU64,
    /// Connections closed because the peer took none of our bytes within
    /// `write_timeout`.
    pub timed_out_writes: AtomicU64,
    /// Requests refused because the worker queue was full (HTTP's 503,
    /// gRPC's `UNAVAILABLE`).
    pub overloaded: AtomicU64,
    /// Requests whose deadline passed while they waited for a worker
    /// (HTTP's 504, gRPC's `DEADLINE_EXCEEDED`).
    pub expired_in_queue: AtomicU64,
    /// Service calls that panicked (HTTP's 500, gRPC's `INTERNAL`).
    pub panics: AtomicU64,
}

impl Stats {
    /// Connections open now: accepted and not yet closed.
    pub fn open(&self) -> u64 {
        let closed = self.closed.load(Ordering::Acquire);
        self.connections
            .load(Ordering::Acquire)
            .saturating_sub(closed)
    }
}

/// What a session's requests are served by: the bridge from a protocol's
/// request type to the user's service.
pub(crate) trait Serve<S: Session>: Send + Sync + 'static {
    /// What a log line names a request by, should its service panic: read
    /// only then, from the exchange the panic left behind.
    fn describe<'a>(&self, exchange: &'a S::Exchange) -> impl std::fmt::Display + 'a;

    /// Serves the request, writing its answer into `exchange`. A call of a
    /// session that [`STREAMS`](Session::STREAMS), served on a worker, is
    /// given `parts`, the way to send its answer in parts as they come;
    /// served inline on the loop (`workers: 0`), or of a session that does
    /// not stream, it gets `None`: nothing can go before it returns.
    fn handle(
        &self,
        cx: &Context<'_>,
        exchange: &mut S::Exchange,
        parts: Option<&parts::Parts<S::Part>>,
    );

    /// Writes the engine's answer for `failure` into `exchange`, in the
    /// terms of the protocol the requests are served in (HTTP's 503, a
    /// gRPC status, a net/rpc error): the session only carries it.
    fn fail(&self, exchange: &mut S::Exchange, failure: Failure);
}

/// Connections the kernel queues before we accept them.
const LISTEN_BACKLOG: i32 = 4096;

/// What the event loops and the workers share.
pub(crate) struct Shared {
    pub(crate) stats: Arc<Stats>,
    pub(crate) clock: Arc<dyn Clock + Send + Sync>,
    /// Open connections at most, across every loop.
    pub(crate) max_connections: usize,
    /// Open connections now, across every loop.
    pub(crate) open: std::sync::atomic::AtomicUsize,
    /// The timeouts every connection gets.
    pub(crate) timeouts: timeouts::Limits,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) grace_nanos: AtomicU64,
}

/// How to run an engine.
pub(crate) struct EngineConfig {
    /// Worker threads; 0 serves inline on the loop threads.
    pub(crate) workers: usize,
    /// Jobs waiting for a worker at most.
    pub(crate) queue_capacity: usize,
    /// Event loop threads, each accepting on the shared listener (at least 1).
    pub(crate) event_loops: usize,
    /// Open connections at most, across every loop.
    pub(crate) max_connections: usize,
    /// The idle, read and write timeouts every connection gets.
    pub(crate) timeouts: timeouts::Limits,
    /// The clock deadlines and timers read.
    pub(crate) clock: Arc<dyn Clock + Send + Sync>,
    /// What thread names start with.
    pub(crate) name: &'static str,
}

/// A running engine: its threads and the way to stop them.
pub(crate) struct Running {
    pub(crate) shared: Arc<Shared>,
    wakers: Vec<Arc<Waker>>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets what has begun finish for up to `grace`, then
    /// cancels the rest and joins every thread.
    pub(crate) fn shutdown(&mut self, grace: Duration) {
        let nanos = u64::try_from(grace.as_nanos()).unwrap_or(u64::MAX);
        self.shared.grace_nanos.store(nanos, Ordering::Release);
        self.shared.shutting_down.store(true, Ordering::Release);
        for waker in &self.wakers {
            let _ = waker.wake();
        }
        self.wait();
    }

    /// Blocks until every thread has ended. Once they have, shutting
    /// down again does nothing.
    pub(crate) fn wait(&mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Whether its threads have all been joined.
    fn ended(&self) -> bool {
        self.threads.is_empty()
    }
}

/// Starts `config.event_loops` loops accepting on `listener`, and the
/// worker pool if there is one, serving sessions made by `new_session` with
/// `handler`.
pub(crate) fn start<S, H, F>(
    listener: &std::net::TcpListener,
    config: EngineConfig,
    stats: Arc<Stats>,
    handler: H,
    new_session: F,
) -> io::Result<Running>
where
    S: Session,
    H: Serve<S>,
    F: Fn(Instant) -> S + Clone + Send + 'static,
{
    listener.set_nonblocking(true)?;
    // Go's backlog (the kernel caps it at somaxconn): a burst of connects
    // waits in the kernel's queue instead of being dropped and retried a
    // second later.
    socket2::SockRef::from(listener).listen(LISTEN_BACKLOG)?;
    let shared = Arc::new(Shared {
        stats,
        clock: config.clock,
        max_connections: config.max_connections,
        open: std::sync::atomic::AtomicUsize::new(0),
        timeouts: config.timeouts,
        shutting_down: AtomicBool::new(false),
        grace_nanos: AtomicU64::new(0),
    });
    let handler = Arc::new(handler);
    let loops = config.event_loops.max(1);
    let mut polls = Vec::with_capacity(loops);
    let mut wakers = Vec::with_capacity(loops);
    let mut mailboxes = Vec::with_capacity(loops);
    let mut receivers = Vec::with_capacity(loops);
    for _ in 0..loops {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), event_loop::WAKER)?);
        // Bounded, so its slots are allocated once: answers in flight are at
        // most the queued jobs plus one per worker. A worker finding it full
        // waits for the loop, which never waits for a worker.
        let (done_tx, done_rx) =
            crossbeam_channel::bounded(config.queue_capacity.max(1) + config.workers);
        mailboxes.push(Arc::new(messages::Mailbox::new(
            done_tx,
            Arc::clone(&waker),
        )));
        wakers.push(waker);
        receivers.push(done_rx);
        polls.push(poll);
    }
    let mut threads = Vec::with_capacity(config.workers + loops);
    let pool = Pool {
        workers: config.workers,
        queue_capacity: config.queue_capacity,
        name: config.name,
    };
    let jobs = spawn_workers::<S, H>(&pool, &shared, &handler, &mailboxes, &mut threads)?;
    for (n, (poll, done)) in polls.into_iter().zip(receivers).enumerate() {
        let mut own = mio::net::TcpListener::from_std(listener.try_clone()?);
        poll.registry()
            .register(&mut own, event_loop::LISTENER, Interest::READABLE)?;
        let dispatch = match &jobs {
            None => event_loop::Dispatch::Inline,
            Some(jobs) => event_loop::Dispatch::Pool {
                owner: n,
                jobs: jobs.clone(),
                mailbox: Arc::clone(&mailboxes[n]),
            },
        };
        let event_loop = event_loop::EventLoop::new(
            poll,
            own,
            Arc::clone(&shared),
            new_session.clone(),
            Arc::clone(&handler),
            dispatch,
            done,
        );
        threads.push(
            std::thread::Builder::new()
                .name(format!("{}-loop-{n}", config.name))
                .spawn(move || event_loop.run())?,
        );
    }
    Ok(Running {
        shared,
        wakers,
        threads,
    })
}

/// What the worker pool is made of.
struct Pool {
    workers: usize,
    queue_capacity: usize,
    name: &'static str,
}

/// Starts `config.workers` worker threads (none inline) into `threads`,
/// each taking jobs from one bounded queue and answering through the
/// owning loop's mailbox: the queue's sending end, for the loops.
fn spawn_workers<S: Session, H: Serve<S>>(
    config: &Pool,
    shared: &Arc<Shared>,
    handler: &Arc<H>,
    mailboxes: &[Arc<messages::Mailbox<S::Exchange>>],
    threads: &mut Vec<JoinHandle<()>>,
) -> io::Result<Option<crossbeam_channel::Sender<messages::Job<S::Exchange>>>> {
    if config.workers == 0 {
        return Ok(None);
    }
    let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(config.queue_capacity.max(1));
    let mailboxes = Arc::new(mailboxes.to_vec());
    for n in 0..config.workers {
        let (shared, handler, jobs_rx, mailboxes) = (
            Arc::clone(shared),
            Arc::clone(handler),
            jobs_rx.clone(),
            Arc::clone(&mailboxes),
        );
        threads.push(
            std::thread::Builder::new()
                .name(format!("{}-worker-{n}", config.name))
                .spawn(move || pool::work::<S, H>(&shared, &*handler, &jobs_rx, &mailboxes))?,
        );
    }
    Ok(Some(jobs_tx))
}
