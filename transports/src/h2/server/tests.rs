//! The connection driven by hand: a client's bytes in, frames out.

use synkit_core::time::{Duration, Instant};

use super::*;
use crate::engine::{Incoming, Now, Session};
use crate::h2::Response;
use crate::h2::frame::{self, ErrorCode, flag, kind, setting};
use crate::h2::hpack;

fn now() -> Now {
    Now {
        at: Instant::from_nanos(1_000_000),
        unix_secs: 1,
    }
}

/// A client's header block for a call on `path`.
fn request_block(path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "x"),
        ("content-type", "application/json"),
        ("x-timeout-ms", "100"),
    ] {
        hpack::encode_field(&mut b, n.as_bytes(), v.as_bytes());
    }
    b
}

/// Requests that ask for a deadline in `x-timeout-ms`.
fn options() -> Options {
    Options {
        timeout: Duration::from_secs(5),
        max_body: 1 << 20,
        deadline: |r| {
            r.header("x-timeout-ms")
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
        },
        common: Common::default(),
        authority: true,
    }
}

fn new_connection() -> Connection {
    connection(options())
}

/// A connection past the preface and the client's SETTINGS, its own
/// opening frames read away.
fn open() -> Connection {
    let mut c = new_connection();
    let mut hello = frame::PREFACE.to_vec();
    frame::put_settings(&mut hello, &[]);
    c.received(&hello, &now());
    let n = c.output().len();
    c.wrote(n, &now());
    c
}

/// The frames the connection wrote, as (type, flags, stream, payload).
fn frames(c: &mut Connection) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let out = c.output().to_vec();
    let n = out.len();
    c.wrote(n, &now());
    let mut all = Vec::new();
    let mut rest = &out[..];
    while let Ok(Some((h, p))) = frame::next(rest, 1 << 24) {
        all.push((h.kind, h.flags, h.stream, p.to_vec()));
        rest = &rest[9 + h.len..];
    }
    all
}

fn goaway_code(c: &mut Connection) -> Option<u32> {
    frames(c)
        .into_iter()
        .find(|f| f.0 == kind::GOAWAY)
        .map(|f| u32::from_be_bytes([f.3[4], f.3[5], f.3[6], f.3[7]]))
}

fn rst_code(c: &mut Connection, stream: u32) -> Option<u32> {
    frames(c)
        .into_iter()
        .find(|f| f.0 == kind::RST_STREAM && f.2 == stream)
        .map(|f| frame::u32_payload(&f.3).unwrap())
}

#[test]
fn a_call_is_read_served_and_answered_within_the_window() {
    let mut c = open();
    let mut bytes = Vec::new();
    frame::put_headers(&mut bytes, 1, &request_block("/pb.Add/Sum"), false, 16_384);
    frame::put_data(&mut bytes, 1, &[0, 0, 0, 0, 2, 8, 1], true);
    // Byte at a time.
    for b in &bytes {
        c.received(std::slice::from_ref(b), &now());
    }
    let incoming = c.next_request(&now()).expect("a request");
    assert_eq!(incoming.id, 1);
    assert_eq!(incoming.exchange.request.path, "/pb.Add/Sum");
    assert_eq!(incoming.exchange.request.body, [0, 0, 0, 0, 2, 8, 1]);
    // The deadline the request asked for (here `x-timeout-ms`).
    assert_eq!(
        incoming.deadline,
        now().at.saturating_add(Duration::from_millis(100))
    );
    frames(&mut c);
    // A response bigger than the peer's 65 535-byte window: the rest waits.
    let mut exchange = incoming.exchange;
    exchange.response = Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())].into(),
        body: vec![7; 100_000],
        trailers: vec![("x-checksum".into(), "0".into())].into(),
    };
    c.respond(1, exchange, &now());
    let sent: usize = frames(&mut c)
        .iter()
        .filter(|f| f.0 == kind::DATA)
        .map(|f| f.3.len())
        .sum();
    assert_eq!(sent, 65_535);
    let mut more = Vec::new();
    frame::put_window_update(&mut more, 0, 100_000);
    frame::put_window_update(&mut more, 1, 100_000);
    c.received(&more, &now());
    let out = frames(&mut c);
    let rest: usize = out
        .iter()
        .filter(|f| f.0 == kind::DATA)
        .map(|f| f.3.len())
        .sum();
    assert_eq!(rest, 100_000 - 65_535);
    let trailers = out.last().unwrap();
    assert_eq!(
        (trailers.0, trailers.1 & flag::END_STREAM),
        (kind::HEADERS, flag::END_STREAM)
    );
    assert!(c.open_streams() == 0);
}

