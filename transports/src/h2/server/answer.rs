//! Writing responses: the whole answer at once, or in parts as a
//! streaming call sends them.

use super::{Connection, Serving};
use crate::engine::parts::CreditGuard;
use crate::h2::hpack;
use crate::h2::{Exchange, Field, Response};

impl Connection {
    /// Writes `exchange`'s response on stream `id`, as far as the windows
    /// allow: the whole answer, or the end of one sent in parts.
    pub(super) fn answer(&mut self, id: u32, exchange: Exchange) {
        let response = exchange.response;
        let Some(stream) = self.stream(id) else {
            // Reset or forgotten while served: the answer is dropped.
            return;
        };
        if matches!(stream.serving, Serving::Streaming(_)) {
            // The end of an answer sent in parts: its headers went first.
            stream.serving = Serving::Served;
            let mut block = std::mem::take(&mut self.role.block);
            self.end_body(id, &response, &mut block);
            self.role.block = block;
            return;
        }
        let mut block = std::mem::take(&mut self.role.block);
        header_block(&response, &mut block);
        if response.body.is_empty() {
            // Trailers-only, or a head alone (204, 304, an answer to
            // HEAD): one HEADERS frame.
            fields(&response.trailers, &mut block);
            self.send_headers(id, &block, true);
        } else {
            self.send_headers(id, &block, false);
            self.end_body(id, &response, &mut block);
        }
        self.role.block = block;
    }

    /// Writes the rest of the body, then the trailers (encoded in
    /// `block`) or the end.
    fn end_body(&mut self, id: u32, response: &Response, block: &mut Vec<u8>) {
        let last = response.trailers.is_empty();
        if !response.body.is_empty() || last {
            self.send_data(id, &response.body, last);
        }
        if !last {
            block.clear();
            fields(&response.trailers, block);
            self.send_trailers(id, block);
        }
    }

    /// Writes a part of stream `id`'s answer, more to come: the first part
    /// brings the headers and the hold on the call's credit.
    pub(super) fn answer_part(&mut self, id: u32, part: Exchange, credit: Option<CreditGuard>) {
        let response = part.response;
        let Some(stream) = self.stream(id) else {
            // Reset or forgotten: dropping the credit tells the worker.
            return;
        };
        match (&stream.serving, credit) {
            (Serving::Served, Some(credit)) => {
                stream.serving = Serving::Streaming(credit);
                let mut block = std::mem::take(&mut self.role.block);
                header_block(&response, &mut block);
                self.send_headers(id, &block, false);
                self.role.block = block;
            }
            (Serving::Streaming(_), _) => {}
            _ => return,
        }
        self.send_data(id, &response.body, false);
    }
}

/// The response's `:status` and header fields, encoded into `block`.
fn header_block(response: &Response, block: &mut Vec<u8>) {
    block.clear();
    if response.status == 200 {
        hpack::encode_field(block, b":status", b"200");
    } else {
        let status = response.status.clamp(100, 599).to_string();
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
