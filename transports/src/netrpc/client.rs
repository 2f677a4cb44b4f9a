//! A client for Go's net/rpc: `jsonrpc.Dial`'s, `rpc.Dial`'s and
//! `rpc.DialHTTP`'s counterpart.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use synkit_core::{Context, Endpoint};

use super::gob::{self, Node, StreamIn, StreamOut};
use super::session::{GobRequest, GobResponse, RPC_PATH};

/// Why a net/rpc call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetRpcError {
    /// The server answered with an error (its text, as Go's client gives
    /// it: `rpc: can't find method …`, or the method's own).
    Server(String),
    /// The connection failed or broke.
    Transport(String),
    /// The answer could not be read as the type asked for.
    Codec(String),
    /// The context's deadline passed first.
    DeadlineExceeded,
    /// The context was cancelled.
    Cancelled,
}

impl fmt::Display for NetRpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetRpcError::Server(text) => f.write_str(text),
            NetRpcError::Transport(why) => write!(f, "net/rpc connection failed: {why}"),
            NetRpcError::Codec(why) => write!(f, "net/rpc answer unreadable: {why}"),
            NetRpcError::DeadlineExceeded => f.write_str("net/rpc call out of time"),
            NetRpcError::Cancelled => f.write_str("net/rpc call cancelled"),
        }
    }
}

impl std::error::Error for NetRpcError {}

/// Which of Go's net/rpc codecs a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// `net/rpc/jsonrpc` on a bare connection (`jsonrpc.Dial`).
    Json,
    /// Go's default gob codec on a bare connection (`rpc.Dial`).
    Gob,
    /// The gob codec behind `CONNECT /_goRPC_` (`rpc.DialHTTP`, served by
    /// `rpc.HandleHTTP`).
    GobHttp,
}

/// A reply, still in its codec's encoding.
enum Reply {
    Json(String),
    Gob(gob::Value),
}

type Answer = Result<Reply, NetRpcError>;
type Waiting = Arc<Mutex<HashMap<u64, Sender<Answer>>>>;

/// One open connection: where calls are written, and who waits for what.
struct Conn {
    writer: TcpStream,
    waiting: Waiting,
    /// The gob types defined on the way out.
    types: StreamOut,
}

/// A net/rpc client, as Go's `jsonrpc.Dial`, `rpc.Dial` or `rpc.DialHTTP`
/// gives: many calls may be in flight on its one connection, each
/// answered by id; a thread reads the answers. A broken connection fails
/// the calls on it and is dialled again by the next call. Each call waits
/// no longer than its context's deadline.
pub struct Client {
    addr: SocketAddr,
    codec: Codec,
    conn: Mutex<Option<Conn>>,
    next_id: AtomicU64,
}

#[derive(Serialize)]
struct Request<'a, T> {
    method: &'a str,
    params: [&'a T; 1],
    id: u64,
}

#[derive(Deserialize)]
struct Response<'a> {
    id: u64,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    error: Option<String>,
}

impl Client {
    /// A client of the server at `addr` over the JSON codec (connected at
    /// the first call).
    pub fn new(addr: SocketAddr) -> Client {
        Client::with_codec(addr, Codec::Json)
    }

    /// A client of the server at `addr` over `codec`.
    pub fn with_codec(addr: SocketAddr, codec: Codec) -> Client {
        Client {
            addr,
            codec,
            conn: Mutex::new(None),
            next_id: AtomicU64::new(0),
        }
    }