/// Bytes written by `f`.
fn bytes(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = Vec::new();
    f(&mut b);
    b
}

/// Client bytes that break the connection, and the code each must get.
fn connection_breakers() -> Vec<(&'static str, Vec<u8>, u32)> {
    let proto = ErrorCode::ProtocolError as u32;
    let frame_size = ErrorCode::FrameSizeError as u32;
    let call = request_block("/a/b");
    vec![
        ("no preface", b"GET / HTTP/1.1\r\n\r\n".to_vec(), proto),
        (
            "frame too big",
            bytes(|b| frame::put_head(b, 20_000, kind::DATA, 0, 1)),
            frame_size,
        ),
        (
            "hpack garbage",
            bytes(|b| frame::put_headers(b, 1, &[0xff; 6], true, 16_384)),
            ErrorCode::CompressionError as u32,
        ),
        (
            "even stream",
            bytes(|b| frame::put_headers(b, 2, &call, true, 16_384)),
            proto,
        ),
        (
            "stream going backwards",
            bytes(|b| {
                frame::put_headers(b, 5, &call, true, 16_384);
                frame::put_headers(b, 3, &call, true, 16_384);
            }),
            proto,
        ),
        (
            "push promise",
            bytes(|b| {
                frame::put_head(b, 4, kind::PUSH_PROMISE, flag::END_HEADERS, 1);
                b.extend_from_slice(&[0, 0, 0, 2]);
            }),
            proto,
        ),
        (
            "window overflow",
            bytes(|b| frame::put_window_update(b, 0, 0x7fff_ffff)),
            ErrorCode::FlowControlError as u32,
        ),
        (
            "header block interrupted",
            bytes(|b| {
                frame::put_head(b, 3, kind::HEADERS, 0, 1);
                b.extend_from_slice(&call[..3]);
                frame::put_ping(b, false, [0; 8]);
            }),
            proto,
        ),
        (
            "ping of the wrong size",
            bytes(|b| {
                frame::put_head(b, 3, kind::PING, 0, 0);
                b.extend_from_slice(&[1, 2, 3]);
            }),
            frame_size,
        ),
        (
            "settings ack with a payload",
            bytes(|b| {
                frame::put_head(b, 6, kind::SETTINGS, flag::ACK, 0);
                b.extend_from_slice(&[0; 6]);
            }),
            frame_size,
        ),
        (
            "data on an idle stream",
            bytes(|b| frame::put_data(b, 9, b"x", true)),
            proto,
        ),
    ]
}

#[test]
fn connection_errors_get_goaway_with_the_rfcs_code() {
    for (what, bytes, code) in connection_breakers() {
        let mut c = if what == "no preface" {
            new_connection()
        } else {
            open()
        };
        c.received(&bytes, &now());
        assert_eq!(goaway_code(&mut c), Some(code), "{what}");
        assert!(c.wants_close(), "{what}: closes once written");
        assert!(c.next_request(&now()).is_none());
    }
}

#[test]
fn stream_errors_reset_only_that_stream() {
    let mut c = open();
    let mut b = Vec::new();
    // Stream 1 completes; stream 3 then gets a zero `WINDOW_UPDATE`.
    frame::put_headers(&mut b, 1, &request_block("/a/b"), true, 16_384);
    frame::put_headers(&mut b, 3, &request_block("/a/b"), false, 16_384);
    frame::put_window_update(&mut b, 3, 0);
    c.received(&b, &now());
    assert_eq!(rst_code(&mut c, 3), Some(ErrorCode::ProtocolError as u32));
    assert_eq!(c.next_request(&now()).map(|i| i.id), Some(1));
    // DATA after `END_STREAM`: STREAM_CLOSED.
    let mut b = Vec::new();
    frame::put_data(&mut b, 1, b"late", false);
    c.received(&b, &now());
    assert_eq!(rst_code(&mut c, 1), Some(ErrorCode::StreamClosed as u32));
    // A request missing :path.
    let mut block = Vec::new();
    hpack::encode_field(&mut block, b":method", b"POST");
    hpack::encode_field(&mut block, b":scheme", b"http");
    let mut b = Vec::new();
    frame::put_headers(&mut b, 5, &block, true, 16_384);
    c.received(&b, &now());
    assert_eq!(rst_code(&mut c, 5), Some(ErrorCode::ProtocolError as u32));
    assert!(!c.broken());
}

