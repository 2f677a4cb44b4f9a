//! The client's one HTTP/2 connection, shared by its calls: the shared
//! HTTP/2 core in the client's role behind a lock, a reader thread that
//! feeds it the server's bytes, and whoever has bytes to send writing
//! them — one writer at a time, in the order the core made them.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use synkit_core::Context;
use synkit_core::time::SystemClock;

use super::super::{Code, Metadata, Status};
use super::role::{Call, Calls};
use crate::h2::conn::{self, Config, OpenError};
use crate::h2::frame::ErrorCode;
use crate::wait::{self, Ended};

/// What the client announces: windows as the server's, and a header
/// list as large as a reply's metadata may be.
const CONFIG: Config = Config {
    max_concurrent_streams: None,
    initial_stream_window: 1 << 20,
    connection_window: 4 << 20,
    max_header_list: 64 << 10,
};

/// A successful call's reply body, with the answer's metadata.
pub(super) struct Reply {
    pub(super) body: Vec<u8>,
    pub(super) header: Metadata,
    pub(super) trailer: Metadata,
}

/// A call's outcome: the reply, or why there is none.
pub(super) type Outcome = Result<Reply, Status>;

/// Where a call's stream delivers what it reads.
#[derive(Debug)]
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

/// The connection's state under its lock.
pub(super) struct Shared {
    pub(super) h2: conn::Connection<Calls>,
    /// Someone is writing the core's output: others leave theirs to it.
    writing: bool,
    /// The writer's copy of the output, kept so writes allocate nothing.
    spare: Vec<u8>,
    /// Why the connection can take no new call, once it cannot.
    pub(super) closed: Option<String>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(super) struct Conn {
    socket: TcpStream,
    pub(super) shared: Mutex<Shared>,
    /// Signalled when a stream closes (a slot may be free) or the
    /// connection does.
    changed: Condvar,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The core's clock: the system's.
fn now() -> synkit_core::time::Instant {
    SystemClock::from_std(Instant::now())
}

/// Waits for the answer until `until`, noticing cancellation.
pub(super) fn wait<T>(rx: &Receiver<T>, cx: &Context<'_>, until: Instant) -> Result<T, Status> {
    wait::answer(rx, cx, until).map_err(|ended| match ended {
        Ended::Closed => Status::new(Code::Unavailable, "the connection closed"),
        Ended::Context(e) => super::super::ToStatus::to_status(&e),
        Ended::TimedOut => Status::new(Code::DeadlineExceeded, "the call ran out of time"),
    })
}

impl Conn {
    /// Writes what the core has queued, unless someone else is: they
    /// write it with theirs. Takes the lock's guard, and gives it back.
    fn flush<'a>(&'a self, mut shared: MutexGuard<'a, Shared>) {
        if shared.writing {
            return;
        }
        shared.writing = true;
        let mut out = std::mem::take(&mut shared.spare);
        loop {
            out.clear();
            out.extend_from_slice(shared.h2.transmit());
            shared.h2.transmitted(out.len());
            if out.is_empty() {
                break;
            }
            drop(shared);
            let written = (&self.socket).write_all(&out);
            shared = lock(&self.shared);
            if let Err(e) = written {
                shared
                    .closed
                    .get_or_insert_with(|| format!("the connection failed: {e}"));
                let _ = self.socket.shutdown(Shutdown::Both);
                break;
            }
        }
        shared.spare = out;
        shared.writing = false;
        if shared.h2.role.why.is_some() {
            // The reader has ended and left the goodbye (our GOAWAY) to
            // whoever wrote last: it is out, the socket can go.
            let _ = self.socket.shutdown(Shutdown::Both);
        }
    }

    /// Opens a stream with the request's HEADERS and queues its body; the
    /// core sends it as the windows allow. Waits (until `until`) while
    /// the server's stream limit is reached.
    pub(super) fn start(
        &self,
        sink: Sink,
        block: &[u8],
        body: &[u8],
        until: Instant,
    ) -> Result<u32, Status> {
        let mut shared = lock(&self.shared);
        let mut call = Call::new(sink);
        let id = loop {
            if let Some(why) = &shared.closed {
                return Err(Status::new(Code::Unavailable, why.clone()));
            }
            call = match shared.h2.open(block, false, call) {
                Ok(id) => break id,
                Err((OpenError::AtLimit, call)) => call,
                Err((OpenError::GoingAway | OpenError::Exhausted, _)) => {
                    let why = "the connection takes no new stream";
                    shared.closed = Some(why.into());
                    return Err(Status::new(Code::Unavailable, why));
                }
            };
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Status::new(
                    Code::DeadlineExceeded,
                    "no stream free in time",
                ));
            }
            shared = self
                .changed
                .wait_timeout(shared, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        shared.h2.send_data(id, body, true);
        self.flush(shared);
        Ok(id)
    }

    /// Resets stream `id` with CANCEL: its answer is no longer wanted.
    pub(super) fn cancel(&self, id: u32) {
        let mut shared = lock(&self.shared);
        shared.h2.reset(id, ErrorCode::Cancel);
        // Its slot is free for a caller waiting on the stream limit.
        self.changed.notify_all();
        self.flush(shared);
    }

    /// Opens stream `id`'s window for `n` bytes its reader took.
    pub(super) fn give_back(&self, id: u32, n: u32) {
        let mut shared = lock(&self.shared);
        shared.h2.release_stream(id, n);
        self.flush(shared);
    }

    /// Reads the server's bytes into the core until the connection ends;
    /// why it did.
    fn read(&self, mut socket: TcpStream) -> String {
        let mut buf = vec![0; 64 << 10];
        loop {
            let got = socket.read(&mut buf);
            let mut shared = lock(&self.shared);
            let (open, away) = (shared.h2.open_streams(), shared.h2.going_away());
            match got {
                Ok(0) => return "the server closed the connection".into(),
                Ok(n) => shared.h2.receive(&buf[..n], now()),
                Err(e) => return format!("the connection failed: {e}"),
            }
            for id in std::mem::take(&mut shared.h2.role.refused) {
                shared.h2.reset(id, ErrorCode::Cancel);
            }
            let broken = shared.h2.broken();
            if shared.h2.going_away() && shared.closed.is_none() {
                shared.closed = Some("the server is going away".into());
            }
            if shared.h2.open_streams() < open || shared.h2.going_away() != away {
                // A stream slot came free, or no new one will: callers
                // waiting to open one look again.
                self.changed.notify_all();
            }
            self.flush(shared);
            if broken {
                return "the connection broke the HTTP/2 protocol".into();
            }
        }
    }
}

/// Connects to `addr` within `left`, with the client's preface and
/// SETTINGS, and starts the reader.
pub(super) fn dial(addr: SocketAddr, left: Duration) -> Result<Arc<Conn>, Status> {
    let unavailable = |e: std::io::Error| Status::new(Code::Unavailable, format!("{addr}: {e}"));
    let left = left.clamp(Duration::from_millis(1), Duration::from_secs(5));
    let socket = TcpStream::connect_timeout(&addr, left).map_err(unavailable)?;
    let _ = socket.set_nodelay(true);
    let reader = socket.try_clone().map_err(unavailable)?;
    let conn = Arc::new(Conn {
        socket,
        shared: Mutex::new(Shared {
            h2: conn::Connection::new(Calls::default(), CONFIG),
            writing: false,
            spare: Vec::new(),
            closed: None,
        }),
        changed: Condvar::new(),
    });
    conn.flush(lock(&conn.shared));
    let reading = Arc::clone(&conn);
    std::thread::Builder::new()
        .name("synkit-grpc-client".into())
        .spawn(move || {
            let why = reading.read(reader);
            let mut shared = lock(&reading.shared);
            let why = shared.closed.get_or_insert(why).clone();
            shared.h2.role.why = Some(why);
            shared.h2.close_streams();
            reading.changed.notify_all();
            // Writes what is left and closes the socket; or, while a
            // caller is writing, leaves both to it — closing now would cut
            // off what it has yet to write.
            reading.flush(shared);
        })
        .map_err(unavailable)?;
    Ok(conn)
}

impl Conn {
    /// Closes the socket: the reader ends, and every call with it.
    pub(super) fn shutdown(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    /// Whether the connection takes new calls.
    pub(super) fn open(&self) -> bool {
        lock(&self.shared).closed.is_none()
    }
}
