//! synkit's gRPC client against a misbehaving server: a hand-written
//! HTTP/2 peer that answers a streaming call with compressed or oversized
//! messages, ends a stream inside a message, resets it midway, closes the
//! connection, sends garbage or nothing at all. Each call ends with a
//! clear status, within its deadline, and never panics; the client works
//! again afterwards on a good server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use synkit_core::Context;
use synkit_examples::addsvc::grpc::{SumReply, SumRequest};
use synkit_tests::h2::{END_HEADERS, END_STREAM, block, frame, kind};
use synkit_transports::grpc::{Client, Code, Status};

/// A gRPC message framed: flag, length, bytes.
fn message(flag: u8, len: u32, bytes: &[u8]) -> Vec<u8> {
    let mut m = vec![flag];
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(bytes);
    m
}

/// `SumReply{v}`'s bytes.
fn reply(v: u8) -> Vec<u8> {
    vec![0x08, v]
}

/// Reads the client's frames until its request on stream 1 has ended.
fn read_request(s: &mut TcpStream) {
    let mut input = Vec::new();
    let mut buf = [0u8; 4096];
    let mut at = 24; // the preface
    loop {
        while input.len() >= at + 9 {
            let len = usize::from(input[at]) << 16
                | usize::from(input[at + 1]) << 8
                | usize::from(input[at + 2]);
            if input.len() < at + 9 + len {
                break;
            }
            let (frame_kind, flags) = (input[at + 3], input[at + 4]);
            at += 9 + len;
            if frame_kind == kind::DATA && flags & END_STREAM != 0 {
                return;
            }
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the client left before its request");
        input.extend_from_slice(&buf[..n]);
    }
}

/// A server that answers one call's request with `answer`, then closes
/// or (if `hold`) keeps the connection open for a while.
fn serve(answer: Vec<u8>, hold: bool) -> (std::net::SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut hello = Vec::new();
        frame(&mut hello, kind::SETTINGS, 0, 0, &[]);
        s.write_all(&hello).unwrap();
        read_request(&mut s);
        let _ = s.write_all(&answer);
        if hold {
            std::thread::sleep(Duration::from_millis(1500));
        }
    });
    (addr, t)
}

/// The response headers, then `data` on stream 1.
fn headers_then(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let b = block(&[(":status", "200"), ("content-type", "application/grpc")]);
    frame(&mut out, kind::HEADERS, END_HEADERS, 1, &b);
    if !data.is_empty() {
        frame(&mut out, kind::DATA, 0, 1, data);
    }
    out
}

/// Reads the stream: the values it gave and how it ended, and how long
/// that took.
fn read(addr: std::net::SocketAddr, deadline: Duration) -> (Vec<i64>, Option<Status>, Duration) {
    let client = Client::new(addr);
    let root = Context::background();
    let cx = root.with_timeout(synkit_core::time::Duration::from_nanos(
        u64::try_from(deadline.as_nanos()).unwrap(),
    ));
    let began = Instant::now();
    let mut values = Vec::new();
    let stream =
        client.server_streaming::<_, SumReply>(&cx, "/pb.Stream/Count", &SumRequest { a: 1, b: 2 });
    let mut end = None;
    match stream {
        Err(status) => end = Some(status),
        Ok(stream) => {
            for r in stream {
                match r {
                    Ok(r) => values.push(r.v),
                    Err(status) => end = Some(status),
                }
            }
        }
    }
    (values, end, began.elapsed())
}

#[test]
fn bad_messages_end_the_stream_with_a_status() {
    let cases: Vec<(&str, Vec<u8>, Code)> = vec![
        ("compressed", message(1, 2, &reply(1)), Code::Unimplemented),
        (
            "oversized",
            message(0, u32::MAX, b""),
            Code::ResourceExhausted,
        ),
    ];
    for (what, data, code) in cases {
        let mut ok = message(0, 2, &reply(7));
        ok.extend_from_slice(&data);
        let (addr, t) = serve(headers_then(&ok), true);
        let (values, end, took) = read(addr, Duration::from_secs(5));
        assert_eq!(values, [7], "{what}: the good message first");
        assert_eq!(end.map(|s| s.code), Some(code), "{what}");
        assert!(
            took < Duration::from_secs(1),
            "{what}: at once, not at the deadline"
        );
        t.join().unwrap();
    }
}

