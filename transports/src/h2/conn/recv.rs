//! Frames from the peer, each applied to the connection and its streams.

use synkit_core::time::Instant;

use super::{
    Closed, Connection, Continuing, Fields, Half, Head, MAX_HEADER_BREACHES, Part, Phase, Role,
    State, Stream, Taken,
};
use crate::h2::frame::{self, Error, ErrorCode, Frame, Priority};
use crate::h2::hpack::ListSize;
use crate::h2::settings::MAX_WINDOW;

/// What a header block is for, known before it is decoded.
#[derive(Clone, Copy)]
enum Target {
    /// A stream the peer opens with it.
    Open,
    /// The head of the peer's side of a stream we opened.
    Head,
    /// The peer's trailers.
    Trailers,
    /// Decoded for the table's sake and dropped; the stream gets `then`,
    /// if anything.
    Dropped { then: Option<ErrorCode> },
}

impl<R: Role> Connection<R> {
    pub(super) fn frame(&mut self, frame: Frame<'_>, now: Instant) -> Result<(), Error> {
        if let Some(c) = &self.continuing
            && !matches!(frame, Frame::Continuation { stream, .. } if stream == c.stream)
        {
            return Err(proto("a header block interrupted"));
        }
        if self.phase == Phase::Settings {
            if !matches!(frame, Frame::Settings { ack: false, .. }) {
                return Err(proto("the preface not followed by SETTINGS"));
            }
            self.phase = Phase::Open;
        }
        match frame {
            Frame::Data {
                stream,
                end_stream,
                data,
                flow_len,
            } => self.data(stream, end_stream, data, flow_len),
            Frame::Headers {
                stream,
                end_stream,
                end_headers,
                priority,
                fragment,
            } => {
                let self_dependent =
                    priority.is_some_and(|Priority { dependency }| dependency == stream);
                let c = Continuing {
                    stream,
                    block: Vec::new(),
                    end_stream,
                    self_dependent,
                };
                self.headers(&c, fragment, end_headers)
            }
            Frame::Continuation {
                end_headers,
                fragment,
                ..
            } => self.continuation(fragment, end_headers),
            // Priority is advice we do not take; one depending on itself
            // was refused as it was decoded.
            Frame::Priority { .. } | Frame::Unknown | Frame::Settings { ack: true, .. } => Ok(()),
            Frame::RstStream { stream, code } => self.rst_stream(stream, code, now),
            Frame::Settings { params, .. } => {
                let moved = self.peer.apply(params)?;
                for stream in self.streams.values_mut() {
                    stream.send_window += moved;
                    if stream.send_window > MAX_WINDOW {
                        return Err(Error::Connection(
                            ErrorCode::FlowControlError,
                            "a stream window past 2^31-1",
                        ));
                    }
                }
                frame::put_settings_ack(&mut self.output);
                self.flush_all();
                Ok(())
            }
            // We announce ENABLE_PUSH 0, and a client never pushes.
            Frame::PushPromise { .. } => Err(proto("PUSH_PROMISE, which we turned off")),
            Frame::Ping { ack, data } => {
                if !ack {
                    frame::put_ping(&mut self.output, true, data);
                }
                Ok(())
            }
            Frame::GoAway {
                last_stream, code, ..
            } => {
                self.went_away(last_stream, code);
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => self.window_update(stream, increment),
        }
    }

    /// The peer's GOAWAY: it takes no new stream, and those of ours past
    /// `last` it never processed.
    fn went_away(&mut self, last: u32, code: ErrorCode) {
        if code != ErrorCode::NoError {
            log::info!(code:? = code; "HTTP/2: the peer went away with an error");
        }
        if self.phase == Phase::Open {
            self.phase = Phase::Draining { sent: None };
        }
        let unprocessed: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|&id| !Self::peer_opens(id) && id > last)
            .collect();
        for id in unprocessed {
            self.remove(id, Closed::Unprocessed);
        }
    }