    /// Calls `method` (`Service.Method`) with `arg`: Go's `client.Call`.
    pub fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        cx: &Context<'_>,
        method: &str,
        arg: &Req,
    ) -> Result<Resp, NetRpcError> {
        cx.check().map_err(|e| match e {
            synkit_core::Error::Cancelled => NetRpcError::Cancelled,
            _ => NetRpcError::DeadlineExceeded,
        })?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let call = if self.codec == Codec::Json {
            let mut line = serde_json::to_vec(&Request {
                method,
                params: [arg],
                id,
            })
            .map_err(|e| NetRpcError::Codec(e.to_string()))?;
            line.push(b'\n');
            Outgoing::Line(line)
        } else {
            let body = Node::from_value(arg).map_err(|e| NetRpcError::Codec(e.to_string()))?;
            Outgoing::Gob(method, body)
        };
        let left = cx.remaining().unwrap_or(Duration::from_secs(3600));
        let answer = match self.send(id, call, left) {
            Ok(answer) => answer,
            // Dialling ran out of time: the deadline's error, not the socket's.
            Err(NetRpcError::Transport(_)) if cx.check().is_err() => {
                return Err(match cx.check() {
                    Err(synkit_core::Error::Cancelled) => NetRpcError::Cancelled,
                    _ => NetRpcError::DeadlineExceeded,
                });
            }
            Err(e) => return Err(e),
        };
        let reply = match answer.recv_timeout(left) {
            Ok(answer) => answer?,
            Err(RecvTimeoutError::Timeout) => {
                self.forget(id);
                return Err(NetRpcError::DeadlineExceeded);
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(NetRpcError::Transport("the connection closed".into()));
            }
        };
        match reply {
            Reply::Json(json) => {
                serde_json::from_str(&json).map_err(|e| NetRpcError::Codec(e.to_string()))
            }
            Reply::Gob(value) => value
                .decode()
                .map_err(|e| NetRpcError::Codec(e.to_string())),
        }
    }

    /// `method` as an endpoint taking `Req` and answering `Resp`.
    pub fn endpoint<Req, Resp>(self: Arc<Self>, method: &'static str) -> MethodEndpoint<Req, Resp> {
        MethodEndpoint {
            client: self,
            method,
            types: std::marker::PhantomData,
        }
    }

    /// Writes call `id`, dialling first if need be; the channel its answer
    /// will come on.
    fn send(
        &self,
        id: u64,
        call: Outgoing<'_>,
        left: Duration,
    ) -> Result<Receiver<Answer>, NetRpcError> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(self.dial(left)?);
        }
        let conn = guard
            .as_mut()
            .ok_or_else(|| NetRpcError::Transport("no connection".into()))?;
        let (tx, rx) = channel();
        conn.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        let bytes = match call {
            Outgoing::Line(line) => line,
            Outgoing::Gob(method, body) => {
                let mut bytes = Vec::new();
                let header = GobRequest {
                    service_method: method.to_owned(),
                    seq: id,
                };
                let encoded = conn
                    .types
                    .write(&header, &mut bytes)
                    .and_then(|()| conn.types.write_node(&body, &mut bytes));
                if let Err(e) = encoded {
                    // The stream's types may be half sent: start afresh.
                    *guard = None;
                    return Err(NetRpcError::Codec(e.to_string()));
                }
                bytes
            }
        };
        if let Err(e) = conn.writer.write_all(&bytes) {
            *guard = None;
            return Err(NetRpcError::Transport(e.to_string()));
        }
        Ok(rx)
    }

    fn forget(&self, id: u64) {
        if let Some(conn) = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            conn.waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        }
    }

    /// Connects, spending no longer than `left` (at most 5 s) on it.
    fn dial(&self, left: Duration) -> Result<Conn, NetRpcError> {
        let left = left.clamp(Duration::from_millis(1), Duration::from_secs(5));
        let stream = TcpStream::connect_timeout(&self.addr, left)
            .map_err(|e| NetRpcError::Transport(format!("{}: {e}", self.addr)))?;
        let _ = stream.set_nodelay(true);
        let mut reader = stream
            .try_clone()
            .map_err(|e| NetRpcError::Transport(e.to_string()))?;
        let mut early = Vec::new();
        if self.codec == Codec::GobHttp {
            early = connect(&mut reader, left)?;
        }
        let waiting: Waiting = Arc::default();
        let answers = waiting.clone();
        let codec = self.codec;
        std::thread::Builder::new()
            .name("synkit-netrpc-client".into())
            .spawn(move || match codec {
                Codec::Json => read_answers(reader, &answers),
                Codec::Gob | Codec::GobHttp => read_gob_answers(reader, early, &answers),
            })
            .map_err(|e| NetRpcError::Transport(e.to_string()))?;
        Ok(Conn {
            writer: stream,
            waiting,
            types: StreamOut::default(),
        })
    }
}

/// A call on its way out.
enum Outgoing<'a> {
    Line(Vec<u8>),
    Gob(&'a str, Node),
}

