//! One net/rpc connection as a sans-IO machine: bytes in, calls out,
//! answers queued as they come back. The first bytes say which of Go's
//! codecs the peer speaks: `{` (or white space) the JSON codec, an HTTP
//! request the gob codec behind `CONNECT /_goRPC_` (`rpc.DialHTTP`),
//! anything else the gob codec on the bare connection (`rpc.Dial`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::MAX_CALL;
use super::gob::{self, Node, StreamIn, StreamOut};
use crate::engine::{Activity, Incoming, Now, Outgoing, Session};
use synkit_core::time::Duration;

/// Calls of one connection with the service at once, at most: Go serves
/// every call in a goroutine; here the rest wait in the input, so one
/// connection cannot fill the worker queue.
const MAX_IN_FLIGHT: usize = 32;

/// The most bytes of an HTTP request head before `CONNECT` is refused.
const MAX_HEAD: usize = 8 << 10;

/// Where `rpc.HandleHTTP` serves, and what it answers.
pub(crate) const RPC_PATH: &str = "/_goRPC_";
pub(crate) const CONNECTED: &[u8] = b"HTTP/1.0 200 Connected to Go RPC\n\n";

/// A call's argument, still in its codec's encoding.
#[derive(Debug)]
pub(crate) enum Params {
    /// The JSON codec's `params` (Go's client sends `[arg]`).
    Json(String),
    /// A gob value with the types the stream defined.
    Gob(gob::Value),
}

/// A method's result, in the encoding its call came in.
#[derive(Debug)]
pub(crate) enum Output {
    Json(String),
    Gob(Node),
}

/// Why a call failed, answered in Go's words (its `Display`). Only a gob
/// argument that cannot be read also closes the connection.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The method's own error: its text is what net/rpc carries.
    Method(String),
    /// No such method or service (Go's `rpc: can't find …`).
    Missing {
        name: String,
        /// Whether some method of the service is served.
        service_known: bool,
    },
    /// A name without a dot (Go's `rpc: service/method request
    /// ill-formed`).
    IllFormed(String),
    /// JSON params that are not the method's argument.
    BadParams(serde_json::Error),
    /// The answer could not be encoded in the call's codec.
    Encode(String),
    /// The engine's answer: overload, an expired deadline, a panic.
    Engine(&'static str),
    /// A gob argument that cannot be read as the method's: answered, then
    /// the connection is closed, as Go's server closes it.
    Argument(gob::GobError),
}

impl Failed {
    /// The method's error, as text.
    pub(crate) fn method(e: impl std::fmt::Display) -> Failed {
        Failed::Method(e.to_string())
    }

    /// Whether the connection closes once the call is answered.
    fn closes(&self) -> bool {
        matches!(self, Failed::Argument(_))
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Method(text) | Failed::Encode(text) => f.write_str(text),
            Failed::Missing {
                name,
                service_known: true,
            } => write!(f, "rpc: can't find method {name}"),
            Failed::Missing { name, .. } => write!(f, "rpc: can't find service {name}"),
            Failed::IllFormed(name) => write!(f, "rpc: service/method request ill-formed: {name}"),
            Failed::BadParams(e) => write!(f, "rpc: bad params: {e}"),
            Failed::Engine(text) => f.write_str(text),
            Failed::Argument(e) => e.fmt(f),
        }
    }
}

/// A call and, once served, its answer.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) params: Params,
    /// The JSON codec's id, as sent.
    id: String,
    /// The gob codec's sequence number.
    seq: u64,
    /// The JSON codec's whole answer line, or the gob codec's result.
    answer: Answer,
    /// Whether the stream is closed once this is answered.
    close_after: bool,
}

#[derive(Debug)]
enum Answer {
    Pending,
    Line(Vec<u8>),
    Gob(Result<Node, String>),
}

#[derive(Deserialize)]
struct JsonWire<'a> {
    #[serde(default)]
    method: Option<String>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
}