    fn headers(&mut self, c: &Continuing, fragment: &[u8], end_headers: bool) -> Result<(), Error> {
        let id = c.stream;
        if !R::SERVER && Self::peer_opens(id) {
            return Err(proto("HEADERS on a stream we did not open"));
        }
        let known = self.streams.contains_key(&id) || self.reset_here.contains(&id);
        if !known && !self.idle(id) {
            // Closed, or skipped over and so closed (§5.1.1).
            return Err(proto("HEADERS on a closed stream"));
        }
        if !known && !Self::peer_opens(id) {
            return Err(proto("HEADERS on a stream not yet opened"));
        }
        if end_headers {
            // The whole block in one frame, read where it lies.
            return self.header_block(c, fragment);
        }
        if fragment.len() > self.config.max_header_list {
            return Err(calm("a header block past the limit"));
        }
        self.continuing = Some(Continuing {
            stream: c.stream,
            block: fragment.to_vec(),
            end_stream: c.end_stream,
            self_dependent: c.self_dependent,
        });
        Ok(())
    }

    fn continuation(&mut self, fragment: &[u8], end_headers: bool) -> Result<(), Error> {
        let limit = self.config.max_header_list;
        let Some(c) = &mut self.continuing else {
            return Err(proto("CONTINUATION without HEADERS"));
        };
        if c.block.len() + fragment.len() > limit {
            return Err(calm("a header block past the limit"));
        }
        c.block.extend_from_slice(fragment);
        if !end_headers {
            return Ok(());
        }
        let Some(c) = self.continuing.take() else {
            return Ok(());
        };
        self.header_block(&c, &c.block)
    }

    /// What stream `id`'s header block is for.
    fn target(&self, id: u32, end_stream: bool) -> Target {
        match self.streams.get(&id).map(|s| s.state.remote()) {
            Some(Some(Half::Head)) => Target::Head,
            // A second HEADERS must end the stream (§8.1).
            Some(Some(Half::Body)) if end_stream => Target::Trailers,
            Some(Some(Half::Body)) => Target::Dropped {
                then: Some(ErrorCode::ProtocolError),
            },
            // The peer already ended its side (§5.1).
            Some(None) => Target::Dropped {
                then: Some(ErrorCode::StreamClosed),
            },
            // One we reset: frames in flight are ignored.
            None if !self.idle(id) => Target::Dropped { then: None },
            None => Target::Open,
        }
    }

