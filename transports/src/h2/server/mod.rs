//! One HTTP/2 server connection as a sans-IO machine on the engine: bytes
//! in, requests out (one per stream, handed over once the stream ends),
//! responses in, bytes out within the peer's flow-control windows.

use std::collections::{BTreeMap, VecDeque};

use synkit_core::time::Duration;

use super::frame::{self, ErrorCode, Head, flag, kind, setting};
use super::hpack::BlockDecoder;
use super::{COMMON_NAMES, COMMON_VALUES, Request, interned};
use crate::engine::Outgoing;
use crate::engine::parts::CreditGuard;

#[cfg(any(test, fuzzing))]
pub(crate) mod fuzz;
mod send;
mod session;

#[cfg(test)]
use super::hpack;
#[cfg(test)]
use crate::engine::{Now, Session};
#[cfg(test)]
use send::grpc_timeout;
#[cfg(test)]
use synkit_core::time::Instant;

/// What we announce, and hold the peer to.
const MAX_FRAME: usize = 16_384;
const MAX_CONCURRENT_STREAMS: u32 = 100;
/// Each stream may send this much before we open its window again.
const INITIAL_STREAM_WINDOW: u32 = 1 << 20;
/// Request bytes the connection may hold that no service has taken yet,
/// at least; more when one request may be bigger.
const CONNECTION_WINDOW: u32 = 4 << 20;
const HEADER_TABLE_SIZE: usize = 4096;
/// The most bytes of one header block (all its CONTINUATIONs).
const MAX_HEADER_BLOCK: usize = 64 << 10;
/// `RST_STREAM`s a peer may send before it is taken for a flood.
const MAX_RESETS: u32 = 1000;
/// HTTP/2's default window before SETTINGS say otherwise.
const DEFAULT_WINDOW: i64 = 65_535;
const MAX_WINDOW: i64 = (1 << 31) - 1;

#[derive(Debug)]
enum StreamState {
    /// Headers read; DATA may follow.
    Receiving,
    /// Handed to the service (or queued for it).
    Serving,
    /// Answered, or answering in parts: the rest waits for window.
    Sending {
        data: VecDeque<u8>,
        trailers: Option<Vec<u8>>,
        /// More parts are coming from the service.
        open: Option<CreditGuard>,
    },
}

impl StreamState {
    /// Whether a service is still answering on it.
    fn serving(&self) -> bool {
        matches!(
            self,
            StreamState::Serving | StreamState::Sending { open: Some(_), .. }
        )
    }
}

#[derive(Debug)]
struct Stream {
    state: StreamState,
    request: Request,
    /// Our window for sending on it.
    send_window: i64,
    /// The peer ended its side.
    ended: bool,
    /// Request bytes counted against the connection window, returned when
    /// the service takes the request.
    held: u32,
}

