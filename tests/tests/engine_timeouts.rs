//! The engine's timeouts hold for every protocol on it — HTTP/1.1, HTTP/2
//! (gRPC) and net/rpc — over real sockets, on a manual clock: a connection
//! that never sends a byte is closed at the idle timeout, one that begins a
//! request (a head, a frame, a call) and never finishes it at the read
//! timeout, and one that never reads at the write timeout. Before each
//! limit the connection stays open; a well-behaved client is served
//! throughout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use synkit_core::endpoint::endpoint_fn;
use synkit_core::time::ManualClock;
use synkit_core::{Context, Error};
use synkit_examples::addsvc::Adder;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::transport::router;
use synkit_tests::h2::{PREFACE, hello};
use synkit_tests::wire::{assert_served, eventually, read_until_quiet};
use synkit_transports::http::server::{Server, ServerClock, ServerConfig, Stats};
use synkit_transports::netrpc;

const IDLE: Duration = Duration::from_secs(60);
const READ: Duration = Duration::from_secs(10);
const WRITE: Duration = Duration::from_secs(30);

/// A server of one protocol, on a manual clock, with the default timeouts.
struct Under {
    addr: SocketAddr,
    clock: Arc<ManualClock>,
    count: Box<dyn Fn(Limit) -> u64>,
    stop: Box<dyn FnOnce()>,
}

impl Under {
    fn new<H: Send + 'static>(
        addr: SocketAddr,
        clock: Arc<ManualClock>,
        server: H,
        stats: fn(&H) -> &Stats,
        stop: fn(H),
    ) -> Under {
        let server = Arc::new(std::sync::Mutex::new(Some(server)));
        let counted = Arc::clone(&server);
        let ticking = Arc::clone(&clock);
        Under {
            addr,
            clock,
            count: Box::new(move |limit: Limit| {
                counted
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map_or(0, |s| limit.counted(stats(s)).load(Ordering::Relaxed))
            }),
            // The grace period runs on the manual clock: it is moved on
            // until the server has stopped.
            stop: Box::new(move || {
                let Some(s) = server.lock().unwrap().take() else {
                    return;
                };
                let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let ticker = {
                    let stopped = Arc::clone(&stopped);
                    std::thread::spawn(move || {
                        while !stopped.load(Ordering::Acquire) {
                            ticking.advance(GRACE);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    })
                };
                stop(s);
                stopped.store(true, Ordering::Release);
                ticker.join().unwrap();
            }),
        }
    }

    fn counter(&self, limit: Limit) -> u64 {
        (self.count)(limit)
    }
}

fn config(clock: &Arc<ManualClock>, workers: usize) -> ServerConfig {
    ServerConfig {
        workers,
        event_loops: 1,
        idle_timeout: IDLE,
        request_read_timeout: READ,
        write_timeout: WRITE,
        clock: ServerClock::new(Arc::clone(clock)),
        ..ServerConfig::default()
    }
}

const GRACE: Duration = Duration::from_secs(1);

fn http(workers: usize) -> Under {
    let clock = Arc::new(ManualClock::new());
    let server = Server::new(router(Strings))
        .bind("127.0.0.1:0", &config(&clock, workers))
        .unwrap();
    Under::new(
        server.local_addr(),
        clock,
        server,
        |s| s.stats(),
        |s| s.shutdown(GRACE),
    )
}

fn grpc(workers: usize) -> Under {
    let clock = Arc::new(ManualClock::new());
    let server = synkit_examples::addsvc::grpc::server(Adder)
        .bind("127.0.0.1:0", &config(&clock, workers))
        .unwrap();
    Under::new(
        server.local_addr(),
        clock,
        server,
        |s| s.stats(),
        |s| s.shutdown(GRACE),
    )
}

fn netrpc(workers: usize) -> Under {
    let clock = Arc::new(ManualClock::new());
    // `Big.Text(n)`: n bytes of text, to fill a peer that does not read.
    let text = endpoint_fn(|_: &Context<'_>, n: usize| Ok::<_, Error>("x".repeat(n.min(1 << 19))));
    let server = netrpc::Server::new()
        .method("Big.Text", text)
        .bind("127.0.0.1:0", &config(&clock, workers))
        .unwrap();
    Under::new(
        server.local_addr(),
        clock,
        server,
        |s| s.stats(),
        |s| s.shutdown(GRACE),
    )
}

/// Whether the server closed `s` (what it still sends is drained),
/// waiting up to two seconds of real time for the loop to notice.
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut quiet_reads = 0;
    while quiet_reads < 20 {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                quiet_reads += 1;
            }
            Err(_) => return true,
        }
    }
    false
}

/// Whether `s` is still open after the loop has had a few ticks to act:
/// what the server sent is read, and neither an end nor a reset came.
fn still_open(s: &mut TcpStream) -> bool {
    std::thread::sleep(Duration::from_millis(300));
    s.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let open = loop {
        match s.read(&mut buf) {
            Ok(0) => break false,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
            Err(_) => break false,
        }
    };
    s.set_nonblocking(false).unwrap();
    open
}

/// One of the engine's timeouts, as the tests drive it.
#[derive(Clone, Copy, PartialEq)]
enum Limit {
    Idle,
    Read,
    Write,
}

impl Limit {
    fn after(self) -> Duration {
        match self {
            Limit::Idle => IDLE,
            Limit::Read => READ,
            Limit::Write => WRITE,
        }
    }

    fn counted(self, stats: &Stats) -> &AtomicU64 {
        match self {
            Limit::Idle => &stats.timed_out_idle,
            Limit::Read => &stats.timed_out_reads,
            Limit::Write => &stats.timed_out_writes,
        }
    }
}