#[test]
fn too_many_streams_are_refused_and_a_reset_flood_ends_the_connection() {
    let mut c = open();
    let mut b = Vec::new();
    for i in 0..=MAX_CONCURRENT_STREAMS {
        frame::put_headers(&mut b, 2 * i + 1, &request_block("/a/b"), false, 16_384);
    }
    c.received(&b, &now());
    let refused = 2 * MAX_CONCURRENT_STREAMS + 1;
    assert_eq!(
        rst_code(&mut c, refused),
        Some(ErrorCode::RefusedStream as u32)
    );
    // 1 000 resets at once spend the whole budget (the refusal above
    // spent one of them).
    let mut b = Vec::new();
    for _ in 0..999 {
        frame::put_rst_stream(&mut b, 1, ErrorCode::Cancel);
    }
    c.received(&b, &now());
    assert!(
        !c.broken(),
        "999 resets and one refusal are within the budget"
    );
    let mut b = Vec::new();
    frame::put_rst_stream(&mut b, 1, ErrorCode::Cancel);
    c.received(&b, &now());
    assert_eq!(goaway_code(&mut c), Some(ErrorCode::EnhanceYourCalm as u32));
}

/// `now()` and `ms` milliseconds.
fn later(ms: u64) -> Now {
    Now {
        at: now().at.saturating_add(Duration::from_millis(ms)),
        unix_secs: 1,
    }
}

#[test]
fn a_client_that_cancels_steadily_keeps_its_connection() {
    // 100 calls a second, each cancelled, for a minute: 6 000 resets,
    // far past the burst, within the rate.
    let mut c = open();
    for i in 0..6_000u32 {
        let id = 2 * i + 1;
        let mut b = Vec::new();
        frame::put_headers(&mut b, id, &request_block("/a/b"), false, 16_384);
        frame::put_rst_stream(&mut b, id, ErrorCode::Cancel);
        c.received(&b, &later(u64::from(i) * 10));
        assert!(!c.broken(), "cut off at reset {i}");
    }
    // The same pace of resets at once is a flood.
    let mut b = Vec::new();
    for i in 6_000..7_100u32 {
        let id = 2 * i + 1;
        frame::put_headers(&mut b, id, &request_block("/a/b"), false, 16_384);
        frame::put_rst_stream(&mut b, id, ErrorCode::Cancel);
    }
    c.received(&b, &later(60_000));
    assert_eq!(goaway_code(&mut c), Some(ErrorCode::EnhanceYourCalm as u32));
}

#[test]
fn a_reset_stream_drops_its_answer_and_shutdown_says_goaway() {
    let mut c = open();
    let mut b = Vec::new();
    frame::put_headers(&mut b, 1, &request_block("/a/b"), true, 16_384);
    c.received(&b, &now());
    let incoming = c.next_request(&now()).unwrap();
    let mut b = Vec::new();
    frame::put_rst_stream(&mut b, 1, ErrorCode::Cancel);
    c.received(&b, &now());
    frames(&mut c);
    c.respond(1, incoming.exchange, &now());
    assert!(
        frames(&mut c).is_empty(),
        "nothing written for a reset stream"
    );
    c.shutdown(&now());
    let out = frames(&mut c);
    assert_eq!(out.last().map(|f| f.0), Some(kind::GOAWAY));
    assert!(c.wants_close());
    // A PING is answered with its data.
    let mut c = open();
    let mut b = Vec::new();
    frame::put_ping(&mut b, false, *b"abcdefgh");
    c.received(&b, &now());
    let pong = frames(&mut c).pop().unwrap();
    assert_eq!(
        (pong.0, pong.1, pong.3.as_slice()),
        (kind::PING, flag::ACK, &b"abcdefgh"[..])
    );
}

