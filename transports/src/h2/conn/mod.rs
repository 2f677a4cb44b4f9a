//! The HTTP/2 connection both ends share (RFC 9113), as a sans-IO machine:
//! bytes in ([`Connection::receive`]), bytes out ([`Connection::transmit`]
//! and [`Connection::transmitted`]), and between them frames decoded once into a
//! [`Frame`], header blocks decoded and checked, SETTINGS kept, both levels
//! of flow control both ways, PING answered, resets and GOAWAY in and out.
//!
//! What differs between a server and a client is a [`Role`]: which end
//! opens streams, what a head must hold to be well-formed, and what is done
//! with a stream's head, body and end. The core calls the role as each
//! arrives, and the role answers through the core's send verbs.
//!
//! The connection moves through [`Phase`]s; each stream through the
//! [`State`]s of §5.1. Every breach is sorted, as §5.4 sorts them, into a
//! connection error (GOAWAY, then close) or a stream error (`RST_STREAM`,
//! the rest of the connection untouched).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use synkit_core::time::{Duration, Instant};

use super::frame::{self, Error, ErrorCode, Frame, setting};
use super::hpack::BlockDecoder;
use super::settings::{DEFAULT_MAX_FRAME, DEFAULT_WINDOW, PeerSettings};
use crate::engine::Outgoing;

mod recv;
mod send;

/// Each reset — sent by the peer, or by us for a stream error — spends
/// this much of the connection's reset budget, which refills with time:
/// 200 resets a second, forever, are within it.
const RESET_COST: Duration = Duration::from_millis(5);
/// The budget when full: 1 000 resets at once.
const RESET_BURST: Duration = Duration::from_secs(5);
/// Streams we reset, remembered so that frames the peer sent before it
/// saw the reset are ignored (§5.4.2), not answered with more resets.
const RESETS_REMEMBERED: usize = 128;
/// Header lists past the limit a peer may send before it is taken for an
/// attack: each costs a whole block's decoding.
const MAX_HEADER_BREACHES: u32 = 4;
/// Our HPACK table, and the most we let the peer's encoder use of it.
const HEADER_TABLE_SIZE: usize = 4096;

/// What this end announces in its SETTINGS, and holds the peer to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// Streams the peer may open at once (a server's limit; a client,
    /// which takes no pushed streams, announces none).
    pub(crate) max_concurrent_streams: Option<u32>,
    /// The window each stream starts with for the peer's sending.
    pub(crate) initial_stream_window: u32,
    /// The connection's window for the peer's sending.
    pub(crate) connection_window: u32,
    /// The most bytes of one header block (all its CONTINUATIONs), and of
    /// the header list it decodes to.
    pub(crate) max_header_list: usize,
}

/// Which end a connection is, and what it does with what arrives. The core
/// calls these as each thing arrives on a stream; a call never re-enters
/// the core, so what the role wants done it does after, through the
/// connection's verbs.
pub(crate) trait Role {
    /// The server takes streams the peer opens (odd ids); the client opens
    /// its own (odd ids too) and takes none (no push).
    const SERVER: bool;
    /// What the role keeps for each stream.
    type Stream: fmt::Debug;
    /// A head or trailers being decoded, field by field.
    type Fields: Fields;

    /// A collector for a header block that is `part` of a message.
    fn fields(&self, part: Part) -> Self::Fields;

    /// The peer opened stream `id` with `head` (a server's request);
    /// `end_stream` when it has no body. Only a server is asked.
    fn opened(
        &mut self,
        id: u32,
        head: <Self::Fields as Fields>::Done,
        end_stream: bool,
    ) -> Self::Stream;

    /// A head on a stream we opened (a client's response). An
    /// informational head (1xx) is not the last: another follows.
    fn head(
        &mut self,
        id: u32,
        stream: &mut Self::Stream,
        head: <Self::Fields as Fields>::Done,
        end_stream: bool,
    ) -> Head;

    /// A stream's trailers; the stream's remote side ends with them.
    fn trailers(
        &mut self,
        id: u32,
        stream: &mut Self::Stream,
        trailers: <Self::Fields as Fields>::Done,
    );

    /// DATA on a stream: what the role did with it decides when the
    /// windows open again for the peer.
    fn data(&mut self, id: u32, stream: &mut Self::Stream, data: &[u8]) -> Taken;

