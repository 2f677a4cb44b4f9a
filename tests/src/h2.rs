//! Raw HTTP/2 for the tests that play a peer by hand: frames and header
//! blocks of literal fields, written byte by byte as RFC 9113 and RFC 7541
//! lay them out.

use std::process::Command;

/// Frame types and flags the tests use.
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// `RST_STREAM`.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
}

/// `END_STREAM` (DATA and HEADERS).
pub const END_STREAM: u8 = 0x1;
/// `END_HEADERS` (HEADERS).
pub const END_HEADERS: u8 = 0x4;

/// The client's connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Appends a frame: length, type, flags, stream, payload.
///
/// # Panics
///
/// If the payload is longer than a frame can say.
pub fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = u32::try_from(payload.len())
        .expect("a payload under 16 MiB")
        .to_be_bytes();
    out.extend_from_slice(&len[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A header block of literal fields without indexing or Huffman coding.
///
/// # Panics
///
/// If a name or value is 127 bytes or longer (one length byte here).
pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let short = |s: &str| {
        u8::try_from(s.len())
            .ok()
            .filter(|&l| l < 127)
            .expect("a short field")
    };
    let mut b = Vec::new();
    for (n, v) in fields {
        // Literal, not indexed, with a new name.
        b.push(0);
        b.push(short(n));
        b.extend_from_slice(n.as_bytes());
        b.push(short(v));
        b.extend_from_slice(v.as_bytes());
    }
    b
}

/// The header block of a gRPC call to `path`, as clients send it.
pub fn grpc_request(path: &str) -> Vec<u8> {
    block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "x"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ])
}

/// addsvc's `pb.Add/Sum(1, 2)` as a client sends it on `stream`: the
/// request's headers, then its one message with `END_STREAM`.
pub fn sum_call(out: &mut Vec<u8>, stream: u32) {
    frame(
        out,
        kind::HEADERS,
        END_HEADERS,
        stream,
        &grpc_request("/pb.Add/Sum"),
    );
    frame(
        out,
        kind::DATA,
        END_STREAM,
        stream,
        &[0, 0, 0, 0, 4, 0x08, 1, 0x10, 2],
    );
}

/// A frame as read: (type, flags, stream, payload).
pub type Frame = (u8, u8, u32, Vec<u8>);

/// A connection played by hand: bytes read but not yet parsed are kept
/// between reads.
#[derive(Debug)]
pub struct Peer {
    s: std::net::TcpStream,
    input: Vec<u8>,
}

impl Peer {
    /// Connects to `addr` and writes `hello` (reads time out after 5 s).
    ///
    /// # Panics
    ///
    /// If nothing listens there.
    pub fn connect(addr: std::net::SocketAddr, hello: &[u8]) -> Peer {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("a read timeout");
        s.write_all(hello).expect("write the opening bytes");
        Peer {
            s,
            input: Vec::new(),
        }
    }

    /// Writes `bytes`.
    ///
    /// # Panics
    ///
    /// If the connection is gone.
    pub fn write(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.s.write_all(bytes).expect("write");
    }

    /// Every frame the server sends until it closes (or a read times
    /// out) or `until` says stop.
    pub fn frames_until(&mut self, until: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        use std::io::Read;
        let mut all = Vec::new();
        let mut buf = [0u8; 16 << 10];
        loop {
            while self.input.len() >= 9 {
                let i = &self.input;
                let len = usize::from(i[0]) << 16 | usize::from(i[1]) << 8 | usize::from(i[2]);
                if i.len() < 9 + len {
                    break;
                }
                let f = (
                    i[3],
                    i[4],
                    u32::from_be_bytes([i[5], i[6], i[7], i[8]]) & 0x7fff_ffff,
                    i[9..9 + len].to_vec(),
                );
                self.input.drain(..9 + len);
                let done = until(&f);
                all.push(f);
                if done {
                    return all;
                }
            }
            match self.s.read(&mut buf) {
                Ok(0) | Err(_) => return all,
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Whether the server has closed the connection (reading drains what
    /// it still sends).
    pub fn closed(&mut self) -> bool {
        use std::io::Read;
        let mut rest = [0u8; 1024];
        std::iter::repeat_with(|| self.s.read(&mut rest))
            .take(1000)
            .any(|r| matches!(r, Ok(0) | Err(_)))
    }
}

/// The client's preface and an empty SETTINGS frame.
pub fn hello() -> Vec<u8> {
    let mut hello = PREFACE.to_vec();
    frame(&mut hello, kind::SETTINGS, 0, 0, &[]);
    hello
}

/// Runs nghttp2's `h2load` with `args` and reads its summary: (done,
/// succeeded, failed, errored) requests, the 2xx count, and all it printed.
///
/// # Panics
///
/// If h2load is missing or fails, or its summary cannot be read.
pub fn h2load(args: &[&str]) -> ((u64, u64, u64, u64), u64, String) {
    let out = Command::new("h2load")
        .args(args)
        .output()
        .expect("run h2load (apt-get install nghttp2-client)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let number_before = |line: &str, word: &str| -> u64 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| w.trim_end_matches(',') == word)
            .unwrap_or_else(|| panic!("{word} in {line}"));
        words[at - 1].parse().unwrap()
    };
    let requests = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .expect("h2load's requests line");
    let codes = text
        .lines()
        .find(|l| l.starts_with("status codes:"))
        .expect("h2load's status codes line");
    let counts = (
        number_before(requests, "done"),
        number_before(requests, "succeeded"),
        number_before(requests, "failed"),
        number_before(requests, "errored"),
    );
    (counts, number_before(codes, "2xx"), text)
}
