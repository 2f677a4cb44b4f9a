//! A gRPC client over h2c, Go kit's `grpctransport.NewClient` shape: one
//! HTTP/2 connection per [`Client`], many calls on it at once (each its
//! own stream), a reader thread that routes frames to the calls waiting
//! for them, flow control both ways, and each call bounded by its
//! context's deadline (sent as `grpc-timeout`; on expiry the stream is
//! reset with CANCEL).

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use prost::Message;
use synkit_core::{Context, Endpoint};

use super::metadata::{ClientAfter, ClientBefore};
use super::status::percent_decode;
use super::{Code, MAX_MESSAGE, Metadata, Status, frame_message, unframe_message};
use crate::h2::frame::{self, ErrorCode, flag, kind, setting};
use crate::h2::hpack::{self, BlockDecoder};
use crate::wait::{self, Ended};

/// What one call's stream has gathered.
#[derive(Default)]
struct Gathered {
    body: Vec<u8>,
    grpc_status: Option<String>,
    grpc_message: Option<String>,
    http_status: Option<String>,
    header: Metadata,
    trailer: Metadata,
}

/// A successful call's reply body, with the answer's metadata.
struct Reply {
    body: Vec<u8>,
    header: Metadata,
    trailer: Metadata,
}

/// A call's outcome: the reply, or why there is none.
type Outcome = Result<Reply, Status>;

/// The connection's shared state.
struct State {
    /// Calls waiting, by stream id: where their outcome goes, what their
    /// stream has gathered.
    calls: HashMap<u32, (Sender<Outcome>, Gathered)>,
    next_stream: u32,
    send_window: i64,
    stream_windows: HashMap<u32, i64>,
    peer_initial_window: i64,
    peer_max_frame: usize,
    /// Why the connection can take no new call, once it cannot.
    closed: Option<String>,
}

struct Conn {
    writer: Mutex<TcpStream>,
    state: Mutex<State>,
    /// Signalled when a window opens or the connection closes.
    window_open: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

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
        let body = frame_message(&request.encode_to_vec());
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
            && lock(&conn.state).closed.is_none()
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
        let left = cx.remaining().unwrap_or(Duration::from_secs(3600));
        let until = Instant::now() + left;
        let conn = self.connection(left)?;
        let (tx, rx) = bounded(1);
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
        let id = open_stream(&conn, tx, &block)?;
        if let Err(status) = send_request(&conn, id, body, until) {
            forget(&conn, id);
            return Err(status);
        }
        let outcome = wait(&rx, cx, until);
        if outcome.is_err() {
            // No longer wanted: the server is told to stop.
            let mut out = Vec::new();
            frame::put_rst_stream(&mut out, id, ErrorCode::Cancel);
            let _ = lock(&conn.writer).write_all(&out);
            forget(&conn, id);
        }
        outcome?
    }
}

fn forget(conn: &Conn, id: u32) {
    let mut state = lock(&conn.state);
    state.calls.remove(&id);
    state.stream_windows.remove(&id);
}

/// Waits for the answer until `until`, noticing cancellation.
fn wait(rx: &Receiver<Outcome>, cx: &Context<'_>, until: Instant) -> Result<Outcome, Status> {
    wait::answer(rx, cx, until).map_err(|ended| match ended {
        Ended::Closed => Status::new(Code::Unavailable, "the connection closed"),
        Ended::Context(e) => super::ToStatus::to_status(&e),
        Ended::TimedOut => Status::new(Code::DeadlineExceeded, "the call ran out of time"),
    })
}