#[test]
fn the_fuzz_driver_survives_known_streams_and_random_ones() {
    // Every breaker above, in several splits.
    for (_, bytes, _) in connection_breakers() {
        for split in [1u8, 7, 200] {
            let mut input = vec![split; 8];
            input.extend_from_slice(&bytes);
            super::fuzz::fuzz_stream(&input);
        }
    }
    // A well-formed call, then pseudo-random bytes from a fixed seed.
    let mut good = vec![3u8; 8];
    frame::put_settings(&mut good, &[]);
    frame::put_headers(&mut good, 1, &request_block("/a/b"), false, 16_384);
    frame::put_data(&mut good, 1, &[0, 0, 0, 0, 1, 7], true);
    super::fuzz::fuzz_stream(&good);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        let mut bytes = good.clone();
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = usize::try_from(x % bytes.len() as u64).unwrap_or(0);
            bytes[at] = x.to_le_bytes()[3];
        }
        super::fuzz::fuzz_stream(&bytes);
    }
}

/// The answer's part: headers (the first time) and one message.
fn part(headers: bool, body: Vec<u8>) -> crate::h2::Exchange {
    crate::h2::Exchange {
        request: crate::h2::Request::default(),
        response: Response {
            status: 200,
            headers: if headers {
                vec![("content-type".into(), "application/json".into())].into()
            } else {
                Vec::new().into()
            },
            body,
            trailers: Vec::new().into(),
        },
    }
}

/// A connection with one call, read and handed out.
fn streaming_call() -> (Connection, Incoming<crate::h2::Exchange>) {
    let mut c = open();
    let mut bytes = Vec::new();
    frame::put_headers(&mut bytes, 1, &request_block("/s.S/Stream"), false, 16_384);
    frame::put_data(&mut bytes, 1, &[0, 0, 0, 0, 0], true);
    c.received(&bytes, &now());
    let incoming = c.next_request(&now()).expect("a request");
    (c, incoming)
}

#[test]
fn an_answer_in_parts_goes_out_as_it_comes_within_the_windows() {
    use crate::engine::parts::Credit;
    let (mut c, incoming) = streaming_call();
    frames(&mut c);
    let (credit, guard) = Credit::held(3 * 40_000);
    c.respond_part(1, part(true, vec![1; 40_000]), Some(guard), &now());
    let out = frames(&mut c);
    // Headers once, without END_STREAM; the part's bytes; the stream open.
    assert_eq!((out[0].0, out[0].1 & flag::END_STREAM), (kind::HEADERS, 0));
    let data = |out: &[(u8, u8, u32, Vec<u8>)]| -> usize {
        out.iter()
            .filter(|f| f.0 == kind::DATA)
            .inspect(|f| assert_eq!(f.1 & flag::END_STREAM, 0))
            .map(|f| f.3.len())
            .sum()
    };
    assert_eq!(data(&out), 40_000);
    assert_eq!(credit.queued(), 80_000, "written bytes are credited back");
    // The second part outgrows the client's 65 535-byte window: the rest
    // waits, and stays counted against the worker.
    c.respond_part(1, part(false, vec![2; 40_000]), None, &now());
    let out = frames(&mut c);
    assert!(out.iter().all(|f| f.0 == kind::DATA));
    assert_eq!(data(&out), 65_535 - 40_000);
    assert_eq!(credit.queued(), 80_000 - 25_535);
    let mut more = Vec::new();
    frame::put_window_update(&mut more, 0, 1 << 20);
    frame::put_window_update(&mut more, 1, 1 << 20);
    c.received(&more, &now());
    assert_eq!(data(&frames(&mut c)), 40_000 - 25_535);
    assert!(!credit.is_closed());
    // The end: the last message, then the trailers end the stream.
    let mut end = incoming.exchange;
    end.response = Response {
        status: 200,
        headers: Vec::new().into(),
        body: vec![3; 10],
        trailers: vec![("x-checksum".into(), "0".into())].into(),
    };
    c.respond(1, end, &now());
    let out = frames(&mut c);
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].0, out[0].3.len(), out[0].1), (kind::DATA, 10, 0));
    assert_eq!(
        (out[1].0, out[1].1 & flag::END_STREAM),
        (kind::HEADERS, flag::END_STREAM)
    );
    assert!(c.open_streams() == 0);
    assert!(
        credit.is_closed(),
        "the finished stream let go of its credit"
    );
}

