//! HTTP/2 frames (RFC 9113 §4, §6) as bytes: a header reader that never
//! reads past what it is given, payload parsers that check every length
//! the RFC fixes, and writers.

/// The 24 bytes a client opens with.
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types.
pub(crate) mod kind {
    pub(crate) const DATA: u8 = 0x0;
    pub(crate) const HEADERS: u8 = 0x1;
    pub(crate) const PRIORITY: u8 = 0x2;
    pub(crate) const RST_STREAM: u8 = 0x3;
    pub(crate) const SETTINGS: u8 = 0x4;
    pub(crate) const PUSH_PROMISE: u8 = 0x5;
    pub(crate) const PING: u8 = 0x6;
    pub(crate) const GOAWAY: u8 = 0x7;
    pub(crate) const WINDOW_UPDATE: u8 = 0x8;
    pub(crate) const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub(crate) mod flag {
    pub(crate) const END_STREAM: u8 = 0x1;
    pub(crate) const ACK: u8 = 0x1;
    pub(crate) const END_HEADERS: u8 = 0x4;
    pub(crate) const PADDED: u8 = 0x8;
    pub(crate) const PRIORITY: u8 = 0x20;
}

/// Error codes (RFC 9113 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// Graceful.
    NoError = 0x0,
    /// A protocol rule broken.
    ProtocolError = 0x1,
    /// Something went wrong inside.
    InternalError = 0x2,
    /// Flow control broken.
    FlowControlError = 0x3,
    /// SETTINGS not acknowledged in time.
    SettingsTimeout = 0x4,
    /// A frame on a closed stream.
    StreamClosed = 0x5,
    /// A frame of the wrong size.
    FrameSizeError = 0x6,
    /// The stream was not processed.
    RefusedStream = 0x7,
    /// The stream is no longer wanted.
    Cancel = 0x8,
    /// HPACK state cannot be kept.
    CompressionError = 0x9,
    /// CONNECT went wrong.
    ConnectError = 0xa,
    /// The peer is too busy.
    EnhanceYourCalm = 0xb,
    /// Security too weak.
    InadequateSecurity = 0xc,
    /// HTTP/1.1 is needed.
    Http11Required = 0xd,
}

impl ErrorCode {
    pub(crate) fn from_u32(code: u32) -> ErrorCode {
        match code {
            0x0 => ErrorCode::NoError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            // Unknown codes are treated as `INTERNAL_ERROR` (§7); `PROTOCOL_ERROR`
            // is itself 0x1.
            0x1 => ErrorCode::ProtocolError,
            _ => ErrorCode::InternalError,
        }
    }
}

/// A frame's fixed 9-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) len: usize,
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) stream: u32,
}

/// The first frame in `input`: its header and payload, `None` if more
/// bytes are needed. A frame longer than `max_len` is the caller's
/// `FRAME_SIZE_ERROR`; it is reported as soon as its header is seen.
pub(crate) fn next(input: &[u8], max_len: usize) -> Result<Option<(Head, &[u8])>, ErrorCode> {
    if input.len() < 9 {
        return Ok(None);
    }
    let len = usize::from(input[0]) << 16 | usize::from(input[1]) << 8 | usize::from(input[2]);
    let head = Head {
        len,
        kind: input[3],
        flags: input[4],
        stream: u32::from_be_bytes([input[5], input[6], input[7], input[8]]) & 0x7fff_ffff,
    };
    if len > max_len {
        return Err(ErrorCode::FrameSizeError);
    }
    Ok(input.get(9..9 + len).map(|payload| (head, payload)))
}

/// A breach of the protocol, sorted as RFC 9113 §5.4 sorts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// The connection ends: GOAWAY with the code, and why.
    Connection(ErrorCode, &'static str),
    /// Only the stream ends: `RST_STREAM` with the code.
    Stream(u32, ErrorCode),
}

/// A stream's priority (RFC 9113 §5.3, deprecated but still sent): read
/// so that a stream depending on itself is caught, otherwise unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Priority {
    pub(crate) dependency: u32,
}

/// A SETTINGS frame's parameters, checked to be whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params<'a>(&'a [u8]);