    /// A stream's whole header block: a head, or trailers, or one to
    /// decode and drop.
    fn header_block(&mut self, c: &Continuing, block: &[u8]) -> Result<(), Error> {
        let (id, end_stream) = (c.stream, c.end_stream);
        let target = self.target(id, end_stream);
        let part = match target {
            Target::Trailers => Part::Trailers,
            _ => Part::Head,
        };
        let mut fields = self.role.fields(part);
        let keep = !matches!(target, Target::Dropped { .. });
        let size = self
            .decoder
            .decode(block, self.config.max_header_list, |name, value| {
                if keep {
                    fields.field(name, value);
                }
            });
        // The decoder's table may be out of step: the connection ends.
        let size = size.map_err(|_| {
            Error::Connection(
                ErrorCode::CompressionError,
                "a header block that does not decode",
            )
        })?;
        if matches!(target, Target::Open) {
            self.last_peer = id;
        }
        if size == ListSize::Over {
            self.header_breaches += 1;
            if self.header_breaches >= MAX_HEADER_BREACHES {
                return Err(calm("header lists past the limit, again and again"));
            }
        }
        match target {
            Target::Dropped { then: None } => return Ok(()),
            Target::Dropped { then: Some(code) } => return Err(Error::Stream(id, code)),
            _ if c.self_dependent => return Err(Error::Stream(id, ErrorCode::ProtocolError)),
            _ => {}
        }
        if let Phase::Draining { sent: Some(last) } = self.phase
            && matches!(target, Target::Open)
            && id > last
        {
            // Past our GOAWAY: not processed.
            return Ok(());
        }
        if size == ListSize::Over {
            return self.too_large_head(id, target, end_stream);
        }
        let (done, content_length) = fields.finish().map_err(|why| {
            log::debug!(stream = id, why = why; "HTTP/2: a malformed header block");
            Error::Stream(id, ErrorCode::ProtocolError)
        })?;
        match target {
            Target::Open => self.open_peer(id, done, content_length, end_stream),
            Target::Head => {
                let Some(stream) = self.streams.get_mut(&id) else {
                    return Ok(());
                };
                if self.role.head(id, &mut stream.role, done, end_stream) == Head::Informational {
                    return if end_stream {
                        Err(Error::Stream(id, ErrorCode::ProtocolError))
                    } else {
                        Ok(())
                    };
                }
                stream.content_length = content_length;
                stream.state = stream
                    .state
                    .with_remote(Some(Half::Body))
                    .unwrap_or(stream.state);
                if end_stream {
                    return self.end_remote(id);
                }
                Ok(())
            }
            Target::Trailers => {
                if let Some(stream) = self.streams.get_mut(&id) {
                    self.role.trailers(id, &mut stream.role, done);
                }
                self.end_remote(id)
            }
            Target::Dropped { .. } => Ok(()),
        }
    }

    /// A head past the header-list limit: a request is answered 431
    /// (RFC 6585), so the client learns why; anything else is reset.
    fn too_large_head(&mut self, id: u32, target: Target, end_stream: bool) -> Result<(), Error> {
        if !matches!(target, Target::Open) {
            return Err(Error::Stream(id, ErrorCode::ProtocolError));
        }
        let mut block = Vec::new();
        crate::h2::hpack::encode_field(&mut block, b":status", b"431");
        frame::put_headers(&mut self.output, id, &block, true, self.peer.max_frame);
        if !end_stream {
            // The rest of the request is not wanted (§8.1).
            frame::put_rst_stream(&mut self.output, id, ErrorCode::NoError);
            self.remember_reset(id);
        }
        Ok(())
    }

    /// A stream the peer opens.
    fn open_peer(
        &mut self,
        id: u32,
        head: <R::Fields as Fields>::Done,
        content_length: Option<u64>,
        end_stream: bool,
    ) -> Result<(), Error> {
        let limit = self.config.max_concurrent_streams.unwrap_or(u32::MAX);
        let peer_opened = self
            .streams
            .keys()
            .filter(|&&s| Self::peer_opens(s))
            .count();
        if peer_opened >= limit as usize {
            return Err(Error::Stream(id, ErrorCode::RefusedStream));
        }
        let role = self.role.opened(id, head, end_stream);
        self.streams.insert(
            id,
            Stream {
                state: State::Open {
                    local: Half::Head,
                    remote: Half::Body,
                },
                send_window: self.peer.initial_window,
                recv_window: i64::from(self.config.initial_stream_window),
                content_length,
                received: 0,
                held: 0,
                outbox: super::Outbox::default(),
                role,
            },
        );
        if end_stream {
            return self.end_remote(id);
        }
        Ok(())
    }

