//! The connection as the engine drives it.

use super::send::grpc_timeout;
use super::{Connection, MAX_UNWRITTEN, Phase, State};
use crate::engine::parts::CreditGuard;
use crate::engine::{Activity, Failure, Incoming, Now, Session, Timeout};
use crate::h2::{Exchange, Response};

impl Session for Connection {
    type Exchange = Exchange;
    type Part = Exchange;

    fn received(&mut self, bytes: &[u8], now: &Now) {
        self.input.extend_from_slice(bytes);
        self.read_frames(now.at);
    }

    fn read_closed(&mut self, _now: &Now) {
        self.read_closed = true;
        // Requests still arriving can never be whole: they are dropped, so
        // the connection closes once what is served is answered.
        let receiving: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| matches!(s.state, State::Open { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in receiving {
            self.forget(id);
        }
        self.continuing = None;
    }

    fn take_cancelled(&mut self) -> Option<u32> {
        self.cancelled.pop()
    }

    fn cancel_on_read_close(&self) -> bool {
        // A client that half-closes still reads its answers.
        false
    }

    fn wants_read(&self) -> bool {
        !self.read_closed && !self.broken() && self.unwritten() <= MAX_UNWRITTEN
    }

    fn next_request(&mut self, now: &Now) -> Option<Incoming<Exchange>> {
        if self.broken() {
            return None;
        }
        while let Some(id) = self.ready.pop_front() {
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            let request = std::mem::take(&mut stream.request);
            let held = std::mem::take(&mut stream.held);
            self.give_back(held);
            let mut timeout = self.timeout;
            if let Some(t) = request.header("grpc-timeout").and_then(grpc_timeout) {
                timeout = timeout.min(t);
            }
            self.in_flight += 1;
            return Some(Incoming {
                id,
                exchange: Exchange {
                    request,
                    response: Response::default(),
                },
                deadline: now.at.saturating_add(timeout),
            });
        }
        None
    }

    fn respond(&mut self, id: u32, exchange: Exchange, _now: &Now) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.answer(id, exchange);
    }

    const STREAMS: bool = true;

    fn respond_part(&mut self, id: u32, part: Exchange, credit: Option<CreditGuard>, _now: &Now) {
        self.answer_part(id, part, credit);
    }

    fn output(&self) -> &[u8] {
        self.output.pending()
    }

    fn wrote(&mut self, n: usize, _now: &Now) {
        self.output.wrote(n);
    }

    fn activity(&self) -> Activity {
        let receiving = self
            .streams
            .values()
            .any(|s| matches!(s.state, State::Open { .. }));
        if !self.input.is_empty() || self.continuing.is_some() || receiving {
            Activity::Reading
        } else if self.streams.is_empty() && self.in_flight == 0 && self.ready.is_empty() {
            Activity::Idle
        } else {
            Activity::Serving
        }
    }

    fn timed_out(&mut self, timeout: Timeout, _now: &Now) {
        let why: &[u8] = match timeout {
            Timeout::Read => b"read timeout",
            _ => b"idle",
        };
        self.go_away(why);
        self.phase = Phase::Broken;
    }

    /// The server's SETTINGS, as every server connection opens, then
    /// GOAWAY: no stream was processed, so the client may retry elsewhere.
    const REFUSAL: &'static [u8] = &[
        0, 0, 0, 4, 0, 0, 0, 0, 0, // SETTINGS, empty
        0, 0, 28, 7, 0, 0, 0, 0, 0, // GOAWAY, 28 bytes
        0, 0, 0, 0, // last stream 0
        0, 0, 0, 7, // REFUSED_STREAM
        b't', b'o', b'o', b' ', b'm', b'a', b'n', b'y', b' ', b'c', b'o', b'n', b'n', b'e', b'c',
        b't', b'i', b'o', b'n', b's',
    ];

    fn shutdown(&mut self, _now: &Now) {
        self.go_away(b"");
    }

    fn wants_close(&self) -> bool {
        let idle = self.streams.is_empty() && self.in_flight == 0 && self.ready.is_empty();
        let done = match self.phase {
            Phase::Broken => true,
            Phase::Draining { .. } => idle,
            Phase::Preface | Phase::Settings | Phase::Open => self.read_closed && idle,
        };
        done && self.unwritten() == 0
    }

    fn fail(exchange: &mut Exchange, failure: Failure) {
        // Answered as gRPC answers it: a trailers-only response.
        let (code, message) = match failure {
            Failure::Overloaded => ("14", "server overloaded"),
            Failure::ExpiredInQueue => ("4", "deadline passed before the call was served"),
            Failure::Panicked => ("13", "the service failed"),
        };
        exchange.response = Response {
            status: 200,
            headers: vec![("content-type".into(), "application/grpc".into())].into(),
            body: Vec::new(),
            trailers: vec![
                ("grpc-status".into(), code.into()),
                ("grpc-message".into(), message.into()),
            ]
            .into(),
        };
    }
}