impl<'a> Params<'a> {
    /// Each parameter as `(id, value)`, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = (u16, u32)> + 'a {
        self.0.chunks_exact(6).map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
    }
}

/// One frame, decoded once: every length and stream-id rule of RFC 9113
/// §6 checked, padding removed, payloads borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    Data {
        stream: u32,
        end_stream: bool,
        data: &'a [u8],
        /// What the frame costs in flow control: its whole payload,
        /// padding included.
        flow_len: u32,
    },
    Headers {
        stream: u32,
        end_stream: bool,
        end_headers: bool,
        priority: Option<Priority>,
        fragment: &'a [u8],
    },
    Priority {
        stream: u32,
        priority: Priority,
    },
    RstStream {
        stream: u32,
        code: ErrorCode,
    },
    Settings {
        ack: bool,
        params: Params<'a>,
    },
    PushPromise {
        stream: u32,
    },
    Ping {
        ack: bool,
        data: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        code: ErrorCode,
        debug: &'a [u8],
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Continuation {
        stream: u32,
        end_headers: bool,
        fragment: &'a [u8],
    },
    /// A type this version does not know: ignored (§5.5).
    Unknown,
}

impl<'a> Frame<'a> {
    /// Decodes the frame `head` announced from its `payload`.
    pub(crate) fn decode(head: Head, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
        use ErrorCode::{FrameSizeError, ProtocolError};
        let stream = head.stream;
        let on_stream = |frame: Frame<'a>| {
            if stream == 0 {
                Err(Error::Connection(
                    ProtocolError,
                    "a stream frame on stream 0",
                ))
            } else {
                Ok(frame)
            }
        };
        let on_connection = |frame: Frame<'a>| {
            if stream == 0 {
                Ok(frame)
            } else {
                Err(Error::Connection(
                    ProtocolError,
                    "a connection frame on a stream",
                ))
            }
        };
        let padding = |_| Error::Connection(ProtocolError, "padding past the frame");
        match head.kind {
            kind::DATA => on_stream(Frame::Data {
                stream,
                end_stream: head.flags & flag::END_STREAM != 0,
                data: unpad(head.flags, payload).map_err(padding)?,
                flow_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            }),
            kind::HEADERS => {
                let (fragment, dependency) = headers_block(head.flags, payload).map_err(padding)?;
                on_stream(Frame::Headers {
                    stream,
                    end_stream: head.flags & flag::END_STREAM != 0,
                    end_headers: head.flags & flag::END_HEADERS != 0,
                    priority: dependency.map(|dependency| Priority { dependency }),
                    fragment,
                })
            }
            kind::PRIORITY => priority(stream, payload),
            kind::RST_STREAM => {
                let code = u32_payload(payload)
                    .map_err(|_| Error::Connection(FrameSizeError, "RST_STREAM not 4 bytes"))?;
                on_stream(Frame::RstStream {
                    stream,
                    code: ErrorCode::from_u32(code),
                })
            }
            kind::SETTINGS => {
                let ack = head.flags & flag::ACK != 0;
                if (ack && !payload.is_empty()) || !payload.len().is_multiple_of(6) {
                    return Err(Error::Connection(
                        FrameSizeError,
                        "SETTINGS of a bad length",
                    ));
                }
                on_connection(Frame::Settings {
                    ack,
                    params: Params(payload),
                })
            }
            kind::PUSH_PROMISE => on_stream(Frame::PushPromise { stream }),
            kind::PING => {
                let data = payload
                    .try_into()
                    .map_err(|_| Error::Connection(FrameSizeError, "PING not 8 bytes"))?;
                on_connection(Frame::Ping {
                    ack: head.flags & flag::ACK != 0,
                    data,
                })
            }
            kind::GOAWAY => {
                if payload.len() < 8 {
                    return Err(Error::Connection(FrameSizeError, "GOAWAY under 8 bytes"));
                }
                on_connection(Frame::GoAway {
                    last_stream: u32_payload(&payload[..4]).unwrap_or(0) & 0x7fff_ffff,
                    code: ErrorCode::from_u32(u32_payload(&payload[4..8]).unwrap_or(0)),
                    debug: &payload[8..],
                })
            }
            kind::WINDOW_UPDATE => window_update(stream, payload),
            kind::CONTINUATION => on_stream(Frame::Continuation {
                stream,
                end_headers: head.flags & flag::END_HEADERS != 0,
                fragment: payload,
            }),
            _ => Ok(Frame::Unknown),
        }
    }
}

