//! A client for Go's net/rpc JSON codec: `jsonrpc.Dial`'s counterpart.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use synkit_core::{Context, Endpoint};

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

type Answer = Result<String, NetRpcError>;
type Waiting = Arc<Mutex<HashMap<u64, Sender<Answer>>>>;

/// One open connection: where calls are written, and who waits for what.
struct Conn {
    writer: TcpStream,
    waiting: Waiting,
}

/// A net/rpc client over the JSON codec, as Go's `jsonrpc.Dial` gives:
/// many calls may be in flight on its one connection, each answered by
/// id; a thread reads the answers. A broken connection fails the calls on
/// it and is dialled again by the next call. Each call waits no longer
/// than its context's deadline.
pub struct NetRpcClient {
    addr: SocketAddr,
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

impl NetRpcClient {
    /// A client of the server at `addr` (connected at the first call).
    pub fn new(addr: SocketAddr) -> NetRpcClient {
        NetRpcClient {
            addr,
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
        let mut line = serde_json::to_vec(&Request {
            method,
            params: [arg],
            id,
        })
        .map_err(|e| NetRpcError::Codec(e.to_string()))?;
        line.push(b'\n');
        let answer = self.send(id, &line)?;
        let left = cx.remaining().unwrap_or(Duration::from_secs(3600));
        let json = match answer.recv_timeout(left) {
            Ok(answer) => answer?,
            Err(RecvTimeoutError::Timeout) => {
                self.forget(id);
                return Err(NetRpcError::DeadlineExceeded);
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(NetRpcError::Transport("the connection closed".into()));
            }
        };
        serde_json::from_str(&json).map_err(|e| NetRpcError::Codec(e.to_string()))
    }

    /// `method` as an endpoint taking `Req` and answering `Resp`.
    pub fn endpoint<Req, Resp>(self: Arc<Self>, method: &'static str) -> MethodEndpoint<Req, Resp> {
        MethodEndpoint {
            client: self,
            method,
            types: std::marker::PhantomData,
        }
    }

    /// Writes `line` for call `id`, dialling first if need be; the channel
    /// its answer will come on.
    fn send(&self, id: u64, line: &[u8]) -> Result<Receiver<Answer>, NetRpcError> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(self.dial()?);
        }
        let conn = guard
            .as_mut()
            .ok_or_else(|| NetRpcError::Transport("no connection".into()))?;
        let (tx, rx) = channel();
        conn.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        if let Err(e) = conn.writer.write_all(line) {
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

    fn dial(&self) -> Result<Conn, NetRpcError> {
        let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .map_err(|e| NetRpcError::Transport(format!("{}: {e}", self.addr)))?;
        let _ = stream.set_nodelay(true);
        let reader = stream
            .try_clone()
            .map_err(|e| NetRpcError::Transport(e.to_string()))?;
        let waiting: Waiting = Arc::default();
        let answers = waiting.clone();
        std::thread::Builder::new()
            .name("synkit-netrpc-client".into())
            .spawn(move || read_answers(reader, &answers))
            .map_err(|e| NetRpcError::Transport(e.to_string()))?;
        Ok(Conn {
            writer: stream,
            waiting,
        })
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
            None => Ok(answer
                .result
                .map_or_else(|| "null".to_owned(), |r| r.get().to_owned())),
        });
    };
    for (_, caller) in waiting
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain()
    {
        let _ = caller.send(Err(NetRpcError::Transport(why.clone())));
    }
}

/// One method of a [`NetRpcClient`] as an endpoint.
pub struct MethodEndpoint<Req, Resp> {
    client: Arc<NetRpcClient>,
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

impl Drop for NetRpcClient {
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

impl fmt::Debug for NetRpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetRpcClient")
            .field("addr", &self.addr)
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
