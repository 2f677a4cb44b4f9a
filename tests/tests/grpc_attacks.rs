//! The gRPC server against a hostile HTTP/2 peer, over real sockets: each
//! breach gets the error RFC 9113 prescribes — GOAWAY with its code for a
//! connection error, `RST_STREAM` or a gRPC status for a stream's — and
//! nothing else suffers: a well-behaved client on another connection is
//! answered between every attack, and a good call on the attacked
//! connection is answered after a stream error.

use std::time::Duration;

use synkit_core::Context;
use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::grpc::{SumReply, SumRequest};
use synkit_tests::h2::{
    END_HEADERS, END_STREAM, Peer, block, frame, grpc_request, hello, kind, sum_call,
};
use synkit_transports::grpc::{Client, Handle};
use synkit_transports::http::server::ServerConfig;

const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;

const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const FRAME_SIZE_ERROR: u32 = 0x6;
const COMPRESSION_ERROR: u32 = 0x9;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn server() -> Handle {
    synkit_examples::addsvc::grpc::server(Adder)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap()
}

/// A call's request headers on `stream`.
fn headers(out: &mut Vec<u8>, stream: u32, path: &str, end: bool) {
    let b = grpc_request(path);
    let flags = END_HEADERS | if end { END_STREAM } else { 0 };
    frame(out, kind::HEADERS, flags, stream, &b);
}

fn goaway_code(s: &mut Peer) -> Option<u32> {
    s.frames_until(|f| f.0 == GOAWAY)
        .into_iter()
        .find(|f| f.0 == GOAWAY)
        .map(|f| u32::from_be_bytes([f.3[4], f.3[5], f.3[6], f.3[7]]))
}

/// The `grpc-status` in a header block our encoder wrote (a literal with
/// a new name).
fn grpc_status(block: &[u8]) -> Option<String> {
    let at = block.windows(11).position(|w| w == b"grpc-status")? + 11;
    let len = usize::from(block[at]);
    Some(String::from_utf8_lossy(&block[at + 1..at + 1 + len]).into_owned())
}

/// The status that ends `stream`: `grpc-status`, or `RST_STREAM`'s code.
fn stream_end(s: &mut Peer, stream: u32) -> (Option<String>, Option<u32>) {
    let frames =
        s.frames_until(|f| f.2 == stream && (f.0 == kind::RST_STREAM || f.1 & END_STREAM != 0));
    let status = frames
        .iter()
        .filter(|f| f.0 == kind::HEADERS && f.2 == stream)
        .find_map(|f| grpc_status(&f.3));
    let reset = frames
        .iter()
        .find(|f| f.0 == kind::RST_STREAM && f.2 == stream)
        .map(|f| u32::from_be_bytes([f.3[0], f.3[1], f.3[2], f.3[3]]));
    (status, reset)
}

/// A well-behaved client on its own connection is answered.
fn others_are_served(client: &Client) {
    let cx = Context::background();
    let reply: SumReply = client
        .call(&cx, "/pb.Add/Sum", &SumRequest { a: 20, b: 22 })
        .expect("a good client is served");
    assert_eq!(reply.v, 42);
}

#[test]
fn connection_errors_get_goaway_with_their_code() {
    let server = server();
    let addr = server.local_addr();
    let client = Client::new(addr);
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "no preface",
            b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(),
            PROTOCOL_ERROR,
        ),
        (
            "a frame over 16 KiB",
            {
                let mut b = Vec::new();
                headers(&mut b, 1, "/pb.Add/Sum", false);
                frame(&mut b, kind::DATA, 0, 1, &vec![0; 20_000]);
                b
            },
            FRAME_SIZE_ERROR,
        ),
        (
            "HPACK garbage",
            {
                let mut b = Vec::new();
                frame(&mut b, kind::HEADERS, END_HEADERS, 1, &[0xff; 8]);
                b
            },
            COMPRESSION_ERROR,
        ),
        (
            "a stream id going backwards",
            {
                let mut b = Vec::new();
                sum_call(&mut b, 3);
                sum_call(&mut b, 1);
                b
            },
            PROTOCOL_ERROR,
        ),
        (
            "WINDOW_UPDATE past 2^31-1",
            {
                let mut b = Vec::new();
                frame(&mut b, WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes());
                frame(&mut b, WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes());
                b
            },
            FLOW_CONTROL_ERROR,
        ),
        (
            "a flood of resets",
            {
                let mut b = Vec::new();
                for k in 0..1100u32 {
                    let id = 1 + 2 * k;
                    headers(&mut b, id, "/pb.Add/Sum", false);
                    frame(&mut b, kind::RST_STREAM, 0, id, &8u32.to_be_bytes());
                }
                b
            },
            ENHANCE_YOUR_CALM,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut s = if what == "no preface" {
            Peer::connect(addr, &bytes)
        } else {
            let mut s = Peer::connect(addr, &hello());
            s.write(&bytes);
            s
        };
        assert_eq!(goaway_code(&mut s), Some(code), "{what}");
        assert!(s.closed(), "{what}: closed after GOAWAY");
        others_are_served(&client);
    }
    // HEADERS on a stream already answered, so closed (§5.1): a stream
    // still being answered would get only a stream error (STREAM_CLOSED).
    let mut s = Peer::connect(addr, &hello());
    let mut b = Vec::new();
    sum_call(&mut b, 1);
    s.write(&b);
    assert_eq!(stream_end(&mut s, 1), (Some("0".to_owned()), None));
    let mut b = Vec::new();
    headers(&mut b, 1, "/pb.Add/Sum", false);
    s.write(&b);
    assert_eq!(
        goaway_code(&mut s),
        Some(PROTOCOL_ERROR),
        "a stream id reused"
    );
    assert!(s.closed());
    server.shutdown(Duration::from_secs(1));
}