/// Opens a stream with the request's HEADERS. Its id is taken and its
/// HEADERS written under the writer's lock: ids reach the server in the
/// order they were given, as HTTP/2 requires.
fn open_stream(conn: &Conn, tx: Sender<Outcome>, block: &[u8]) -> Result<u32, Status> {
    let mut writer = lock(&conn.writer);
    let (id, max_frame) = {
        let mut state = lock(&conn.state);
        if let Some(why) = &state.closed {
            return Err(Status::new(Code::Unavailable, why.clone()));
        }
        let id = state.next_stream;
        state.next_stream += 2;
        state.calls.insert(id, (tx, Gathered::default()));
        let window = state.peer_initial_window;
        state.stream_windows.insert(id, window);
        (id, state.peer_max_frame)
    };
    let mut out = Vec::new();
    frame::put_headers(&mut out, id, block, false, max_frame);
    if let Err(e) = writer.write_all(&out) {
        drop(writer);
        forget(conn, id);
        return Err(Status::new(
            Code::Unavailable,
            format!("the connection failed: {e}"),
        ));
    }
    Ok(id)
}

/// Writes the request's DATA within the flow-control windows, waiting for
/// them to open (until `until`).
fn send_request(conn: &Conn, id: u32, body: &[u8], until: Instant) -> Result<(), Status> {
    let mut sent = 0;
    while sent < body.len() || body.is_empty() {
        let mut state = lock(&conn.state);
        let room = loop {
            if let Some(why) = &state.closed {
                return Err(Status::new(Code::Unavailable, why.clone()));
            }
            // Answered (or reset) before the request was all sent: the
            // server wants no more of it, and the answer waits.
            let Some(&stream) = state.stream_windows.get(&id) else {
                return Ok(());
            };
            let room = state.send_window.min(stream);
            if room > 0 || body.is_empty() {
                break usize::try_from(room).unwrap_or(0);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Status::new(
                    Code::DeadlineExceeded,
                    "no flow-control window in time",
                ));
            }
            state = conn
                .window_open
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        let n = room.min(state.peer_max_frame).min(body.len() - sent);
        let n64 = i64::try_from(n).unwrap_or(i64::MAX);
        state.send_window -= n64;
        if let Some(w) = state.stream_windows.get_mut(&id) {
            *w -= n64;
        }
        drop(state);
        let mut out = Vec::new();
        let end = sent + n == body.len();
        frame::put_data(&mut out, id, &body[sent..sent + n], end);
        write(conn, &out)?;
        sent += n;
        if body.is_empty() {
            break;
        }
    }
    Ok(())
}

fn write(conn: &Conn, bytes: &[u8]) -> Result<(), Status> {
    lock(&conn.writer)
        .write_all(bytes)
        .map_err(|e| Status::new(Code::Unavailable, format!("the connection failed: {e}")))
}

fn dial(addr: SocketAddr, left: Duration) -> Result<Arc<Conn>, Status> {
    let unavailable = |e: std::io::Error| Status::new(Code::Unavailable, format!("{addr}: {e}"));
    let left = left.clamp(Duration::from_millis(1), Duration::from_secs(5));
    let stream = TcpStream::connect_timeout(&addr, left).map_err(unavailable)?;
    let _ = stream.set_nodelay(true);
    let mut hello = frame::PREFACE.to_vec();
    frame::put_settings(
        &mut hello,
        &[
            (setting::ENABLE_PUSH, 0),
            (setting::INITIAL_WINDOW_SIZE, 1 << 20),
        ],
    );
    frame::put_window_update(&mut hello, 0, (4 << 20) - 65_535);
    let mut writer = stream.try_clone().map_err(unavailable)?;
    writer.write_all(&hello).map_err(unavailable)?;
    let conn = Arc::new(Conn {
        writer: Mutex::new(writer),
        state: Mutex::new(State {
            calls: HashMap::new(),
            next_stream: 1,
            send_window: 65_535,
            stream_windows: HashMap::new(),
            peer_initial_window: 65_535,
            peer_max_frame: 16_384,
            closed: None,
        }),
        window_open: Condvar::new(),
    });
    let reader = conn.clone();
    std::thread::Builder::new()
        .name("synkit-grpc-client".into())
        .spawn(move || {
            let why = read(&reader, stream);
            let mut state = lock(&reader.state);
            state.closed = Some(why.clone());
            for (_, (tx, _)) in state.calls.drain() {
                let _ = tx.try_send(Err(Status::new(Code::Unavailable, why.clone())));
            }
            reader.window_open.notify_all();
        })
        .map_err(unavailable)?;
    Ok(conn)
}