/// What a server sends, whether it then holds the connection open, the
/// values read before the end, and the status that ends it.
struct Case(&'static str, Vec<u8>, bool, Vec<i64>, Code);

#[test]
fn a_stream_cut_short_reset_or_abandoned_ends_with_a_status() {
    // Trailers (grpc-status 0) arrive inside a message.
    let mut cut = headers_then(&message(0, 10, &reply(1)));
    frame(
        &mut cut,
        kind::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block(&[("grpc-status", "0")]),
    );
    // Two messages, then RST_STREAM INTERNAL_ERROR.
    let mut two = message(0, 2, &reply(1));
    two.extend(message(0, 2, &reply(2)));
    let mut reset = headers_then(&two);
    frame(&mut reset, kind::RST_STREAM, 0, 1, &2u32.to_be_bytes());
    // Garbage where a frame should be: a length past every limit.
    let mut garbage = headers_then(&message(0, 2, &reply(1)));
    garbage.extend_from_slice(&[0xff; 64]);
    let closed = headers_then(&message(0, 2, &reply(1)));
    let cases = vec![
        Case("cut inside a message", cut, true, vec![], Code::Internal),
        Case("reset", reset, true, vec![1, 2], Code::Internal),
        Case("closed", closed, false, vec![1], Code::Unavailable),
        Case("garbage", garbage, true, vec![1], Code::Unavailable),
    ];
    for Case(what, answer, hold, want, code) in cases {
        let (addr, t) = serve(answer, hold);
        let (values, end, took) = read(addr, Duration::from_secs(5));
        assert_eq!(values, want, "{what}");
        assert_eq!(end.as_ref().map(|s| s.code), Some(code), "{what}: {end:?}");
        assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
        t.join().unwrap();
    }
}

#[test]
fn a_server_that_goes_quiet_is_left_at_the_deadline() {
    let (addr, t) = serve(headers_then(&message(0, 2, &reply(3))), true);
    let (values, end, took) = read(addr, Duration::from_millis(300));
    assert_eq!(values, [3]);
    assert_eq!(end.map(|s| s.code), Some(Code::DeadlineExceeded));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1200),
        "{took:?}"
    );
    t.join().unwrap();
}

/// SETTINGS a server may not send (RFC 9113 §6.5.2) are the client's
/// connection error: its calls fail at once with UNAVAILABLE, not at
/// their deadline, and the client sends GOAWAY. (A `MAX_FRAME_SIZE` of 0
/// once made a call spin past its deadline writing empty DATA frames.)
#[test]
fn a_server_with_impossible_settings_fails_its_calls_at_once() {
    for (what, setting) in [
        ("MAX_FRAME_SIZE 0", (5u16, 0u32)),
        ("MAX_FRAME_SIZE past 2^24-1", (5, 1 << 24)),
        ("INITIAL_WINDOW_SIZE past 2^31-1", (4, 1 << 31)),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut payload = setting.0.to_be_bytes().to_vec();
            payload.extend_from_slice(&setting.1.to_be_bytes());
            let mut hello = Vec::new();
            frame(&mut hello, kind::SETTINGS, 0, 0, &payload);
            s.write_all(&hello).unwrap();
            // Everything the client sends, until it closes.
            let mut got = Vec::new();
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.read_to_end(&mut got);
            got
        });
        let client = Client::new(addr);
        let root = Context::background();
        let cx = root.with_timeout(synkit_core::time::Duration::from_secs(2));
        let began = Instant::now();
        let outcome = client.call::<_, SumReply>(&cx, "/pb.Add/Sum", &SumRequest { a: 1, b: 2 });
        let took = began.elapsed();
        let status = outcome.expect_err(what);
        assert_eq!(status.code, Code::Unavailable, "{what}: {status:?}");
        assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
        drop(client);
        let got = server.join().unwrap();
        // The client's GOAWAY (type 7) is among what it wrote.
        let mut at = 24;
        let mut goaway = false;
        while got.len() >= at + 9 {
            let len = usize::from(got[at]) << 16
                | usize::from(got[at + 1]) << 8
                | usize::from(got[at + 2]);
            goaway |= got[at + 3] == 0x7;
            at += 9 + len;
        }
        assert!(goaway, "{what}: the client said GOAWAY");
    }
}
