//! Frames from the client, each applied to the connection and its
//! streams.

use synkit_core::time::Instant;

use super::request::{RequestFields, trailer_field};
use super::{
    Connection, Continuing, Local, MAX_CONCURRENT_STREAMS, MAX_HEADER_BLOCK, MAX_HEADER_BREACHES,
    Phase, State, Stream,
};
use crate::h2::frame::{self, Error, ErrorCode, Frame, Priority};
use crate::h2::hpack::ListSize;
use crate::h2::settings::MAX_WINDOW;

/// What a header block is for, known before it is decoded.
enum Target {
    /// A new stream's request.
    Request,
    /// An open stream's trailers.
    Trailers,
    /// Decoded for the table's sake and dropped; the stream gets `then`,
    /// if anything.
    Dropped { then: Option<ErrorCode> },
}

impl Connection {
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
                self.headers(stream, end_stream, self_dependent, fragment, end_headers)
            }
            Frame::Continuation {
                end_headers,
                fragment,
                ..
            } => self.continuation(fragment, end_headers),
            // Priority is advice we do not take; one depending on itself
            // was refused as it was decoded.
            Frame::Priority { .. } | Frame::Unknown | Frame::Settings { ack: true, .. } => Ok(()),
            Frame::RstStream { stream, .. } => self.rst_stream(stream, now),
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
                self.flush_streams();
                Ok(())
            }
            Frame::PushPromise { .. } => Err(proto("PUSH_PROMISE from a client")),
            Frame::Ping { ack, data } => {
                if !ack {
                    frame::put_ping(&mut self.output, true, data);
                }
                Ok(())
            }
            Frame::GoAway { code, .. } => {
                if code != ErrorCode::NoError {
                    log::info!(code:? = code; "HTTP/2: the client went away with an error");
                }
                if self.phase == Phase::Open {
                    self.phase = Phase::Draining { sent: None };
                }
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => self.window_update(stream, increment),
        }
    }

    fn headers(
        &mut self,
        id: u32,
        end_stream: bool,
        self_dependent: bool,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<(), Error> {
        if id.is_multiple_of(2) {
            return Err(proto("HEADERS on an even stream"));
        }
        let known = self.streams.contains_key(&id) || self.reset_here.contains(&id);
        if id <= self.last_stream && !known {
            // Closed, or skipped over and so closed (§5.1.1).
            return Err(proto("HEADERS on a closed stream"));
        }
        if end_headers {
            // The whole block in one frame, read where it lies.
            return self.header_block(id, fragment, end_stream, self_dependent);
        }
        if fragment.len() > MAX_HEADER_BLOCK {
            return Err(calm("a header block past 64 KiB"));
        }
        self.continuing = Some(Continuing {
            stream: id,
            block: fragment.to_vec(),
            end_stream,
            self_dependent,
        });
        Ok(())
    }

    fn continuation(&mut self, fragment: &[u8], end_headers: bool) -> Result<(), Error> {
        let Some(c) = &mut self.continuing else {
            return Err(proto("CONTINUATION without HEADERS"));
        };
        if c.block.len() + fragment.len() > MAX_HEADER_BLOCK {
            return Err(calm("a header block past 64 KiB"));
        }
        c.block.extend_from_slice(fragment);
        if !end_headers {
            return Ok(());
        }
        let Some(c) = self.continuing.take() else {
            return Ok(());
        };
        self.header_block(c.stream, &c.block, c.end_stream, c.self_dependent)
    }

    /// What stream `id`'s header block is for.
    fn target(&self, id: u32, end_stream: bool) -> Target {
        match self.streams.get(&id).map(|s| &s.state) {
            // A second HEADERS on an open stream must end it (§8.1).
            Some(State::Open { .. }) if end_stream => Target::Trailers,
            Some(State::Open { .. }) => Target::Dropped {
                then: Some(ErrorCode::ProtocolError),
            },
            // The client already ended it (§5.1).
            Some(State::HalfClosedRemote(_)) => Target::Dropped {
                then: Some(ErrorCode::StreamClosed),
            },
            // One we reset: frames in flight are ignored.
            None if id <= self.last_stream => Target::Dropped { then: None },
            None => Target::Request,
        }
    }

    /// A stream's whole header block: a request's headers, or its
    /// trailers, or one to decode and drop.
    fn header_block(
        &mut self,
        id: u32,
        block: &[u8],
        end_stream: bool,
        self_dependent: bool,
    ) -> Result<(), Error> {
        let target = self.target(id, end_stream);
        let mut fields = RequestFields::default();
        let mut bad_trailer = None;
        let size = self
            .decoder
            .decode(block, MAX_HEADER_BLOCK, |name, value| match target {
                Target::Request => fields.field(name, value),
                Target::Trailers => {
                    if bad_trailer.is_none() {
                        bad_trailer = trailer_field(name, value).err();
                    }
                }
                Target::Dropped { .. } => {}
            });
        // The decoder's table may be out of step: the connection ends.
        let size = size.map_err(|_| {
            Error::Connection(
                ErrorCode::CompressionError,
                "a header block that does not decode",
            )
        })?;
        if matches!(target, Target::Request) {
            self.last_stream = id;
        }
        if size == ListSize::Over {
            self.header_breaches += 1;
            if self.header_breaches >= MAX_HEADER_BREACHES {
                return Err(calm("header lists past the limit, again and again"));
            }
        }
        match target {
            Target::Dropped { then: None } => Ok(()),
            Target::Dropped { then: Some(code) } => Err(Error::Stream(id, code)),
            _ if self_dependent => Err(Error::Stream(id, ErrorCode::ProtocolError)),
            Target::Trailers => {
                if bad_trailer.is_some() || size == ListSize::Over {
                    return Err(Error::Stream(id, ErrorCode::ProtocolError));
                }
                self.end_stream(id)
            }
            Target::Request => self.open(id, fields, size, end_stream),
        }
    }

    /// A new stream's request headers, decoded.
    fn open(
        &mut self,
        id: u32,
        fields: RequestFields,
        size: ListSize,
        end_stream: bool,
    ) -> Result<(), Error> {
        if let Phase::Draining { sent: Some(last) } = self.phase
            && id > last
        {
            // Past our GOAWAY: not processed.
            return Ok(());
        }
        if size == ListSize::Over {
            // Too large to take (RFC 9110's 431), answered, not reset: the
            // client learns why.
            self.header_list_too_large(id, end_stream);
            return Ok(());
        }
        let head = match fields.finish() {
            Ok(head) => head,
            Err(why) => {
                log::debug!(stream = id, why = why; "HTTP/2: a malformed request");
                return Err(Error::Stream(id, ErrorCode::ProtocolError));
            }
        };
        if self.streams.len() >= MAX_CONCURRENT_STREAMS as usize {
            return Err(Error::Stream(id, ErrorCode::RefusedStream));
        }
        self.streams.insert(
            id,
            Stream {
                state: State::Open {
                    content_length: head.content_length,
                },
                request: head.request,
                send_window: self.peer.initial_window,
                held: 0,
            },
        );
        if end_stream {
            return self.end_stream(id);
        }
        Ok(())
    }

    /// The client ended stream `id`: its request is ready, if its body is
    /// as long as it said.
    fn end_stream(&mut self, id: u32) -> Result<(), Error> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        let State::Open { content_length } = stream.state else {
            return Ok(());
        };
        if content_length.is_some_and(|n| n != stream.request.body.len() as u64) {
            return Err(Error::Stream(id, ErrorCode::ProtocolError));
        }
        stream.state = State::HalfClosedRemote(Local::Awaiting);
        self.ready.push_back(id);
        Ok(())
    }

    fn data(&mut self, id: u32, end_stream: bool, data: &[u8], flow_len: u32) -> Result<(), Error> {
        if id > self.last_stream {
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
        let open = match self.streams.get(&id).map(|s| &s.state) {
            Some(State::Open { content_length }) => Some(*content_length),
            _ => None,
        };
        let Some(content_length) = open else {
            self.give_back(flow_len);
            let ignored = self.reset_here.contains(&id)
                || matches!(self.phase, Phase::Draining { sent: Some(last) } if id > last);
            return if ignored {
                Ok(())
            } else {
                // Half-closed (remote), or closed (§5.1).
                Err(Error::Stream(id, ErrorCode::StreamClosed))
            };
        };
        let body = self.streams.get(&id).map_or(0, |s| s.request.body.len()) + data.len();
        if content_length.is_some_and(|n| u64::try_from(body).map_or(true, |b| b > n)) {
            self.give_back(flow_len);
            return Err(Error::Stream(id, ErrorCode::ProtocolError));
        }
        if body > self.max_body {
            // Answered now, and the client told to stop sending (§8.1).
            self.forget(id);
            self.give_back(flow_len);
            self.too_large(id);
            return Ok(());
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        stream.held += flow_len;
        stream.request.body.extend_from_slice(data);
        // The stream's window opens again as its bytes arrive (unless it
        // just ended); the connection's when the service takes them.
        if flow_len > 0 && !end_stream {
            frame::put_window_update(&mut self.output, id, flow_len);
        }
        if end_stream {
            return self.end_stream(id);
        }
        Ok(())
    }

    fn rst_stream(&mut self, id: u32, now: Instant) -> Result<(), Error> {
        if id > self.last_stream {
            return Err(proto("RST_STREAM on an idle stream"));
        }
        if !self.resets.spend(now) {
            return Err(calm("too many resets"));
        }
        self.forget(id);
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
        } else if let Some(stream) = self.streams.get_mut(&id) {
            stream.send_window += increment;
            if stream.send_window > MAX_WINDOW {
                return Err(Error::Stream(id, ErrorCode::FlowControlError));
            }
        } else if id > self.last_stream {
            return Err(proto("WINDOW_UPDATE on an idle stream"));
        }
        // On a closed stream it is ignored (§5.1).
        self.flush_streams();
        Ok(())
    }
}

fn proto(why: &'static str) -> Error {
    Error::Connection(ErrorCode::ProtocolError, why)
}

fn calm(why: &'static str) -> Error {
    Error::Connection(ErrorCode::EnhanceYourCalm, why)
}