/// A PRIORITY frame: only the stream is told off if it is bad (§6.3).
fn priority(stream: u32, payload: &[u8]) -> Result<Frame<'_>, Error> {
    if stream == 0 {
        return Err(Error::Connection(
            ErrorCode::ProtocolError,
            "PRIORITY on stream 0",
        ));
    }
    if payload.len() != 5 {
        return Err(Error::Stream(stream, ErrorCode::FrameSizeError));
    }
    let dependency = u32_payload(&payload[..4]).unwrap_or(0) & 0x7fff_ffff;
    if dependency == stream {
        return Err(Error::Stream(stream, ErrorCode::ProtocolError));
    }
    Ok(Frame::Priority {
        stream,
        priority: Priority { dependency },
    })
}

/// A `WINDOW_UPDATE`: an increment of 0 is an error of the level it is
/// sent at (§6.9).
fn window_update(stream: u32, payload: &[u8]) -> Result<Frame<'_>, Error> {
    let increment = u32_payload(payload)
        .map_err(|_| Error::Connection(ErrorCode::FrameSizeError, "WINDOW_UPDATE not 4 bytes"))?
        & 0x7fff_ffff;
    if increment == 0 {
        return Err(if stream == 0 {
            Error::Connection(ErrorCode::ProtocolError, "a connection WINDOW_UPDATE of 0")
        } else {
            Error::Stream(stream, ErrorCode::ProtocolError)
        });
    }
    Ok(Frame::WindowUpdate { stream, increment })
}

/// Strips a padded frame's padding (DATA, HEADERS).
pub(crate) fn unpad(flags: u8, payload: &[u8]) -> Result<&[u8], ErrorCode> {
    if flags & flag::PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(ErrorCode::FrameSizeError)?;
    let keep = rest
        .len()
        .checked_sub(usize::from(pad))
        .ok_or(ErrorCode::ProtocolError)?;
    Ok(&rest[..keep])
}

/// A HEADERS payload's header block fragment (padding and priority
/// removed), and the stream it depends on, if it says.
pub(crate) fn headers_block(flags: u8, payload: &[u8]) -> Result<(&[u8], Option<u32>), ErrorCode> {
    let payload = unpad(flags, payload)?;
    if flags & flag::PRIORITY == 0 {
        return Ok((payload, None));
    }
    if payload.len() < 5 {
        return Err(ErrorCode::FrameSizeError);
    }
    let dep = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff;
    Ok((&payload[5..], Some(dep)))
}

/// A u32 payload (`RST_STREAM`'s code, `WINDOW_UPDATE`'s increment).
pub(crate) fn u32_payload(payload: &[u8]) -> Result<u32, ErrorCode> {
    let bytes: [u8; 4] = payload.try_into().map_err(|_| ErrorCode::FrameSizeError)?;
    Ok(u32::from_be_bytes(bytes))
}

