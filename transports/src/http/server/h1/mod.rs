//! HTTP/1.1 as a sans-IO state machine: one [`Connection`] takes the bytes
//! a socket delivered and the time, and gives back requests to serve and
//! bytes to write. It never touches a socket, so every phase, split point
//! and limit is tested on byte slices (see `tests.rs`); the event loop in
//! [`crate::engine`] only moves bytes and timers.
//!
//! A connection is always in one [`Phase`]:
//!
//! ```text
//!  Idle ──byte──▶ Head ──blank line──▶ Body ──complete──▶ Ready ──taken──▶ Dispatched
//!   ▲                                                                        │
//!   └───────────────────────── response queued (keep-alive) ─────────────────┘
//!  any phase ──error, timeout, close, shutdown──▶ Closing ──output written──▶ (socket closed)
//! ```
//!
//! Invariants the event loop relies on:
//!
//! - **Bounded memory.** Unparsed input never exceeds the head limit (or,
//!   while a chunked body arrives, the decoder's bound on a framing line)
//!   plus one read: [`wants_read`](Connection::wants_read) turns false past
//!   it (while a request is with the service, reading goes on that far so
//!   that a client going away is noticed), and while more than
//!   [`OUTPUT_HIGH_WATER`] bytes wait to be written. Bodies are decoded
//!   into the request as they arrive (chunked framing is dropped on the
//!   way), so the body limit bounds the body.
//! - **Progress.** Every call either consumes input, queues output, changes
//!   phase, or leaves the connection waiting for something outside it (more
//!   bytes, a writable socket, a response, a timer). A loop that reads only
//!   while `wants_read` is true cannot spin.
//!
//! # Why not ureq-proto's server
//!
//! ureq-proto (in the dependency graph already, through ureq) has a sans-IO
//! HTTP/1.1 server too: a typed-state `Reply` that walks one request from
//! its head to its response, and it was the model for this one. It was not
//! taken because a server connection needs what it leaves to the caller:
//! the machine here lives across requests (keep-alive, pipelining, the
//! input left behind one request being the next one's head), owns the
//! timers (slow heads and bodies, idle connections, a client that stops
//! reading), the limits with their statuses (413, 414, 417, 431, 505), the
//! smuggling rules we test for, graceful shutdown, and the recycled
//! exchange that makes a request cost no allocation of its own. Those are
//! most of this file; wrapping a per-request typestate in an enum stored in
//! each connection would add a layer without removing any of them.

mod chunked;
mod exchange;
#[cfg(any(fuzzing, test))]
mod fuzz;
pub(crate) mod parse;
pub(crate) mod write;

pub(crate) use exchange::Exchange;
#[cfg(any(fuzzing, test))]
pub(crate) use fuzz::fuzz_stream;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ::http::{Method, StatusCode, Version};

use self::chunked::ChunkedDecoder;
use self::parse::{Framing, Head, ParseError, find_head_end, parse_head_into};
use self::write::{AfterReply, DateCache, ReplyShape, write_response};
use super::reply::write_error;
use super::{REQUEST_TIMEOUT_HEADER, ServerConfig, asked_timeout, timeout_refusal};
use crate::engine::{Activity, Incoming, Now, Session, Stats, Timeout};

/// Past this many unwritten bytes the connection stops reading and parsing
/// until the client catches up: a client that pipelines without reading
/// cannot make the server buffer without bound.
pub(crate) const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// The body capacity reserved up front from a `Content-Length`, at most: a
/// client that announces a megabyte and sends nothing does not get it.
const BODY_RESERVE: usize = 64 * 1024;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Where a connection is; see the module docs for the transitions.
// One per connection: boxing the large variants would cost two allocations
// per request to save a few hundred bytes per connection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Phase {
    /// Between requests.
    Idle,
    /// Part of a head has arrived.
    Head,
    /// The head is in; the body is arriving.
    Body(Receiving),
    /// A complete request, waiting to be taken by the event loop.
    Ready(Incoming<Exchange>, ReplyShape),
    /// A request is with the service.
    Dispatched { id: u32, shape: ReplyShape },
    /// No more requests: close once the output is written.
    Closing,
}

