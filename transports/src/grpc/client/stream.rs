//! The receiving half of a server-streaming call.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use prost::Message;
use synkit_core::Context;

use super::super::{Code, Metadata, Status, StreamSpan};
use super::Client;
use super::conn::{Conn, Event, wait};

/// Window bytes given back to the server in one `WINDOW_UPDATE`, at least:
/// a sixteenth of the stream's 1 MiB window.
const GIVE_BACK: u32 = 64 << 10;

/// The replies of a server-streaming call, read as the server sends them
/// ([`Client::server_streaming`]): an iterator of messages that ends after
/// the last (`None`), or with the status the call failed with (`Some(Err)`,
/// then `None`).
///
/// The server sends only as fast as this is read: the stream's window
/// opens as messages are taken. Dropping it before the end cancels the
/// call (`RST_STREAM` CANCEL), so the server stops.
pub struct ResponseStream<'c, Resp> {
    client: &'c Client,
    cx: &'c Context<'c>,
    conn: Arc<Conn>,
    id: u32,
    events: Receiver<Event>,
    until: Instant,
    header: Option<Metadata>,
    trailer: Option<Metadata>,
    /// Wire bytes taken and not yet given back to the stream's window.
    owed: u32,
    ended: bool,
    /// The client span, open until the stream ends.
    span: Option<Box<dyn StreamSpan + 'c>>,
    _reply: PhantomData<fn() -> Resp>,
}

impl<'c, Resp: Message + Default> ResponseStream<'c, Resp> {
    pub(super) fn new(
        client: &'c Client,
        cx: &'c Context<'c>,
        (conn, id, until): (Arc<Conn>, u32, Instant),
        events: Receiver<Event>,
        span: Option<Box<dyn StreamSpan + 'c>>,
    ) -> ResponseStream<'c, Resp> {
        ResponseStream {
            client,
            cx,
            conn,
            id,
            events,
            until,
            header: None,
            trailer: None,
            owed: 0,
            ended: false,
            span,
            _reply: PhantomData,
        }
    }

    /// The response headers' metadata, once they came (with the first
    /// message, or the end).
    pub fn header(&self) -> Option<&Metadata> {
        self.header.as_ref()
    }

    /// The trailer metadata of a call that ended well.
    pub fn trailer(&self) -> Option<&Metadata> {
        self.trailer.as_ref()
    }

    fn end(&mut self, result: Result<Metadata, Status>) -> Option<Result<Resp, Status>> {
        self.ended = true;
        match result {
            Ok(trailer) => {
                self.end_span(None);
                let header = self.header.get_or_insert_with(Metadata::new);
                for after in &self.client.after {
                    after(self.cx, header, &trailer);
                }
                self.trailer = Some(trailer);
                None
            }
            Err(status) => {
                self.end_span(Some(&status));
                Some(Err(status))
            }
        }
    }

    /// Stops the call where it is: the server is told, the span ends.
    fn abandon(&mut self, status: Status) -> Result<Resp, Status> {
        self.conn.cancel(self.id);
        self.ended = true;
        self.end_span(Some(&status));
        Err(status)
    }

    fn end_span(&mut self, failed: Option<&Status>) {
        if let Some(span) = self.span.take() {
            span.end(failed);
        }
    }

    /// Opens the stream's window for `wire` more bytes, in batches.
    fn give_back(&mut self, wire: u32) {
        self.owed = self.owed.saturating_add(wire);
        if self.owed >= GIVE_BACK {
            self.conn.give_back(self.id, self.owed);
            self.owed = 0;
        }
    }
}

impl<Resp: Message + Default> Iterator for ResponseStream<'_, Resp> {
    type Item = Result<Resp, Status>;

    fn next(&mut self) -> Option<Result<Resp, Status>> {
        loop {
            if self.ended {
                return None;
            }
            // Past the deadline, or cancelled: over, even with messages
            // still queued.
            if let Err(e) = self.cx.check() {
                return Some(self.abandon(super::super::ToStatus::to_status(&e)));
            }
            let event = match wait(&self.events, self.cx, self.until) {
                Ok(event) => event,
                Err(status) => return Some(self.abandon(status)),
            };
            match event {
                Event::Header(md) => self.header = Some(md),
                Event::Message(bytes, wire) => {
                    self.give_back(wire);
                    return Some(Resp::decode(&bytes[..]).map_err(|e| {
                        Status::new(
                            Code::Internal,
                            format!("a reply is not a valid message: {e}"),
                        )
                    }));
                }
                Event::End(result) => return self.end(result),
            }
        }
    }
}

impl<Resp> Drop for ResponseStream<'_, Resp> {
    fn drop(&mut self) {
        if !self.ended {
            self.conn.cancel(self.id);
            let dropped = Status::new(Code::Cancelled, "the stream was dropped before its end");
            if let Some(span) = self.span.take() {
                span.end(Some(&dropped));
            }
        }
    }
}

impl<Resp> std::fmt::Debug for ResponseStream<'_, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("stream", &self.id)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
