//! The server connection as the engine drives it.

use super::{Connection, MAX_UNWRITTEN, Serving};
use crate::engine::parts::CreditGuard;
use crate::engine::{Activity, Incoming, Now, Session, Timeout};
use crate::h2::{Exchange, Response};

impl Session for Connection {
    type Exchange = Exchange;
    type Part = Exchange;

    fn received(&mut self, bytes: &[u8], now: &Now) {
        self.receive(bytes, now.at);
    }

    fn read_closed(&mut self, _now: &Now) {
        self.close_read();
        // Requests still arriving can never be whole: they are dropped, so
        // the connection closes once what is served is answered.
        let receiving: Vec<u32> = self
            .streams()
            .filter(|(_, s)| matches!(s.serving, Serving::Receiving))
            .map(|(id, _)| id)
            .collect();
        for id in receiving {
            self.drop_stream(id);
        }
    }

    fn take_cancelled(&mut self) -> Option<u32> {
        self.role.cancelled.pop()
    }

    fn cancel_on_read_close(&self) -> bool {
        // A client that half-closes still reads its answers.
        false
    }

    fn wants_read(&self) -> bool {
        !self.is_read_closed() && !self.broken() && self.unwritten() <= MAX_UNWRITTEN
    }

    fn next_request(&mut self, now: &Now) -> Option<Incoming<Exchange>> {
        if self.broken() {
            return None;
        }
        while let Some(id) = self.role.ready.pop_front() {
            let Some(stream) = self.stream(id) else {
                continue;
            };
            let request = std::mem::take(&mut stream.request);
            self.release_held(id);
            let mut timeout = self.role.options.timeout;
            if let Some(t) = (self.role.options.deadline)(&request) {
                timeout = timeout.min(t);
            }
            self.role.in_flight += 1;
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
        self.role.in_flight = self.role.in_flight.saturating_sub(1);
        self.answer(id, exchange);
    }

    const STREAMS: bool = true;

    fn respond_part(&mut self, id: u32, part: Exchange, credit: Option<CreditGuard>, _now: &Now) {
        self.answer_part(id, part, credit);
    }

    fn output(&self) -> &[u8] {
        self.transmit()
    }

    fn wrote(&mut self, n: usize, _now: &Now) {
        self.transmitted(n);
    }

    fn activity(&self) -> Activity {
        let receiving = self
            .streams()
            .any(|(_, s)| matches!(s.serving, Serving::Receiving));
        if self.mid_frame() || receiving {
            Activity::Reading
        } else if self.open_streams() == 0 && self.role.idle() {
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
        self.close_now(why);
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
        self.finished(self.role.idle())
    }
}
