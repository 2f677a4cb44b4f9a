//! The NATS client protocol as a sans-IO machine: bytes from the server in,
//! operations out; operations to the server written into a buffer.
//! <https://docs.nats.io/reference/reference-protocols/nats-protocol>

use std::fmt::Write as _;

/// The longest control line accepted (`MSG` with long subjects fits).
const MAX_CONTROL_LINE: usize = 4096;

/// What the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerOp {
    /// `INFO {json}`.
    Info(String),
    /// `MSG` or `HMSG`: a message for subscription `sid`. `status` is the
    /// header block's status code, if any (`503` when nothing listens).
    Msg {
        subject: String,
        sid: u64,
        reply: Option<String>,
        payload: Vec<u8>,
        status: Option<u16>,
    },
    Ping,
    Pong,
    Ok,
    /// `-ERR 'text'`.
    Err(String),
}

/// Why the server's bytes could not be read; the connection cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtoError(pub(crate) String);

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NATS protocol error: {}", self.0)
    }
}

/// Reads server operations out of the bytes given to it.
#[derive(Debug)]
pub(crate) struct Parser {
    buf: Vec<u8>,
    max_payload: usize,
}

impl Parser {
    /// A parser refusing payloads over `max_payload` bytes.
    pub(crate) fn new(max_payload: usize) -> Parser {
        Parser {
            buf: Vec::new(),
            max_payload,
        }
    }

    pub(crate) fn set_max_payload(&mut self, max: usize) {
        self.max_payload = max;
    }

