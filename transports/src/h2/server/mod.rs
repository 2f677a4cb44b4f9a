//! One HTTP/2 server connection as a sans-IO machine on the engine: bytes
//! in, requests out (one per stream, handed over once the stream ends),
//! responses in, bytes out within the peer's flow-control windows.
//!
//! The connection moves through [`Phase`]s; each stream through the
//! [`State`]s of RFC 9113 §5.1 a server can reach. Frames are decoded
//! once ([`Frame::decode`]) and every breach is sorted, as §5.4 sorts
//! them, into a connection error (GOAWAY, then close) or a stream error
//! (`RST_STREAM`, the rest of the connection untouched).

use std::collections::{BTreeMap, VecDeque};

use synkit_core::time::{Duration, Instant};

use super::Request;
use super::frame::{self, Error, ErrorCode, Frame, setting};
use super::hpack::BlockDecoder;
use super::settings::{DEFAULT_WINDOW, PeerSettings};
use crate::engine::Outgoing;
use crate::engine::parts::CreditGuard;

#[cfg(any(test, fuzzing))]
pub(crate) mod fuzz;
mod recv;
mod request;
mod send;
mod session;

#[cfg(test)]
use super::frame::{flag, kind};
#[cfg(test)]
use super::hpack;
#[cfg(test)]
use crate::engine::{Now, Session};
#[cfg(test)]
use send::grpc_timeout;

/// What we announce, and hold the peer to.
const MAX_FRAME: usize = 16_384;
const MAX_CONCURRENT_STREAMS: u32 = 100;
/// Each stream may send this much before we open its window again.
const INITIAL_STREAM_WINDOW: u32 = 1 << 20;
/// Request bytes the connection may hold that no service has taken yet,
/// at least; more when one request may be bigger.
const CONNECTION_WINDOW: u32 = 4 << 20;
const HEADER_TABLE_SIZE: usize = 4096;
/// The most bytes of one header block (all its CONTINUATIONs), and of
/// the header list it decodes to.
const MAX_HEADER_BLOCK: usize = 64 << 10;
/// Header lists past [`MAX_HEADER_BLOCK`] a connection may send before it
/// is taken for an attack: each costs a whole block's decoding.
const MAX_HEADER_BREACHES: u32 = 4;
/// Each reset — sent by the peer, or by us for a stream error — spends
/// this much of the connection's reset budget, which refills with time:
/// 200 resets a second, forever, are within it.
const RESET_COST: Duration = Duration::from_millis(5);
/// The budget when full: 1 000 resets at once.
const RESET_BURST: Duration = Duration::from_secs(5);
/// Streams we reset, remembered so that frames the peer sent before it
/// saw the reset are ignored (§5.4.2), not answered with more resets.
const RESETS_REMEMBERED: usize = 128;
/// Bytes queued for a peer past which we stop reading its frames: a peer
/// that sends PINGs and never reads our answers holds this much at most,
/// until the write timeout closes it.
const MAX_UNWRITTEN: usize = 1 << 20;

/// The connection's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's 24-byte preface.
    Preface,
    /// The preface read; its SETTINGS, which must come first, not yet.
    Settings,
    /// Streams open and close.
    Open,
    /// Going away: the streams open are finished, and the connection
    /// closes once they are. `sent` is the last stream our GOAWAY said we
    /// take, if we sent one (a peer's GOAWAY alone leaves it `None`);
    /// streams past it are not processed.
    Draining { sent: Option<u32> },
    /// A connection error: GOAWAY sent, nothing more read or served; closes
    /// once the GOAWAY is written.
    Broken,
}

/// A stream's state (RFC 9113 §5.1) as this server sees it. It never
/// pushes, so the "reserved" states never happen; it hands a request to a
/// service only once the client has ended it, so it never ends its own
/// side first. "idle" and "closed" are the absence of an entry.
///
/// ```text
///                 recv HEADERS
///        idle ------------------> open
///                                  |
///                       recv END_STREAM
///                                  v
///               send END_STREAM,   half-closed (remote)
///      closed <------------------- [Awaiting -> Sending]
///              send or recv RST_STREAM (from either state)
/// ```
#[derive(Debug)]
enum State {
    /// The request is arriving.
    Open {
        /// What `content-length` said, which the DATA must add up to.
        content_length: Option<u64>,
    },
    /// The request is whole; our answer is awaited or going out.
    HalfClosedRemote(Local),
}