#[test]
fn a_reset_while_streaming_cancels_the_worker_and_closes_its_credit() {
    use crate::engine::parts::Credit;
    let (mut c, incoming) = streaming_call();
    let (credit, guard) = Credit::held(5);
    c.respond_part(1, part(true, vec![9; 5]), Some(guard), &now());
    frames(&mut c);
    let mut rst = Vec::new();
    frame::put_rst_stream(&mut rst, 1, ErrorCode::Cancel);
    c.received(&rst, &now());
    assert_eq!(c.take_cancelled(), Some(1), "the worker is told");
    assert!(credit.is_closed(), "and a waiting send wakes");
    // Parts and the end that were on their way are dropped.
    let (late, late_guard) = Credit::held(0);
    c.respond_part(1, part(false, vec![9; 5]), Some(late_guard), &now());
    assert!(late.is_closed());
    c.respond(1, incoming.exchange, &now());
    assert!(frames(&mut c).is_empty());
    assert!(c.open_streams() == 0);
}

#[test]
fn a_stream_that_ends_without_trailers_or_bytes_still_ends() {
    use crate::engine::parts::Credit;
    let (mut c, incoming) = streaming_call();
    let (_credit, guard) = Credit::held(1);
    c.respond_part(1, part(true, vec![1]), Some(guard), &now());
    frames(&mut c);
    c.respond(1, incoming.exchange, &now());
    let out = frames(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0, out[0].1, out[0].3.len()),
        (kind::DATA, flag::END_STREAM, 0)
    );
    assert!(c.open_streams() == 0);
}

/// A header block of `fields`, in order.
fn block_of(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        hpack::encode_field(&mut b, n.as_bytes(), v.as_bytes());
    }
    b
}

const CALL: [(&str, &str); 4] = [
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/a/b"),
    ("content-type", "application/json"),
];

/// A call's fields with `extra` put at `at`.
fn call_with(at: usize, extra: (&'static str, &'static str)) -> Vec<u8> {
    let mut fields = CALL.to_vec();
    fields.insert(at, extra);
    block_of(&fields)
}

/// Client frames (after the preface) that each must cost stream 1 — and
/// only stream 1 — a reset with the code given: the cases h2spec found.
fn stream_breakers() -> Vec<(&'static str, Vec<u8>, ErrorCode)> {
    use ErrorCode::StreamClosed;
    let call = request_block("/a/b");
    vec![
        (
            "HEADERS on a half-closed (remote) stream",
            bytes(|b| {
                frame::put_headers(b, 1, &call, true, 16_384);
                frame::put_headers(b, 1, &call, true, 16_384);
            }),
            StreamClosed,
        ),
        (
            "DATA after the client's RST_STREAM",
            bytes(|b| {
                frame::put_headers(b, 1, &call, false, 16_384);
                frame::put_rst_stream(b, 1, ErrorCode::Cancel);
                frame::put_data(b, 1, b"late", true);
            }),
            StreamClosed,
        ),
    ]
}

/// Requests that are malformed (§8.1.1), and what each must cost stream 1.
fn malformed_requests() -> Vec<(&'static str, Vec<u8>, ErrorCode)> {
    use ErrorCode::ProtocolError;
    let call = request_block("/a/b");
    let malformed = |block: Vec<u8>| bytes(|b| frame::put_headers(b, 1, &block, true, 16_384));
    let with_length = |length: &'static str, parts: &[&[u8]]| {
        let block = call_with(4, ("content-length", length));
        bytes(|b| {
            frame::put_headers(b, 1, &block, false, 16_384);
            for (i, part) in parts.iter().enumerate() {
                frame::put_data(b, 1, part, i + 1 == parts.len());
            }
        })
    };
    vec![
        (
            "PRIORITY depending on itself",
            bytes(|b| {
                frame::put_head(b, 5, kind::PRIORITY, 0, 1);
                b.extend_from_slice(&[0, 0, 0, 1, 16]);
            }),
            ProtocolError,
        ),
        (
            "HEADERS depending on itself",
            bytes(|b| {
                frame::put_head(
                    b,
                    5 + call.len(),
                    kind::HEADERS,
                    flag::PRIORITY | flag::END_HEADERS | flag::END_STREAM,
                    1,
                );
                b.extend_from_slice(&[0, 0, 0, 1, 16]);
                b.extend_from_slice(&call);
            }),
            ProtocolError,
        ),
        (
            "content-length more than the DATA",
            with_length("10", &[b"abc"]),
            ProtocolError,
        ),
        (
            "content-length less than the DATA frames",
            with_length("4", &[b"abc", b"def"]),
            ProtocolError,
        ),
        (
            "a second HEADERS without END_STREAM",
            bytes(|b| {
                frame::put_headers(b, 1, &call, false, 16_384);
                frame::put_headers(b, 1, &block_of(&[("x", "1")]), false, 16_384);
            }),
            ProtocolError,
        ),
        (
            "a pseudo-header in trailers",
            bytes(|b| {
                frame::put_headers(b, 1, &call, false, 16_384);
                frame::put_headers(b, 1, &block_of(&[(":path", "/")]), true, 16_384);
            }),
            ProtocolError,
        ),
    ]
    .into_iter()
    .chain(
        [
            (
                "a pseudo-header after a regular field",
                4,
                (":authority", "x"),
            ),
            (
                "a connection-specific field",
                4,
                ("connection", "keep-alive"),
            ),
            ("te other than trailers", 4, ("te", "gzip")),
            ("duplicated :method", 1, (":method", "GET")),
            ("duplicated :scheme", 1, (":scheme", "https")),
            ("duplicated :path", 3, (":path", "/c/d")),
            ("a response pseudo-header", 0, (":status", "200")),
        ]
        .map(|(what, at, extra)| (what, malformed(call_with(at, extra)), ProtocolError)),
    )
    .collect()
}

