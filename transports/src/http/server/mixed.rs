//! HTTP/1.1 and gRPC (HTTP/2 with prior knowledge) on one port: each
//! connection's first bytes say which. A client speaking HTTP/2 opens with
//! its 24-byte preface; any other first bytes are HTTP/1.1. Until the
//! preface is whole (or a byte leaves it) the connection is undecided: its
//! bytes are kept, nothing is written, and the engine's timeouts stand: a
//! silent client is idle, and one that stalls inside the preface is
//! closed at the read timeout as a slow HTTP/1.1 request would be.

use std::fmt;
use std::sync::Arc;

use synkit_core::Context;
use synkit_core::time::Instant;

use super::h1;
use super::{HttpHandler, Service};
use crate::engine::parts::CreditGuard;
use crate::engine::{Activity, Failure, Handle, Incoming, Now, Session, Timeout};
use crate::h2;
use crate::h2::frame::PREFACE;

/// A request of either protocol, and its answer.
// Boxing the larger would cost an allocation per request; the exchange is
// moved a handful of times a request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Either {
    Http(h1::Exchange),
    Grpc(h2::Exchange),
}

impl From<h2::Exchange> for Either {
    fn from(part: h2::Exchange) -> Either {
        Either::Grpc(part)
    }
}

// A connection's state sits in the event loop's slab and is not moved
// after it is made; boxing would only add an allocation per connection.
#[allow(clippy::large_enum_variant)]
enum Protocol {
    /// Not yet known: both sessions made, the bytes so far kept.
    Undecided {
        http: h1::Connection,
        grpc: h2::server::Connection,
        seen: Vec<u8>,
    },
    Http(h1::Connection),
    Grpc(h2::server::Connection),
    /// Done without a protocol: a client stalled inside the preface. (It
    /// also stands in while [`Mixed::decide`] takes the undecided state
    /// apart.)
    Closed,
}

/// One connection of a port serving both.
pub(crate) struct Mixed {
    protocol: Protocol,
}

impl Mixed {
    pub(crate) fn new(http: h1::Connection, grpc: h2::server::Connection) -> Mixed {
        Mixed {
            protocol: Protocol::Undecided {
                http,
                grpc,
                seen: Vec::new(),
            },
        }
    }

    /// Settles the protocol: HTTP/2 if the bytes so far are its whole
    /// preface, HTTP/1.1 once one leaves it, or when `force` says the
    /// connection cannot wait (a timer, the read side closing, shutdown).
    fn decide(&mut self, force: bool, now: &Now) {
        let Protocol::Undecided { seen, .. } = &self.protocol else {
            return;
        };
        let n = seen.len().min(PREFACE.len());
        let preface_so_far = seen[..n] == PREFACE[..n];
        let whole = preface_so_far && seen.len() >= PREFACE.len();
        if preface_so_far && !whole && !force {
            return;
        }
        let Protocol::Undecided {
            mut http,
            mut grpc,
            seen,
        } = std::mem::replace(&mut self.protocol, Protocol::Closed)
        else {
            return;
        };
        self.protocol = if whole {
            grpc.received(&seen, now);
            Protocol::Grpc(grpc)
        } else {
            if !seen.is_empty() {
                http.received(&seen, now);
            }
            Protocol::Http(http)
        };
    }
}

impl Session for Mixed {
    type Exchange = Either;
    type Part = h2::Exchange;

    const STREAMS: bool = true;

    fn received(&mut self, bytes: &[u8], now: &Now) {
        match &mut self.protocol {
            Protocol::Undecided { seen, .. } => {
                seen.extend_from_slice(bytes);
                self.decide(false, now);
            }
            Protocol::Http(c) => c.received(bytes, now),
            Protocol::Grpc(c) => c.received(bytes, now),
            Protocol::Closed => {}
        }
    }

    fn read_closed(&mut self, now: &Now) {
        self.decide(true, now);
        match &mut self.protocol {
            Protocol::Http(c) => c.read_closed(now),
            Protocol::Grpc(c) => c.read_closed(now),
            Protocol::Undecided { .. } | Protocol::Closed => {}
        }
    }

    fn cancel_on_read_close(&self) -> bool {
        match &self.protocol {
            Protocol::Grpc(c) => c.cancel_on_read_close(),
            _ => true,
        }
    }

    fn take_cancelled(&mut self) -> Option<u32> {
        match &mut self.protocol {
            Protocol::Http(c) => c.take_cancelled(),
            Protocol::Grpc(c) => c.take_cancelled(),
            Protocol::Undecided { .. } | Protocol::Closed => None,
        }
    }

    fn wants_read(&self) -> bool {
        match &self.protocol {
            Protocol::Undecided { .. } => true,
            Protocol::Http(c) => c.wants_read(),
            Protocol::Grpc(c) => c.wants_read(),
            Protocol::Closed => false,
        }
    }

    fn next_request(&mut self, now: &Now) -> Option<Incoming<Either>> {
        match &mut self.protocol {
            Protocol::Http(c) => c.next_request(now).map(|i| Incoming {
                id: i.id,
                exchange: Either::Http(i.exchange),
                deadline: i.deadline,
            }),
            Protocol::Grpc(c) => c.next_request(now).map(|i| Incoming {
                id: i.id,
                exchange: Either::Grpc(i.exchange),
                deadline: i.deadline,
            }),
            Protocol::Undecided { .. } | Protocol::Closed => None,
        }
    }

