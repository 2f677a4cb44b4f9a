//! The event loop: mio owns the sockets; requests are parsed here and either
//! answered inline or handed to the worker pool, whose answers come back
//! through a channel and a `Waker`.

use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ::http::{HeaderValue, Request, Response, StatusCode, Version};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use synkit_core::time::SystemClock;
use synkit_core::{CancelToken, Context};

use super::parse::{ChunkedDecoder, Framing, Head, ParseError, parse_head};
use super::write::{DateCache, error_response, write_response};
use super::{REQUEST_TIMEOUT_HEADER, Service, Shared};

pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
pub(crate) const WAKER: Token = Token(usize::MAX - 2);
const TICK: Duration = Duration::from_millis(100);
const READ_CHUNK: usize = 16 * 1024;

/// A request handed to a worker.
pub(crate) struct Job {
    pub(crate) conn: Token,
    pub(crate) generation: u64,
    pub(crate) request: Request<Vec<u8>>,
    pub(crate) deadline: Instant,
    pub(crate) cancel: Arc<CancelToken>,
    pub(crate) reply: ReplyShape,
}

/// What the response must look like on the wire.
#[derive(Clone, Copy)]
pub(crate) struct ReplyShape {
    pub(crate) head_only: bool,
    pub(crate) close: bool,
    pub(crate) keep_alive_10: bool,
}

/// A worker's answer, serialised.
pub(crate) struct Done {
    pub(crate) conn: Token,
    pub(crate) generation: u64,
    pub(crate) bytes: Vec<u8>,
    pub(crate) close: bool,
}

struct Pending {
    head: Head,
    chunked: Option<ChunkedDecoder>,
    sent_continue: bool,
}

// Independent per-connection flags, each read on its own.
#[allow(clippy::struct_excessive_bools)]
struct Conn {
    stream: TcpStream,
    generation: u64,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    out_pos: usize,
    pending: Option<Pending>,
    in_flight: Option<Arc<CancelToken>>,
    close_after_write: bool,
    peer_closed: bool,
    read_paused: bool,
    /// When the first byte of the request being read arrived.
    request_started: Option<Instant>,
    /// How much of `inbuf` has been searched for the end of a head.
    head_scanned: usize,
    /// Last time anything was read or written.
    last_active: Instant,
    writable_registered: bool,
}

/// Whether `bytes` holds the blank line that ends a request head (httparse
/// accepts bare LF line endings, so `\n\n` counts as well as `\r\n\r\n`).
fn has_blank_line(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'\n' && (bytes.get(i + 1) == Some(&b'\n') || bytes.get(i + 1..i + 3) == Some(b"\r\n"))
    })
}

impl Conn {
    /// The client closed or broke its side: whoever runs its request may
    /// stop.
    fn peer_gone(&mut self) {
        self.peer_closed = true;
        if let Some(cancel) = &self.in_flight {
            cancel.cancel();
        }
    }
}

enum Step {
    Continue,
    Wait,
    Close,
}

/// Runs `f` and turns a panic into a 500, counting and logging it.
pub(crate) fn serve_guarded<S: Service + ?Sized>(
    shared: &Shared,
    service: &S,
    cx: &Context<'_>,
    req: Request<Vec<u8>>,
) -> Response<Vec<u8>> {
    // Kept for the log line should the service panic; both clones are
    // cheap (a standard method is a tag, a Uri's bytes are shared).
    let method = req.method().clone();
    let uri = req.uri().clone();
    match catch_unwind(AssertUnwindSafe(|| service.serve(cx, req))) {
        Ok(resp) => resp,
        Err(panic) => {
            shared.stats.panics.fetch_add(1, Ordering::Relaxed);
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string payload".to_owned());
            log::error!(method:% = method, path = uri.path(); "endpoint panicked: {what}");
            error_response(500, "internal server error")
        }
    }
}