/// net/rpc's request and response headers (`rpc.Request`, `rpc.Response`).
#[derive(Serialize, Deserialize)]
#[serde(rename = "Request")]
pub(crate) struct GobRequest {
    pub(crate) service_method: String,
    pub(crate) seq: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Response")]
pub(crate) struct GobResponse {
    pub(crate) service_method: String,
    pub(crate) seq: u64,
    pub(crate) error: String,
}

#[derive(Debug)]
enum Codec {
    /// Nothing read yet.
    Sniffing,
    /// An HTTP request head is arriving.
    Http,
    Json,
    Gob(Box<GobStream>),
}

#[derive(Debug, Default)]
struct GobStream {
    input: StreamIn,
    output: StreamOut,
    /// A request header read, its body not yet.
    header: Option<GobRequest>,
}

impl std::fmt::Debug for GobRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} #{}", self.service_method, self.seq)
    }
}

/// Where a JSON call ends, found a byte at a time and each byte once: a
/// call sent in pieces is scanned as its pieces arrive, never again from
/// its start (re-parsing it on every read made a 1 MB call sent 1 KB at a
/// time cost 300 ms of CPU). Only a whole call is handed to serde.
#[derive(Clone, Copy, Debug, Default)]
struct JsonFrame {
    /// Bytes of the call scanned so far.
    scanned: usize,
    /// Objects and arrays open at `scanned`.
    depth: u32,
    in_string: bool,
    escaped: bool,
}

/// What [`JsonFrame::scan`] found.
#[derive(Debug, PartialEq, Eq)]
enum Framed {
    /// An object or array, whole, in the first `n` bytes.
    Whole(usize),
    /// An object or array begun, not yet ended.
    Partial,
    /// Not an object or array: a scalar, or not JSON.
    Other,
}

impl JsonFrame {
    /// Scans `input` (the call first, no whitespace before it) on from
    /// where the last scan stopped. Once a call is whole the frame starts
    /// over, for the next.
    fn scan(&mut self, input: &[u8]) -> Framed {
        if !matches!(input.first(), Some(b'{' | b'[')) {
            return Framed::Other;
        }
        while let Some(&b) = input.get(self.scanned) {
            self.scanned += 1;
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let end = self.scanned;
                        *self = JsonFrame::default();
                        return Framed::Whole(end);
                    }
                }
                _ => {}
            }
        }
        Framed::Partial
    }
}