    fn respond(&mut self, id: u32, exchange: Either, now: &Now) {
        match (&mut self.protocol, exchange) {
            (Protocol::Http(c), Either::Http(x)) => c.respond(id, x, now),
            (Protocol::Grpc(c), Either::Grpc(x)) => c.respond(id, x, now),
            _ => {}
        }
    }

    fn respond_part(&mut self, id: u32, part: Either, credit: Option<CreditGuard>, now: &Now) {
        if let (Protocol::Grpc(c), Either::Grpc(x)) = (&mut self.protocol, part) {
            c.respond_part(id, x, credit, now);
        }
    }

    fn output(&self) -> &[u8] {
        match &self.protocol {
            Protocol::Http(c) => c.output(),
            Protocol::Grpc(c) => c.output(),
            Protocol::Undecided { .. } | Protocol::Closed => &[],
        }
    }

    fn wrote(&mut self, n: usize, now: &Now) {
        match &mut self.protocol {
            Protocol::Http(c) => c.wrote(n, now),
            Protocol::Grpc(c) => c.wrote(n, now),
            Protocol::Undecided { .. } | Protocol::Closed => {}
        }
    }

    fn activity(&self) -> Activity {
        match &self.protocol {
            // Silent: idle. Inside the preface: a request begun.
            Protocol::Undecided { seen, .. } if seen.is_empty() => Activity::Idle,
            Protocol::Undecided { .. } => Activity::Reading,
            Protocol::Http(c) => c.activity(),
            Protocol::Grpc(c) => c.activity(),
            Protocol::Closed => Activity::Serving,
        }
    }

    fn timed_out(&mut self, timeout: Timeout, now: &Now) {
        match &mut self.protocol {
            Protocol::Http(c) => c.timed_out(timeout, now),
            Protocol::Grpc(c) => c.timed_out(timeout, now),
            // Silent, or stalled inside the preface: neither protocol can
            // answer.
            Protocol::Undecided { .. } | Protocol::Closed => self.protocol = Protocol::Closed,
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        match &self.protocol {
            Protocol::Http(c) => c.next_timer(),
            Protocol::Grpc(c) => c.next_timer(),
            Protocol::Undecided { .. } | Protocol::Closed => None,
        }
    }

    fn on_timer(&mut self, now: &Now) {
        match &mut self.protocol {
            Protocol::Http(c) => c.on_timer(now),
            Protocol::Grpc(c) => c.on_timer(now),
            Protocol::Undecided { .. } | Protocol::Closed => {}
        }
    }

    fn shutdown(&mut self, now: &Now) {
        self.decide(true, now);
        match &mut self.protocol {
            Protocol::Http(c) => c.shutdown(now),
            Protocol::Grpc(c) => c.shutdown(now),
            Protocol::Undecided { .. } | Protocol::Closed => {}
        }
    }

    fn wants_close(&self) -> bool {
        match &self.protocol {
            Protocol::Http(c) => c.wants_close(),
            Protocol::Grpc(c) => c.wants_close(),
            Protocol::Undecided { .. } => false,
            Protocol::Closed => true,
        }
    }
}

/// Serves each request with its protocol's handler.
struct MixedHandler<S, G> {
    http: HttpHandler<S>,
    grpc: G,
}

impl<S: Service, G: Handle<h2::server::Connection>> Handle<Mixed> for MixedHandler<S, G> {
    fn describe<'a>(&self, exchange: &'a Either) -> impl fmt::Display + 'a {
        match exchange {
            Either::Http(x) => Described::Http(x),
            Either::Grpc(x) => Described::Grpc(&x.request.path),
        }
    }

    fn handle(&self, cx: &Context<'_>, exchange: &mut Either) {
        match exchange {
            Either::Http(x) => self.http.handle(cx, x),
            Either::Grpc(x) => self.grpc.handle(cx, x),
        }
    }

    fn fail(&self, exchange: &mut Either, failure: Failure) {
        match exchange {
            Either::Http(x) => self.http.fail(x, failure),
            Either::Grpc(x) => self.grpc.fail(x, failure),
        }
    }
}

/// A request named in a log line.
enum Described<'a> {
    Http(&'a h1::Exchange),
    Grpc(&'a str),
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Described::Http(x) => write!(f, "{}", super::RequestLabel(&x.request)),
            Described::Grpc(path) => f.write_str(path),
        }
    }
}

/// Starts an engine serving HTTP/1.1 with `service` and gRPC with `grpc`
/// on `listener`.
pub(crate) fn start<S: Service, G: Handle<h2::server::Connection>>(
    listener: &std::net::TcpListener,
    config: &Arc<super::ServerConfig>,
    service: S,
    grpc: G,
    grpc_session: impl Fn() -> h2::server::Connection + Clone + Send + 'static,
) -> std::io::Result<crate::engine::Running> {
    let stats = Arc::new(crate::engine::Stats::default());
    let (session_config, session_stats) = (Arc::clone(config), Arc::clone(&stats));
    crate::engine::start(
        listener,
        config.engine("synkit-mixed"),
        stats,
        MixedHandler {
            http: HttpHandler(service),
            grpc,
        },
        move |_| {
            Mixed::new(
                h1::Connection::new(Arc::clone(&session_config), Arc::clone(&session_stats)),
                grpc_session(),
            )
        },
    )
}

#[cfg(test)]
mod tests;