#[test]
fn malformed_requests_and_frames_on_closed_streams_are_stream_errors() {
    for (what, bytes, code) in stream_breakers().into_iter().chain(malformed_requests()) {
        let mut c = open();
        c.received(&bytes, &now());
        assert_eq!(rst_code(&mut c, 1), Some(code as u32), "{what}");
        assert!(!c.broken(), "{what}: only the stream ends");
        assert!(c.next_request(&now()).is_none(), "{what}: nothing served");
        // The connection goes on: a well-formed call on stream 3 is served.
        let mut b = Vec::new();
        frame::put_headers(&mut b, 3, &request_block("/a/b"), true, 16_384);
        c.received(&b, &now());
        assert_eq!(c.next_request(&now()).map(|i| i.id), Some(3), "{what}");
    }
}

#[test]
fn a_body_as_long_as_its_content_length_is_served() {
    let mut c = open();
    let mut b = Vec::new();
    frame::put_headers(
        &mut b,
        1,
        &call_with(4, ("content-length", "6")),
        false,
        16_384,
    );
    frame::put_data(&mut b, 1, b"abc", false);
    frame::put_data(&mut b, 1, b"def", true);
    c.received(&b, &now());
    let incoming = c.next_request(&now()).expect("served");
    assert_eq!(incoming.exchange.request.body, b"abcdef");
}

#[test]
fn data_on_a_stream_already_answered_is_stream_closed() {
    let mut c = open();
    let mut b = Vec::new();
    frame::put_headers(&mut b, 1, &request_block("/a/b"), true, 16_384);
    c.received(&b, &now());
    let mut incoming = c.next_request(&now()).unwrap();
    incoming.exchange.response = Response {
        status: 200,
        trailers: vec![("x-checksum".into(), "0".into())].into(),
        ..Response::default()
    };
    c.respond(1, incoming.exchange, &now());
    frames(&mut c);
    let mut b = Vec::new();
    frame::put_data(&mut b, 1, b"late", true);
    c.received(&b, &now());
    assert_eq!(rst_code(&mut c, 1), Some(ErrorCode::StreamClosed as u32));
    assert!(!c.broken());
}

#[test]
fn frames_in_flight_on_a_stream_we_reset_are_ignored() {
    let mut c = open();
    let mut b = Vec::new();
    // A malformed request, reset; the client's DATA and trailers for it
    // were already on their way.
    frame::put_headers(&mut b, 1, &call_with(1, (":method", "GET")), false, 16_384);
    c.received(&b, &now());
    assert_eq!(rst_code(&mut c, 1), Some(ErrorCode::ProtocolError as u32));
    let mut b = Vec::new();
    frame::put_data(&mut b, 1, &[7; 1000], false);
    frame::put_headers(&mut b, 1, &block_of(&[("x-trailer", "1")]), true, 16_384);
    c.received(&b, &now());
    assert!(
        frames(&mut c).iter().all(|f| f.0 != kind::RST_STREAM),
        "no second reset"
    );
    assert!(!c.broken());
}