/// A request whose body is arriving (into the exchange's request).
#[derive(Debug)]
struct Receiving {
    head: Head,
    exchange: Exchange,
    rest: BodyRest,
    continue_sent: bool,
}

#[derive(Debug)]
enum BodyRest {
    Length(usize),
    Chunked(ChunkedDecoder),
}

/// One HTTP/1.1 connection's protocol state.
pub(crate) struct Connection {
    config: Arc<ServerConfig>,
    stats: Arc<Stats>,
    phase: Phase,
    /// Bytes received and not yet consumed: part of a head, or requests
    /// pipelined behind the one being served.
    input: Vec<u8>,
    /// How much of `input` has been searched for the end of a head.
    scanned: usize,
    output: Vec<u8>,
    written: usize,
    date: DateCache,
    read_closed: bool,
    shutting_down: bool,
    next_id: u32,
    /// The exchange of the last request, cleared, for the next one.
    spare: Option<Exchange>,
}

impl Connection {
    /// A new connection.
    pub(crate) fn new(config: Arc<ServerConfig>, stats: Arc<Stats>) -> Connection {
        Connection {
            config,
            stats,
            phase: Phase::Idle,
            input: Vec::new(),
            scanned: 0,
            output: Vec::new(),
            written: 0,
            date: DateCache::new(),
            read_closed: false,
            shutting_down: false,
            next_id: 0,
            spare: None,
        }
    }

    /// An exchange for a new request: the last one's, or a new one.
    fn take_exchange(&mut self) -> Exchange {
        self.spare.take().unwrap_or_else(Exchange::new)
    }

    /// Keeps `exchange` for the next request.
    fn recycle(&mut self, mut exchange: Exchange) {
        exchange.clear();
        self.spare = Some(exchange);
    }

    fn unwritten(&self) -> usize {
        self.output.len() - self.written
    }

    /// Moves through as many phases as the input allows.
    fn advance(&mut self, now: &Now) {
        loop {
            if self.unwritten() > OUTPUT_HIGH_WATER {
                return;
            }
            match &mut self.phase {
                Phase::Idle => {
                    if !self.input.is_empty() {
                        self.phase = Phase::Head;
                    } else if self.read_closed || self.shutting_down {
                        self.phase = Phase::Closing;
                        return;
                    } else {
                        return;
                    }
                }
                Phase::Head => {
                    if !self.read_head(now) {
                        return;
                    }
                }
                Phase::Body(_) => {
                    if !self.read_body(now) {
                        return;
                    }
                }
                Phase::Ready(..) | Phase::Dispatched { .. } | Phase::Closing => {
                    return;
                }
            }
        }
    }

    /// Tries to complete the head; true if the phase moved on.
    fn read_head(&mut self, now: &Now) -> bool {
        // Parse only once the blank line is in: a client sending a byte at
        // a time costs a scan of each new byte, not a parse per byte. The
        // first bytes of a head are parsed at once all the same, so that
        // what is not HTTP at all (a TLS handshake) is refused straight away.
        let first = self.scanned == 0;
        let found = find_head_end(&self.input, self.scanned.saturating_sub(2));
        self.scanned = self.input.len();
        let max = self.config.max_head_bytes;
        if found.is_none() && self.input.len() > max {
            let e = parse::too_large(&self.input, max);
            self.reject(e, now);
            return true;
        }
        if found.is_none() && !first {
            return self.head_incomplete();
        }
        let mut exchange = self.take_exchange();
        match parse_head_into(&self.input, &self.config, &mut exchange.request) {
            Err(e) => {
                self.recycle(exchange);
                self.reject(e, now);
                true
            }
            Ok(None) => {
                self.recycle(exchange);
                self.head_incomplete()
            }
            Ok(Some(head)) => {
                self.input.drain(..head.len);
                self.scanned = 0;
                let (rest, reserve) = match head.framing {
                    Framing::Length(n) => (BodyRest::Length(n), n.min(BODY_RESERVE)),
                    Framing::Chunked => (BodyRest::Chunked(ChunkedDecoder::default()), 0),
                };
                exchange.request.body_mut().reserve(reserve);
                self.phase = Phase::Body(Receiving {
                    head,
                    exchange,
                    rest,
                    continue_sent: false,
                });
                true
            }
        }
    }