/// Asks for the gob codec as `rpc.DialHTTP` does; what the server sent
/// past its answer is returned, the start of the stream.
fn connect(stream: &mut TcpStream, left: Duration) -> Result<Vec<u8>, NetRpcError> {
    let fail = |why: String| NetRpcError::Transport(format!("CONNECT {RPC_PATH}: {why}"));
    stream
        .write_all(format!("CONNECT {RPC_PATH} HTTP/1.0\n\n").as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    let _ = stream.set_read_timeout(Some(left));
    let mut got = Vec::new();
    let mut buf = [0; 512];
    let end = loop {
        if let Some(at) = got.windows(2).position(|w| w == b"\n\n") {
            break at + 2;
        }
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if got.len() > 4096 {
            return Err(fail("an answer that does not end".into()));
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err(fail("the server closed the connection".into())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let _ = stream.set_read_timeout(None);
    let status = String::from_utf8_lossy(&got[..end]);
    let status = status.lines().next().unwrap_or_default();
    if !status.ends_with(" 200 Connected to Go RPC") {
        return Err(fail(format!("unexpected HTTP response: {status}")));
    }
    Ok(got.split_off(end))
}

/// The gob codec's answers: a header, then its body, until the stream
/// ends; then every call still waiting fails.
fn read_gob_answers(mut stream: TcpStream, mut input: Vec<u8>, waiting: &Waiting) {
    let mut types = StreamIn::default();
    let mut header: Option<GobResponse> = None;
    let mut buf = vec![0; 16 << 10];
    let why = 'read: loop {
        loop {
            let (start, end) = match gob::next_message(&input) {
                Ok(Some(span)) => span,
                Ok(None) => break,
                Err(e) => break 'read e.to_string(),
            };
            let value = match types.read(&input[start..end]) {
                Ok(value) => value,
                Err(e) => break 'read e.to_string(),
            };
            input.drain(..end);
            let Some(value) = value else { continue };
            let Some(answered) = header.take() else {
                match value.decode::<GobResponse>() {
                    Ok(h) => header = Some(h),
                    Err(e) => break 'read format!("not a net/rpc answer: {e}"),
                }
                continue;
            };
            let caller = waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&answered.seq);
            if let Some(caller) = caller {
                let _ = caller.send(if answered.error.is_empty() {
                    Ok(Reply::Gob(value))
                } else {
                    Err(NetRpcError::Server(answered.error))
                });
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => break "the server closed the connection".to_owned(),
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(e) => break e.to_string(),
        }
    };
    fail_waiting(waiting, &why);
}

fn fail_waiting(waiting: &Waiting, why: &str) {
    for (_, caller) in waiting
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain()
    {
        let _ = caller.send(Err(NetRpcError::Transport(why.to_owned())));
    }
}

/// Hands each answer to its caller until the connection ends, then fails
/// every call still waiting.
fn read_answers(stream: TcpStream, waiting: &Waiting) {
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    let why = loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => break "the server closed the connection".to_owned(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
        let Ok(answer) = serde_json::from_str::<Response<'_>>(&line) else {
            break format!("not a net/rpc answer: {}", line.trim());
        };
        let Some(caller) = waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&answer.id)
        else {
            continue;
        };
        let _ = caller.send(match answer.error {
            Some(text) => Err(NetRpcError::Server(text)),
            None => Ok(Reply::Json(
                answer
                    .result
                    .map_or_else(|| "null".to_owned(), |r| r.get().to_owned()),
            )),
        });
    };
    fail_waiting(waiting, &why);
}

/// One method of a [`Client`] as an endpoint.
pub struct MethodEndpoint<Req, Resp> {
    client: Arc<Client>,
    method: &'static str,
    types: std::marker::PhantomData<fn(Req) -> Resp>,
}

impl<Req: Serialize, Resp: DeserializeOwned> Endpoint<Req> for MethodEndpoint<Req, Resp> {
    type Response = Resp;
    type Error = NetRpcError;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Resp, NetRpcError> {
        self.client.call(cx, self.method, &req)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Ends the reader thread: its read sees the connection close.
        if let Some(conn) = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = conn.writer.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl<Req, Resp> fmt::Debug for MethodEndpoint<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MethodEndpoint")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}
