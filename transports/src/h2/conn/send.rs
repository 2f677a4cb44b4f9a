//! Our side of each stream: opening it, its head, its body within the
//! peer's windows (what does not fit waits in the stream's outbox), its
//! trailers, its end.

use super::{Closed, Connection, Half, OpenError, Outbox, Role, State, Stream};
use crate::h2::frame::{self, ErrorCode};

/// The highest stream id there is.
const MAX_STREAM_ID: u32 = (1 << 31) - 1;

impl<R: Role> Connection<R> {
    /// Opens a stream of ours with its head, `block` (a client's request);
    /// with `end_stream` when it has no body. Refused, the role's stream
    /// comes back with why.
    pub(crate) fn open(
        &mut self,
        block: &[u8],
        end_stream: bool,
        role: R::Stream,
    ) -> Result<u32, (OpenError, R::Stream)> {
        if self.going_away() {
            return Err((OpenError::GoingAway, role));
        }
        let ours = self
            .streams
            .keys()
            .filter(|&&id| !Self::peer_opens(id))
            .count();
        if self
            .peer
            .max_concurrent_streams
            .is_some_and(|m| ours >= m as usize)
        {
            return Err((OpenError::AtLimit, role));
        }
        let id = self.next_local;
        if id > MAX_STREAM_ID {
            return Err((OpenError::Exhausted, role));
        }
        self.next_local += 2;
        frame::put_headers(&mut self.output, id, block, end_stream, self.peer.max_frame);
        let state = if end_stream {
            State::HalfClosedLocal { remote: Half::Head }
        } else {
            State::Open {
                local: Half::Body,
                remote: Half::Head,
            }
        };
        self.streams.insert(
            id,
            Stream {
                state,
                send_window: self.peer.initial_window,
                recv_window: i64::from(self.config.initial_stream_window),
                content_length: None,
                received: 0,
                held: 0,
                outbox: Outbox::default(),
                role,
            },
        );
        Ok(id)
    }

    /// Writes stream `id`'s head, `block` (a server's response headers);
    /// with `end_stream` when nothing follows. Ignored on a stream whose
    /// head went, or that is gone.
    pub(crate) fn send_headers(&mut self, id: u32, block: &[u8], end_stream: bool) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if stream.state.local() != Some(Half::Head) {
            return;
        }
        frame::put_headers(&mut self.output, id, block, end_stream, self.peer.max_frame);
        if end_stream {
            self.local_ended(id);
        } else if let Some(state) = stream.state.with_local(Some(Half::Body)) {
            stream.state = state;
        }
    }

    /// Sends `data` on stream `id`, ending our side after it with
    /// `end_stream`: what the windows allow goes out now, straight from
    /// `data`; the rest waits in the stream's outbox.
    pub(crate) fn send_data(&mut self, id: u32, data: &[u8], end_stream: bool) {
        let max_frame = self.peer.max_frame;
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if stream.state.local() != Some(Half::Body) || stream.outbox.end {
            return;
        }
        if !stream.outbox.data.is_empty() {
            stream.outbox.data.extend(data);
            stream.outbox.end = end_stream;
            self.flush(id);
            return;
        }
        let mut rest = data;
        let mut sent = 0;
        while !rest.is_empty() {
            let room = self.send_window.min(stream.send_window);
            let n = usize::try_from(room)
                .unwrap_or(0)
                .min(max_frame)
                .min(rest.len());
            if n == 0 {
                break;
            }
            let last = end_stream && n == rest.len();
            frame::put_data(&mut self.output, id, &rest[..n], last);
            let n64 = i64::try_from(n).unwrap_or(i64::MAX);
            self.send_window -= n64;
            stream.send_window -= n64;
            rest = &rest[n..];
            sent += n;
        }
        if sent > 0 {
            self.role.sent(id, &mut stream.role, sent);
        }
        if !rest.is_empty() {
            stream.outbox.data.extend(rest);
            stream.outbox.end = end_stream;
            return;
        }
        if end_stream {
            if data.is_empty() {
                frame::put_data(&mut self.output, id, &[], true);
            }
            self.local_ended(id);
        }
    }

    /// Ends our side of stream `id` with trailers, `block`, once the data
    /// queued before them is out.
    pub(crate) fn send_trailers(&mut self, id: u32, block: &[u8]) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if stream.state.local() != Some(Half::Body) || stream.outbox.end {
            return;
        }
        if stream.outbox.data.is_empty() {
            frame::put_headers(&mut self.output, id, block, true, self.peer.max_frame);
            self.local_ended(id);
            return;
        }
        stream.outbox.trailers = Some(block.to_vec());
        stream.outbox.end = true;
    }

    /// Writes what the windows allow of every stream's outbox.
    pub(super) fn flush_all(&mut self) {
        let waiting: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.outbox.data.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.flush(id);
        }
    }

    /// Writes what the windows allow of stream `id`'s outbox, and its end
    /// once all of it is out.
    pub(super) fn flush(&mut self, id: u32) {
        let max_frame = self.peer.max_frame;
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let outbox = &mut stream.outbox;
        if outbox.data.is_empty() {
            return;
        }
        let mut sent = 0;
        while !outbox.data.is_empty() {
            let room = self.send_window.min(stream.send_window);
            let (front, _) = outbox.data.as_slices();
            let n = usize::try_from(room)
                .unwrap_or(0)
                .min(max_frame)
                .min(front.len());
            if n == 0 {
                break;
            }
            let last = outbox.end && outbox.trailers.is_none() && n == outbox.data.len();
            frame::put_data(&mut self.output, id, &front[..n], last);
            outbox.data.drain(..n);
            let n64 = i64::try_from(n).unwrap_or(i64::MAX);
            self.send_window -= n64;
            stream.send_window -= n64;
            sent += n;
        }
        if sent > 0 {
            self.role.sent(id, &mut stream.role, sent);
        }
        if !stream.outbox.data.is_empty() || !stream.outbox.end {
            return;
        }
        if let Some(block) = stream.outbox.trailers.take() {
            frame::put_headers(&mut self.output, id, &block, true, max_frame);
        }
        self.local_ended(id);
    }

    /// Our side of stream `id` ended. A server that answered before the
    /// request was whole tells the client to stop sending (§8.1:
    /// `RST_STREAM` with `NO_ERROR`).
    fn local_ended(&mut self, id: u32) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        match stream.state.with_local(None) {
            None => self.close(id),
            Some(_) if R::SERVER => {
                frame::put_rst_stream(&mut self.output, id, ErrorCode::NoError);
                self.remember_reset(id);
                self.close(id);
            }
            Some(state) => stream.state = state,
        }
    }

    /// Stream `id` is done with: both sides ended.
    pub(super) fn close(&mut self, id: u32) {
        self.remove(id, Closed::Done);
    }
}