    /// More of the head is needed: wait for it, unless the client is gone.
    fn head_incomplete(&mut self) -> bool {
        if self.read_closed {
            // Cut short: nobody is left to answer.
            self.phase = Phase::Closing;
            return true;
        }
        false
    }

    /// Takes what body bytes have arrived; true if the phase moved on.
    fn read_body(&mut self, now: &Now) -> bool {
        let Phase::Body(r) = &mut self.phase else {
            return false;
        };
        let max = self.config.max_body_bytes;
        let body = r.exchange.request.body_mut();
        let done = match &mut r.rest {
            BodyRest::Length(left) => {
                let take = (*left).min(self.input.len());
                body.extend_from_slice(&self.input[..take]);
                self.input.drain(..take);
                *left -= take;
                *left == 0
            }
            BodyRest::Chunked(decoder) => match decoder.decode(&self.input, body, max) {
                Ok(progress) => {
                    self.input.drain(..progress.consumed);
                    progress.done
                }
                Err(e) => {
                    self.reject(e, now);
                    return true;
                }
            },
        };
        if done {
            let Phase::Body(r) = std::mem::replace(&mut self.phase, Phase::Closing) else {
                unreachable!("matched above");
            };
            self.complete(r, now);
            return true;
        }
        if self.read_closed {
            self.phase = Phase::Closing;
            return true;
        }
        if r.head.expect_continue && !r.continue_sent && self.input.is_empty() {
            r.continue_sent = true;
            self.queue_output(CONTINUE);
        }
        false
    }

    /// A whole request is in: make it ready for the service, or answer it
    /// here if its deadline is already gone.
    fn complete(&mut self, r: Receiving, now: &Now) {
        let Receiving {
            head, mut exchange, ..
        } = r;
        let request = &exchange.request;
        let then = if !head.keep_alive || self.shutting_down {
            AfterReply::Close
        } else if request.version() == Version::HTTP_10 {
            AfterReply::KeepAlive10
        } else {
            AfterReply::KeepAlive
        };
        let shape = ReplyShape {
            head_only: request.method() == Method::HEAD,
            then,
        };
        let mut timeout = self.config.request_timeout;
        if let Some(value) = request.headers().get(REQUEST_TIMEOUT_HEADER) {
            let asked = asked_timeout(value.as_bytes());
            if let Some((status, why)) = timeout_refusal(asked) {
                // A malformed value is a bad request; 0, a request
                // answered here.
                let counted = if status == StatusCode::BAD_REQUEST {
                    &self.stats.bad_requests
                } else {
                    &self.stats.requests
                };
                counted.fetch_add(1, Ordering::Relaxed);
                write_error(&mut exchange.response, status, why);
                self.queue_response(exchange, shape, now);
                return;
            }
            if let Some(asked) = asked {
                timeout = timeout.min(asked);
            }
        }
        // Counted by the engine as it takes the request.
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let incoming = Incoming {
            id,
            exchange,
            deadline: now.at + timeout,
        };
        self.phase = Phase::Ready(incoming, shape);
    }

    /// Answers a request the server could not read, and closes.
    fn reject(&mut self, e: ParseError, now: &Now) {
        self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        self.answer_and_close(status, e.reason(), now);
    }

    /// Drops whatever was being read, answers `status` saying `reason`, and
    /// closes once that is written.
    fn answer_and_close(&mut self, status: StatusCode, reason: &str, now: &Now) {
        self.input.clear();
        self.scanned = 0;
        let mut exchange = self.take_exchange();
        write_error(&mut exchange.response, status, reason);
        self.queue_response(exchange, ReplyShape::CLOSE, now);
    }

