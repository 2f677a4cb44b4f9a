//! The HTTP server under the clients an attacker (or a bad network) would
//! send: bodies past the limit, legal bodies framed one byte per chunk,
//! floods of pipelined requests, clients that never read, and a shutdown
//! while a request is half received. Each must be answered, and none may
//! stop the server for anyone else or make its loop spin.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use synkit_core::time::ManualClock;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::transport::router;
use synkit_tests::wire::{assert_served, eventually, exchange, read_until_quiet};
use synkit_transports::http::server::{Handle, Server, ServerClock, ServerConfig};

const STATUS: &[u8] = b"HTTP/1.1 200 OK\r\n";
const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

fn stringsvc(workers: usize) -> Handle {
    let config = ServerConfig {
        workers,
        event_loops: 1,
        ..ServerConfig::default()
    };
    Server::new(router(Strings))
        .bind("127.0.0.1:0", &config)
        .expect("bind")
}

/// Reads everything the server sends on `stream` in the background, until
/// it closes or goes quiet for `quiet`.
fn reader(stream: &TcpStream, quiet: Duration) -> JoinHandle<Vec<u8>> {
    let mut stream = stream.try_clone().expect("clone the stream");
    std::thread::spawn(move || read_until_quiet(&mut stream, quiet).bytes)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[test]
fn a_chunked_body_past_the_limit_gets_413_and_stops_nobody() {
    for workers in [0, 2] {
        let server = stringsvc(workers);
        let addr = server.local_addr();
        let mut attacker = TcpStream::connect(addr).unwrap();
        let answer = reader(&attacker, Duration::from_secs(2));
        attacker
            .write_all(b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        // 5 MB in 64 KiB chunks; the server stops wanting them at 1 MiB.
        let chunk = [b"10000\r\n".as_slice(), &vec![b'a'; 0x10000], b"\r\n"].concat();
        for _ in 0..80 {
            if attacker.write_all(&chunk).is_err() {
                break;
            }
        }
        let got = String::from_utf8_lossy(&answer.join().unwrap()).into_owned();
        assert!(got.starts_with("HTTP/1.1 413 "), "workers {workers}: {got}");
        assert_served(addr, "after a 5 MB chunked body");
        server.shutdown(Duration::from_secs(1));
    }
}

#[test]
fn a_legal_body_sent_one_byte_per_chunk_is_served() {
    // A debug build on a busy machine may take seconds over 1.2 MB: the
    // read timeout must not be what this test measures.
    let config = ServerConfig {
        workers: 2,
        event_loops: 1,
        request_read_timeout: Duration::from_secs(60),
        ..ServerConfig::default()
    };
    let server = Server::new(router(Strings))
        .bind("127.0.0.1:0", &config)
        .expect("bind");
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    let answer = reader(&stream, Duration::from_secs(30));
    // {"s":"aaa…"} with 200 000 a's, each byte in its own chunk: 1.2 MB on
    // the wire for a 200 KB body.
    let body = format!("{{\"s\":\"{}\"}}", "a".repeat(200_000));
    // Connection: close rather than a half-close, which (as in Go) would
    // cancel the request if it came before the endpoint ran.
    let mut wire = b"POST /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for b in body.bytes() {
        wire.extend_from_slice(b"1\r\n");
        wire.push(b);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let start = Instant::now();
    stream.write_all(&wire).unwrap();
    let got = String::from_utf8_lossy(&answer.join().unwrap()).into_owned();
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    assert!(got.ends_with("{\"v\":200000}\n"), "{got}");
    assert!(start.elapsed() < Duration::from_secs(30));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_client_pipelining_100_000_requests_gets_every_answer() {
    const N: usize = 100_000;
    for workers in [0, 2] {
        let server = stringsvc(workers);
        let mut stream = TcpStream::connect(server.local_addr()).unwrap();
        let mut rx = stream.try_clone().unwrap();
        let counter = std::thread::spawn(move || {
            let mut seen = 0;
            let mut tail = Vec::new();
            let mut buf = vec![0; 64 * 1024];
            rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            while seen < N {
                let Ok(n) = rx.read(&mut buf) else { break };
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                seen += count(&tail, STATUS);
                // Keep less than a whole status line, in case one is split.
                let keep = tail.len().min(STATUS.len() - 1);
                tail.drain(..tail.len() - keep);
            }
            seen
        });
        let wire = HEALTH.repeat(N);
        stream.write_all(&wire).unwrap();
        let seen = counter.join().unwrap();
        assert_eq!(
            seen, N,
            "workers {workers}: every pipelined request answered"
        );
        server.shutdown(Duration::from_secs(1));
    }
}

#[test]
fn shutdown_finishes_a_request_whose_body_is_still_arriving() {
    for workers in [0, 2] {
        let server = stringsvc(workers);
        let addr = server.local_addr();
        let body = br#"{"s":"half and half"}"#;
        let head = format!(
            "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body[..8]).unwrap();
        // Let the loop read the first half before shutdown begins.
        std::thread::sleep(Duration::from_millis(100));
        let stopper = std::thread::spawn(move || server.shutdown(Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(500));
        stream.write_all(&body[8..]).unwrap();
        let got = read_until_quiet(&mut stream, Duration::from_secs(3));
        assert_eq!(got.statuses(), [200], "workers {workers}: {}", got.text());
        assert!(got.text().contains("connection: close\r\n"));
        assert!(got.text().ends_with("{\"v\":13}\n"), "{}", got.text());
        assert!(got.closed);
        stopper.join().unwrap();
        assert!(
            TcpStream::connect(addr).is_err()
                || exchange(addr, HEALTH, Duration::from_millis(200))
                    .bytes
                    .is_empty(),
            "no longer accepting"
        );
    }
}

#[test]
fn shutdown_ends_even_while_clients_flood() {
    let server = stringsvc(0);
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(addr) else {
                    return;
                };
                let wire = HEALTH.repeat(1000);
                while !stop.load(Ordering::Relaxed) && s.write_all(&wire).is_ok() {}
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    server.shutdown(Duration::from_millis(500));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        start.elapsed()
    );
    stop.store(true, Ordering::Relaxed);
    for f in floods {
        f.join().unwrap();
    }
}

#[test]
fn several_event_loops_share_the_connections() {
    let config = ServerConfig {
        workers: 0,
        event_loops: 2,
        ..ServerConfig::default()
    };
    let server = Server::new(router(Strings))
        .bind("127.0.0.1:0", &config)
        .unwrap();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..8)
        .map(|n| {
            std::thread::spawn(move || {
                let body = format!("{{\"s\":\"{}\"}}", "x".repeat(n));
                let req = format!(
                    "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let got = exchange(
                    addr,
                    &req.repeat(50).into_bytes(),
                    Duration::from_millis(500),
                );
                (n, got)
            })
        })
        .collect();
    for c in clients {
        let (n, got) = c.join().unwrap();
        assert_eq!(got.statuses().len(), 50);
        assert_eq!(count(&got.bytes, format!("{{\"v\":{n}}}").as_bytes()), 50);
    }
    assert!(eventually(Duration::from_secs(1), || {
        server.stats().connections.load(Ordering::Relaxed) == 8
    }));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_client_sending_one_byte_at_a_time_is_timed_out() {
    // The read timeout runs on the server's clock: a manual one, moved a
    // second per byte, so the whole request would take 33 s.
    let clock = Arc::new(ManualClock::new());
    let config = ServerConfig {
        clock: ServerClock::new(Arc::clone(&clock)),
        ..ServerConfig::default()
    };
    let server = Server::new(router(Strings))
        .bind("127.0.0.1:0", &config)
        .unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut answer = None;
    for (sent, byte) in request.iter().take(request.len() - 1).enumerate() {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        let got = read_until_quiet(&mut stream, Duration::from_millis(50));
        if !got.bytes.is_empty() || got.closed {
            answer = Some((sent, got));
            break;
        }
        clock.advance(Duration::from_secs(1));
    }
    let (sent, got) = answer.expect("the server answered before the request was complete");
    assert_eq!(got.statuses(), [408]);
    assert_eq!(sent, 10, "answered once 10 s had passed, not before");
    assert_eq!(server.stats().timed_out_reads.load(Ordering::Relaxed), 1);
    drop(stream);
    server.shutdown(Duration::from_secs(1));
}
