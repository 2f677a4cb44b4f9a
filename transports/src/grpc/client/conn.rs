//! The client's one HTTP/2 connection, shared by its calls: their streams,
//! the flow-control windows both ways, and where each stream's frames go.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use synkit_core::Context;

use super::super::{Code, Metadata, Status};
use crate::h2::frame::{self, setting};
use crate::wait::{self, Ended};

/// What one call's stream has gathered.
#[derive(Default)]
pub(super) struct Gathered {
    pub(super) body: Vec<u8>,
    pub(super) grpc_status: Option<String>,
    pub(super) grpc_message: Option<String>,
    pub(super) http_status: Option<String>,
    pub(super) header: Metadata,
    pub(super) trailer: Metadata,
    /// A stream's DATA bytes read and not yet handed to its caller.
    pub(super) owed: u32,
}

/// A successful call's reply body, with the answer's metadata.
pub(super) struct Reply {
    pub(super) body: Vec<u8>,
    pub(super) header: Metadata,
    pub(super) trailer: Metadata,
}

/// A call's outcome: the reply, or why there is none.
pub(super) type Outcome = Result<Reply, Status>;

/// Where a call's stream delivers what it reads.
pub(super) enum Sink {
    /// A unary call: the whole answer, once.
    Whole(Sender<Outcome>),
    /// A streaming call: each message as it completes.
    Parts(Sender<Event>),
}

/// What a streaming call hears, in order.
#[derive(Debug)]
pub(super) enum Event {
    /// The response headers' metadata.
    Header(Metadata),
    /// A message, and the bytes it took on the wire, given back to the
    /// stream's window once the caller takes it.
    Message(Vec<u8>, u32),
    /// The end: the trailer metadata, or the status the call failed with.
    End(Result<Metadata, Status>),
}

impl Sink {
    /// Ends the call with `status`; the reader never waits for it.
    pub(super) fn fail(&self, status: Status) {
        match self {
            Sink::Whole(tx) => {
                let _ = tx.try_send(Err(status));
            }
            Sink::Parts(tx) => {
                let _ = tx.try_send(Event::End(Err(status)));
            }
        }
    }
}

/// The connection's shared state.
pub(super) struct State {
    /// Calls waiting, by stream id: where their outcome goes, what their
    /// stream has gathered.
    pub(super) calls: HashMap<u32, (Sink, Gathered)>,
    pub(super) next_stream: u32,
    pub(super) send_window: i64,
    pub(super) stream_windows: HashMap<u32, i64>,
    pub(super) peer_initial_window: i64,
    pub(super) peer_max_frame: usize,
    /// Why the connection can take no new call, once it cannot.
    pub(super) closed: Option<String>,
}

pub(super) struct Conn {
    pub(super) writer: Mutex<TcpStream>,
    pub(super) state: Mutex<State>,
    /// Signalled when a window opens or the connection closes.
    pub(super) window_open: Condvar,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn forget(conn: &Conn, id: u32) {
    let mut state = lock(&conn.state);
    state.calls.remove(&id);
    state.stream_windows.remove(&id);
}

/// Waits for the answer until `until`, noticing cancellation.
pub(super) fn wait<T>(rx: &Receiver<T>, cx: &Context<'_>, until: Instant) -> Result<T, Status> {
    wait::answer(rx, cx, until).map_err(|ended| match ended {
        Ended::Closed => Status::new(Code::Unavailable, "the connection closed"),
        Ended::Context(e) => super::super::ToStatus::to_status(&e),
        Ended::TimedOut => Status::new(Code::DeadlineExceeded, "the call ran out of time"),
    })
}

/// Opens a stream with the request's HEADERS. Its id is taken and its
/// HEADERS written under the writer's lock: ids reach the server in the
/// order they were given, as HTTP/2 requires.
pub(super) fn open_stream(conn: &Conn, sink: Sink, block: &[u8]) -> Result<u32, Status> {
    let mut writer = lock(&conn.writer);
    let (id, max_frame) = {
        let mut state = lock(&conn.state);
        if let Some(why) = &state.closed {
            return Err(Status::new(Code::Unavailable, why.clone()));
        }
        let id = state.next_stream;
        state.next_stream += 2;
        state.calls.insert(id, (sink, Gathered::default()));
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
pub(super) fn send_request(
    conn: &Conn,
    id: u32,
    body: &[u8],
    until: Instant,
) -> Result<(), Status> {
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

pub(super) fn write(conn: &Conn, bytes: &[u8]) -> Result<(), Status> {
    lock(&conn.writer)
        .write_all(bytes)
        .map_err(|e| Status::new(Code::Unavailable, format!("the connection failed: {e}")))
}

pub(super) fn dial(addr: SocketAddr, left: Duration) -> Result<Arc<Conn>, Status> {
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
            let why = super::read::read(&reader, stream);
            let mut state = lock(&reader.state);
            state.closed = Some(why.clone());
            for (_, (sink, _)) in state.calls.drain() {
                sink.fail(Status::new(Code::Unavailable, why.clone()));
            }
            reader.window_open.notify_all();
        })
        .map_err(unavailable)?;
    Ok(conn)
}