/// The connection's state.
#[derive(Debug)]
pub(crate) struct Connection {
    codec: Codec,
    input: Vec<u8>,
    /// How far the JSON call at the front of `input` has been scanned.
    frame: JsonFrame,
    output: Outgoing,
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
            codec: Codec::Sniffing,
            input: Vec::new(),
            frame: JsonFrame::default(),
            output: Outgoing::default(),
            in_flight: 0,
            next_id: 0,
            read_closed: false,
            broken: false,
            shutting_down: false,
            timeout,
        }
    }

    fn unwritten(&self) -> usize {
        self.output.unwritten()
    }

    fn close_for(&mut self, why: &dyn std::fmt::Display) {
        log::warn!(err:display = why; "net/rpc: closing a connection");
        self.broken = true;
    }

    /// Whether a whole call waits in the input (it may be waiting for a
    /// place among the calls in flight).
    fn call_waiting(&self) -> bool {
        match self.codec {
            Codec::Json => {
                let start = self
                    .input
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
                let rest = &self.input[start..];
                // A copy: peeking scans on from where the reader stopped.
                let mut frame = self.frame;
                match frame.scan(rest) {
                    Framed::Whole(_) => true,
                    Framed::Partial => false,
                    Framed::Other => serde_json::Deserializer::from_slice(rest)
                        .into_iter::<serde::de::IgnoredAny>()
                        .next()
                        .is_some_and(|r| r.is_ok()),
                }
            }
            Codec::Gob(_) => matches!(gob::next_message(&self.input), Ok(Some(_))),
            Codec::Sniffing | Codec::Http => false,
        }
    }

    /// Decides the codec from the first bytes; false while undecided.
    fn sniff(&mut self) -> bool {
        if let Codec::Sniffing = self.codec {
            let Some(&first) = self.input.first() else {
                return false;
            };
            self.codec = if first == b'{' || first.is_ascii_whitespace() {
                Codec::Json
            } else if first.is_ascii_uppercase() {
                Codec::Http
            } else {
                Codec::Gob(Box::default())
            };
        }
        if let Codec::Http = self.codec {
            return self.connect();
        }
        true
    }

    /// Reads `CONNECT /_goRPC_ HTTP/1.0` and answers it as Go's
    /// `rpc.HandleHTTP` does; anything else gets Go's refusal and a close.
    fn connect(&mut self) -> bool {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let used = match req.parse(&self.input) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if self.input.len() <= MAX_HEAD => return false,
            Ok(httparse::Status::Partial) | Err(_) => {
                self.refuse(b"400 Bad Request", "400 Bad Request\n");
                return false;
            }
        };
        match (req.method, req.path) {
            (Some("CONNECT"), Some(RPC_PATH)) => {
                self.output.extend_from_slice(CONNECTED);
                self.input.drain(..used);
                self.codec = Codec::Gob(Box::default());
                true
            }
            (_, Some(RPC_PATH)) => {
                self.refuse(b"405 Method Not Allowed", "405 must CONNECT\n");
                false
            }
            _ => {
                self.refuse(b"404 Not Found", "404 page not found\n");
                false
            }
        }
    }

    fn refuse(&mut self, status: &[u8], body: &str) {
        self.output.extend_from_slice(b"HTTP/1.0 ");
        self.output.extend_from_slice(status);
        self.output.extend_from_slice(
            format!(
                "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        self.broken = true;
    }

    fn next_json(&mut self) -> Option<Call> {
        let skip = self
            .input
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        self.input.drain(..skip);
        if self.input.is_empty() {
            return None;
        }
        let (value, used) = match self.frame.scan(&self.input) {
            // The call is still arriving: what came was scanned once.
            Framed::Partial if self.input.len() <= MAX_CALL => return None,
            Framed::Partial => {
                self.close_for(&format_args!("a call over {MAX_CALL} bytes"));
                return None;
            }
            Framed::Whole(end) => match serde_json::from_slice::<&RawValue>(&self.input[..end]) {
                Ok(value) => (value, end),
                Err(e) => {
                    self.close_for(&format_args!("a stream that is not JSON: {e}"));
                    return None;
                }
            },
            // Not an object or array: serde says what it is.
            Framed::Other => {
                let mut stream =
                    serde_json::Deserializer::from_slice(&self.input).into_iter::<&RawValue>();
                match stream.next()? {
                    Ok(value) => (value, stream.byte_offset()),
                    Err(e) if e.is_eof() && self.input.len() <= MAX_CALL => return None,
                    Err(e) => {
                        self.close_for(&format_args!("a stream that is not JSON: {e}"));
                        return None;
                    }
                }
            }
        };
        let call = match serde_json::from_str::<JsonWire<'_>>(value.get()) {
            Ok(w) => Call {
                method: w.method.unwrap_or_default(),
                params: Params::Json(
                    w.params
                        .map_or_else(|| "null".to_owned(), |p| p.get().to_owned()),
                ),
                id: w
                    .id
                    .map_or_else(|| "null".to_owned(), |i| i.get().to_owned()),
                seq: 0,
                answer: Answer::Pending,
                close_after: false,
            },
            Err(e) => {
                self.close_for(&format_args!("a call that is not a request object: {e}"));
                return None;
            }
        };
        self.input.drain(..used);
        Some(call)
    }

    fn next_gob(&mut self) -> Option<Call> {
        loop {
            let (start, end) = match gob::next_message(&self.input) {
                Ok(Some(span)) => span,
                Ok(None) => {
                    self.body_cut_off();
                    return None;
                }
                Err(e) => {
                    self.close_for(&e);
                    return None;
                }
            };
            let Codec::Gob(stream) = &mut self.codec else {
                return None;
            };
            let read = stream.input.read(&self.input[start..end]);
            self.input.drain(..end);
            let value = match read {
                Ok(Some(value)) => value,
                Ok(None) => continue,
                Err(e) => {
                    self.close_for(&e);
                    return None;
                }
            };
            let Some(header) = stream.header.take() else {
                match value.decode::<GobRequest>() {
                    Ok(header) => stream.header = Some(header),
                    Err(e) => {
                        self.close_for(&format_args!("a request header that is not one: {e}"));
                    }
                }
                if self.broken {
                    return None;
                }
                continue;
            };
            return Some(Call {
                method: header.service_method,
                params: Params::Gob(value),
                id: String::new(),
                seq: header.seq,
                answer: Answer::Pending,
                close_after: false,
            });
        }
    }
}