/// One connection attacked stream by stream, with a good call after each
/// attack to show the connection still serves.
struct Attacked {
    s: Peer,
    next: u32,
    client: Client,
}

impl Attacked {
    fn new(server: &Handle) -> Attacked {
        Attacked {
            s: Peer::connect(server.local_addr(), &hello()),
            next: 1,
            client: Client::new(server.local_addr()),
        }
    }

    /// Writes `write`'s frames for a fresh stream, checks the stream ends
    /// with `want` (`grpc-status`, `RST_STREAM` code), then that a good
    /// call on the same connection and one on another are answered.
    fn attack(
        &mut self,
        what: &str,
        write: &dyn Fn(&mut Vec<u8>, u32),
        want: (Option<&str>, Option<u32>),
    ) {
        let s = &mut self.s;
        let id = self.next;
        self.next += 2;
        let mut b = Vec::new();
        write(&mut b, id);
        s.write(&b);
        let (status, mut reset) = stream_end(s, id);
        if reset.is_none() && want.1.is_some() {
            // A reset after the trailers-only answer.
            reset = s
                .frames_until(|f| f.0 == kind::RST_STREAM && f.2 == id)
                .last()
                .filter(|f| f.0 == kind::RST_STREAM)
                .map(|f| u32::from_be_bytes([f.3[0], f.3[1], f.3[2], f.3[3]]));
        }
        assert_eq!((status.as_deref(), reset), want, "{what}");
        // The same connection answers a good call.
        let id = self.next;
        self.next += 2;
        let mut b = Vec::new();
        sum_call(&mut b, id);
        s.write(&b);
        assert_eq!(
            stream_end(s, id),
            (Some("0".to_owned()), None),
            "after {what}"
        );
        others_are_served(&self.client);
    }
}

