//! The gRPC client as the HTTP/2 core's client role: each stream a call,
//! its response head and trailers read as gRPC reads them, its messages
//! handed to the caller as they complete.

use super::super::status::percent_decode;
use super::super::{Code, MAX_MESSAGE, Metadata, Status, message_len};
use super::conn::{Event, Reply, Sink};
use crate::h2::conn::{Closed, Head, Part, Role, Taken};
use crate::h2::fields::{Common, ResponseFields, ResponseHead};
use crate::h2::frame::ErrorCode;

/// The calls of one connection.
#[derive(Debug, Default)]
pub(super) struct Calls {
    /// Streams whose call cannot go on (a reply past the limit, a message
    /// that cannot be read): the connection resets them.
    pub(super) refused: Vec<u32>,
    /// Why the connection ended, told to the calls it ends.
    pub(super) why: Option<String>,
}

/// What one call's stream has gathered.
#[derive(Debug)]
pub(super) struct Call {
    /// `None` for a stream the server opened, which is refused.
    sink: Option<Sink>,
    body: Vec<u8>,
    http_status: u16,
    grpc_status: Option<String>,
    grpc_message: Option<String>,
    header: Metadata,
    trailer: Metadata,
    /// DATA bytes read and not yet handed to a streaming caller.
    owed: u32,
}

impl Call {
    pub(super) fn new(sink: Sink) -> Call {
        Call {
            sink: Some(sink),
            ..Call::empty()
        }
    }

    fn empty() -> Call {
        Call {
            sink: None,
            body: Vec::new(),
            http_status: 0,
            grpc_status: None,
            grpc_message: None,
            header: Metadata::new(),
            trailer: Metadata::new(),
            owed: 0,
        }
    }

    /// Keeps a head's or trailers' fields: gRPC's own apart, the rest as
    /// metadata.
    fn gather(&mut self, head: ResponseHead, trailers: bool) {
        for (name, value) in head.fields {
            match &*name {
                "grpc-status" => self.grpc_status = Some(value.into_owned()),
                "grpc-message" => self.grpc_message = Some(value.into_owned()),
                _ => {
                    let md = if trailers {
                        &mut self.trailer
                    } else {
                        &mut self.header
                    };
                    md.insert(&name, &value);
                }
            }
        }
    }

    /// The status the answer ended with, `None` for OK.
    fn status(&self) -> Option<Status> {
        match (self.http_status, self.grpc_status.as_deref()) {
            (200, Some("0")) => None,
            (200, Some(code)) => Some(Status::new(
                Code::from_i32(code.parse().unwrap_or(2)),
                percent_decode(self.grpc_message.as_deref().unwrap_or("")),
            )),
            (200, None) => Some(Status::new(
                Code::Internal,
                "no grpc-status in the trailers",
            )),
            (status, _) => Some(Status::new(Code::Unknown, format!("HTTP status {status}"))),
        }
    }

    /// The stream ended: the call's outcome.
    fn finish(self) {
        let status = self.status();
        let Some(sink) = self.sink else { return };
        match sink {
            Sink::Whole(tx) => {
                let outcome = match status {
                    None => Ok(Reply {
                        body: self.body,
                        header: self.header,
                        trailer: self.trailer,
                    }),
                    Some(status) => Err(status),
                };
                let _ = tx.try_send(outcome);
            }
            Sink::Parts(tx) => {
                if !self.body.is_empty() && status.is_none() {
                    let _ = tx.try_send(Event::End(Err(Status::new(
                        Code::Internal,
                        "the stream ended inside a message",
                    ))));
                    return;
                }
                if !self.header.is_empty() {
                    // Trailers-only: the header metadata came with the end.
                    let _ = tx.try_send(Event::Header(self.header));
                }
                let _ = tx.try_send(Event::End(status.map_or(Ok(self.trailer), Err)));
            }
        }
    }