/// Reads frames until the connection ends; why it did.
fn read(conn: &Conn, mut stream: TcpStream) -> String {
    let mut decoder = BlockDecoder::new(4096);
    let mut input = Vec::new();
    let mut buf = vec![0; 64 << 10];
    let mut block: Option<(u32, Vec<u8>, bool)> = None;
    loop {
        let mut used = 0;
        loop {
            let (head, payload) = match frame::next(&input[used..], 1 << 24) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return "a frame too large".into(),
            };
            let payload = payload.to_vec();
            used += 9 + head.len;
            if let Err(why) = on_frame(conn, &mut decoder, &mut block, head, &payload) {
                let _ = stream.shutdown(Shutdown::Both);
                return why;
            }
        }
        input.drain(..used);
        match stream.read(&mut buf) {
            Ok(0) => return "the server closed the connection".into(),
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(e) => return format!("the connection failed: {e}"),
        }
    }
}

fn on_frame(
    conn: &Conn,
    decoder: &mut BlockDecoder,
    block: &mut Option<(u32, Vec<u8>, bool)>,
    head: frame::Head,
    payload: &[u8],
) -> Result<(), String> {
    let mut out = Vec::new();
    match head.kind {
        kind::SETTINGS if head.flags & flag::ACK == 0 => on_settings(conn, payload, &mut out)?,
        kind::PING if head.flags & flag::ACK == 0 => {
            let data: [u8; 8] = payload.try_into().map_err(|_| "bad PING")?;
            frame::put_ping(&mut out, true, data);
        }
        kind::WINDOW_UPDATE => {
            let increment = i64::from(
                frame::u32_payload(payload).map_err(|_| "bad WINDOW_UPDATE")? & 0x7fff_ffff,
            );
            let mut state = lock(&conn.state);
            if head.stream == 0 {
                state.send_window += increment;
            } else if let Some(w) = state.stream_windows.get_mut(&head.stream) {
                *w += increment;
            }
            conn.window_open.notify_all();
        }
        kind::HEADERS | kind::CONTINUATION => on_headers(conn, decoder, block, head, payload)?,
        kind::DATA => on_data(conn, head, payload, &mut out)?,
        kind::RST_STREAM => {
            let code =
                ErrorCode::from_u32(frame::u32_payload(payload).map_err(|_| "bad RST_STREAM")?);
            let mut state = lock(&conn.state);
            if let Some((tx, _)) = state.calls.remove(&head.stream) {
                let status = match code {
                    ErrorCode::RefusedStream => Code::Unavailable,
                    ErrorCode::Cancel => Code::Cancelled,
                    _ => Code::Internal,
                };
                let _ = tx.try_send(Err(Status::new(status, format!("stream reset: {code:?}"))));
            }
        }
        kind::GOAWAY => {
            let last = frame::u32_payload(payload.get(..4).ok_or("bad GOAWAY")?)
                .map_err(|_| "bad GOAWAY")?;
            let mut state = lock(&conn.state);
            state.closed = Some("the server is going away".into());
            let refused: Vec<u32> = state
                .calls
                .keys()
                .copied()
                .filter(|&id| id > last)
                .collect();
            for id in refused {
                if let Some((tx, _)) = state.calls.remove(&id) {
                    let _ = tx.try_send(Err(Status::new(
                        Code::Unavailable,
                        "the server went away before the call",
                    )));
                }
            }
        }
        _ => {}
    }
    if !out.is_empty() {
        lock(&conn.writer)
            .write_all(&out)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn on_settings(conn: &Conn, payload: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut state = lock(&conn.state);
    for (id, value) in frame::settings(payload).map_err(|_| "bad SETTINGS")? {
        match id {
            setting::INITIAL_WINDOW_SIZE => {
                let delta = i64::from(value) - state.peer_initial_window;
                state.peer_initial_window = i64::from(value);
                for w in state.stream_windows.values_mut() {
                    *w += delta;
                }
            }
            setting::MAX_FRAME_SIZE => {
                state.peer_max_frame = usize::try_from(value).unwrap_or(16_384);
            }
            _ => {}
        }
    }
    frame::put_settings_ack(out);
    conn.window_open.notify_all();
    Ok(())
}

fn on_headers(
    conn: &Conn,
    decoder: &mut BlockDecoder,
    block: &mut Option<(u32, Vec<u8>, bool)>,
    head: frame::Head,
    payload: &[u8],
) -> Result<(), String> {
    if head.kind == kind::HEADERS {
        let (fragment, _) = frame::headers_block(head.flags, payload).map_err(|_| "bad HEADERS")?;
        *block = Some((
            head.stream,
            fragment.to_vec(),
            head.flags & flag::END_STREAM != 0,
        ));
    } else if let Some((_, b, _)) = block.as_mut() {
        b.extend_from_slice(payload);
    }
    if head.flags & flag::END_HEADERS != 0
        && let Some((id, b, end)) = block.take()
    {
        let mut state = lock(&conn.state);
        let mut gathered = state.calls.get_mut(&id).map(|(_, g)| g);
        // A second header block is the trailers.
        let trailers = gathered.as_ref().is_some_and(|g| g.http_status.is_some());
        decoder
            .decode(&b, |name, value| {
                let Some(g) = gathered.as_mut() else { return };
                let value = String::from_utf8_lossy(value).into_owned();
                match name {
                    b":status" => g.http_status = Some(value),
                    b"grpc-status" => g.grpc_status = Some(value),
                    b"grpc-message" => g.grpc_message = Some(value),
                    _ => {
                        let name = String::from_utf8_lossy(name);
                        let md = if trailers {
                            &mut g.trailer
                        } else {
                            &mut g.header
                        };
                        md.insert(&name, &value);
                    }
                }
            })
            .map_err(|e| format!("a header block that does not decode: {e}"))?;
        if end {
            finish(&mut state, id);
        }
    }
    Ok(())
}

fn on_data(
    conn: &Conn,
    head: frame::Head,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let data = frame::unpad(head.flags, payload).map_err(|_| "bad DATA")?;
    let n = u32::try_from(head.len).unwrap_or(u32::MAX);
    let mut state = lock(&conn.state);
    if n > 0 {
        frame::put_window_update(out, 0, n);
    }
    if let Some((_, g)) = state.calls.get_mut(&head.stream) {
        if g.body.len() + data.len() > MAX_MESSAGE + 5 {
            return Err("a reply over the message limit".into());
        }
        g.body.extend_from_slice(data);
        if n > 0 {
            frame::put_window_update(out, head.stream, n);
        }
    }
    if head.flags & flag::END_STREAM != 0 {
        finish(&mut state, head.stream);
    }
    Ok(())
}

/// The stream ended: the call's outcome, from its trailers.
fn finish(state: &mut State, id: u32) {
    state.stream_windows.remove(&id);
    let Some((tx, g)) = state.calls.remove(&id) else {
        return;
    };
    let outcome = match (g.http_status.as_deref(), g.grpc_status.as_deref()) {
        (Some("200"), Some("0")) => Ok(Reply {
            body: g.body,
            header: g.header,
            trailer: g.trailer,
        }),
        (Some("200"), Some(code)) => Err(Status::new(
            Code::from_i32(code.parse().unwrap_or(2)),
            percent_decode(g.grpc_message.as_deref().unwrap_or("")),
        )),
        (Some("200"), None) => Err(Status::new(
            Code::Internal,
            "no grpc-status in the trailers",
        )),
        (status, _) => Err(Status::new(
            Code::Unknown,
            format!("HTTP status {}", status.unwrap_or("missing")),
        )),
    };
    let _ = tx.try_send(outcome);
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
            let _ = lock(&conn.writer).shutdown(Shutdown::Both);
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