#[test]
fn an_answer_waits_for_window_and_keeps_its_stream_counted() {
    // h2spec's concurrency case: a client that gives no window holds each
    // answered stream open, and the one past the limit is refused.
    let mut c = new_connection();
    let mut hello = frame::PREFACE.to_vec();
    frame::put_settings(&mut hello, &[(setting::INITIAL_WINDOW_SIZE, 0)]);
    c.received(&hello, &now());
    frames(&mut c);
    for i in 0..MAX_CONCURRENT_STREAMS {
        let mut b = Vec::new();
        frame::put_headers(&mut b, 2 * i + 1, &request_block("/a/b"), true, 16_384);
        c.received(&b, &now());
        let mut incoming = c.next_request(&now()).unwrap();
        incoming.exchange.response = Response {
            status: 415,
            body: b"not here\n".to_vec(),
            ..Response::default()
        };
        c.respond(incoming.id, incoming.exchange, &now());
    }
    assert!(
        frames(&mut c).iter().all(|f| f.0 != kind::DATA),
        "no window, no DATA"
    );
    let mut b = Vec::new();
    let past = 2 * MAX_CONCURRENT_STREAMS + 1;
    frame::put_headers(&mut b, past, &request_block("/a/b"), true, 16_384);
    // WINDOW_UPDATE and PRIORITY on a half-closed (remote) stream are
    // taken: the window lets stream 1's answer out.
    frame::put_head(&mut b, 5, kind::PRIORITY, 0, 1);
    b.extend_from_slice(&[0, 0, 0, 3, 16]);
    frame::put_window_update(&mut b, 1, 100);
    c.received(&b, &now());
    let out = frames(&mut c);
    assert!(
        out.iter().any(|f| f.0 == kind::RST_STREAM && f.2 == past),
        "refused"
    );
    let data: Vec<_> = out.iter().filter(|f| f.0 == kind::DATA).collect();
    assert_eq!(data.len(), 1);
    assert_eq!((data[0].2, data[0].3.as_slice()), (1, &b"not here\n"[..]));
}

#[test]
fn the_preface_must_be_followed_by_settings() {
    let mut c = new_connection();
    let mut hello = frame::PREFACE.to_vec();
    frame::put_ping(&mut hello, false, [0; 8]);
    c.received(&hello, &now());
    assert_eq!(goaway_code(&mut c), Some(ErrorCode::ProtocolError as u32));
}

#[test]
fn an_hpack_bomb_is_answered_431_and_repeats_close_the_connection() {
    // One 4 000-byte table entry, then a block naming it 16 000 times: 64
    // MB of header list from 16 KB of block.
    let mut c = open();
    let mut first = block_of(&CALL);
    first.push(0x40); // a literal with incremental indexing, new name
    first.push(1);
    first.push(b'x');
    first.push(0x7f);
    // 4 000 as a 7-bit-prefix integer: 127, then 3 873 in 7-bit groups.
    first.extend_from_slice(&[0x80 | 0x21, 30]); // 3 873 = 33 + 30 * 128
    first.extend(std::iter::repeat_n(b'v', 4000));
    let mut b = Vec::new();
    frame::put_headers(&mut b, 1, &first, true, 16_384);
    c.received(&b, &now());
    assert!(
        c.next_request(&now()).is_some(),
        "the first request is served"
    );
    frames(&mut c);
    let mut bomb = block_of(&CALL);
    // Index 62 is the newest dynamic entry.
    bomb.extend(std::iter::repeat_n(0x80 | 0x3e, 16_000));
    let mut b = Vec::new();
    frame::put_headers(&mut b, 3, &bomb, true, 16_384);
    c.received(&b, &now());
    let out = frames(&mut c);
    let headers = out
        .iter()
        .find(|f| f.0 == kind::HEADERS && f.2 == 3)
        .expect("answered");
    let mut status = Vec::new();
    hpack::BlockDecoder::new(4096)
        .decode(&headers.3, usize::MAX, |n, v| {
            status.push((n.to_vec(), v.to_vec()));
        })
        .unwrap();
    assert_eq!(status, [(b":status".to_vec(), b"431".to_vec())]);
    assert!(c.next_request(&now()).is_none());
    assert!(!c.broken());
    // A connection that keeps doing it is closed.
    for i in 0..3 {
        let mut b = Vec::new();
        frame::put_headers(&mut b, 5 + 2 * i, &bomb, true, 16_384);
        c.received(&b, &now());
    }
    assert_eq!(goaway_code(&mut c), Some(ErrorCode::EnhanceYourCalm as u32));
}