    /// The peer ended its side of the stream (after its head, body or
    /// trailers).
    fn ended(&mut self, id: u32, stream: &mut Self::Stream);

    /// Bytes of the stream's body we queued went out.
    fn sent(&mut self, _id: u32, _stream: &mut Self::Stream, _n: usize) {}

    /// The stream is gone: both sides ended, or it was reset (by either
    /// end, or with the connection).
    fn closed(&mut self, id: u32, stream: Self::Stream, how: Closed);
}

/// A head as the role takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// The final head: a body, or the end, follows.
    Final,
    /// An informational (1xx) response: the final head is still to come.
    Informational,
}

/// Which part of a message a header block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Head,
    Trailers,
}

/// Header fields collected and checked as HPACK decodes them: a role's
/// rules of a well-formed head (RFC 9113 §8.2, §8.3).
pub(crate) trait Fields {
    /// What a well-formed block becomes.
    type Done;
    fn field(&mut self, name: &[u8], value: &[u8]);
    /// The block, with what its `content-length` says; or why it is
    /// malformed (a stream error, `PROTOCOL_ERROR`).
    fn finish(self) -> Result<(Self::Done, Option<u64>), &'static str>;
}

/// What the role did with a stream's DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Used or dropped: both windows open again now.
    Done,
    /// Kept until the role lets go ([`Connection::release`]); the
    /// stream's window opens now. A server holding a request body for its
    /// service does this.
    HeldByConnection,
    /// Kept until a reader takes it ([`Connection::release_stream`]); the
    /// connection's window opens now. A client streaming answers to a slow
    /// reader does this: the server waits, not the connection.
    HeldByStream,
}

/// How a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closed {
    /// Both sides ended.
    Done,
    /// The peer reset it with this code.
    ResetByPeer(ErrorCode),
    /// We reset it with this code.
    ResetHere(ErrorCode),
    /// The peer's GOAWAY left it out, or the connection ended first.
    Unprocessed,
}

/// The connection's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A server waiting for the client's 24-byte preface.
    Preface,
    /// The peer's SETTINGS, which must come first, not yet read.
    Settings,
    /// Streams open and close.
    Open,
    /// Going away: the streams open are finished, and the connection
    /// closes once they are. `sent` is the last peer stream our GOAWAY
    /// said we take, if we sent one (a peer's GOAWAY alone leaves it
    /// `None`); streams past it are not processed.
    Draining { sent: Option<u32> },
    /// A connection error: GOAWAY sent, nothing more read or served; closes
    /// once the GOAWAY is written.
    Broken,
}

/// One direction of a stream that has not ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Half {
    /// Its head is still to come.
    Head,
    /// Its head went; DATA and trailers may follow.
    Body,
}

/// A stream's state (RFC 9113 §5.1). Push is off both ways, so the
/// "reserved" states never happen; "idle" and "closed" are the absence of
/// an entry (a closed stream below the highest id, a stream we reset in
/// `reset_here` for a while).
///
/// ```text
///                         +--------+
///                 send H /|  open  |\ recv H
///                recv H  /+--------+ \ send H
///                       /   |     |   \
///            send ES   v    |     |    v   recv ES
///   +-------------------+   |     |   +-------------------+
///   | half-closed local |   |     |   | half-closed remote|
///   |   (remote: Half)  |   |     |   |   (local: Half)   |
///   +-------------------+   |     |   +-------------------+
///          | recv ES        | R   |          | send ES
///          v                v     v          v
///   +-----------------------------------------------------+
///   |                closed (no entry)                    |
///   +-----------------------------------------------------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open { local: Half, remote: Half },
    HalfClosedLocal { remote: Half },
    HalfClosedRemote { local: Half },
}

impl State {
    /// Our side, if it has not ended.
    fn local(self) -> Option<Half> {
        match self {
            State::Open { local, .. } | State::HalfClosedRemote { local } => Some(local),
            State::HalfClosedLocal { .. } => None,
        }
    }

    /// The peer's side, if it has not ended.
    fn remote(self) -> Option<Half> {
        match self {
            State::Open { remote, .. } | State::HalfClosedLocal { remote } => Some(remote),
            State::HalfClosedRemote { .. } => None,
        }
    }