#[test]
fn stream_errors_end_that_stream_and_the_connection_serves_on() {
    let server = server();
    let mut s = Attacked::new(&server);
    // A message over 4 MiB: RESOURCE_EXHAUSTED, and the client told to
    // stop sending (RST_STREAM NO_ERROR).
    s.attack(
        "an oversized message",
        &|b, id| {
            headers(b, id, "/pb.Add/Concat", false);
            let mut prefix = vec![0];
            prefix.extend_from_slice(&(5u32 << 20).to_be_bytes());
            frame(b, kind::DATA, 0, id, &prefix);
            for _ in 0..=((5 << 20) / 16_384) {
                frame(b, kind::DATA, 0, id, &[0; 16_384]);
            }
        },
        (Some("8"), Some(0)),
    );
    // A message whose prefix promises 16 bytes, 2 given.
    s.attack(
        "a message cut short",
        &|b, id| {
            headers(b, id, "/pb.Add/Sum", false);
            frame(b, kind::DATA, END_STREAM, id, &[0, 0, 0, 0, 16, 0x08, 1]);
        },
        (Some("13"), None),
    );
    s.attack(
        "an unknown method",
        &|b, id| {
            headers(b, id, "/pb.Add/Nope", false);
            frame(b, kind::DATA, END_STREAM, id, &[0, 0, 0, 0, 0]);
        },
        (Some("12"), None),
    );
    s.attack(
        "a zero WINDOW_UPDATE on a stream",
        &|b, id| {
            headers(b, id, "/pb.Add/Sum", false);
            frame(b, WINDOW_UPDATE, 0, id, &0u32.to_be_bytes());
        },
        (None, Some(PROTOCOL_ERROR)),
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn malformed_requests_are_reset_and_the_connection_serves_on() {
    let server = server();
    let mut s = Attacked::new(&server);
    // Requests a proxy in front could read another way (RFC 9113 §8.1.1):
    // each malformed, reset, never served.
    let call = |extra: (&'static str, &'static str), at: usize| {
        let mut fields = vec![
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/pb.Add/Sum"),
            ("content-type", "application/grpc"),
        ];
        fields.insert(at, extra);
        block(&fields)
    };
    for (what, fields) in [
        ("a duplicated :path", call((":path", "/pb.Add/Concat"), 3)),
        ("a duplicated :method", call((":method", "GET"), 1)),
        (
            "a pseudo-header after a regular one",
            call((":authority", "x"), 4),
        ),
        (
            "a connection-specific field",
            call(("connection", "close"), 4),
        ),
        ("te other than trailers", call(("te", "gzip"), 4)),
        (
            "a content-length the DATA disagrees with",
            call(("content-length", "3"), 4),
        ),
    ] {
        s.attack(
            what,
            &|b, id| {
                frame(b, kind::HEADERS, END_HEADERS, id, &fields);
                frame(
                    b,
                    kind::DATA,
                    END_STREAM,
                    id,
                    &[0, 0, 0, 0, 4, 0x08, 1, 0x10, 2],
                );
            },
            (None, Some(PROTOCOL_ERROR)),
        );
    }
    server.shutdown(Duration::from_secs(1));
}

/// A request that is not a gRPC call — h2spec's, a browser's — is
/// answered in plain HTTP as grpc-go's `ServeHTTP` answers it: 405 for a
/// method other than POST, 415 for another content type, each with a line
/// of text in DATA.
#[test]
fn requests_that_are_not_grpc_get_plain_http_answers() {
    let server = server();
    let mut s = Peer::connect(server.local_addr(), &hello());
    for (id, method, content_type, status) in [
        (1, "GET", "application/grpc", "405"),
        (3, "POST", "text/plain", "415"),
        (5, "POST", "application/grpcx", "415"),
    ] {
        let fields = block(&[
            (":method", method),
            (":scheme", "http"),
            (":path", "/pb.Add/Sum"),
            ("content-type", content_type),
        ]);
        let mut b = Vec::new();
        frame(&mut b, kind::HEADERS, END_HEADERS | END_STREAM, id, &fields);
        s.write(&b);
        let frames = s.frames_until(|f| f.2 == id && f.1 & END_STREAM != 0);
        let head = frames
            .iter()
            .find(|f| f.0 == kind::HEADERS && f.2 == id)
            .expect("headers");
        // `:status` is indexed for 200 only: a literal with name index 8.
        assert!(
            head.3.windows(3).any(|w| w == status.as_bytes()),
            "{method} {content_type}: {status}"
        );
        let body: Vec<u8> = frames
            .iter()
            .filter(|f| f.0 == kind::DATA && f.2 == id)
            .flat_map(|f| f.3.clone())
            .collect();
        let body = String::from_utf8(body).unwrap();
        assert!(body.starts_with("invalid gRPC request"), "{body}");
        assert!(body.ends_with('\n'));
    }
    server.shutdown(Duration::from_secs(1));
}

/// Connections that end while their streams are unfinished — HEADERS
/// without `END_STREAM`, or a body cut short — are freed: far more of them
/// than the connection limit come and go, every one is closed, and a fresh
/// call is answered at once.
#[test]
fn connections_that_end_mid_stream_are_freed() {
    const LIMIT: usize = 32;
    let server = synkit_examples::addsvc::grpc::server(Adder)
        .bind(
            "127.0.0.1:0",
            &ServerConfig {
                max_connections: LIMIT,
                ..ServerConfig::default()
            },
        )
        .unwrap();
    let addr = server.local_addr();
    for n in 0..10 * LIMIT {
        let mut out = hello();
        for stream in [1, 3, 5] {
            headers(&mut out, stream, "/pb.Add/Sum", false);
            if n % 2 == 1 {
                // Half a gRPC message: its prefix promises 100 bytes.
                frame(&mut out, kind::DATA, 0, stream, &[0, 0, 0, 0, 100, 1, 2]);
            }
        }
        // A PING last: its answer says the server has read it all.
        frame(&mut out, PING, 0, 0, b"all read");
        let mut s = Peer::connect(addr, &out);
        s.frames_until(|f| f.0 == PING);
        drop(s);
        assert!(
            synkit_tests::wire::eventually(Duration::from_secs(2), || server.stats().open() == 0),
            "connection {n} is held after its client left: {} open",
            server.stats().open()
        );
    }
    let client = Client::new(addr);
    others_are_served(&client);
    assert_eq!(
        server
            .stats()
            .refused_connections
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

/// This process's resident memory, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A header block on `stream` in as many frames as it takes: HEADERS
/// (ending the stream), then CONTINUATIONs, the last ending the block.
fn header_frames(out: &mut Vec<u8>, stream: u32, block: &[u8]) {
    const CONTINUATION: u8 = 0x9;
    let mut chunks = block.chunks(16_384).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let last = if chunks.peek().is_none() {
            END_HEADERS
        } else {
            0
        };
        if first {
            frame(out, kind::HEADERS, END_STREAM | last, stream, chunk);
            first = false;
        } else {
            frame(out, CONTINUATION, last, stream, chunk);
        }
    }
}

#[test]
fn header_bombs_cost_no_memory_and_repeat_offenders_are_closed() {
    let server = server();
    let addr = server.local_addr();
    let client = Client::new(addr);
    // One 4 000-byte dynamic-table entry, then blocks that name it 16 000
    // times: 64 MB of header list from 16 KB of block (it cost 257 MB of
    // RSS a connection when every field was copied before the limit).
    let mut entry = grpc_request("/pb.Add/Sum");
    entry.extend_from_slice(&[0x40, 1, b'x', 0x7f, 0x80 | 0x21, 30]);
    entry.extend(std::iter::repeat_n(b'v', 4000));
    let mut bomb = grpc_request("/pb.Add/Sum");
    bomb.extend(std::iter::repeat_n(0x80 | 0x3e, 16_000));
    // 12 000 tiny fields (`accept`, empty): 24 KB of block, 456 KB listed.
    let mut tiny = grpc_request("/pb.Add/Sum");
    for _ in 0..12_000 {
        tiny.extend_from_slice(&[0x53, 0]);
    }
    for (what, repeated) in [("bomb", &bomb), ("tiny fields", &tiny)] {
        let before = rss();
        let mut out = hello();
        header_frames(&mut out, 1, &entry);
        let mut s = Peer::connect(addr, &out);
        let mut attack = Vec::new();
        for i in 0..8 {
            header_frames(&mut attack, 3 + 2 * i, repeated);
        }
        s.write(&attack);
        // Past the header-list limit again and again: ENHANCE_YOUR_CALM.
        assert_eq!(goaway_code(&mut s), Some(ENHANCE_YOUR_CALM), "{what}");
        assert!(s.closed(), "{what}: the connection is closed");
        let grown = rss().saturating_sub(before);
        assert!(grown < 64 << 20, "{what}: {} MB more resident", grown >> 20);
        eprintln!("{what}: {} MB more resident", grown >> 20);
        others_are_served(&client);
    }
}

#[test]
fn a_never_reading_ping_flood_is_bounded_and_others_are_served() {
    let server = server();
    let addr = server.local_addr();
    let client = Client::new(addr);
    // Ten clients that send 2 000 000 PINGs each (34 MB, past what the
    // kernel's buffers hold both ways) and read nothing: acknowledged in
    // full, that would be 34 MB a connection queued for peers that never
    // take it (16 MB each were held before the queue was bounded).
    let mut flood = hello();
    for _ in 0..2_000_000 {
        frame(&mut flood, PING, 0, 0, b"flooding");
    }
    let flood = std::sync::Arc::new(flood);
    let before = rss();
    let floods: Vec<_> = (0..10)
        .map(|_| {
            let flood = std::sync::Arc::clone(&flood);
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
                // The server stops reading a peer that does not read (and
                // closes it at its write timeout): the write stalls or
                // fails, never completes into an unbounded queue.
                let whole = std::io::Write::write_all(&mut s, &flood).is_ok();
                (whole, s)
            })
        })
        .collect();
    others_are_served(&client);
    // Measured with the flooding connections still open.
    let floods: Vec<(bool, std::net::TcpStream)> =
        floods.into_iter().map(|t| t.join().unwrap()).collect();
    let grown = rss().saturating_sub(before);
    assert!(grown < 64 << 20, "{} MB more resident", grown >> 20);
    eprintln!(
        "10 never-reading PING floods: {} MB more resident",
        grown >> 20
    );
    let wrote_all = floods.iter().filter(|(whole, _)| *whole).count();
    assert_eq!(
        wrote_all, 0,
        "a flood was taken whole: the server read without bound"
    );
    others_are_served(&client);
}
