//! Writing responses within the peer's flow-control windows.

use super::{Connection, StreamState};
use crate::h2::Exchange;
use crate::h2::frame;
use crate::h2::hpack;
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
        frame::put_headers(&mut self.output, id, &block, true, self.peer_max_frame);
        frame::put_rst_stream(&mut self.output, id, frame::ErrorCode::NoError);
    }

    /// Writes what the windows allow of every answered stream.
    pub(super) fn flush_streams(&mut self) {
        let ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| matches!(s.state, StreamState::Sending { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.flush_stream(id);
        }
    }

    fn flush_stream(&mut self, id: u32) {
        let max_frame = self.peer_max_frame;
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let StreamState::Sending { data, trailers } = &mut stream.state else {
            return;
        };
        while !data.is_empty() {
            let room = self.send_window.min(stream.send_window);
            let Ok(room) = usize::try_from(room) else {
                return;
            };
            let n = room.min(max_frame).min(data.len());
            if n == 0 {
                return;
            }
            let chunk: Vec<u8> = data.drain(..n).collect();
            let last = data.is_empty() && trailers.is_none();
            frame::put_data(&mut self.output, id, &chunk, last);
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            self.send_window -= n;
            stream.send_window -= n;
        }
        if let Some(block) = trailers.take() {
            frame::put_headers(&mut self.output, id, &block, true, max_frame);
        }
        self.streams.remove(&id);
    }

    /// Writes `exchange`'s response on stream `id`, as far as the windows
    /// allow.
    pub(super) fn answer(&mut self, id: u32, exchange: Exchange) {
        let Some(stream) = self.streams.get_mut(&id) else {
            // Reset or forgotten while served: the answer is dropped.
            return;
        };
        let response = exchange.response;
        let mut block = Vec::new();
        if response.status == 200 {
            hpack::encode_field(&mut block, b":status", b"200");
        } else {
            let status = response.status.max(100).to_string();
            hpack::encode_field(&mut block, b":status", status.as_bytes());
        }
        for (name, value) in &response.headers {
            hpack::encode_field(&mut block, name.as_bytes(), value.as_bytes());
        }
        let trailers_only = response.body.is_empty() && !response.trailers.is_empty();
        if trailers_only {
            for (name, value) in &response.trailers {
                hpack::encode_field(&mut block, name.as_bytes(), value.as_bytes());
            }
            frame::put_headers(&mut self.output, id, &block, true, self.peer_max_frame);
            self.streams.remove(&id);
            return;
        }
        frame::put_headers(&mut self.output, id, &block, false, self.peer_max_frame);
        let trailers = (!response.trailers.is_empty()).then(|| {
            let mut t = Vec::new();
            for (name, value) in &response.trailers {
                hpack::encode_field(&mut t, name.as_bytes(), value.as_bytes());
            }
            t
        });
        if response.body.is_empty() && trailers.is_none() {
            frame::put_data(&mut self.output, id, &[], true);
            self.streams.remove(&id);
            return;
        }
        stream.state = StreamState::Sending {
            data: response.body.into(),
            trailers,
        };
        self.flush_stream(id);
    }
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
