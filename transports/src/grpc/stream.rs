//! Server streaming: a method that answers one request with any number of
//! messages, each sent as the service makes it.
//!
//! A unary call's answer goes back to the connection whole; a streaming
//! call's goes in parts. Each [`ServerStream::send`] hands one message to
//! the connection's event loop, which writes it within the client's
//! flow-control window; when the client reads slower than the service
//! sends, `send` waits (the bytes queued per call are bounded), so a slow
//! or stalled reader costs a waiting worker, never unbounded memory. A
//! client that resets the stream or goes away, a deadline that passes and
//! a server shutting down all end the wait with an error, which the
//! service returns to end the call.
//!
//! The first message carries the response headers: the stream's
//! [`header`](ServerStream::header) metadata, set before it. The call ends
//! when the service returns: `grpc-status` 0, or the error's status, in the
//! trailers, with the trailer metadata the `after` hooks set.

use std::marker::PhantomData;

use synkit_core::Context;

use super::{Code, Metadata, Status, ToStatus};
use crate::engine::parts::{Parts, Stopped};
use crate::h2::{Exchange, Field, Fields, Request, Response};

/// The sending half of a server-streaming call: the service sends its
/// replies through it.
///
/// ```no_run
/// use synkit_core::Context;
/// use synkit_transports::grpc::{Server, ServerStream, Status};
/// use synkit_transports::http::server::ServerConfig;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct CountRequest { #[prost(uint32, tag = "1")] to: u32 }
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Number { #[prost(uint32, tag = "1")] n: u32 }
///
/// let count = |_: &Context<'_>, r: CountRequest, out: &mut ServerStream<'_, Number>| {
///     for n in 1..=r.to {
///         out.send(&Number { n })?;
///     }
///     Ok::<_, Status>(())
/// };
/// let server = Server::new()
///     .server_streaming("/demo.Counter/Count", count)
///     .bind("127.0.0.1:8082", &ServerConfig::default())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ServerStream<'s, M> {
    sink: &'s mut (dyn Sink + 's),
    _message: PhantomData<fn(&M)>,
}

impl<'s, M: prost::Message> ServerStream<'s, M> {
    pub(crate) fn new(sink: &'s mut (dyn Sink + 's)) -> ServerStream<'s, M> {
        ServerStream {
            sink,
            _message: PhantomData,
        }
    }

    /// Sends `message`, waiting while the client is behind. An error means
    /// the call is over (the client reset it or left, its deadline passed,
    /// or it was cancelled): return it.
    pub fn send(&mut self, message: &M) -> Result<(), Status> {
        self.sink.send(super::framed(message))
    }

    /// The metadata sent as response headers with the first message; `None`
    /// once it has gone.
    pub fn header(&mut self) -> Option<&mut Metadata> {
        self.sink.header()
    }

    /// Messages sent so far.
    pub fn sent(&self) -> usize {
        self.sink.sent()
    }
}

impl<M> std::fmt::Debug for ServerStream<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStream")
            .field("sent", &self.sink.sent())
            .finish_non_exhaustive()
    }
}

/// Where a stream's framed messages go.
pub(crate) trait Sink {
    fn send(&mut self, framed: Vec<u8>) -> Result<(), Status>;
    fn header(&mut self) -> Option<&mut Metadata>;
    fn sent(&self) -> usize;
}

/// One streaming call's outgoing side, as the server keeps it.
pub(crate) struct Outbox<'a> {
    cx: &'a Context<'a>,
    /// The engine's way to send parts, which it gives every call served on
    /// a worker; `None` on the event loop itself (no worker pool), where
    /// nothing can go before the call returns — and where
    /// [`Server::bind`](super::Server::bind) refuses streaming methods, so
    /// a stream is never buffered whole.
    parts: Option<&'a Parts<Exchange>>,
    header: Metadata,
    /// Headers and messages have gone out.
    pub(crate) started: bool,
    sent: usize,
}

impl<'a> Outbox<'a> {
    pub(crate) fn new(cx: &'a Context<'a>, parts: Option<&'a Parts<Exchange>>) -> Outbox<'a> {
        Outbox {
            cx,
            parts,
            header: Metadata::new(),
            started: false,
            sent: 0,
        }
    }

    /// The header metadata not yet sent, for the answer's end.
    pub(crate) fn take_header(&mut self) -> Metadata {
        std::mem::take(&mut self.header)
    }
}

impl Sink for Outbox<'_> {
    fn send(&mut self, framed: Vec<u8>) -> Result<(), Status> {
        self.cx.check().map_err(|e| e.to_status())?;
        let Some(parts) = self.parts else {
            return Err(Status::new(
                Code::Unimplemented,
                "a stream needs a worker pool: served on the event loop, nothing can go before the call returns",
            ));
        };
        let headers = if self.started {
            Fields::Borrowed(&[])
        } else {
            response_headers(std::mem::take(&mut self.header))
        };
        let bytes = framed.len();
        let part = Exchange {
            request: Request::default(),
            response: Response {
                status: 200,
                headers,
                body: framed,
                trailers: Fields::Borrowed(&[]),
            },
        };
        parts
            .send(self.cx, part, bytes)
            .map_err(|stopped| match stopped {
                Stopped::Closed => Status::new(Code::Cancelled, "the client ended the stream"),
                Stopped::Expired => self.cx.check().err().map_or_else(
                    || Status::new(Code::DeadlineExceeded, "the deadline passed"),
                    |e| e.to_status(),
                ),
            })?;
        self.started = true;
        self.sent += 1;
        Ok(())
    }

    fn header(&mut self) -> Option<&mut Metadata> {
        (!self.started).then_some(&mut self.header)
    }

    fn sent(&self) -> usize {
        self.sent
    }
}

/// A gRPC answer's header fields: the content type, then `header`'s pairs
/// (a constant list when there are none).
pub(crate) fn response_headers(header: Metadata) -> Fields {
    const CONTENT_TYPE: &[(Field, Field)] = &[(
        Field::Borrowed("content-type"),
        Field::Borrowed("application/grpc"),
    )];
    if header.is_empty() {
        return Fields::Borrowed(CONTENT_TYPE);
    }
    let mut headers = CONTENT_TYPE.to_vec();
    headers.extend(header.into_pairs());
    headers.into()
}

/// A successful call's trailer fields: `grpc-status: 0`, then `trailer`'s
/// pairs (a constant list when there are none).
pub(crate) fn ok_trailers(trailer: Metadata) -> Fields {
    const OK: &[(Field, Field)] = &[(Field::Borrowed("grpc-status"), Field::Borrowed("0"))];
    if trailer.is_empty() {
        return Fields::Borrowed(OK);
    }
    let mut trailers = OK.to_vec();
    trailers.extend(trailer.into_pairs());
    trailers.into()
}