/// Our side of a half-closed (remote) stream.
#[derive(Debug)]
enum Local {
    /// Queued for a service, or being served.
    Awaiting,
    /// Answered, or answering in parts: the rest waits for window.
    Sending {
        data: VecDeque<u8>,
        trailers: Option<Vec<u8>>,
        /// More parts are coming from the service.
        open: Option<CreditGuard>,
    },
}

impl State {
    /// Whether a service has the request and is still answering it.
    fn serving(&self) -> bool {
        matches!(
            self,
            State::HalfClosedRemote(Local::Awaiting | Local::Sending { open: Some(_), .. })
        )
    }
}

#[derive(Debug)]
struct Stream {
    state: State,
    request: Request,
    /// Our window for sending on it.
    send_window: i64,
    /// Request bytes counted against the connection window, returned when
    /// the service takes the request.
    held: u32,
}

/// A header block still waiting for its CONTINUATIONs.
#[derive(Debug)]
struct Continuing {
    stream: u32,
    block: Vec<u8>,
    end_stream: bool,
    /// The HEADERS said the stream depends on itself: a stream error, once
    /// the block is decoded.
    self_dependent: bool,
}

/// Resets a connection may make and take, as a budget that refills with
/// time (as the Rapid Reset fixes have it): a client cancelling calls at a
/// steady rate keeps its connection, a flood of resets loses it.
#[derive(Debug)]
struct ResetBudget {
    left: Duration,
    at: Option<Instant>,
}

impl ResetBudget {
    fn new() -> ResetBudget {
        ResetBudget {
            left: RESET_BURST,
            at: None,
        }
    }

    /// Spends one reset at `now`; `false` when none is left.
    fn spend(&mut self, now: Instant) -> bool {
        if let Some(then) = self.at {
            self.left = self
                .left
                .saturating_add(now.saturating_duration_since(then))
                .min(RESET_BURST);
        }
        self.at = Some(now);
        match self.left.checked_sub(RESET_COST) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }
}

/// The connection's state.
#[derive(Debug)]
pub(crate) struct Connection {
    phase: Phase,
    /// The client will send no more bytes.
    read_closed: bool,
    input: Vec<u8>,
    output: Outgoing,
    decoder: BlockDecoder,
    continuing: Option<Continuing>,
    streams: BTreeMap<u32, Stream>,
    /// Streams whose request is complete and not yet handed out.
    ready: VecDeque<u32>,
    /// The highest stream the client opened: every lower one not in
    /// `streams` is closed.
    last_stream: u32,
    /// The streams we reset most recently.
    reset_here: VecDeque<u32>,
    peer: PeerSettings,
    /// Our window for sending on the connection.
    send_window: i64,
    /// What the client may still send on the connection.
    recv_window: i64,
    resets: ResetBudget,
    header_breaches: u32,
    in_flight: usize,
    timeout: Duration,
    /// The most bytes one request body may have.
    max_body: usize,
    /// Streams being served that were reset: their workers are told.
    cancelled: Vec<u32>,
    /// Connection window bytes given back but not yet announced.
    owed: u32,
    /// Our connection window: request bytes held before a service takes
    /// them, at most.
    window: u32,
    /// A header block being encoded: kept, so answers allocate none.
    block: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(timeout: Duration, max_body: usize) -> Connection {
        let mut output = Outgoing::default();
        frame::put_settings(
            &mut output,
            &[
                (setting::MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS),
                (setting::INITIAL_WINDOW_SIZE, INITIAL_STREAM_WINDOW),
                (
                    setting::MAX_HEADER_LIST_SIZE,
                    u32::try_from(MAX_HEADER_BLOCK).unwrap_or(u32::MAX),
                ),
                (setting::ENABLE_PUSH, 0),
                (
                    setting::HEADER_TABLE_SIZE,
                    u32::try_from(HEADER_TABLE_SIZE).unwrap_or(4096),
                ),
            ],
        );
        // Room for one request of the largest size and a little more, so a
        // request at the limit can always arrive whole.
        let window = u32::try_from(max_body.saturating_add(1 << 16))
            .unwrap_or(u32::MAX >> 1)
            .clamp(CONNECTION_WINDOW, u32::MAX >> 1);
        let grow = window - u32::try_from(DEFAULT_WINDOW).unwrap_or(0);
        frame::put_window_update(&mut output, 0, grow);
        Connection {
            phase: Phase::Preface,
            read_closed: false,
            input: Vec::new(),
            output,
            decoder: BlockDecoder::new(HEADER_TABLE_SIZE),
            continuing: None,
            streams: BTreeMap::new(),
            ready: VecDeque::new(),
            last_stream: 0,
            reset_here: VecDeque::new(),
            peer: PeerSettings::default(),
            send_window: DEFAULT_WINDOW,
            recv_window: i64::from(window),
            resets: ResetBudget::new(),
            header_breaches: 0,
            in_flight: 0,
            timeout,
            max_body,
            window,
            cancelled: Vec::new(),
            owed: 0,
            block: Vec::new(),
        }
    }