    /// The peer ended its side of stream `id`, if its body is as long as it
    /// said.
    fn end_remote(&mut self, id: u32) -> Result<(), Error> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if stream.content_length.is_some_and(|n| n != stream.received) {
            return Err(Error::Stream(id, ErrorCode::ProtocolError));
        }
        self.role.ended(id, &mut stream.role);
        match stream.state.with_remote(None) {
            Some(state) => stream.state = state,
            None => self.close(id),
        }
        Ok(())
    }

    fn data(&mut self, id: u32, end_stream: bool, data: &[u8], flow_len: u32) -> Result<(), Error> {
        if self.idle(id) {
            return Err(proto("DATA on an idle stream"));
        }
        // The whole frame counts against the connection window, padding
        // too, whatever becomes of it.
        self.recv_window -= i64::from(flow_len);
        if self.recv_window < 0 {
            return Err(Error::Connection(
                ErrorCode::FlowControlError,
                "DATA past the connection window",
            ));
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            self.release(flow_len);
            let ignored = self.reset_here.contains(&id)
                || matches!(self.phase, Phase::Draining { sent: Some(last) } if id > last);
            // Closed (§5.1), unless we closed it and the DATA was on its
            // way.
            return if ignored {
                Ok(())
            } else {
                Err(Error::Stream(id, ErrorCode::StreamClosed))
            };
        };
        let code = match stream.state.remote() {
            Some(Half::Body) => None,
            // DATA before the head is malformed (§8.1).
            Some(Half::Head) => Some(ErrorCode::ProtocolError),
            // After the peer's END_STREAM (§5.1).
            None => Some(ErrorCode::StreamClosed),
        };
        stream.recv_window -= i64::from(flow_len);
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        stream.received = stream.received.saturating_add(len);
        let code = code.or_else(|| {
            if stream.recv_window < 0 {
                Some(ErrorCode::FlowControlError)
            } else if stream.content_length.is_some_and(|n| stream.received > n) {
                Some(ErrorCode::ProtocolError)
            } else {
                None
            }
        });
        if let Some(code) = code {
            self.release(flow_len);
            return Err(Error::Stream(id, code));
        }
        let taken = self.role.data(id, &mut stream.role, data);
        // Padding is nobody's to hold.
        let len = u32::try_from(data.len()).unwrap_or(flow_len);
        let padding = flow_len - len;
        match taken {
            Taken::Done => {
                self.release(flow_len);
                self.release_stream_unless_ending(id, flow_len, end_stream);
            }
            Taken::HeldByConnection => {
                stream.held = stream.held.saturating_add(len);
                self.release(padding);
                self.release_stream_unless_ending(id, flow_len, end_stream);
            }
            Taken::HeldByStream => {
                self.release(flow_len);
                self.release_stream_unless_ending(id, padding, end_stream);
            }
        }
        if end_stream {
            return self.end_remote(id);
        }
        Ok(())
    }

    fn release_stream_unless_ending(&mut self, id: u32, n: u32, end_stream: bool) {
        if !end_stream {
            self.release_stream(id, n);
        }
    }

    fn rst_stream(&mut self, id: u32, code: ErrorCode, now: Instant) -> Result<(), Error> {
        if self.idle(id) {
            return Err(proto("RST_STREAM on an idle stream"));
        }
        if !self.resets.spend(now) {
            return Err(calm("too many resets"));
        }
        self.remove(id, Closed::ResetByPeer(code));
        Ok(())
    }

    fn window_update(&mut self, id: u32, increment: u32) -> Result<(), Error> {
        let increment = i64::from(increment);
        if id == 0 {
            self.send_window += increment;
            if self.send_window > MAX_WINDOW {
                return Err(Error::Connection(
                    ErrorCode::FlowControlError,
                    "a connection window past 2^31-1",
                ));
            }
            self.flush_all();
        } else if let Some(stream) = self.streams.get_mut(&id) {
            stream.send_window += increment;
            if stream.send_window > MAX_WINDOW {
                return Err(Error::Stream(id, ErrorCode::FlowControlError));
            }
            self.flush(id);
        } else if self.idle(id) {
            return Err(proto("WINDOW_UPDATE on an idle stream"));
        }
        // On a closed stream it is ignored (§5.1).
        Ok(())
    }
}

fn proto(why: &'static str) -> Error {
    Error::Connection(ErrorCode::ProtocolError, why)
}

fn calm(why: &'static str) -> Error {
    Error::Connection(ErrorCode::EnhanceYourCalm, why)
}