    /// Writes the exchange's response into the output, keeps the exchange
    /// for the next request, and moves to the phase that follows.
    fn queue_response(&mut self, exchange: Exchange, shape: ReplyShape, now: &Now) {
        let shape = if self.shutting_down {
            shape.closing()
        } else {
            shape
        };
        if self.unwritten() == 0 {
            self.output.clear();
            self.written = 0;
        }
        write_response(
            &mut self.output,
            &exchange.response,
            shape,
            self.date.get(now.unix_secs),
        );
        self.recycle(exchange);
        self.phase = match shape.then {
            AfterReply::Close => Phase::Closing,
            AfterReply::KeepAlive | AfterReply::KeepAlive10 => Phase::Idle,
        };
    }

    fn queue_output(&mut self, bytes: &[u8]) {
        if self.unwritten() == 0 {
            self.output.clear();
            self.written = 0;
        }
        self.output.extend_from_slice(bytes);
    }
}

impl Session for Connection {
    type Exchange = Exchange;
    type Part = Exchange;

    fn received(&mut self, bytes: &[u8], now: &Now) {
        if matches!(self.phase, Phase::Closing) {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.advance(now);
    }

    fn read_closed(&mut self, now: &Now) {
        self.read_closed = true;
        self.advance(now);
    }

    fn wants_read(&self) -> bool {
        // A body's decoder consumes what it can and refuses a framing line
        // past its own bounds, so while a body arrives it always wants
        // more; otherwise unparsed input stops at the head limit.
        let input_full = match self.phase {
            Phase::Body(_) => false,
            _ => self.input.len() > self.config.max_head_bytes,
        };
        !self.read_closed
            && !matches!(self.phase, Phase::Closing)
            && !input_full
            && self.unwritten() <= OUTPUT_HIGH_WATER
    }

    fn next_request(&mut self, _now: &Now) -> Option<Incoming<Exchange>> {
        if !matches!(self.phase, Phase::Ready(..)) {
            return None;
        }
        let Phase::Ready(incoming, shape) = std::mem::replace(&mut self.phase, Phase::Closing)
        else {
            unreachable!("matched above");
        };
        self.phase = Phase::Dispatched {
            id: incoming.id,
            shape,
        };
        Some(incoming)
    }

    fn respond(&mut self, id: u32, exchange: Exchange, now: &Now) {
        let Phase::Dispatched { id: current, shape } = self.phase else {
            return;
        };
        if current != id {
            return;
        }
        self.queue_response(exchange, shape, now);
        self.advance(now);
    }

    fn output(&self) -> &[u8] {
        &self.output[self.written..]
    }

    fn wrote(&mut self, n: usize, now: &Now) {
        self.written = (self.written + n).min(self.output.len());
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
        }
        self.advance(now);
    }

    fn activity(&self) -> Activity {
        match self.phase {
            Phase::Idle => Activity::Idle,
            Phase::Head | Phase::Body(_) => Activity::Reading,
            Phase::Ready(..) | Phase::Dispatched { .. } | Phase::Closing => Activity::Serving,
        }
    }

    fn timed_out(&mut self, timeout: Timeout, now: &Now) {
        match (timeout, &self.phase) {
            (Timeout::Read, Phase::Head | Phase::Body(_)) => self.answer_and_close(
                StatusCode::REQUEST_TIMEOUT,
                "request timeout: the request was not received in time",
                now,
            ),
            _ => self.phase = Phase::Closing,
        }
    }

    const REFUSAL: &'static [u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\ncontent-length: 44\r\nconnection: close\r\n\r\n{\"error\":\"too many connections; retry later\"}";

    fn shutdown(&mut self, now: &Now) {
        self.shutting_down = true;
        self.advance(now);
    }

    fn wants_close(&self) -> bool {
        match self.phase {
            Phase::Closing => self.unwritten() == 0,
            _ => false,
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("phase", &self.phase)
            .field("input", &self.input.len())
            .field("unwritten", &self.unwritten())
            .field("read_closed", &self.read_closed)
            .finish_non_exhaustive()
    }
}