    fn unwritten(&self) -> usize {
        self.output.unwritten()
    }

    fn broken(&self) -> bool {
        self.phase == Phase::Broken
    }

    /// Whether our GOAWAY has gone out.
    fn goaway_sent(&self) -> bool {
        matches!(
            self.phase,
            Phase::Broken | Phase::Draining { sent: Some(_) }
        )
    }

    /// Starts going away: GOAWAY `NO_ERROR` with `why`, the streams open
    /// finished, no new one taken.
    fn go_away(&mut self, why: &[u8]) {
        if !self.goaway_sent() {
            frame::put_goaway(&mut self.output, self.last_stream, ErrorCode::NoError, why);
            self.phase = Phase::Draining {
                sent: Some(self.last_stream),
            };
        }
    }

    /// A connection error: GOAWAY with `code`, then close.
    fn fail(&mut self, code: ErrorCode, why: &str) {
        if self.broken() {
            return;
        }
        log::warn!(code:? = code, why = why; "HTTP/2: closing a connection");
        frame::put_goaway(&mut self.output, self.last_stream, code, why.as_bytes());
        self.phase = Phase::Broken;
    }

    /// A stream error: `RST_STREAM` with `code`, the stream forgotten; it
    /// spends from the reset budget.
    fn stream_error(&mut self, id: u32, code: ErrorCode, now: Instant) {
        self.reset(id, code);
        if !self.resets.spend(now) {
            self.fail(ErrorCode::EnhanceYourCalm, "too many stream errors");
        }
    }

    /// Resets stream `id` with `code` and forgets it, remembering that we
    /// did.
    fn reset(&mut self, id: u32, code: ErrorCode) {
        frame::put_rst_stream(&mut self.output, id, code);
        self.forget(id);
        self.remember_reset(id);
    }

    /// Notes that we reset stream `id`.
    fn remember_reset(&mut self, id: u32) {
        if self.reset_here.len() == RESETS_REMEMBERED {
            self.reset_here.pop_front();
        }
        self.reset_here.push_back(id);
    }

    fn forget(&mut self, id: u32) {
        // A stream being served keeps no entry: its answer, when it comes,
        // is dropped, and its worker told to stop.
        if let Some(stream) = self.streams.remove(&id) {
            self.give_back(stream.held);
            if stream.state.serving() {
                self.cancelled.push(id);
            }
        }
        self.ready.retain(|&r| r != id);
    }

    /// Opens the connection window again for `n` bytes the service took
    /// (or that were thrown away): batched, one `WINDOW_UPDATE` once a
    /// sixteenth of the window is owed, as HTTP/2 stacks do, not one per
    /// request.
    fn give_back(&mut self, n: u32) {
        self.owed = self.owed.saturating_add(n);
        if self.owed >= self.window / 16 {
            frame::put_window_update(&mut self.output, 0, self.owed);
            self.recv_window += i64::from(self.owed);
            self.owed = 0;
        }
    }

    /// Reads every whole frame in the input.
    fn read_frames(&mut self, now: Instant) {
        if self.phase == Phase::Preface {
            let n = self.input.len().min(frame::PREFACE.len());
            if self.input[..n] != frame::PREFACE[..n] {
                self.fail(ErrorCode::ProtocolError, "not the HTTP/2 preface");
                return;
            }
            if n < frame::PREFACE.len() {
                return;
            }
            self.input.drain(..n);
            self.phase = Phase::Settings;
        }
        // The input is taken out while its frames are read, so each payload
        // is read where it lies, not copied.
        let input = std::mem::take(&mut self.input);
        let mut used = 0;
        while !self.broken() {
            let (head, payload) = match frame::next(&input[used..], MAX_FRAME) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(code) => {
                    self.fail(code, "a frame over the size we allow");
                    break;
                }
            };
            used += 9 + head.len;
            let outcome = Frame::decode(head, payload).and_then(|f| self.frame(f, now));
            match outcome {
                Ok(()) => {}
                Err(Error::Connection(code, why)) => self.fail(code, why),
                Err(Error::Stream(id, code)) => self.stream_error(id, code, now),
            }
        }
        let mut input = input;
        input.drain(..used.min(input.len()));
        // Bytes that arrived meanwhile cannot: `received` appends only
        // after this returns.
        self.input = input;
    }
}

#[cfg(test)]
mod tests;
