//! The event loop waits, rather than spins, whatever state its connections
//! are held in. Alone in its test binary: it measures the CPU time of the
//! process's event loop threads, which other tests' servers would add to.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use synkit_tests::proc::threads_cpu_time;
use synkit_tests::wire::assert_served;
use synkit_transports::http::server::{Server, ServerConfig, service_fn};

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

/// A connection held in each state where the loop must wait, not read or
/// write: the loop thread's CPU time stays near zero while another client
/// is served.
#[test]
fn paused_connections_cost_the_event_loop_nothing() {
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(2));
    let (r, s) = (Arc::clone(&release), Arc::clone(&started));
    let blocking = service_fn(move |_cx, req, resp| {
        if req.uri().path() == "/block" {
            s.wait();
            while !r.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        resp.body_mut().resize(4096, b'x');
    });
    let config = ServerConfig {
        workers: 2,
        event_loops: 1,
        ..ServerConfig::default()
    };
    let server = Server::new(blocking).bind("127.0.0.1:0", &config).unwrap();
    let addr = server.local_addr();

    // 1. A request with a worker, and a flood of pipelined requests behind
    //    it: the server reads a bounded amount and then waits.
    let mut flooding = TcpStream::connect(addr).unwrap();
    flooding
        .write_all(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    started.wait();
    flooding.set_nonblocking(true).unwrap();
    let backlog = HEALTH.repeat(60_000);
    let mut sent = 0;
    while let Ok(n) = flooding.write(&backlog[sent..]) {
        sent += n;
        if sent == backlog.len() {
            break;
        }
    }
    // 2. A client that pipelines requests for big answers and never reads.
    let mut deaf = TcpStream::connect(addr).unwrap();
    deaf.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let wire = HEALTH.repeat(5_000);
    while let Ok(n) = deaf.write(&wire[sent..]) {
        sent += n;
        if sent == wire.len() {
            break;
        }
    }
    // 3. Half a head, and 4. a head with half its body.
    let mut half_head = TcpStream::connect(addr).unwrap();
    half_head.write_all(b"GET /health HTTP/1.1\r\nHo").unwrap();
    let mut half_body = TcpStream::connect(addr).unwrap();
    half_body
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    // 5. A legal body in one-byte chunks, 1.2 MB on the wire so far, its
    //    last chunk not yet sent.
    let mut framed = TcpStream::connect(addr).unwrap();
    framed
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    framed.write_all(&b"1\r\nx\r\n".repeat(200_000)).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let before = threads_cpu_time("synkit-http-loop");
    for _ in 0..20 {
        assert_served(addr, "beside paused connections");
    }
    std::thread::sleep(Duration::from_secs(1));
    let used = threads_cpu_time("synkit-http-loop").saturating_sub(before);
    assert!(
        used < Duration::from_millis(250),
        "the event loop used {used:?} of CPU in a second of waiting"
    );

    release.store(true, Ordering::Release);
    drop((flooding, deaf, half_head, half_body, framed));
    let stop = Instant::now();
    server.shutdown(Duration::from_secs(2));
    assert!(stop.elapsed() < Duration::from_secs(4), "shutdown ends");
}