/// SETTINGS identifiers.
pub(crate) mod setting {
    pub(crate) const HEADER_TABLE_SIZE: u16 = 0x1;
    pub(crate) const ENABLE_PUSH: u16 = 0x2;
    pub(crate) const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub(crate) const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub(crate) const MAX_FRAME_SIZE: u16 = 0x5;
    pub(crate) const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// Appends a frame header.
pub(crate) fn put_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    out.extend_from_slice(&len[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
}

/// Appends a SETTINGS frame with `params`.
pub(crate) fn put_settings(out: &mut Vec<u8>, params: &[(u16, u32)]) {
    put_head(out, params.len() * 6, kind::SETTINGS, 0, 0);
    for (id, value) in params {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub(crate) fn put_settings_ack(out: &mut Vec<u8>) {
    put_head(out, 0, kind::SETTINGS, flag::ACK, 0);
}

pub(crate) fn put_ping(out: &mut Vec<u8>, ack: bool, data: [u8; 8]) {
    put_head(out, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
    out.extend_from_slice(&data);
}

pub(crate) fn put_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    put_head(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&increment.to_be_bytes());
}

pub(crate) fn put_rst_stream(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    put_head(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

pub(crate) fn put_goaway(out: &mut Vec<u8>, last_stream: u32, code: ErrorCode, debug: &[u8]) {
    put_head(out, 8 + debug.len(), kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&(code as u32).to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends a header block as HEADERS and, past `max_frame`, CONTINUATION
/// frames.
pub(crate) fn put_headers(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let mut chunks = block.chunks(max_frame.max(1));
    let first = chunks.next().unwrap_or(&[]);
    let mut rest = chunks.peekable();
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if rest.peek().is_none() {
        flags |= flag::END_HEADERS;
    }
    put_head(out, first.len(), kind::HEADERS, flags, stream);
    out.extend_from_slice(first);
    while let Some(chunk) = rest.next() {
        let flags = if rest.peek().is_none() {
            flag::END_HEADERS
        } else {
            0
        };
        put_head(out, chunk.len(), kind::CONTINUATION, flags, stream);
        out.extend_from_slice(chunk);
    }
}

/// Appends one DATA frame.
pub(crate) fn put_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end_stream: bool) {
    put_head(
        out,
        data.len(),
        kind::DATA,
        if end_stream { flag::END_STREAM } else { 0 },
        stream,
    );
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_lengths_are_errors() {
        let mut out = Vec::new();
        put_settings(&mut out, &[(setting::MAX_CONCURRENT_STREAMS, 100)]);
        put_ping(&mut out, true, *b"12345678");
        put_window_update(&mut out, 3, 1 << 20);
        let (head, payload) = next(&out, 16_384).unwrap().unwrap();
        assert_eq!((head.kind, head.len, head.stream), (kind::SETTINGS, 6, 0));
        assert_eq!(Params(payload).iter().collect::<Vec<_>>(), [(3, 100)]);
        let out = &out[9 + head.len..];
        let (head, payload) = next(out, 16_384).unwrap().unwrap();
        assert_eq!(
            (head.kind, head.flags, payload),
            (kind::PING, flag::ACK, &b"12345678"[..])
        );
        let out = &out[9 + head.len..];
        let (head, payload) = next(out, 16_384).unwrap().unwrap();
        assert_eq!((head.stream, u32_payload(payload).unwrap()), (3, 1 << 20));
        // Every prefix is "not yet".
        for cut in 0..out.len() {
            assert_eq!(next(&out[..cut], 16_384), Ok(None));
        }
        // Too long for the limit, known from the header alone.
        assert_eq!(
            next(&[0, 0x40, 1, 0, 0, 0, 0, 0, 1], 16_384),
            Err(ErrorCode::FrameSizeError)
        );
        assert_eq!(u32_payload(&[0; 3]), Err(ErrorCode::FrameSizeError));
        // Padding longer than the frame.
        assert_eq!(
            unpad(flag::PADDED, &[9, 1, 2]),
            Err(ErrorCode::ProtocolError)
        );
        assert_eq!(unpad(flag::PADDED, &[1, 7, 0]), Ok(&[7][..]));
        assert_eq!(
            headers_block(flag::PRIORITY, &[0, 0, 0, 1]),
            Err(ErrorCode::FrameSizeError)
        );
    }

    #[test]
    fn a_long_header_block_continues() {
        let mut out = Vec::new();
        put_headers(&mut out, 1, &[7; 40], true, 16);
        let (h1, _) = next(&out, 16).unwrap().unwrap();
        assert_eq!((h1.kind, h1.flags), (kind::HEADERS, flag::END_STREAM));
        let (h2, _) = next(&out[25..], 16).unwrap().unwrap();
        assert_eq!((h2.kind, h2.flags), (kind::CONTINUATION, 0));
        let (h3, p3) = next(&out[50..], 16).unwrap().unwrap();
        assert_eq!(
            (h3.kind, h3.flags, p3.len()),
            (kind::CONTINUATION, flag::END_HEADERS, 8)
        );
    }
}