impl Connection {
    /// The stream ended between a request header and its whole body: Go's
    /// server answers that call with the decoder's error, and so do we.
    fn body_cut_off(&mut self) {
        if !self.read_closed {
            return;
        }
        let Codec::Gob(stream) = &mut self.codec else {
            return;
        };
        let Some(header) = stream.header.take() else {
            return;
        };
        let text = if self.input.is_empty() {
            "EOF"
        } else {
            "unexpected EOF"
        };
        self.input.clear();
        self.write_gob(header.service_method, header.seq, Err(text.to_owned()));
    }
}

/// Records `call`'s answer: the method's output or its error text.
pub(crate) fn answer(call: &mut Call, result: Result<Output, Failed>) {
    let result = result.map_err(|failed| {
        call.close_after = failed.closes();
        failed.to_string()
    });
    call.answer = match (&call.params, result) {
        (Params::Gob(_), Ok(Output::Gob(node))) => Answer::Gob(Ok(node)),
        (Params::Gob(_), Err(text)) => Answer::Gob(Err(text)),
        (Params::Json(_), Ok(Output::Json(json))) => Answer::Line(json_line(&call.id, Ok(&json))),
        (Params::Json(_), Err(text)) => Answer::Line(json_line(&call.id, Err(&text))),
        (Params::Gob(_), Ok(Output::Json(_))) => Answer::Gob(Err("rpc: codec mismatch".into())),
        (Params::Json(_), Ok(Output::Gob(_))) => {
            Answer::Line(json_line(&call.id, Err("rpc: codec mismatch")))
        }
    };
}

/// Go's JSON answer: `{"id":…,"result":…,"error":…}` and a newline.
fn json_line(id: &str, result: Result<&str, &str>) -> Vec<u8> {
    let mut line = Vec::with_capacity(64);
    line.extend_from_slice(b"{\"id\":");
    line.extend_from_slice(id.as_bytes());
    match result {
        Ok(json) => {
            line.extend_from_slice(b",\"result\":");
            line.extend_from_slice(json.as_bytes());
            line.extend_from_slice(b",\"error\":null}\n");
        }
        Err(text) => {
            line.extend_from_slice(b",\"result\":null,\"error\":");
            let _ = serde_json::to_writer(&mut line, text);
            line.extend_from_slice(b"}\n");
        }
    }
    line
}

impl Connection {
    /// Writes a gob answer: the response header, then the reply (Go's
    /// empty struct when the call failed), types defined as needed.
    fn write_gob(&mut self, method: String, seq: u64, result: Result<Node, String>) {
        let Codec::Gob(stream) = &mut self.codec else {
            return;
        };
        let mut reply = Vec::new();
        let error = match result {
            Ok(node) => match stream.output.write_node(&node, &mut reply) {
                Ok(()) => String::new(),
                Err(e) => {
                    reply.clear();
                    format!("rpc: the reply could not be encoded: {e}")
                }
            },
            Err(text) => text,
        };
        let failed = !error.is_empty();
        let header = GobResponse {
            service_method: method,
            seq,
            error,
        };
        let written = stream
            .output
            .write(&header, &mut self.output)
            .and_then(|()| {
                if failed {
                    stream.output.write_node(&Node::Nil, &mut self.output)
                } else {
                    self.output.extend_from_slice(&reply);
                    Ok(())
                }
            });
        if let Err(e) = written {
            self.close_for(&e);
        }
    }
}

impl Session for Connection {
    type Exchange = Call;
    type Part = Call;

    fn received(&mut self, bytes: &[u8], _now: &Now) {
        self.input.extend_from_slice(bytes);
    }

    fn read_closed(&mut self, _now: &Now) {
        self.read_closed = true;
    }

    fn cancel_on_read_close(&self) -> bool {
        // Go's server serves what was sent before the end of the stream.
        false
    }