    /// Bytes read from the server.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole operation, `Ok(None)` if more bytes are needed.
    pub(crate) fn next(&mut self) -> Result<Option<ServerOp>, ProtoError> {
        let Some(eol) = self.buf.windows(2).position(|w| w == b"\r\n") else {
            if self.buf.len() > MAX_CONTROL_LINE {
                return Err(ProtoError("a control line too long".into()));
            }
            return Ok(None);
        };
        if eol > MAX_CONTROL_LINE {
            return Err(ProtoError("a control line too long".into()));
        }
        let line = std::str::from_utf8(&self.buf[..eol])
            .map_err(|_| ProtoError("a control line that is not UTF-8".into()))?;
        let (op, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let rest = rest.trim();
        let op = match op.to_ascii_uppercase().as_str() {
            "PING" => ServerOp::Ping,
            "PONG" => ServerOp::Pong,
            "+OK" => ServerOp::Ok,
            "-ERR" => ServerOp::Err(rest.trim_matches('\'').to_owned()),
            "INFO" => ServerOp::Info(rest.to_owned()),
            "MSG" | "HMSG" => {
                let (args, headers) = (rest.to_owned(), op.eq_ignore_ascii_case("HMSG"));
                return self.message(eol, &args, headers);
            }
            _ => {
                return Err(ProtoError(format!(
                    "an unknown operation {:?}",
                    truncate(line)
                )));
            }
        };
        self.buf.drain(..eol + 2);
        Ok(Some(op))
    }

    /// `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid>
    /// [reply] <header size> <total size>`, then the payload and CRLF.
    fn message(
        &mut self,
        eol: usize,
        args: &str,
        headers: bool,
    ) -> Result<Option<ServerOp>, ProtoError> {
        let bad = || ProtoError(format!("a malformed message line {:?}", truncate(args)));
        let parts: Vec<&str> = args.split_ascii_whitespace().collect();
        let sizes = usize::from(headers) + 1;
        if parts.len() < 2 + sizes || parts.len() > 3 + sizes {
            return Err(bad());
        }
        let (head, size_parts) = parts.split_at(parts.len() - sizes);
        let number = |s: &str| s.parse::<usize>().map_err(|_| bad());
        let total = number(size_parts[sizes - 1])?;
        let header_len = if headers { number(size_parts[0])? } else { 0 };
        if header_len > total || total > self.max_payload {
            return Err(ProtoError(format!(
                "a message of {total} bytes (the limit is {})",
                self.max_payload
            )));
        }
        let sid = head[1].parse::<u64>().map_err(|_| bad())?;
        let start = eol + 2;
        if self.buf.len() < start + total + 2 {
            return Ok(None);
        }
        if &self.buf[start + total..start + total + 2] != b"\r\n" {
            return Err(ProtoError("a payload not followed by CRLF".into()));
        }
        let status = if headers {
            header_status(&self.buf[start..start + header_len])
        } else {
            None
        };
        let op = ServerOp::Msg {
            subject: head[0].to_owned(),
            sid,
            reply: head.get(2).map(|r| (*r).to_owned()),
            payload: self.buf[start + header_len..start + total].to_vec(),
            status,
        };
        self.buf.drain(..start + total + 2);
        Ok(Some(op))
    }
}

/// The status in a header block's first line, `NATS/1.0 503`.
fn header_status(block: &[u8]) -> Option<u16> {
    let line = block.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.strip_prefix("NATS/1.0")?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether `subject` can be published to: non-empty tokens, no spaces.
pub(crate) fn valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && !subject.split('.').any(str::is_empty)
        && !subject
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

/// `CONNECT {…}` and a `PING`, whose `PONG` says the server took it.
pub(crate) fn connect(out: &mut Vec<u8>, name: &str) {
    let options = serde_json::json!({
        "verbose": false,
        "pedantic": false,
        "lang": "rust-synkit",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1,
        "headers": true,
        "no_responders": true,
        "name": name,
    });
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(options.to_string().as_bytes());
    out.extend_from_slice(b"\r\nPING\r\n");
}

/// `PUB <subject> [reply] <size>`, the payload and CRLF.
pub(crate) fn publish(out: &mut Vec<u8>, subject: &str, reply: Option<&str>, payload: &[u8]) {
    let mut line = String::with_capacity(subject.len() + 32);
    let _ = match reply {
        Some(reply) => write!(line, "PUB {subject} {reply} {}\r\n", payload.len()),
        None => write!(line, "PUB {subject} {}\r\n", payload.len()),
    };
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// `SUB <subject> [queue group] <sid>`.
pub(crate) fn subscribe(out: &mut Vec<u8>, subject: &str, queue: Option<&str>, sid: u64) {
    let line = match queue {
        Some(queue) => format!("SUB {subject} {queue} {sid}\r\n"),
        None => format!("SUB {subject} {sid}\r\n"),
    };
    out.extend_from_slice(line.as_bytes());
}

/// `UNSUB <sid>`.
pub(crate) fn unsubscribe(out: &mut Vec<u8>, sid: u64) {
    out.extend_from_slice(format!("UNSUB {sid}\r\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> Result<Vec<ServerOp>, ProtoError> {
        let mut p = Parser::new(1 << 20);
        p.feed(bytes);
        let mut ops = Vec::new();
        while let Some(op) = p.next()? {
            ops.push(op);
        }
        Ok(ops)
    }

    #[test]
    fn operations_are_read_whole_however_the_bytes_arrive() {
        let stream = b"INFO {\"max_payload\":1048576}\r\nPING\r\n+OK\r\nMSG a.b 7 _INBOX.x.1 5\r\nhello\r\nHMSG _INBOX.x.2 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\nMSG c 1 0\r\n\r\n-ERR 'Unknown Protocol Operation'\r\npong\r\n";
        let want = all(stream).unwrap();
        assert_eq!(want.len(), 8);
        assert_eq!(want[7], ServerOp::Pong);
        assert_eq!(
            want[3],
            ServerOp::Msg {
                subject: "a.b".into(),
                sid: 7,
                reply: Some("_INBOX.x.1".into()),
                payload: b"hello".to_vec(),
                status: None,
            }
        );
        assert!(
            matches!(&want[4], ServerOp::Msg { status: Some(503), payload, .. } if payload.is_empty())
        );
        assert_eq!(
            want[5],
            ServerOp::Msg {
                subject: "c".into(),
                sid: 1,
                reply: None,
                payload: Vec::new(),
                status: None,
            }
        );
        assert_eq!(want[6], ServerOp::Err("Unknown Protocol Operation".into()));
        // Byte at a time: the same operations.
        let mut p = Parser::new(1 << 20);
        let mut got = Vec::new();
        for b in stream.iter().chain(b"PONG\r\n") {
            p.feed(std::slice::from_ref(b));
            while let Some(op) = p.next().unwrap() {
                got.push(op);
            }
        }
        assert_eq!(&got[..8], &want[..]);
        assert_eq!(got[8], ServerOp::Pong);
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        for bad in [
            &b"FOO bar\r\n"[..],
            b"MSG a\r\n",
            b"MSG a x 3\r\nabc\r\n",
            b"MSG a 1 -3\r\nabc\r\n",
            b"MSG a 1 3\r\nabcde\r\n",
            b"MSG a 1 r q 3\r\nabc\r\n",
            b"HMSG a 1 9 3\r\nabc\r\n",
            b"MSG a 1 99999999999999999999\r\n",
            b"MSG a 1 2000000\r\n",
            b"\xff\xfe\r\n",
        ] {
            assert!(all(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut p = Parser::new(1 << 20);
        p.feed(&[b'x'; MAX_CONTROL_LINE + 1]);
        assert!(p.next().is_err());
        // Every prefix of a good stream is "not yet", not an error.
        let good = b"MSG a.b 7 r 5\r\nhello\r\n";
        for cut in 0..good.len() {
            assert_eq!(all(&good[..cut]), Ok(Vec::new()), "{cut}");
        }
    }

    #[test]
    fn client_operations_are_written_as_the_protocol_says() {
        let mut out = Vec::new();
        publish(&mut out, "a.b", Some("_INBOX.x.1"), b"hi");
        publish(&mut out, "a.b", None, b"");
        subscribe(&mut out, "a.*", Some("workers"), 3);
        subscribe(&mut out, "a.>", None, 4);
        unsubscribe(&mut out, 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PUB a.b _INBOX.x.1 2\r\nhi\r\nPUB a.b 0\r\n\r\nSUB a.* workers 3\r\nSUB a.> 4\r\nUNSUB 3\r\n"
        );
        assert!(valid_subject("stringsvc.uppercase"));
        for bad in ["", "a..b", "a b", ".a", "a.", "a\r\nPUB"] {
            assert!(!valid_subject(bad), "{bad:?}");
        }
    }
}
