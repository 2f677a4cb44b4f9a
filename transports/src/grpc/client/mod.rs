//! A gRPC client over h2c, Go kit's `grpctransport.NewClient` shape: one
//! HTTP/2 connection per [`Client`], many calls on it at once (each its
//! own stream), a reader thread that routes frames to the calls waiting
//! for them, flow control both ways, and each call bounded by its
//! context's deadline (sent as `grpc-timeout`; on expiry the stream is
//! reset with CANCEL).

mod conn;
mod role;
mod stream;

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use prost::Message;
use synkit_core::{Context, Endpoint};

use super::metadata::{ClientAfter, ClientBefore};
use super::{Code, MAX_MESSAGE, Metadata, Status, framed, unframe_message};
use crate::h2::hpack;
use conn::{Conn, Reply, Sink, dial, lock, wait};
pub use stream::ResponseStream;

/// A gRPC client of one server.
pub struct Client {
    addr: SocketAddr,
    authority: String,
    conn: Mutex<Option<Arc<Conn>>>,
    max_message: usize,
    before: Vec<ClientBefore>,
    after: Vec<ClientAfter>,
    tracer: Option<Arc<dyn super::ClientTrace>>,
}

impl Client {
    /// A client of the server at `addr` (connected at the first call).
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            authority: addr.to_string(),
            conn: Mutex::new(None),
            max_message: MAX_MESSAGE,
            before: Vec::new(),
            after: Vec::new(),
            tracer: None,
        }
    }

    /// Go kit's `GRPCClientTrace`: every call in a client span named by its
    /// method, the child of the span in the call's context, its B3 sent in
    /// the metadata.
    #[must_use]
    pub fn traced(mut self, tracer: Arc<dyn super::ClientTrace>) -> Client {
        self.tracer = Some(tracer);
        self
    }

    /// Go kit's `ClientBefore`: `f` writes each call's metadata (trace
    /// headers, credentials).
    #[must_use]
    pub fn before(
        mut self,
        f: impl Fn(&Context<'_>, &mut Metadata) + Send + Sync + 'static,
    ) -> Client {
        self.before.push(Box::new(f));
        self
    }

    /// Go kit's `ClientAfter`: `f` reads each successful answer's header
    /// and trailer metadata.
    #[must_use]
    pub fn after(
        mut self,
        f: impl Fn(&Context<'_>, &Metadata, &Metadata) + Send + Sync + 'static,
    ) -> Client {
        self.after.push(Box::new(f));
        self
    }

    /// Calls `path` (`/package.Service/Method`) with `request`.
    pub fn call<Req: Message, Resp: Message + Default>(
        &self,
        cx: &Context<'_>,
        path: &str,
        request: &Req,
    ) -> Result<Resp, Status> {
        cx.check().map_err(|e| super::ToStatus::to_status(&e))?;
        let body = framed(request);
        let mut md = Metadata::new();
        for before in &self.before {
            before(cx, &mut md);
        }
        let reply = match &self.tracer {
            None => self.unary(cx, path, &md, &body),
            Some(tracer) => {
                let mut outcome = None;
                tracer.around(cx, path, &mut md, &mut |md| {
                    let answer = self.unary(cx, path, md, &body);
                    let failed = answer.as_ref().err().cloned();
                    outcome = Some(answer);
                    failed
                });
                outcome.unwrap_or_else(|| Err(Status::new(Code::Internal, "not called")))
            }
        }?;
        for after in &self.after {
            after(cx, &reply.header, &reply.trailer);
        }
        let message = unframe_message(&reply.body, self.max_message)?;
        Resp::decode(message).map_err(|e| {
            Status::new(
                Code::Internal,
                format!("the reply is not a valid message: {e}"),
            )
        })
    }

    /// Calls the server-streaming method `path` with `request`: its replies
    /// come as the server sends them, read from the returned stream. The
    /// `before` hooks write the call's metadata; the `after` hooks see the
    /// header and trailer metadata when the stream ends well; a tracer's
    /// client span lasts until the stream ends (or is dropped). Each read
    /// waits within `cx`'s deadline, which bounds the whole call.
    ///
    /// ```no_run
    /// # use synkit_core::Context;
    /// # use synkit_transports::grpc::{Client, Status};
    /// # #[derive(Clone, PartialEq, prost::Message)]
    /// # struct CountRequest { #[prost(uint32, tag = "1")] to: u32 }
    /// # #[derive(Clone, PartialEq, prost::Message)]
    /// # struct Number { #[prost(uint32, tag = "1")] n: u32 }
    /// let client = Client::new("127.0.0.1:8082".parse().unwrap());
    /// let cx = Context::background();
    /// for number in client.server_streaming::<_, Number>(&cx, "/demo.Counter/Count", &CountRequest { to: 3 })? {
    ///     println!("{}", number?.n);
    /// }
    /// # Ok::<(), Status>(())
    /// ```
    pub fn server_streaming<'c, Req: Message, Resp: Message + Default>(
        &'c self,
        cx: &'c Context<'c>,
        path: &str,
        request: &Req,
    ) -> Result<ResponseStream<'c, Resp>, Status> {
        cx.check().map_err(|e| super::ToStatus::to_status(&e))?;
        let body = framed(request);
        let mut md = Metadata::new();
        for before in &self.before {
            before(cx, &mut md);
        }
        let span = self
            .tracer
            .as_deref()
            .and_then(|t| t.start_stream(cx, path, &mut md));
        let (tx, rx) = crossbeam_channel::unbounded();
        match self.start(cx, path, &md, &body, Sink::Parts(tx)) {
            Ok(started) => Ok(ResponseStream::new(self, cx, started, rx, span)),
            Err(status) => {
                if let Some(span) = span {
                    span.end(Some(&status));
                }
                Err(status)
            }
        }
    }

    /// `path` as an endpoint from `Req` to `Resp`.
    pub fn endpoint<Req, Resp>(self: Arc<Self>, path: &str) -> MethodEndpoint<Req, Resp> {
        MethodEndpoint {
            client: self,
            path: path.to_owned(),
            types: PhantomData,
        }
    }

    fn connection(&self, left: Duration) -> Result<Arc<Conn>, Status> {
        let mut guard = lock(&self.conn);
        if let Some(conn) = guard.as_ref()
            && conn.open()
        {
            return Ok(conn.clone());
        }
        let conn = dial(self.addr, left)?;
        *guard = Some(conn.clone());
        Ok(conn)
    }

    fn unary(
        &self,
        cx: &Context<'_>,
        path: &str,
        md: &Metadata,
        body: &[u8],
    ) -> Result<Reply, Status> {
        let (tx, rx) = bounded(1);
        let (conn, id, until) = self.start(cx, path, md, body, Sink::Whole(tx))?;
        let outcome = wait(&rx, cx, until);
        if outcome.is_err() {
            // No longer wanted: the server is told to stop.
            conn.cancel(id);
        }
        outcome?
    }

    /// Opens a call's stream and sends its request; where it is, and when
    /// its deadline (or an hour) comes.
    fn start(
        &self,
        cx: &Context<'_>,
        path: &str,
        md: &Metadata,
        body: &[u8],
        sink: Sink,
    ) -> Result<(Arc<Conn>, u32, Instant), Status> {
        let left = cx.remaining().unwrap_or(Duration::from_secs(3600));
        let until = Instant::now() + left;
        let conn = self.connection(left)?;
        let mut block = Vec::new();
        for (name, value) in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", &self.authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("user-agent", "synkit-grpc"),
        ] {
            hpack::encode_field(&mut block, name.as_bytes(), value.as_bytes());
        }
        for (name, value) in md.iter() {
            hpack::encode_field(&mut block, name.as_bytes(), value.as_bytes());
        }
        if cx.remaining().is_some() {
            // Milliseconds, at most 8 digits as gRPC allows.
            let ms = left.as_millis().min(99_999_999).to_string() + "m";
            hpack::encode_field(&mut block, b"grpc-timeout", ms.as_bytes());
        }
        let id = conn.start(sink, &block, body, until)?;
        Ok((conn, id, until))
    }
}

/// One method of a [`Client`] as an endpoint.
pub struct MethodEndpoint<Req, Resp> {
    client: Arc<Client>,
    path: String,
    types: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Message, Resp: Message + Default> Endpoint<Req> for MethodEndpoint<Req, Resp> {
    type Response = Resp;
    type Error = Status;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Resp, Status> {
        self.client.call(cx, &self.path, &req)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(conn) = lock(&self.conn).take() {
            conn.shutdown();
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl<Req, Resp> fmt::Debug for MethodEndpoint<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MethodEndpoint")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