pub(crate) struct EventLoop<S: Service> {
    poll: Poll,
    listener: Option<TcpListener>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    open: usize,
    next_generation: u64,
    shared: Arc<Shared>,
    service: Arc<S>,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    date: DateCache,
    scratch: Box<[u8]>,
    shutdown_deadline: Option<Instant>,
}

impl<S: Service> EventLoop<S> {
    pub(crate) fn new(
        poll: Poll,
        listener: TcpListener,
        shared: Arc<Shared>,
        service: Arc<S>,
        jobs: Option<Sender<Job>>,
        done: Receiver<Done>,
    ) -> EventLoop<S> {
        EventLoop {
            poll,
            listener: Some(listener),
            conns: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_generation: 0,
            shared,
            service,
            jobs,
            done,
            date: DateCache::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            shutdown_deadline: None,
        }
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = Instant::now();
        loop {
            if let Err(e) = self.poll.poll(&mut events, Some(TICK)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("event loop poll failed, stopping: {e}");
                break;
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.drain_done(),
                    token => self.on_socket(
                        token,
                        event.is_readable() || event.is_read_closed(),
                        event.is_writable(),
                    ),
                }
            }
            let now = Instant::now();
            if now - last_sweep >= TICK {
                last_sweep = now;
                self.drain_done();
                self.sweep(now);
            }
            if self.shared.shutting_down.load(Ordering::Acquire) && self.shut_down_step(now) {
                break;
            }
        }
        // Past the grace period: whatever still runs is told to stop, and
        // dropping the job sender lets the workers drain the queue and exit.
        for c in self.conns.iter().flatten() {
            if let Some(cancel) = &c.in_flight {
                cancel.cancel();
            }
        }
        self.jobs = None;
    }

    /// Moves shutdown along; true once every connection is gone or the grace
    /// period is over.
    fn shut_down_step(&mut self, now: Instant) -> bool {
        if self.shutdown_deadline.is_none() {
            let grace = Duration::from_nanos(self.shared.grace_nanos.load(Ordering::Acquire));
            self.shutdown_deadline = Some(now + grace);
            if let Some(mut listener) = self.listener.take() {
                let _ = self.poll.registry().deregister(&mut listener);
            }
        }
        for i in 0..self.conns.len() {
            let idle = self.conns[i].as_ref().is_some_and(|c| {
                c.in_flight.is_none()
                    && c.pending.is_none()
                    && c.outbuf.is_empty()
                    && c.inbuf.is_empty()
            });
            if idle {
                self.close(i);
            } else if let Some(c) = self.conns[i].as_mut() {
                c.close_after_write = true;
            }
        }
        self.open == 0 || self.shutdown_deadline.is_some_and(|d| now >= d)
    }

    fn accept(&mut self) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            let (mut stream, _) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors and the like: try again on the
                    // next readiness, do not spin.
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            if self.open >= self.shared.config.max_connections {
                self.shared
                    .stats
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                let _ = stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let index = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            if self
                .poll
                .registry()
                .register(&mut stream, Token(index), Interest::READABLE)
                .is_err()
            {
                self.free.push(index);
                continue;
            }
            self.next_generation += 1;
            self.conns[index] = Some(Conn {
                stream,
                generation: self.next_generation,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                out_pos: 0,
                pending: None,
                in_flight: None,
                close_after_write: false,
                peer_closed: false,
                read_paused: false,
                request_started: None,
                head_scanned: 0,
                last_active: Instant::now(),
                writable_registered: false,
            });
            self.open += 1;
            self.shared
                .stats
                .connections
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_socket(&mut self, token: Token, readable: bool, writable: bool) {
        let i = token.0;
        if self.conns.get(i).is_none_or(Option::is_none) {
            return;
        }
        if writable && !self.flush(i) {
            return;
        }
        if readable {
            self.read(i);
        }
        self.drive(i);
    }

    /// Reads what the socket has, up to the buffering limit. Reads land in
    /// the loop's one scratch buffer and only the bytes received are kept,
    /// so an idle connection holds no read buffer worth the name.
    fn read(&mut self, i: usize) {
        let cap =
            self.shared.config.max_head_bytes + self.shared.config.max_body_bytes + READ_CHUNK;
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        loop {
            if c.inbuf.len() >= cap {
                c.read_paused = true;
                return;
            }
            match c.stream.read(&mut self.scratch) {
                Ok(0) => {
                    c.peer_gone();
                    return;
                }
                Ok(n) => {
                    c.inbuf.extend_from_slice(&self.scratch[..n]);
                    c.last_active = Instant::now();
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted => {}
                    _ => {
                        c.peer_gone();
                        return;
                    }
                },
            }
        }
    }

    /// Parses and dispatches requests until one is in flight, bytes are
    /// missing, or the connection must close.
    fn drive(&mut self, i: usize) {
        loop {
            match self.step(i) {
                Step::Continue => {}
                Step::Wait => break,
                Step::Close => {
                    self.close(i);
                    return;
                }
            }
        }
        self.update_interest(i);
    }

    fn step(&mut self, i: usize) -> Step {
        let now = Instant::now();
        let config = &self.shared.config;
        let Some(c) = self.conns[i].as_mut() else {
            return Step::Wait;
        };
        if c.in_flight.is_some() || c.out_pos < c.outbuf.len() {
            return Step::Wait;
        }
        if c.close_after_write {
            return Step::Close;
        }
        if c.read_paused {
            c.read_paused = false;
            self.read(i);
            return Step::Continue;
        }
        if c.pending.is_none() {
            if c.inbuf.is_empty() {
                return if c.peer_closed {
                    Step::Close
                } else {
                    Step::Wait
                };
            }
            c.request_started.get_or_insert(now);
            // Parse only once the head's blank line is in: a client sending a
            // byte at a time then costs a scan of each new byte, not a parse
            // of the whole buffer per byte.
            let from = c.head_scanned.saturating_sub(2);
            c.head_scanned = c.inbuf.len();
            if !has_blank_line(&c.inbuf[from..]) && c.inbuf.len() <= config.max_head_bytes {
                return if c.peer_closed {
                    Step::Close
                } else {
                    Step::Wait
                };
            }
            match parse_head(&c.inbuf, config) {
                Err(e) => return self.reject(i, e),
                Ok(None) => {
                    return if c.peer_closed {
                        Step::Close
                    } else {
                        Step::Wait
                    };
                }
                Ok(Some(head)) => {
                    c.inbuf.drain(..head.len);
                    c.head_scanned = 0;
                    let chunked = (head.framing == Framing::Chunked).then(ChunkedDecoder::default);
                    c.pending = Some(Pending {
                        head,
                        chunked,
                        sent_continue: false,
                    });
                }
            }
        }
        let max_body = config.max_body_bytes;
        let Some(p) = c.pending.as_mut() else {
            return Step::Wait;
        };
        let body = match (&mut p.chunked, p.head.framing) {
            (Some(decoder), _) => match decoder.feed(&c.inbuf, max_body) {
                Err(e) => return self.reject(i, e),
                Ok(Some((body, used))) => {
                    c.inbuf.drain(..used);
                    Some(body)
                }
                Ok(None) => None,
            },
            (None, Framing::Length(n)) if c.inbuf.len() >= n => Some(c.inbuf.drain(..n).collect()),
            (None, _) => None,
        };
        let Some(body) = body else {
            if c.peer_closed {
                // The body was cut short: nobody is left to answer.
                return Step::Close;
            }
            if p.head.expect_continue && !p.sent_continue {
                p.sent_continue = true;
                c.outbuf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                return if self.flush(i) {
                    Step::Continue
                } else {
                    Step::Wait
                };
            }
            return Step::Wait;
        };
        let Some(Pending { head, .. }) = c.pending.take() else {
            return Step::Wait;
        };
        c.request_started = if c.inbuf.is_empty() { None } else { Some(now) };
        self.dispatch(i, head, body, now);
        Step::Continue
    }

    /// Answers a request the server could not read, and closes.
    fn reject(&mut self, i: usize, e: ParseError) -> Step {
        self.shared
            .stats
            .bad_requests
            .fetch_add(1, Ordering::Relaxed);
        if self.answer_and_close(i, e.status(), e.reason()) {
            Step::Continue
        } else {
            Step::Wait
        }
    }

    /// Drops whatever was being read, answers `status` with `reason`, and
    /// closes once that is written. False if the connection is already gone.
    fn answer_and_close(&mut self, i: usize, status: u16, reason: &str) -> bool {
        let resp = error_response(status, reason);
        if let Some(c) = self.conns[i].as_mut() {
            c.pending = None;
            c.inbuf.clear();
            write_response(&mut c.outbuf, &resp, false, true, false, &mut self.date);
            c.close_after_write = true;
        }
        self.flush(i)
    }

    fn dispatch(&mut self, i: usize, head: Head, body: Vec<u8>, now: Instant) {
        let shutting_down = self.shared.shutting_down.load(Ordering::Relaxed);
        let config = &self.shared.config;
        let (parts, ()) = head.request.into_parts();
        let reply = ReplyShape {
            head_only: parts.method == ::http::Method::HEAD,
            close: !head.keep_alive || shutting_down,
            keep_alive_10: head.keep_alive && parts.version == Version::HTTP_10,
        };
        let mut timeout = config.request_timeout;
        if let Some(ms) = parts
            .headers
            .get(REQUEST_TIMEOUT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            timeout = timeout.min(Duration::from_millis(ms));
        }
        let deadline = now + timeout;
        let request = Request::from_parts(parts, body);
        self.shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let generation = self.conns[i].as_ref().map_or(0, |c| c.generation);

        let Some(jobs) = &self.jobs else {
            // Inline: the endpoint runs here, on the loop thread.
            let root = Context::background();
            let cx = root.with_deadline(SystemClock::from_std(deadline));
            let resp = serve_guarded(&self.shared, &*self.service, &cx, request);
            self.respond(i, &resp, reply);
            return;
        };
        let cancel = Arc::new(CancelToken::new());
        let job = Job {
            conn: Token(i),
            generation,
            request,
            deadline,
            cancel: Arc::clone(&cancel),
            reply,
        };
        match jobs.try_send(job) {
            Ok(()) => {
                if let Some(c) = self.conns[i].as_mut() {
                    c.in_flight = Some(cancel);
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.stats.overloaded.fetch_add(1, Ordering::Relaxed);
                let mut resp =
                    error_response(503, "overloaded: too many requests queued; retry later");
                resp.headers_mut()
                    .insert(::http::header::RETRY_AFTER, HeaderValue::from_static("1"));
                self.respond(i, &resp, reply);
            }
        }
    }

    fn respond(&mut self, i: usize, resp: &Response<Vec<u8>>, reply: ReplyShape) {
        if let Some(c) = self.conns[i].as_mut() {
            write_response(
                &mut c.outbuf,
                resp,
                reply.head_only,
                reply.close,
                reply.keep_alive_10,
                &mut self.date,
            );
            c.close_after_write |= reply.close;
        }
        self.flush(i);
    }

    fn drain_done(&mut self) {
        while let Ok(done) = self.done.try_recv() {
            let i = done.conn.0;
            let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if c.generation != done.generation {
                continue;
            }
            c.in_flight = None;
            c.close_after_write |= done.close;
            if c.outbuf.is_empty() {
                c.outbuf = done.bytes;
                c.out_pos = 0;
            } else {
                c.outbuf.extend_from_slice(&done.bytes);
            }
            if self.flush(i) {
                self.drive(i);
            }
        }
    }

    /// Writes what is buffered. False if the connection was closed.
    fn flush(&mut self, i: usize) -> bool {
        let Some(c) = self.conns[i].as_mut() else {
            return false;
        };
        while c.out_pos < c.outbuf.len() {
            match c.stream.write(&c.outbuf[c.out_pos..]) {
                Ok(0) => {
                    self.close(i);
                    return false;
                }
                Ok(n) => {
                    c.out_pos += n;
                    c.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(i);
                    return false;
                }
            }
        }
        if c.out_pos == c.outbuf.len() {
            c.outbuf.clear();
            c.out_pos = 0;
            if c.close_after_write && c.in_flight.is_none() {
                self.close(i);
                return false;
            }
        }
        self.update_interest(i);
        true
    }

    fn update_interest(&mut self, i: usize) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        let want_write = c.out_pos < c.outbuf.len();
        if want_write != c.writable_registered {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut c.stream, Token(i), interest)
                .is_ok()
            {
                c.writable_registered = want_write;
            }
        }
    }

    fn sweep(&mut self, now: Instant) {
        let config = &self.shared.config;
        let (read_timeout, idle_timeout, write_timeout) = (
            config.request_read_timeout,
            config.idle_timeout,
            config.write_timeout,
        );
        for i in 0..self.conns.len() {
            let Some(c) = self.conns[i].as_ref() else {
                continue;
            };
            if c.in_flight.is_some() {
                continue;
            }
            if c.out_pos < c.outbuf.len() {
                if now - c.last_active > write_timeout {
                    self.close(i);
                }
            } else if let Some(started) = c.request_started {
                if now - started > read_timeout {
                    self.shared
                        .stats
                        .timed_out_reads
                        .fetch_add(1, Ordering::Relaxed);
                    self.answer_and_close(
                        i,
                        408,
                        "request timeout: the request was not received in time",
                    );
                }
            } else if now - c.last_active > idle_timeout {
                self.close(i);
            }
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(mut c) = self.conns.get_mut(i).and_then(Option::take) {
            if let Some(cancel) = &c.in_flight {
                cancel.cancel();
            }
            let _ = self.poll.registry().deregister(&mut c.stream);
            self.free.push(i);
            self.open -= 1;
        }
    }
}