    /// The state with our side at `local` (`None`: ended); `None` when
    /// both have ended.
    fn with_local(self, local: Option<Half>) -> Option<State> {
        state_of(local, self.remote())
    }

    fn with_remote(self, remote: Option<Half>) -> Option<State> {
        state_of(self.local(), remote)
    }
}

fn state_of(local: Option<Half>, remote: Option<Half>) -> Option<State> {
    match (local, remote) {
        (Some(local), Some(remote)) => Some(State::Open { local, remote }),
        (None, Some(remote)) => Some(State::HalfClosedLocal { remote }),
        (Some(local), None) => Some(State::HalfClosedRemote { local }),
        (None, None) => None,
    }
}

/// What we have queued on a stream and not yet written: the rest waits for
/// window.
#[derive(Debug, Default)]
struct Outbox {
    data: VecDeque<u8>,
    /// Trailers to write after the data, encoded.
    trailers: Option<Vec<u8>>,
    /// Our side ends after the data (with the trailers, if any).
    end: bool,
}

#[derive(Debug)]
struct Stream<S> {
    state: State,
    /// Our window for sending on it.
    send_window: i64,
    /// What the peer may still send on it.
    recv_window: i64,
    /// What `content-length` said, which the DATA must add up to.
    content_length: Option<u64>,
    /// The body bytes received.
    received: u64,
    /// Body bytes the role holds, counted against the connection window
    /// until it lets them go (or the stream closes).
    held: u32,
    outbox: Outbox,
    role: S,
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

/// Why a stream cannot be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The peer's `SETTINGS_MAX_CONCURRENT_STREAMS` are all in use.
    AtLimit,
    /// The connection is going away or broken: no new stream.
    GoingAway,
    /// Stream ids ran out (2^31): a new connection is needed.
    Exhausted,
}

/// One HTTP/2 connection, either end.
#[derive(Debug)]
pub(crate) struct Connection<R: Role> {
    /// What this end does with what arrives.
    pub(crate) role: R,
    phase: Phase,
    /// The peer will send no more bytes.
    read_closed: bool,
    input: Vec<u8>,
    output: Outgoing,
    decoder: BlockDecoder,
    continuing: Option<Continuing>,
    streams: BTreeMap<u32, Stream<R::Stream>>,
    /// The highest stream the peer opened: every lower one of its own not
    /// in `streams` is closed.
    last_peer: u32,
    /// The id our next stream takes.
    next_local: u32,
    /// The streams we reset most recently.
    reset_here: VecDeque<u32>,
    peer: PeerSettings,
    config: Config,
    /// Our window for sending on the connection.
    send_window: i64,
    /// What the peer may still send on the connection.
    recv_window: i64,
    /// Connection window bytes given back but not yet announced.
    owed: u32,
    resets: ResetBudget,
    header_breaches: u32,
}

impl<R: Role> Connection<R> {
    /// A connection that opens with our preface (a client's 24 bytes, then
    /// for both ends SETTINGS and the connection window's growth).
    pub(crate) fn new(role: R, config: Config) -> Connection<R> {
        let mut output = Outgoing::default();
        if !R::SERVER {
            output.extend_from_slice(frame::PREFACE);
        }
        let mut settings = vec![
            (setting::ENABLE_PUSH, 0),
            (setting::INITIAL_WINDOW_SIZE, config.initial_stream_window),
            (
                setting::MAX_HEADER_LIST_SIZE,
                u32::try_from(config.max_header_list).unwrap_or(u32::MAX),
            ),
            (
                setting::HEADER_TABLE_SIZE,
                u32::try_from(HEADER_TABLE_SIZE).unwrap_or(4096),
            ),
        ];
        if let Some(n) = config.max_concurrent_streams {
            settings.insert(0, (setting::MAX_CONCURRENT_STREAMS, n));
        }
        frame::put_settings(&mut output, &settings);
        let default = u32::try_from(DEFAULT_WINDOW).unwrap_or(0);
        if config.connection_window > default {
            frame::put_window_update(&mut output, 0, config.connection_window - default);
        }
        Connection {
            role,
            phase: if R::SERVER {
                Phase::Preface
            } else {
                Phase::Settings
            },
            read_closed: false,
            input: Vec::new(),
            output,
            decoder: BlockDecoder::new(HEADER_TABLE_SIZE),
            continuing: None,
            streams: BTreeMap::new(),
            last_peer: 0,
            next_local: 1,
            reset_here: VecDeque::new(),
            peer: PeerSettings::default(),
            config,
            send_window: DEFAULT_WINDOW,
            recv_window: i64::from(config.connection_window.max(default)),
            owed: 0,
            resets: ResetBudget::new(),
            header_breaches: 0,
        }
    }

