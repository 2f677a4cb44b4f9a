//! One net/rpc JSON connection as a sans-IO machine: bytes in, calls out,
//! answers queued as they come back.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::MAX_CALL;

/// Calls of one connection with the service at once, at most: Go serves
/// every call in a goroutine; here the rest wait in the input, so one
/// connection cannot fill the worker queue.
const MAX_IN_FLIGHT: usize = 32;
use crate::engine::{Failure, Incoming, Now, Session};
use synkit_core::time::{Duration, Instant};

/// A call and, once served, its answer (the whole JSON line).
#[derive(Debug, Default)]
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) params: String,
    pub(crate) id: String,
    pub(crate) answer: Vec<u8>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(default)]
    method: Option<String>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
}

/// The connection's state.
#[derive(Debug)]
pub(crate) struct Connection {
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    in_flight: usize,
    next_id: u32,
    read_closed: bool,
    broken: bool,
    shutting_down: bool,
    timeout: Duration,
}

impl Connection {
    pub(crate) fn new(timeout: Duration) -> Connection {
        Connection {
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            in_flight: 0,
            next_id: 0,
            read_closed: false,
            broken: false,
            shutting_down: false,
            timeout,
        }
    }

    fn unwritten(&self) -> usize {
        self.output.len() - self.written
    }

    /// Whether a whole call waits in the input (it may be waiting for a
    /// place among the calls in flight).
    fn call_waiting(&self) -> bool {
        let start = self
            .input
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        let rest = &self.input[start..];
        !rest.is_empty()
            && serde_json::Deserializer::from_slice(rest)
                .into_iter::<serde::de::IgnoredAny>()
                .next()
                .is_some_and(|r| r.is_ok())
    }
}

/// Writes Go's answer for `call`: `{"id":…,"result":…,"error":…}` and a
/// newline.
pub(crate) fn answer(call: &mut Call, result: Result<&str, &str>) {
    call.answer.clear();
    call.answer.extend_from_slice(b"{\"id\":");
    call.answer.extend_from_slice(call.id.as_bytes());
    match result {
        Ok(json) => {
            call.answer.extend_from_slice(b",\"result\":");
            call.answer.extend_from_slice(json.as_bytes());
            call.answer.extend_from_slice(b",\"error\":null}\n");
        }
        Err(text) => {
            call.answer
                .extend_from_slice(b",\"result\":null,\"error\":");
            let _ = serde_json::to_writer(&mut call.answer, text);
            call.answer.extend_from_slice(b"}\n");
        }
    }
}

impl Session for Connection {
    type Exchange = Call;

    fn received(&mut self, bytes: &[u8], _now: &Now) {
        self.input.extend_from_slice(bytes);
    }

    fn read_closed(&mut self, _now: &Now) {
        self.read_closed = true;
    }

    fn wants_read(&self) -> bool {
        !self.read_closed
            && !self.broken
            && self.input.len() <= MAX_CALL
            && self.unwritten() <= MAX_CALL
    }

    fn next_request(&mut self, now: &Now) -> Option<Incoming<Call>> {
        if self.broken || self.shutting_down || self.in_flight >= MAX_IN_FLIGHT {
            return None;
        }
        let skip = self
            .input
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        self.input.drain(..skip);
        if self.input.is_empty() {
            return None;
        }
        let mut stream = serde_json::Deserializer::from_slice(&self.input).into_iter::<&RawValue>();
        let value = match stream.next()? {
            Ok(value) => value,
            Err(e) if e.is_eof() && self.input.len() <= MAX_CALL => return None,
            Err(e) => {
                log::warn!(err:display = e; "net/rpc: a stream that is not JSON; closing");
                self.broken = true;
                return None;
            }
        };
        let used = stream.byte_offset();
        let parsed = serde_json::from_str::<Wire<'_>>(value.get());
        let call = match parsed {
            Ok(w) => Call {
                method: w.method.unwrap_or_default(),
                params: w
                    .params
                    .map_or_else(|| "null".to_owned(), |p| p.get().to_owned()),
                id: w
                    .id
                    .map_or_else(|| "null".to_owned(), |i| i.get().to_owned()),
                answer: Vec::new(),
            },
            Err(e) => {
                log::warn!(err:display = e; "net/rpc: a call that is not a request object; closing");
                self.broken = true;
                return None;
            }
        };
        self.input.drain(..used);
        self.in_flight += 1;
        self.next_id = self.next_id.wrapping_add(1);
        Some(Incoming {
            id: self.next_id,
            exchange: call,
            deadline: now.at.saturating_add(self.timeout),
        })
    }

    fn respond(&mut self, _id: u32, exchange: Call, _now: &Now) {
        // Answers go out as they finish, as Go's server sends them.
        self.in_flight = self.in_flight.saturating_sub(1);
        self.output.extend_from_slice(&exchange.answer);
    }

    fn output(&self) -> &[u8] {
        &self.output[self.written..]
    }

    fn wrote(&mut self, n: usize, _now: &Now) {
        self.written += n;
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        None
    }

    fn on_timer(&mut self, _now: &Now) {}

    fn shutdown(&mut self, _now: &Now) {
        self.shutting_down = true;
    }

    fn wants_close(&self) -> bool {
        // A peer that sent its calls and ended the stream gets every answer
        // first, as Go's server gives them.
        let drained = self.broken || self.shutting_down || !self.call_waiting();
        let done = self.read_closed || self.broken || self.shutting_down;
        done && drained && self.in_flight == 0 && self.unwritten() == 0
    }

    fn fail(exchange: &mut Call, failure: Failure) {
        let text = match failure {
            Failure::Overloaded => "rpc: server overloaded",
            Failure::ExpiredInQueue => "rpc: deadline passed before the call was served",
            Failure::Panicked => "rpc: the service failed",
        };
        answer(exchange, Err(text));
    }
}
