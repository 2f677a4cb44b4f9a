//! The server end of an HTTP/2 connection on the engine: the shared
//! connection core ([`conn`](super::conn)) in the server's role — streams
//! the client opens, each request handed over once its stream ends,
//! answered within the client's windows.

use std::collections::VecDeque;

use synkit_core::time::Duration;

use super::Request;
use super::conn::{self, Closed, Config, Head, Part, Role, Taken};
use super::fields::{Common, RequestFields};
use crate::engine::parts::CreditGuard;

mod answer;
#[cfg(any(test, fuzzing))]
pub(crate) mod fuzz;
mod session;
#[cfg(test)]
mod tests;

/// What we announce, and hold the client to.
const MAX_CONCURRENT_STREAMS: u32 = 100;
/// Each stream may send this much before we open its window again.
const INITIAL_STREAM_WINDOW: u32 = 1 << 20;
/// Request bytes the connection may hold that no service has taken yet,
/// at least; more when one request may be bigger.
const CONNECTION_WINDOW: u32 = 4 << 20;
/// The most bytes of one header block, and of the list it decodes to.
const MAX_HEADER_LIST: usize = 64 << 10;
/// Bytes queued for a client past which we stop reading its frames: one
/// that sends PINGs and never reads our answers holds this much at most,
/// until the write timeout closes it.
const MAX_UNWRITTEN: usize = 1 << 20;

/// How the protocol riding on HTTP/2 wants its requests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    /// Each request's deadline, unless it asks for less.
    pub(crate) timeout: Duration,
    /// The most bytes one request body may have.
    pub(crate) max_body: usize,
    /// The deadline a request asks for in a field of the protocol above,
    /// if it does.
    pub(crate) deadline: fn(&Request) -> Option<Duration>,
    /// Field names and values its requests commonly carry.
    pub(crate) common: Common,
    /// Whether requests keep their `:authority` (a copy per request, so
    /// only for a protocol that reads it).
    pub(crate) authority: bool,
}

impl Options {
    /// `timeout` and `max_body`; no deadline a request can ask for, no
    /// common fields.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn new(timeout: Duration, max_body: usize) -> Options {
        Options {
            timeout,
            max_body,
            deadline: |_| None,
            common: Common::default(),
            authority: true,
        }
    }
}

/// A server connection.
pub(crate) type Connection = conn::Connection<Server>;

/// A server connection with `options`, its SETTINGS queued.
pub(crate) fn connection(options: Options) -> Connection {
    // Room for one request of the largest size and a little more, so a
    // request at the limit can always arrive whole.
    let window = u32::try_from(options.max_body.saturating_add(1 << 16))
        .unwrap_or(u32::MAX >> 1)
        .clamp(CONNECTION_WINDOW, u32::MAX >> 1);
    conn::Connection::new(
        Server {
            options,
            ready: VecDeque::new(),
            cancelled: Vec::new(),
            in_flight: 0,
            block: Vec::new(),
        },
        Config {
            max_concurrent_streams: Some(MAX_CONCURRENT_STREAMS),
            initial_stream_window: INITIAL_STREAM_WINDOW,
            connection_window: window,
            max_header_list: MAX_HEADER_LIST,
        },
    )
}

/// The server's role: what it does with each stream a client opens.
#[derive(Debug)]
pub(crate) struct Server {
    options: Options,
    /// Streams whose request is complete and not yet handed out.
    ready: VecDeque<u32>,
    /// Streams being served that were reset: their workers are told.
    cancelled: Vec<u32>,
    /// Requests handed out and not yet answered.
    in_flight: usize,
    /// A header block being encoded: kept, so answers allocate none.
    block: Vec<u8>,
}

/// Where a stream's request is, on the server's side.
#[derive(Debug)]
pub(crate) enum Serving {
    /// Its request is still arriving.
    Receiving,
    /// Whole, and queued for a service or with one.
    Served,
    /// Answered in parts, more to come: the hold on the call's credit.
    Streaming(CreditGuard),
}

/// What the server keeps of a stream.
#[derive(Debug)]
pub(crate) struct ServerStream {
    request: Request,
    serving: Serving,
}

impl Server {
    /// Whether nothing is queued or with a service.
    fn idle(&self) -> bool {
        self.in_flight == 0 && self.ready.is_empty()
    }

    fn hand_over(&mut self, id: u32, stream: &mut ServerStream) {
        if matches!(stream.serving, Serving::Receiving) {
            stream.serving = Serving::Served;
            self.ready.push_back(id);
        }
    }
}

impl Role for Server {
    const SERVER: bool = true;
    type Stream = ServerStream;
    type Fields = RequestFields;

    fn fields(&self, part: Part) -> RequestFields {
        RequestFields::new(part, self.options.common, self.options.authority)
    }

    fn opened(&mut self, _id: u32, request: Request, _end_stream: bool) -> ServerStream {
        ServerStream {
            request,
            serving: Serving::Receiving,
        }
    }

    fn head(&mut self, _: u32, _: &mut ServerStream, _: Request, _: bool) -> Head {
        // A server opens no streams, so none has a head to hear.
        Head::Final
    }

    fn trailers(&mut self, _id: u32, _stream: &mut ServerStream, _trailers: Request) {
        // A request's trailers are checked, then dropped: no service here
        // reads them.
    }

    fn data(&mut self, id: u32, stream: &mut ServerStream, data: &[u8]) -> Taken {
        if stream.request.over_limit {
            return Taken::Done;
        }
        if stream.request.body.len() + data.len() > self.options.max_body {
            // Handed over at once, its body dropped, so the service can
            // refuse it in its protocol's terms; the rest
            // of it is read and dropped until the answer goes.
            stream.request.over_limit = true;
            stream.request.body = Vec::new();
            self.hand_over(id, stream);
            return Taken::Done;
        }
        stream.request.body.extend_from_slice(data);
        Taken::HeldByConnection
    }

    fn ended(&mut self, id: u32, stream: &mut ServerStream) {
        self.hand_over(id, stream);
    }

    fn sent(&mut self, _id: u32, stream: &mut ServerStream, n: usize) {
        if let Serving::Streaming(credit) = &stream.serving {
            credit.sent(n);
        }
    }

    fn closed(&mut self, id: u32, stream: ServerStream, how: Closed) {
        // A stream being served keeps no entry: its answer, when it comes,
        // is dropped, and its worker told to stop.
        let served = !matches!(stream.serving, Serving::Receiving);
        if served && how != Closed::Done {
            self.cancelled.push(id);
        }
        self.ready.retain(|&r| r != id);
    }
}