    /// Takes bytes the peer sent, and reads every whole frame in them.
    pub(crate) fn receive(&mut self, bytes: &[u8], now: Instant) {
        if self.broken() || self.read_closed {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.read_frames(now);
    }

    /// The peer will send no more: a header block or request still
    /// arriving can never be whole.
    pub(crate) fn close_read(&mut self) {
        self.read_closed = true;
        self.continuing = None;
    }

    /// Whether the peer has closed its sending side.
    pub(crate) fn is_read_closed(&self) -> bool {
        self.read_closed
    }

    /// Bytes to write to the peer.
    pub(crate) fn transmit(&self) -> &[u8] {
        self.output.pending()
    }

    /// `n` bytes of [`transmit`](Self::transmit) were written.
    pub(crate) fn transmitted(&mut self, n: usize) {
        self.output.wrote(n);
    }

    /// Bytes queued for the peer and not yet written.
    pub(crate) fn unwritten(&self) -> usize {
        self.output.unwritten()
    }

    /// Input bytes kept: the start of a frame still arriving.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Whether the input holds the start of a frame or header block still
    /// arriving.
    pub(crate) fn mid_frame(&self) -> bool {
        !self.input.is_empty() || self.continuing.is_some()
    }

    /// A connection error happened: nothing more is read or served.
    pub(crate) fn broken(&self) -> bool {
        self.phase == Phase::Broken
    }

    /// Going away or broken: no new stream.
    pub(crate) fn going_away(&self) -> bool {
        matches!(self.phase, Phase::Draining { .. } | Phase::Broken)
    }

    /// Whether our GOAWAY has gone out.
    fn goaway_sent(&self) -> bool {
        matches!(
            self.phase,
            Phase::Broken | Phase::Draining { sent: Some(_) }
        )
    }

    /// The streams open.
    pub(crate) fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Stream `id`'s role state, if it is open.
    pub(crate) fn stream(&mut self, id: u32) -> Option<&mut R::Stream> {
        self.streams.get_mut(&id).map(|s| &mut s.role)
    }

    /// Each open stream's id and role state.
    pub(crate) fn streams(&self) -> impl Iterator<Item = (u32, &R::Stream)> {
        self.streams.iter().map(|(id, s)| (*id, &s.role))
    }

    /// Starts going away: GOAWAY `NO_ERROR` with `why`, the streams open
    /// finished, no new one taken.
    pub(crate) fn go_away(&mut self, why: &[u8]) {
        if !self.goaway_sent() {
            frame::put_goaway(&mut self.output, self.last_peer, ErrorCode::NoError, why);
            self.phase = Phase::Draining {
                sent: Some(self.last_peer),
            };
        }
    }

    /// A connection error: GOAWAY with `code`, then close. Every stream is
    /// closed, unprocessed.
    pub(crate) fn connection_error(&mut self, code: ErrorCode, why: &str) {
        if self.broken() {
            return;
        }
        log::warn!(code:? = code, why = why; "HTTP/2: closing a connection");
        frame::put_goaway(&mut self.output, self.last_peer, code, why.as_bytes());
        self.phase = Phase::Broken;
        self.continuing = None;
    }

    /// Closes every stream, unprocessed: the connection is done with.
    pub(crate) fn close_streams(&mut self) {
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            self.remove(id, Closed::Unprocessed);
        }
    }

    /// Forgets stream `id` without a word to the peer (which is gone).
    pub(crate) fn drop_stream(&mut self, id: u32) {
        self.remove(id, Closed::Unprocessed);
    }

