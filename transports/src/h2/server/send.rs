//! Writing responses within the peer's flow-control windows.

use super::{Connection, Local, State};
use crate::engine::parts::CreditGuard;
use crate::h2::frame;
use crate::h2::hpack;
use crate::h2::{Exchange, Field, Response};
use synkit_core::time::Duration;

impl Connection {
    /// Answers stream `id`, whose request grew past the limit, with gRPC's
    /// `RESOURCE_EXHAUSTED`, then resets it with `NO_ERROR`.
    pub(super) fn too_large(&mut self, id: u32) {
        let mut block = Vec::new();
        hpack::encode_field(&mut block, b":status", b"200");
        hpack::encode_field(&mut block, b"content-type", b"application/grpc");
        hpack::encode_field(&mut block, b"grpc-status", b"8");
        let message = format!("a request over {} bytes", self.max_body);
        hpack::encode_field(&mut block, b"grpc-message", message.as_bytes());
        frame::put_headers(&mut self.output, id, &block, true, self.peer.max_frame);
        frame::put_rst_stream(&mut self.output, id, frame::ErrorCode::NoError);
        self.remember_reset(id);
    }

    /// Answers stream `id`, whose header list was past the limit we
    /// announced, `431 Request Header Fields Too Large` (RFC 6585), and
    /// tells the client to stop sending if it had not ended the stream.
    pub(super) fn header_list_too_large(&mut self, id: u32, end_stream: bool) {
        let mut block = Vec::new();
        hpack::encode_field(&mut block, b":status", b"431");
        frame::put_headers(&mut self.output, id, &block, true, self.peer.max_frame);
        if !end_stream {
            frame::put_rst_stream(&mut self.output, id, frame::ErrorCode::NoError);
            self.remember_reset(id);
        }
    }

    /// Writes what the windows allow of every answered stream.
    pub(super) fn flush_streams(&mut self) {
        let ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| matches!(s.state, State::HalfClosedRemote(Local::Sending { .. })))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.flush_stream(id);
        }
    }

    fn flush_stream(&mut self, id: u32) {
        let max_frame = self.peer.max_frame;
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let State::HalfClosedRemote(Local::Sending {
            data,
            trailers,
            open,
        }) = &mut stream.state
        else {
            return;
        };
        let mut ended = false;
        while !data.is_empty() {
            let room = self.send_window.min(stream.send_window);
            let Ok(room) = usize::try_from(room) else {
                return;
            };
            let (front, _) = data.as_slices();
            let n = room.min(max_frame).min(front.len());
            if n == 0 {
                return;
            }
            ended = n == data.len() && trailers.is_none() && open.is_none();
            frame::put_data(&mut self.output, id, &front[..n], ended);
            data.drain(..n);
            if let Some(credit) = open {
                credit.sent(n);
            }
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            self.send_window -= n;
            stream.send_window -= n;
        }
        if open.is_some() {
            // Everything sent so far is out; the service sends more.
            return;
        }
        if let Some(block) = trailers.take() {
            frame::put_headers(&mut self.output, id, &block, true, max_frame);
        } else if !ended {
            frame::put_data(&mut self.output, id, &[], true);
        }
        self.streams.remove(&id);
    }

    /// Writes `exchange`'s response on stream `id`, as far as the windows
    /// allow: the whole answer, or the end of one sent in parts.
    pub(super) fn answer(&mut self, id: u32, exchange: Exchange) {
        let Some(stream) = self.streams.get_mut(&id) else {
            // Reset or forgotten while served: the answer is dropped.
            return;
        };
        let response = exchange.response;
        if let State::HalfClosedRemote(Local::Sending {
            data,
            trailers,
            open,
        }) = &mut stream.state
        {
            // The end of an answer sent in parts: its headers went first.
            data.extend(&response.body);
            *trailers = trailer_block(&response);
            *open = None;
            self.flush_stream(id);
            return;
        }
        let mut block = std::mem::take(&mut self.block);
        header_block(&response, &mut block);
        let trailers_only = response.body.is_empty() && !response.trailers.is_empty();
        if trailers_only {
            fields(&response.trailers, &mut block);
            frame::put_headers(&mut self.output, id, &block, true, self.peer.max_frame);
            self.block = block;
            self.streams.remove(&id);
            return;
        }
        frame::put_headers(&mut self.output, id, &block, false, self.peer.max_frame);
        let len = i64::try_from(response.body.len()).unwrap_or(i64::MAX);
        let fits = len <= self.send_window.min(stream.send_window)
            && response.body.len() <= self.peer.max_frame;
        if fits {
            // The common answer: one DATA frame and the trailers, straight
            // out, nothing kept.
            let last = response.trailers.is_empty();
            frame::put_data(&mut self.output, id, &response.body, last);
            self.send_window -= len;
            if !last {
                block.clear();
                fields(&response.trailers, &mut block);
                frame::put_headers(&mut self.output, id, &block, true, self.peer.max_frame);
            }
            self.block = block;
            self.streams.remove(&id);
            return;
        }
        self.block = block;
        let trailers = trailer_block(&response);
        stream.state = State::HalfClosedRemote(Local::Sending {
            data: response.body.into(),
            trailers,
            open: None,
        });
        self.flush_stream(id);
    }

    /// Writes a part of stream `id`'s answer, more to come: the first part
    /// brings the headers and the hold on the call's credit.
    pub(super) fn answer_part(&mut self, id: u32, part: Exchange, credit: Option<CreditGuard>) {
        let Some(stream) = self.streams.get_mut(&id) else {
            // Reset or forgotten: dropping the credit tells the worker.
            return;
        };
        let response = part.response;
        match &mut stream.state {
            State::HalfClosedRemote(Local::Awaiting) => {
                let Some(credit) = credit else {
                    return;
                };
                let mut block = std::mem::take(&mut self.block);
                header_block(&response, &mut block);
                frame::put_headers(&mut self.output, id, &block, false, self.peer.max_frame);
                self.block = block;
                stream.state = State::HalfClosedRemote(Local::Sending {
                    data: response.body.into(),
                    trailers: None,
                    open: Some(credit),
                });
            }
            State::HalfClosedRemote(Local::Sending {
                data,
                open: Some(_),
                ..
            }) => data.extend(&response.body),
            _ => return,
        }
        self.flush_stream(id);
    }
}

/// The response's `:status` and header fields, encoded into `block`.
fn header_block(response: &Response, block: &mut Vec<u8>) {
    block.clear();
    if response.status == 200 {
        hpack::encode_field(block, b":status", b"200");
    } else {
        let status = response.status.max(100).to_string();
        hpack::encode_field(block, b":status", status.as_bytes());
    }
    fields(&response.headers, block);
}

/// `fields`, encoded onto `block`.
fn fields(fields: &[(Field, Field)], block: &mut Vec<u8>) {
    for (name, value) in fields {
        hpack::encode_field(block, name.as_bytes(), value.as_bytes());
    }
}

/// The response's trailer fields, encoded, if it has any.
fn trailer_block(response: &Response) -> Option<Vec<u8>> {
    (!response.trailers.is_empty()).then(|| {
        let mut t = Vec::new();
        fields(&response.trailers, &mut t);
        t
    })
}

/// `grpc-timeout` (`1S`, `200m`, …) as a duration.
pub(super) fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}