/// The clock moves to just before `limit` (the connection stays), then to
/// it (the connection goes, and is counted). A peer that does not read is
/// not read from before the limit: reading would be progress.
fn closes_at(under: &Under, s: &mut TcpStream, limit: Limit) {
    let count = || under.counter(limit);
    let before = count();
    under
        .clock
        .advance(limit.after().saturating_sub(Duration::from_millis(300)));
    if limit == Limit::Write {
        std::thread::sleep(Duration::from_millis(300));
    } else {
        assert!(still_open(s), "closed before its timeout");
    }
    assert_eq!(count(), before, "timed out early");
    under.clock.advance(Duration::from_millis(300));
    assert!(
        eventually(Duration::from_secs(2), || count() == before + 1),
        "counted"
    );
    assert!(closed(s), "still open past its timeout");
}

/// A TCP connection that says nothing.
fn silent(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).unwrap()
}

#[test]
fn a_connection_that_never_sends_a_byte_is_closed_at_the_idle_timeout() {
    for workers in [0, 2] {
        for (name, under) in [
            ("http", http(workers)),
            ("grpc", grpc(workers)),
            ("netrpc", netrpc(workers)),
        ] {
            let mut s = silent(under.addr);
            // Accepted before the clock moves.
            std::thread::sleep(Duration::from_millis(50));
            eprintln!("{name}, {workers} workers");
            closes_at(&under, &mut s, Limit::Idle);
            (under.stop)();
        }
    }
}

#[test]
fn a_request_begun_and_never_finished_is_closed_at_the_read_timeout() {
    for workers in [0, 2] {
        let under = http(workers);
        let mut s = silent(under.addr);
        s.write_all(b"POST /uppercase HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{\"s\":")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        closes_at(&under, &mut s, Limit::Read);
        assert_served(under.addr, "after a slow body");
        (under.stop)();

        // HTTP/2: a frame's first bytes, and a request whose body never ends.
        for partial in [&[0u8, 0, 8, 6][..], &[]] {
            let under = grpc(workers);
            let mut s = silent(under.addr);
            let mut hello = hello();
            hello.extend_from_slice(partial);
            if partial.is_empty() {
                synkit_tests::h2::frame(
                    &mut hello,
                    synkit_tests::h2::kind::HEADERS,
                    synkit_tests::h2::END_HEADERS,
                    1,
                    &synkit_tests::h2::grpc_request("/pb.Add/Sum"),
                );
            }
            s.write_all(&hello).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            closes_at(&under, &mut s, Limit::Read);
            (under.stop)();
        }

        let under = netrpc(workers);
        let mut s = silent(under.addr);
        s.write_all(br#"{"method":"Big.Text","params":[1"#).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        closes_at(&under, &mut s, Limit::Read);
        (under.stop)();
    }
}

#[test]
fn the_http2_preface_alone_is_not_a_request_begun() {
    let under = grpc(0);
    let mut s = silent(under.addr);
    s.write_all(PREFACE).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    under.clock.advance(READ + Duration::from_secs(1));
    assert!(
        still_open(&mut s),
        "an idle HTTP/2 connection waits for the idle timeout"
    );
    (under.stop)();
}

/// Writes `request` over and over without reading, until the server stops
/// taking it (or `most` copies went).
fn flood(s: &TcpStream, request: &[u8], most: usize) -> usize {
    let mut w = s.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut sent = 0;
    while sent < most && w.write_all(request).is_ok() {
        sent += 1;
    }
    sent
}

#[test]
fn a_peer_that_never_reads_is_closed_at_the_write_timeout() {
    for workers in [0, 2] {
        // HTTP/1.1: pipelined requests whose answers are 100 kB each.
        let under = http(workers);
        let mut s = silent(under.addr);
        let body = format!("{{\"s\":\"{}\"}}", "a".repeat(100_000));
        let request = format!(
            "POST /uppercase HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let sent = flood(&s, request.as_bytes(), 2_000);
        assert!(
            sent < 2_000,
            "the server stopped reading a peer that does not read"
        );
        closes_at(&under, &mut s, Limit::Write);
        assert_served(under.addr, "after a peer that does not read");
        (under.stop)();

        // HTTP/2: PINGs, whose acknowledgements are never read.
        let under = grpc(workers);
        let mut s = silent(under.addr);
        s.write_all(&hello()).unwrap();
        let mut pings = Vec::new();
        for _ in 0..1000 {
            pings.extend_from_slice(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        }
        let sent = flood(&s, &pings, 10_000);
        assert!(
            sent < 10_000,
            "the server stopped reading a peer that does not read"
        );
        closes_at(&under, &mut s, Limit::Write);
        (under.stop)();

        // net/rpc: calls for 512 kB answers, a thousand at a time.
        let under = netrpc(workers);
        let mut s = silent(under.addr);
        let calls = br#"{"method":"Big.Text","params":[524288],"id":1}"#.repeat(1000);
        let sent = flood(&s, &calls, 1_000);
        assert!(
            sent < 1_000,
            "the server stopped reading a peer that does not read"
        );
        closes_at(&under, &mut s, Limit::Write);
        (under.stop)();
    }
}

#[test]
fn a_client_that_reads_is_never_timed_out_while_it_keeps_talking() {
    let under = http(0);
    let mut s = silent(under.addr);
    for _ in 0..5 {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let got = read_until_quiet(&mut s, Duration::from_millis(200));
        assert_eq!(got.statuses(), [200]);
        // Each request resets the idle clock: 5 x 50 s is past 60 s.
        under.clock.advance(Duration::from_secs(50));
    }
    assert!(still_open(&mut s));
    (under.stop)();
}
