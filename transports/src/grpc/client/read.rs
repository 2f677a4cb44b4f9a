//! The client connection's reader thread: routes each frame to the call
//! whose stream it is on, answers PING and SETTINGS, and keeps the windows.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use super::super::status::percent_decode;
use super::super::{Code, MAX_MESSAGE, Status, message_len};
use super::conn::{Conn, Event, Gathered, Reply, Sink, State, lock};
use crate::h2::frame::{self, ErrorCode, flag, kind, setting};
use crate::h2::hpack::BlockDecoder;

/// HTTP/2's default `SETTINGS_MAX_FRAME_SIZE`, which the client keeps.
const MAX_FRAME: usize = 16_384;

/// Reads frames until the connection ends; why it did.
pub(super) fn read(conn: &Conn, mut stream: TcpStream) -> String {
    let mut decoder = BlockDecoder::new(4096);
    let mut input = Vec::new();
    let mut buf = vec![0; 64 << 10];
    let mut block: Option<(u32, Vec<u8>, bool)> = None;
    loop {
        let mut used = 0;
        loop {
            // We announce no SETTINGS_MAX_FRAME_SIZE: the default holds.
            let (head, payload) = match frame::next(&input[used..], MAX_FRAME) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => {
                    let mut out = Vec::new();
                    frame::put_goaway(&mut out, 0, ErrorCode::FrameSizeError, b"a frame too large");
                    let _ = lock(&conn.writer).write_all(&out);
                    let _ = stream.shutdown(Shutdown::Both);
                    return "the server sent a frame over 16 384 bytes".into();
                }
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
            state.stream_windows.remove(&head.stream);
            if let Some((sink, _)) = state.calls.remove(&head.stream) {
                let status = match code {
                    ErrorCode::RefusedStream => Code::Unavailable,
                    ErrorCode::Cancel => Code::Cancelled,
                    _ => Code::Internal,
                };
                sink.fail(Status::new(status, format!("stream reset: {code:?}")));
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
                if let Some((sink, _)) = state.calls.remove(&id) {
                    sink.fail(Status::new(
                        Code::Unavailable,
                        "the server went away before the call",
                    ));
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
        let call = state.calls.get_mut(&id);
        let (sink, mut gathered) = match call {
            Some((sink, g)) => (Some(&*sink), Some(g)),
            None => (None, None),
        };
        // A second header block is the trailers.
        let trailers = gathered.as_ref().is_some_and(|g| g.http_status.is_some());
        decoder
            .decode(&b, 64 << 10, |name, value| {
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
        // A stream hears its headers as they come (unless they are also
        // its end: trailers-only).
        if let (Some(Sink::Parts(tx)), Some(g)) = (sink, gathered)
            && !trailers
            && !end
        {
            let _ = tx.try_send(Event::Header(std::mem::take(&mut g.header)));
        }
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
    let mut refused = None;
    match state.calls.get_mut(&head.stream) {
        Some((Sink::Whole(_), g)) => {
            if g.body.len() + data.len() > MAX_MESSAGE + 5 {
                return Err("a reply over the message limit".into());
            }
            g.body.extend_from_slice(data);
            if n > 0 {
                frame::put_window_update(out, head.stream, n);
            }
        }
        Some((Sink::Parts(tx), g)) => {
            // The stream's window opens as the caller takes messages: a
            // caller that stops reading stops the server, not this thread.
            g.body.extend_from_slice(data);
            g.owed += n;
            refused = deliver_messages(tx, g).err();
        }
        None => {}
    }
    if let Some(status) = refused {
        state.stream_windows.remove(&head.stream);
        if let Some((sink, _)) = state.calls.remove(&head.stream) {
            sink.fail(status);
        }
        frame::put_rst_stream(out, head.stream, ErrorCode::Cancel);
        return Ok(());
    }
    if head.flags & flag::END_STREAM != 0 {
        finish(&mut state, head.stream);
    }
    Ok(())
}

/// Hands a stream's complete messages to its caller, each with the wire
/// bytes it frees; the status to end the call with if one cannot be taken.
fn deliver_messages(tx: &crossbeam_channel::Sender<Event>, g: &mut Gathered) -> Result<(), Status> {
    let mut used = 0;
    while let Some(prefix) = g.body.get(used..used + 5) {
        let len = message_len(prefix, MAX_MESSAGE)?;
        let Some(message) = g.body.get(used + 5..used + 5 + len) else {
            break;
        };
        // The message's share of the DATA bytes read so far.
        let wire = u32::try_from(5 + len).unwrap_or(u32::MAX).min(g.owed);
        g.owed -= wire;
        let _ = tx.try_send(Event::Message(message.to_vec(), wire));
        used += 5 + len;
    }
    g.body.drain(..used);
    Ok(())
}

/// The stream ended: the call's outcome, from its trailers.
fn finish(state: &mut State, id: u32) {
    state.stream_windows.remove(&id);
    let Some((sink, g)) = state.calls.remove(&id) else {
        return;
    };
    let status = match (g.http_status.as_deref(), g.grpc_status.as_deref()) {
        (Some("200"), Some("0")) => None,
        (Some("200"), Some(code)) => Some(Status::new(
            Code::from_i32(code.parse().unwrap_or(2)),
            percent_decode(g.grpc_message.as_deref().unwrap_or("")),
        )),
        (Some("200"), None) => Some(Status::new(
            Code::Internal,
            "no grpc-status in the trailers",
        )),
        (status, _) => Some(Status::new(
            Code::Unknown,
            format!("HTTP status {}", status.unwrap_or("missing")),
        )),
    };
    match sink {
        Sink::Whole(tx) => {
            let outcome = match status {
                None => Ok(Reply {
                    body: g.body,
                    header: g.header,
                    trailer: g.trailer,
                }),
                Some(status) => Err(status),
            };
            let _ = tx.try_send(outcome);
        }
        Sink::Parts(tx) => {
            if !g.body.is_empty() && status.is_none() {
                let _ = tx.try_send(Event::End(Err(Status::new(
                    Code::Internal,
                    "the stream ended inside a message",
                ))));
                return;
            }
            if !g.header.is_empty() {
                // Trailers-only: the header metadata came with the end.
                let _ = tx.try_send(Event::Header(g.header));
            }
            let _ = tx.try_send(Event::End(status.map_or(Ok(g.trailer), Err)));
        }
    }
}