    fn wants_read(&self) -> bool {
        !self.read_closed
            && !self.broken
            && self.input.len() <= MAX_CALL
            && self.unwritten() <= MAX_CALL
    }

    fn next_request(&mut self, now: &Now) -> Option<Incoming<Call>> {
        if self.broken || self.shutting_down || self.in_flight >= MAX_IN_FLIGHT || !self.sniff() {
            return None;
        }
        let call = match self.codec {
            Codec::Json => self.next_json(),
            Codec::Gob(_) => self.next_gob(),
            Codec::Sniffing | Codec::Http => None,
        }?;
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
        if exchange.close_after {
            log::warn!(method = exchange.method.as_str(); "net/rpc: an argument that could not be read; closing");
            self.broken = true;
        }
        match exchange.answer {
            Answer::Line(line) => self.output.extend_from_slice(&line),
            Answer::Gob(result) => self.write_gob(exchange.method, exchange.seq, result),
            Answer::Pending => {}
        }
    }

    fn output(&self) -> &[u8] {
        self.output.pending()
    }

    fn wrote(&mut self, n: usize, _now: &Now) {
        self.output.wrote(n);
    }

    fn activity(&self) -> Activity {
        // Whole calls are taken as they come, so input left while nothing
        // is served is a call begun (or a `CONNECT` head).
        if self.in_flight > 0 || self.broken {
            Activity::Serving
        } else if self.input.iter().all(u8::is_ascii_whitespace) {
            Activity::Idle
        } else {
            Activity::Reading
        }
    }

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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Now {
        Now {
            at: synkit_core::time::Instant::from_nanos(1),
            unix_secs: 1,
        }
    }

    #[test]
    fn a_call_is_framed_at_its_last_byte_whatever_its_strings_hold() {
        let call = br#"{"method":"A.B","params":[{"s":"} ] \" \\ {"}],"id":7}"#;
        for cut in 1..call.len() {
            let mut frame = JsonFrame::default();
            assert_eq!(frame.scan(&call[..cut]), Framed::Partial, "cut at {cut}");
            assert_eq!(frame.scan(call), Framed::Whole(call.len()), "cut at {cut}");
        }
        // Two calls back to back: the first, then (the frame started over)
        // the second.
        let mut two = call.to_vec();
        two.extend_from_slice(b"[1,2]");
        let mut frame = JsonFrame::default();
        assert_eq!(frame.scan(&two), Framed::Whole(call.len()));
        assert_eq!(frame.scan(&two[call.len()..]), Framed::Whole(5));
        assert_eq!(JsonFrame::default().scan(b"42"), Framed::Other);
        assert_eq!(JsonFrame::default().scan(b"garbage"), Framed::Other);
    }

    #[test]
    fn a_call_sent_in_pieces_is_scanned_once_and_served_whole() {
        // A 1 MB call, 1 KB at a time: every read scans only what it
        // brought.
        let mut call = br#"{"method":"A.B","params":[{"s":""#.to_vec();
        call.extend(std::iter::repeat_n(b'x', MAX_CALL - 100));
        call.extend_from_slice(br#""}],"id":1}"#);
        let mut c = Connection::new(Duration::from_secs(5));
        let mut fed = 0;
        for piece in call.chunks(1024) {
            c.received(piece, &now());
            fed += piece.len();
            if fed < call.len() {
                assert!(c.next_request(&now()).is_none());
                assert_eq!(c.frame.scanned, fed, "scanned on, not over");
            }
        }
        let got = c.next_request(&now()).expect("the call, whole");
        assert_eq!(got.exchange.method, "A.B");
        let Params::Json(params) = &got.exchange.params else {
            panic!("JSON params");
        };
        assert_eq!(params.len(), MAX_CALL - 100 + 10);
        assert!(c.input.is_empty());
    }

    #[test]
    fn a_call_that_never_ends_is_closed_at_the_limit() {
        let mut c = Connection::new(Duration::from_secs(5));
        c.received(b"{\"method\":\"", &now());
        c.received(&vec![b'x'; MAX_CALL], &now());
        assert!(c.next_request(&now()).is_none());
        assert!(c.broken);
    }
}