    /// Takes stream `id` out: the bytes it held go back to the connection
    /// window, and the role hears how it ended.
    fn remove(&mut self, id: u32, how: Closed) {
        if let Some(stream) = self.streams.remove(&id) {
            self.release(stream.held);
            self.role.closed(id, stream.role, how);
        }
    }

    /// Lets go of the body bytes stream `id` held: the role took them.
    pub(crate) fn release_held(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            let held = std::mem::take(&mut stream.held);
            self.release(held);
        }
    }

    /// Ends the connection now: GOAWAY `NO_ERROR` with `why` (unless one
    /// went), nothing more read or served; it closes once written. A
    /// timeout does this.
    pub(crate) fn close_now(&mut self, why: &[u8]) {
        self.go_away(why);
        self.phase = Phase::Broken;
    }

    /// Whether the connection is finished and its output written: broken;
    /// or going away, or the peer done sending, with nothing left open
    /// (`idle` says whether the role has anything left of its own).
    pub(crate) fn finished(&self, idle: bool) -> bool {
        let idle = idle && self.streams.is_empty();
        let done = match self.phase {
            Phase::Broken => true,
            Phase::Draining { .. } => idle,
            Phase::Preface | Phase::Settings | Phase::Open => self.read_closed && idle,
        };
        done && self.unwritten() == 0
    }

    /// Resets stream `id` with `code`: a stream error of ours, or a stream
    /// no longer wanted (`CANCEL`).
    pub(crate) fn reset(&mut self, id: u32, code: ErrorCode) {
        frame::put_rst_stream(&mut self.output, id, code);
        self.remember_reset(id);
        self.remove(id, Closed::ResetHere(code));
    }

    /// A stream error: reset, spending from the reset budget.
    fn stream_error(&mut self, id: u32, code: ErrorCode, now: Instant) {
        self.reset(id, code);
        if !self.resets.spend(now) {
            self.connection_error(ErrorCode::EnhanceYourCalm, "too many stream errors");
        }
    }

    /// Notes that we reset stream `id`.
    fn remember_reset(&mut self, id: u32) {
        if self.reset_here.len() == RESETS_REMEMBERED {
            self.reset_here.pop_front();
        }
        self.reset_here.push_back(id);
    }

    /// Opens the connection window again for `n` bytes the role let go:
    /// batched, one `WINDOW_UPDATE` once a sixteenth of the window is owed,
    /// as HTTP/2 stacks do.
    pub(crate) fn release(&mut self, n: u32) {
        self.owed = self.owed.saturating_add(n);
        if self.owed >= self.config.connection_window / 16 {
            frame::put_window_update(&mut self.output, 0, self.owed);
            self.recv_window += i64::from(self.owed);
            self.owed = 0;
        }
    }

    /// Opens stream `id`'s window again for `n` bytes a reader took.
    pub(crate) fn release_stream(&mut self, id: u32, n: u32) {
        if let Some(stream) = self.streams.get_mut(&id)
            && stream.state.remote().is_some()
            && n > 0
        {
            stream.recv_window += i64::from(n);
            frame::put_window_update(&mut self.output, id, n);
        }
    }

    /// Whether `id` is a stream the peer opens (by its parity).
    fn peer_opens(id: u32) -> bool {
        // A client's streams are odd; a server's (pushed) even.
        id % 2 == u32::from(R::SERVER)
    }

    /// Whether stream `id` has not been opened yet.
    fn idle(&self, id: u32) -> bool {
        if Self::peer_opens(id) {
            id > self.last_peer
        } else {
            id >= self.next_local
        }
    }

    /// Reads every whole frame in the input.
    fn read_frames(&mut self, now: Instant) {
        if self.phase == Phase::Preface {
            let n = self.input.len().min(frame::PREFACE.len());
            if self.input[..n] != frame::PREFACE[..n] {
                self.connection_error(ErrorCode::ProtocolError, "not the HTTP/2 preface");
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
            let (head, payload) = match frame::next(&input[used..], DEFAULT_MAX_FRAME) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(code) => {
                    self.connection_error(code, "a frame over the size we allow");
                    break;
                }
            };
            used += 9 + head.len;
            let outcome = Frame::decode(head, payload).and_then(|f| self.frame(f, now));
            match outcome {
                Ok(()) => {}
                Err(Error::Connection(code, why)) => self.connection_error(code, why),
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