/// The worker loop: runs jobs until the event loop drops the queue.
pub(crate) fn work<S: Service>(
    shared: &Shared,
    service: &S,
    jobs: &Receiver<Job>,
    done: &Sender<Done>,
    waker: &mio::Waker,
) {
    let mut date = DateCache::new();
    while let Ok(job) = jobs.recv() {
        let root = Context::background();
        let timed = root.with_deadline(SystemClock::from_std(job.deadline));
        let cx = timed.with_cancel(&job.cancel);
        let resp = if cx.is_expired() {
            shared
                .stats
                .expired_in_queue
                .fetch_add(1, Ordering::Relaxed);
            let mut r = error_response(504, "deadline exceeded while waiting for a worker");
            *r.status_mut() = StatusCode::GATEWAY_TIMEOUT;
            r
        } else {
            serve_guarded(shared, service, &cx, job.request)
        };
        // A shutdown that began while the request ran ends the connection:
        // say so in the response.
        let close = job.reply.close || shared.shutting_down.load(Ordering::Acquire);
        let mut bytes = Vec::with_capacity(resp.body().len() + 256);
        write_response(
            &mut bytes,
            &resp,
            job.reply.head_only,
            close,
            job.reply.keep_alive_10,
            &mut date,
        );
        if done
            .send(Done {
                conn: job.conn,
                generation: job.generation,
                bytes,
                close,
            })
            .is_err()
        {
            return;
        }
        let _ = waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::has_blank_line;

    #[test]
    fn finds_the_end_of_a_head_with_either_line_ending() {
        assert!(has_blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(has_blank_line(b"GET / HTTP/1.1\nHost: x\n\n"));
        assert!(has_blank_line(b"\n\r\n"));
        assert!(!has_blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!has_blank_line(b"\r\n\r"));
        assert!(!has_blank_line(b""));
    }
}