    /// Hands a streaming call's complete messages to its caller, each with
    /// the wire bytes it frees.
    fn deliver(&mut self) -> Result<(), Status> {
        let Some(Sink::Parts(tx)) = &self.sink else {
            return Ok(());
        };
        let mut used = 0;
        while let Some(prefix) = self.body.get(used..used + 5) {
            let len = message_len(prefix, MAX_MESSAGE)?;
            let Some(message) = self.body.get(used + 5..used + 5 + len) else {
                break;
            };
            // The message's share of the DATA bytes read so far.
            let wire = u32::try_from(5 + len).unwrap_or(u32::MAX).min(self.owed);
            self.owed -= wire;
            let _ = tx.try_send(Event::Message(message.to_vec(), wire));
            used += 5 + len;
        }
        self.body.drain(..used);
        Ok(())
    }
}

impl Role for Calls {
    const SERVER: bool = false;
    type Stream = Call;
    type Fields = ResponseFields;

    fn fields(&self, part: Part) -> ResponseFields {
        ResponseFields::new(part, Common::default())
    }

    fn opened(&mut self, id: u32, _head: ResponseHead, _end_stream: bool) -> Call {
        // The core takes no stream a server opens; were it asked, the
        // stream is refused.
        self.refused.push(id);
        Call::empty()
    }

    fn head(&mut self, _id: u32, call: &mut Call, head: ResponseHead, end_stream: bool) -> Head {
        if (100..200).contains(&head.status) {
            return Head::Informational;
        }
        call.http_status = head.status;
        call.gather(head, end_stream);
        if let Some(Sink::Parts(tx)) = &call.sink
            && !end_stream
        {
            // A stream hears its headers as they come (unless they are
            // also its end: trailers-only).
            let _ = tx.try_send(Event::Header(std::mem::take(&mut call.header)));
        }
        Head::Final
    }

    fn trailers(&mut self, _id: u32, call: &mut Call, trailers: ResponseHead) {
        call.gather(trailers, true);
    }

    fn data(&mut self, id: u32, call: &mut Call, data: &[u8]) -> Taken {
        match &call.sink {
            Some(Sink::Whole(_)) => {
                if call.body.len() + data.len() > MAX_MESSAGE + 5 {
                    self.fail(
                        id,
                        call,
                        Status::new(Code::ResourceExhausted, "a reply over the message limit"),
                    );
                    return Taken::Done;
                }
                call.body.extend_from_slice(data);
                Taken::Done
            }
            Some(Sink::Parts(_)) => {
                // The stream's window opens as the caller takes messages:
                // a caller that stops reading stops the server, not the
                // connection.
                call.body.extend_from_slice(data);
                call.owed += u32::try_from(data.len()).unwrap_or(u32::MAX);
                if let Err(status) = call.deliver() {
                    self.fail(id, call, status);
                }
                Taken::HeldByStream
            }
            None => Taken::Done,
        }
    }

    fn ended(&mut self, _id: u32, _call: &mut Call) {}

    fn closed(&mut self, _id: u32, call: Call, how: Closed) {
        let status = match how {
            Closed::Done => return call.finish(),
            Closed::ResetByPeer(code) => {
                let c = match code {
                    ErrorCode::RefusedStream => Code::Unavailable,
                    ErrorCode::Cancel => Code::Cancelled,
                    _ => Code::Internal,
                };
                Status::new(c, format!("stream reset: {code:?}"))
            }
            Closed::ResetHere(_) => Status::new(Code::Cancelled, "the call was cancelled"),
            Closed::Unprocessed => Status::new(
                Code::Unavailable,
                self.why
                    .clone()
                    .unwrap_or_else(|| "the server went away before the call".into()),
            ),
        };
        if let Some(sink) = &call.sink {
            sink.fail(status);
        }
    }
}

impl Calls {
    /// Ends `call` with `status` now, and has its stream reset.
    fn fail(&mut self, id: u32, call: &mut Call, status: Status) {
        if let Some(sink) = call.sink.take() {
            sink.fail(status);
        }
        self.refused.push(id);
    }
}