/// The connection's state.
// Five independent facts about the connection (preface read, GOAWAY sent,
// GOAWAY received, broken, read side closed): an enum would have to name
// their combinations.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug)]
pub(crate) struct Connection {
    input: Vec<u8>,
    output: Outgoing,
    preface: bool,
    decoder: BlockDecoder,
    /// A header block still waiting for CONTINUATION: stream, fragment,
    /// `END_STREAM`.
    continuing: Option<(u32, Vec<u8>, bool)>,
    streams: BTreeMap<u32, Stream>,
    /// Streams whose request is complete and not yet handed out.
    ready: VecDeque<u32>,
    last_stream: u32,
    send_window: i64,
    peer_initial_window: i64,
    peer_max_frame: usize,
    resets: u32,
    in_flight: usize,
    goaway_sent: bool,
    goaway_received: bool,
    broken: bool,
    read_closed: bool,
    timeout: Duration,
    /// The most bytes one request body may have.
    max_body: usize,
    /// Streams being served that the client reset: their workers are told.
    cancelled: Vec<u32>,
    /// Connection window bytes given back but not yet announced.
    owed: u32,
    /// Request bytes held across all streams.
    held_total: u32,
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
            input: Vec::new(),
            output,
            preface: false,
            decoder: BlockDecoder::new(HEADER_TABLE_SIZE),
            continuing: None,
            streams: BTreeMap::new(),
            ready: VecDeque::new(),
            last_stream: 0,
            send_window: DEFAULT_WINDOW,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame: MAX_FRAME,
            resets: 0,
            in_flight: 0,
            goaway_sent: false,
            goaway_received: false,
            broken: false,
            read_closed: false,
            timeout,
            max_body,
            window,
            cancelled: Vec::new(),
            owed: 0,
            held_total: 0,
            block: Vec::new(),
        }
    }

    fn unwritten(&self) -> usize {
        self.output.unwritten()
    }

    /// A connection error: GOAWAY with `code`, then close.
    fn fail(&mut self, code: ErrorCode, why: &str) {
        if self.broken {
            return;
        }
        log::warn!(code:? = code, why = why; "HTTP/2: closing a connection");
        frame::put_goaway(&mut self.output, self.last_stream, code, why.as_bytes());
        self.goaway_sent = true;
        self.broken = true;
    }

    /// A stream error: `RST_STREAM` with `code`; the stream is forgotten.
    fn reset(&mut self, id: u32, code: ErrorCode) {
        frame::put_rst_stream(&mut self.output, id, code);
        self.forget(id);
    }

    fn forget(&mut self, id: u32) {
        // A stream being served keeps no entry: its answer, when it comes,
        // is dropped, and its worker told to stop.
        if let Some(stream) = self.streams.remove(&id) {
            self.release(stream.held);
            if stream.state.serving() {
                self.cancelled.push(id);
            }
        }
        self.ready.retain(|&r| r != id);
    }

    /// Lets go of `held` request bytes a stream had buffered.
    pub(super) fn release(&mut self, held: u32) {
        self.held_total = self.held_total.saturating_sub(held);
        self.give_back(held);
    }

    /// Opens the connection window again for `n` bytes the service took
    /// (or that were thrown away): batched, one `WINDOW_UPDATE` once a
    /// sixteenth of the window is owed, as HTTP/2 stacks do, not one per
    /// request.
    fn give_back(&mut self, n: u32) {
        self.owed = self.owed.saturating_add(n);
        if self.owed >= self.window / 16 {
            frame::put_window_update(&mut self.output, 0, self.owed);
            self.owed = 0;
        }
    }

    /// Reads every whole frame in the input.
    fn read_frames(&mut self) {
        if !self.preface {
            if self.input.len() < frame::PREFACE.len() {
                if !frame::PREFACE.starts_with(&self.input) {
                    self.fail(ErrorCode::ProtocolError, "not the HTTP/2 preface");
                }
                return;
            }
            if !self.input.starts_with(frame::PREFACE) {
                self.fail(ErrorCode::ProtocolError, "not the HTTP/2 preface");
                return;
            }
            self.input.drain(..frame::PREFACE.len());
            self.preface = true;
        }
        // The input is taken out while its frames are read, so each payload
        // is read where it lies, not copied.
        let input = std::mem::take(&mut self.input);
        let mut used = 0;
        while !self.broken {
            let (head, payload) = match frame::next(&input[used..], MAX_FRAME) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(code) => {
                    self.fail(code, "a frame over the size we allow");
                    break;
                }
            };
            used += 9 + head.len;
            self.frame(head, payload);
        }
        let mut input = input;
        input.drain(..used.min(input.len()));
        // Bytes that arrived meanwhile cannot: `received` appends only
        // after this returns.
        self.input = input;
    }

    fn frame(&mut self, head: Head, payload: &[u8]) {
        if let Some((stream, _, _)) = &self.continuing
            && (head.kind != kind::CONTINUATION || head.stream != *stream)
        {
            self.fail(ErrorCode::ProtocolError, "a header block interrupted");
            return;
        }
        let outcome = match head.kind {
            kind::DATA => self.data(head, payload),
            kind::HEADERS => self.headers(head, payload),
            kind::CONTINUATION => self.continuation(head, payload),
            kind::PRIORITY => {
                if head.stream == 0 {
                    Err(ErrorCode::ProtocolError)
                } else if payload.len() != 5 {
                    self.reset(head.stream, ErrorCode::FrameSizeError);
                    Ok(())
                } else {
                    Ok(())
                }
            }
            kind::RST_STREAM => self.rst_stream(head, payload),
            kind::SETTINGS => self.settings(head, payload),
            kind::PUSH_PROMISE => Err(ErrorCode::ProtocolError),
            kind::PING => self.ping(head, payload),
            kind::GOAWAY => {
                if head.stream != 0 || payload.len() < 8 {
                    Err(ErrorCode::ProtocolError)
                } else {
                    let code = ErrorCode::from_u32(frame::u32_payload(&payload[4..8]).unwrap_or(0));
                    if code != ErrorCode::NoError {
                        log::info!(code:? = code; "HTTP/2: the client went away with an error");
                    }
                    self.goaway_received = true;
                    Ok(())
                }
            }
            kind::WINDOW_UPDATE => self.window_update(head, payload),
            // Unknown types are ignored (§5.5).
            _ => Ok(()),
        };
        if let Err(code) = outcome {
            self.fail(code, "a frame that breaks the protocol");
        }
    }

    fn headers(&mut self, head: Head, payload: &[u8]) -> Result<(), ErrorCode> {
        let id = head.stream;
        if id == 0 {
            return Err(ErrorCode::ProtocolError);
        }
        let (block, dependency) = frame::headers_block(head.flags, payload)?;
        if dependency == Some(id) {
            self.reset(id, ErrorCode::ProtocolError);
            return Ok(());
        }
        let end_stream = head.flags & flag::END_STREAM != 0;
        if self.streams.contains_key(&id) {
            // Trailers from the client: they end the stream.
            if !end_stream {
                return Err(ErrorCode::ProtocolError);
            }
        } else if id.is_multiple_of(2) || id <= self.last_stream {
            // Even, reused or going backwards.
            return Err(ErrorCode::ProtocolError);
        }
        if head.flags & flag::END_HEADERS != 0 {
            // The whole block in one frame, read where it lies.
            return self.header_block(id, block, end_stream);
        }
        self.continuing = Some((id, block.to_vec(), end_stream));
        Ok(())
    }

    fn continuation(&mut self, head: Head, payload: &[u8]) -> Result<(), ErrorCode> {
        let Some((_, block, _)) = &mut self.continuing else {
            return Err(ErrorCode::ProtocolError);
        };
        if block.len() + payload.len() > MAX_HEADER_BLOCK {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        block.extend_from_slice(payload);
        if head.flags & flag::END_HEADERS != 0 {
            return self.header_block_done();
        }
        Ok(())
    }

    fn header_block_done(&mut self) -> Result<(), ErrorCode> {
        let Some((id, block, end_stream)) = self.continuing.take() else {
            return Ok(());
        };
        self.header_block(id, &block, end_stream)
    }

    /// A stream's whole header block: a request's headers, or its
    /// trailers.
    fn header_block(&mut self, id: u32, block: &[u8], end_stream: bool) -> Result<(), ErrorCode> {
        let mut request = Request::default();
        let mut scheme = false;
        let mut bad = false;
        let mut size = 0;
        let decoded = self.decoder.decode(block, |name, value| {
            size += name.len() + value.len() + 32;
            let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value))
            else {
                bad = true;
                return;
            };
            match name {
                ":method" => request.method = interned(value, COMMON_VALUES),
                ":path" => value.clone_into(&mut request.path),
                ":scheme" => scheme = true,
                ":authority" => {}
                _ if name.starts_with(':') || name.bytes().any(|b| b.is_ascii_uppercase()) => {
                    bad = true;
                }
                _ => request
                    .headers
                    .push((interned(name, COMMON_NAMES), interned(value, COMMON_VALUES))),
            }
        });
        if decoded.is_err() {
            // The decoder's table may be out of step: the connection ends.
            return Err(ErrorCode::CompressionError);
        }
        if let Some(stream) = self.streams.get_mut(&id) {
            // Trailers: the request is complete.
            stream.ended = true;
            self.complete(id);
            return Ok(());
        }
        self.last_stream = id;
        if self.goaway_sent {
            // Past our GOAWAY: not processed.
            return Ok(());
        }
        if bad
            || !scheme
            || request.method.is_empty()
            || request.path.is_empty()
            || size > MAX_HEADER_BLOCK
        {
            self.reset(id, ErrorCode::ProtocolError);
            return Ok(());
        }
        if self.streams.len() >= MAX_CONCURRENT_STREAMS as usize {
            self.reset(id, ErrorCode::RefusedStream);
            return Ok(());
        }
        self.streams.insert(
            id,
            Stream {
                state: StreamState::Receiving,
                request,
                send_window: self.peer_initial_window,
                ended: end_stream,
                held: 0,
            },
        );
        if end_stream {
            self.complete(id);
            return Ok(());
        }
        Ok(())
    }

    /// The peer ended the stream: its request is ready.
    fn complete(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id)
            && matches!(stream.state, StreamState::Receiving)
        {
            stream.state = StreamState::Serving;
            self.ready.push_back(id);
        }
    }

    fn data(&mut self, head: Head, payload: &[u8]) -> Result<(), ErrorCode> {
        let id = head.stream;
        if id == 0 {
            return Err(ErrorCode::ProtocolError);
        }
        let len = i64::try_from(head.len).unwrap_or(i64::MAX);
        // The whole frame counts against the connection window, padding too.
        let len_u32 = u32::try_from(head.len).unwrap_or(u32::MAX);
        let Some(stream) = self.streams.get_mut(&id) else {
            if id > self.last_stream {
                return Err(ErrorCode::ProtocolError);
            }
            // A stream we answered or reset: ignored (§5.4.2), its bytes
            // given back to the connection window.
            self.give_back(len_u32);
            return Ok(());
        };
        if stream.ended || !matches!(stream.state, StreamState::Receiving) {
            self.give_back(len_u32);
            self.reset(id, ErrorCode::StreamClosed);
            return Ok(());
        }
        let data = frame::unpad(head.flags, payload)?;
        let held_total = i64::from(stream.held) + len;
        if held_total > i64::from(self.window) {
            return Err(ErrorCode::FlowControlError);
        }
        if stream.request.body.len() + data.len() > self.max_body {
            // Answered now (gRPC's RESOURCE_EXHAUSTED), and the client told
            // to stop sending (§8.1).
            let stream_held = stream.held;
            self.streams.remove(&id);
            self.release(stream_held);
            self.give_back(len_u32);
            self.too_large(id);
            return Ok(());
        }
        stream.held += len_u32;
        stream.request.body.extend_from_slice(data);
        self.held_total = self.held_total.saturating_add(len_u32);
        // The stream's window opens again as its bytes arrive (unless it
        // just ended); the connection's when the service takes them.
        if len_u32 > 0 && head.flags & flag::END_STREAM == 0 {
            frame::put_window_update(&mut self.output, id, len_u32);
        }
        if self.held_total > self.window {
            return Err(ErrorCode::FlowControlError);
        }
        if head.flags & flag::END_STREAM != 0 {
            if let Some(s) = self.streams.get_mut(&id) {
                s.ended = true;
            }
            self.complete(id);
            return Ok(());
        }
        Ok(())
    }

    fn rst_stream(&mut self, head: Head, payload: &[u8]) -> Result<(), ErrorCode> {
        if head.stream == 0 {
            return Err(ErrorCode::ProtocolError);
        }
        frame::u32_payload(payload)?;
        if head.stream > self.last_stream {
            return Err(ErrorCode::ProtocolError);
        }
        self.resets += 1;
        if self.resets > MAX_RESETS {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        self.forget(head.stream);
        Ok(())
    }

    fn settings(&mut self, head: Head, payload: &[u8]) -> Result<(), ErrorCode> {
        if head.stream != 0 {
            return Err(ErrorCode::ProtocolError);
        }
        if head.flags & flag::ACK != 0 {
            return if payload.is_empty() {
                Ok(())
            } else {
                Err(ErrorCode::FrameSizeError)
            };
        }
        for (id, value) in frame::settings(payload)? {
            match id {
                setting::ENABLE_PUSH if value > 1 => return Err(ErrorCode::ProtocolError),
                setting::INITIAL_WINDOW_SIZE => {
                    let value = i64::from(value);
                    if value > MAX_WINDOW {
                        return Err(ErrorCode::FlowControlError);
                    }
                    let delta = value - self.peer_initial_window;
                    self.peer_initial_window = value;
                    for stream in self.streams.values_mut() {
                        stream.send_window += delta;
                        if stream.send_window > MAX_WINDOW {
                            return Err(ErrorCode::FlowControlError);
                        }
                    }
                }
                setting::MAX_FRAME_SIZE => {
                    if !(16_384..=16_777_215).contains(&value) {
                        return Err(ErrorCode::ProtocolError);
                    }
                    self.peer_max_frame = usize::try_from(value).unwrap_or(MAX_FRAME);
                }
                // Our encoder keeps no dynamic table: its size is moot.
                _ => {}
            }
        }
        frame::put_settings_ack(&mut self.output);
        self.flush_streams();
        Ok(())
    }

    fn ping(&mut self, head: Head, payload: &[u8]) -> Result<(), ErrorCode> {
        if head.stream != 0 {
            return Err(ErrorCode::ProtocolError);
        }
        let data: [u8; 8] = payload.try_into().map_err(|_| ErrorCode::FrameSizeError)?;
        if head.flags & flag::ACK == 0 {
            frame::put_ping(&mut self.output, true, data);
        }
        Ok(())
    }

    fn window_update(&mut self, head: Head, payload: &[u8]) -> Result<(), ErrorCode> {
        let increment = i64::from(frame::u32_payload(payload)? & 0x7fff_ffff);
        if head.stream == 0 {
            if increment == 0 {
                return Err(ErrorCode::ProtocolError);
            }
            self.send_window += increment;
            if self.send_window > MAX_WINDOW {
                return Err(ErrorCode::FlowControlError);
            }
        } else if let Some(stream) = self.streams.get_mut(&head.stream) {
            if increment == 0 {
                self.reset(head.stream, ErrorCode::ProtocolError);
                return Ok(());
            }
            stream.send_window += increment;
            if stream.send_window > MAX_WINDOW {
                self.reset(head.stream, ErrorCode::FlowControlError);
                return Ok(());
            }
        } else if head.stream > self.last_stream {
            return Err(ErrorCode::ProtocolError);
        }
        self.flush_streams();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
