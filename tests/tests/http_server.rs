//! The HTTP/1.1 server against independent clients (curl, Python's
//! http.client, raw sockets): protocol behaviour, bad input, overload,
//! cancellation, panics and graceful shutdown.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use synkit_core::Context;
use synkit_core::time::ManualClock;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::transport::router;
use synkit_tests::wire::{eventually, exchange, exchange_half_closed, read_until_quiet};
use synkit_transports::http::server::{Handle, Server, ServerClock, ServerConfig, service_fn};
use synkit_transports::http::{Request, Response};

const QUIET: Duration = Duration::from_millis(300);

fn stringsvc(workers: usize) -> Handle {
    let config = ServerConfig {
        workers,
        ..ServerConfig::default()
    };
    Server::new(router(Strings))
        .bind("127.0.0.1:0", &config)
        .expect("bind")
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is needed by this test: install it (tests/run does: apt-get install {tool})"
    );
}

#[test]
fn curl_gets_go_kits_wire_format_in_both_modes() {
    require("curl");
    for workers in [0, 2] {
        let server = stringsvc(workers);
        let url = format!("http://{}", server.local_addr());
        let curl = |path: &str, body: &str| {
            let out = Command::new("curl")
                .args([
                    "-s",
                    "-w",
                    " %{http_code}",
                    "-XPOST",
                    &format!("{url}{path}"),
                    "-d",
                    body,
                ])
                .output()
                .expect("run curl");
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(
            curl("/uppercase", r#"{"s":"hello"}"#),
            "{\"v\":\"HELLO\"}\n 200"
        );
        assert_eq!(
            curl("/uppercase", r#"{"s":""}"#),
            "{\"v\":\"\",\"err\":\"empty string\"}\n 200"
        );
        assert_eq!(curl("/count", r#"{"s":"abc"}"#), "{\"v\":3}\n 200");
        let bad = curl("/count", r#"{"s":"#);
        assert!(
            bad.starts_with("{\"error\":\"invalid JSON") && bad.ends_with(" 400"),
            "{bad}"
        );
        server.shutdown(Duration::from_secs(1));
    }
}

#[test]
fn python_http_client_reuses_one_connection() {
    require("python3");
    let server = stringsvc(2);
    let script = r#"
import http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]))
out = []
for body in ['{"s":"go"}', '{"s":""}', '{"s":"kit"}']:
    c.request("POST", "/uppercase", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    out.append((r.status, json.loads(r.read())))
c.request("HEAD", "/health")
r = c.getresponse()
out.append((r.status, r.getheader("content-length"), r.read()))
print(json.dumps(out, default=lambda b: b.decode()))
"#;
    let addr = server.local_addr();
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        serde_json::json!([
            [200, {"v": "GO"}],
            [200, {"v": "", "err": "empty string"}],
            [200, {"v": "KIT"}],
            [200, "16", ""]
        ])
    );
    assert_eq!(
        server.stats().connections.load(Ordering::Relaxed),
        1,
        "keep-alive kept one connection"
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = stringsvc(2);
    let mut wire = Vec::new();
    for s in ["a", "bb", "ccc", "dddd"] {
        let body = format!("{{\"s\":\"{s}\"}}");
        wire.extend_from_slice(
            format!(
                "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    // Read until the four answers are in (not until a quiet spell, which
    // a busy machine can fake between two answers), then a quiet spell to
    // see nothing more comes and the connection stays open.
    let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
    std::io::Write::write_all(&mut stream, &wire).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut bytes = Vec::new();
    while String::from_utf8_lossy(&bytes).matches("{\"v\":").count() < 4 {
        let mut buf = [0; 4096];
        let n = std::io::Read::read(&mut stream, &mut buf).expect("the answers in time");
        assert!(n > 0, "closed after {}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&buf[..n]);
    }
    let mut got = read_until_quiet(&mut stream, QUIET);
    got.bytes.splice(0..0, bytes);
    let text = got.text();
    assert_eq!(text.matches("{\"v\":").count(), 4, "{text}");
    let order: Vec<usize> = ["{\"v\":1}", "{\"v\":2}", "{\"v\":3}", "{\"v\":4}"]
        .iter()
        .map(|b| text.find(b).expect(b))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(!got.closed, "keep-alive");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn chunked_bodies_continue_expectations_head_and_http_10() {
    let server = stringsvc(0);
    let addr = server.local_addr();
    let chunked = exchange(
        addr,
        b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"s\"\r\n6\r\n:\"xyz\"\r\n1\r\n}\r\n0\r\n\r\n",
        QUIET,
    );
    assert!(
        chunked.text().ends_with("{\"v\":3}\n"),
        "{}",
        chunked.text()
    );

    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"POST /count HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n",
    )
    .unwrap();
    let interim = read_until_quiet(&mut stream, QUIET);
    assert_eq!(interim.text(), "HTTP/1.1 100 Continue\r\n\r\n");
    std::io::Write::write_all(&mut stream, b"{\"s\":\"\"}").unwrap();
    assert!(
        read_until_quiet(&mut stream, QUIET)
            .text()
            .ends_with("{\"v\":0}\n")
    );

    let head = exchange(addr, b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", QUIET);
    assert!(head.text().contains("content-length: 16\r\n") && head.text().ends_with("\r\n\r\n"));

    let old = exchange(addr, b"GET /health HTTP/1.0\r\n\r\n", QUIET);
    assert!(old.closed, "HTTP/1.0 without keep-alive closes");
    assert!(old.text().ends_with("{\"status\":\"ok\"}\n"));
    server.shutdown(Duration::from_secs(1));
}

/// Each malformed request: its status, whether the connection closes, and
/// a normal request still served afterwards.
#[test]
fn malformed_requests_get_a_clear_status_and_the_server_lives_on() {
    let server = stringsvc(2);
    let addr = server.local_addr();
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "X-H: v\r\n".repeat(150)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("CL and TE together", b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400),
        ("conflicting Content-Length", b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(), 400),
        ("bad Content-Length", b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec(), 400),
        ("unknown transfer coding", b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), 501),
        ("bad chunk size", b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(), 400),
        ("chunk without CRLF", b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX".to_vec(), 400),
        ("obsolete line folding", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n".to_vec(), 400),
        ("bad header name", b"GET /health HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n".to_vec(), 400),
        ("bad header value", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n".to_vec(), 400),
        ("missing Host", b"GET /health HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), 400),
        ("oversize head", huge_header.into_bytes(), 431),
        ("too many headers", many_headers.into_bytes(), 431),
        ("oversize body", b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n".to_vec(), 413),
        ("oversize chunked body", b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n".to_vec(), 413),
    ];
    for (name, wire, status) in cases {
        let got = exchange(addr, &wire, QUIET);
        assert_eq!(got.statuses(), [status], "{name}: {}", got.text());
        assert!(got.closed, "{name}: the connection is closed");
        let after = exchange(
            addr,
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            QUIET,
        );
        assert_eq!(after.statuses(), [200], "{name}: served afterwards");
    }
    assert!(server.stats().bad_requests.load(Ordering::Relaxed) >= 15);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn invalid_json_keeps_the_connection_usable() {
    let server = stringsvc(2);
    let bad = b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"s\":";
    let good = b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"s\":\"\"}";
    let got = exchange(server.local_addr(), &[&bad[..], &good[..]].concat(), QUIET);
    assert_eq!(got.statuses(), [400, 200]);
    assert!(got.text().contains("application/json"));
    assert!(!got.closed);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_body_cut_short_is_dropped_and_the_server_goes_on() {
    let server = stringsvc(2);
    let got = exchange_half_closed(
        server.local_addr(),
        b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"s\":",
        QUIET,
    );
    assert!(got.closed && got.bytes.is_empty(), "{}", got.text());
    let after = exchange(
        server.local_addr(),
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        QUIET,
    );
    assert_eq!(after.statuses(), [200]);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_client_that_disconnects_cancels_its_request() {
    let saw_cancel = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (s, c) = (Arc::clone(&saw_cancel), Arc::clone(&started));
    let service = service_fn(move |cx: &Context<'_>, _req, _resp| {
        c.store(true, Ordering::SeqCst);
        while !cx.is_cancelled() && !cx.is_expired() {
            std::thread::yield_now();
        }
        s.store(cx.is_cancelled(), Ordering::SeqCst);
    });
    let config = ServerConfig {
        workers: 1,
        request_timeout: Duration::from_secs(10),
        ..ServerConfig::default()
    };
    let server = Server::new(service).bind("127.0.0.1:0", &config).unwrap();
    {
        let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
        std::io::Write::write_all(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(eventually(Duration::from_secs(5), || started.load(Ordering::SeqCst)));
    } // the client goes away
    assert!(
        eventually(Duration::from_secs(5), || saw_cancel.load(Ordering::SeqCst)),
        "the endpoint saw its context cancelled"
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_panicking_endpoint_gets_a_500_and_the_worker_survives() {
    let service = service_fn(
        |_cx, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>| {
            assert!(req.uri().path() != "/panic", "endpoint bug");
            resp.body_mut().extend_from_slice(b"fine");
        },
    );
    let config = ServerConfig {
        workers: 1,
        ..ServerConfig::default()
    };
    let server = Server::new(service).bind("127.0.0.1:0", &config).unwrap();
    for _ in 0..3 {
        let got = exchange(
            server.local_addr(),
            b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n",
            QUIET,
        );
        assert_eq!(got.statuses(), [500, 200], "{}", got.text());
    }
    assert_eq!(server.stats().panics.load(Ordering::Relaxed), 3);
    server.shutdown(Duration::from_secs(1));
}

/// A server with one worker that blocks on `/block` until `gate` is passed;
/// `ran` counts the requests for other paths that reached the service.
struct BlockedWorker {
    server: Handle,
    gate: Arc<Barrier>,
    ran: Arc<AtomicUsize>,
    blocked: Arc<AtomicBool>,
}

impl BlockedWorker {
    /// Sends `/block` and waits until the worker is inside it, so the
    /// queue is empty and the worker busy.
    fn occupy(&self) -> std::thread::JoinHandle<synkit_tests::wire::Exchange> {
        let busy = in_background(
            self.server.local_addr(),
            b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(
            eventually(Duration::from_secs(10), || self
                .blocked
                .load(Ordering::SeqCst)),
            "the worker never started /block"
        );
        busy
    }
}

fn blocked_worker(queue_capacity: usize) -> BlockedWorker {
    let gate = Arc::new(Barrier::new(2));
    let ran = Arc::new(AtomicUsize::new(0));
    let blocked = Arc::new(AtomicBool::new(false));
    let (g, r, b) = (Arc::clone(&gate), Arc::clone(&ran), Arc::clone(&blocked));
    let service = service_fn(
        move |_cx, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>| {
            if req.uri().path() == "/block" {
                b.store(true, Ordering::SeqCst);
                g.wait();
            } else {
                r.fetch_add(1, Ordering::SeqCst);
            }
            resp.body_mut().extend_from_slice(b"done");
        },
    );
    let config = ServerConfig {
        workers: 1,
        queue_capacity,
        ..ServerConfig::default()
    };
    let server = Server::new(service).bind("127.0.0.1:0", &config).unwrap();
    BlockedWorker {
        server,
        gate,
        ran,
        blocked,
    }
}

/// Sends `request` from another thread and returns its exchange there.
fn in_background(
    addr: std::net::SocketAddr,
    request: &'static [u8],
) -> std::thread::JoinHandle<synkit_tests::wire::Exchange> {
    std::thread::spawn(move || exchange(addr, request, Duration::from_secs(5)))
}

/// Waits until the server has read `n` requests.
fn wait_for_requests(server: &Handle, n: u64) {
    assert!(
        eventually(Duration::from_secs(5), || server
            .stats()
            .requests
            .load(Ordering::Relaxed)
            == n),
        "the server did not read {n} requests"
    );
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let w = blocked_worker(1);
    let addr = w.server.local_addr();
    let busy = w.occupy();
    // The worker is blocked; one request fits in the queue, the next does not.
    let queued = in_background(addr, b"GET /q HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for_requests(&w.server, 2);
    let refused = exchange(addr, b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n", QUIET);
    assert_eq!(refused.statuses(), [503]);
    assert!(refused.text().contains("retry-after: 1\r\n"));
    w.gate.wait();
    assert_eq!(busy.join().unwrap().statuses(), [200]);
    assert_eq!(queued.join().unwrap().statuses(), [200]);
    assert_eq!(w.server.stats().overloaded.load(Ordering::Relaxed), 1);
    w.server.shutdown(Duration::from_secs(1));
}

#[test]
fn the_deadline_reaches_the_endpoint_and_a_client_may_only_tighten_it() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let service = service_fn(move |cx: &Context<'_>, _req, _resp| {
        s.lock().unwrap().push(cx.remaining().unwrap());
    });
    let config = ServerConfig {
        request_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let server = Server::new(service).bind("127.0.0.1:0", &config).unwrap();
    let addr = server.local_addr();
    exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", QUIET);
    exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Timeout-Ms: 100\r\n\r\n",
        QUIET,
    );
    exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Timeout-Ms: 999999\r\n\r\n",
        QUIET,
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen[0] > Duration::from_millis(1500) && seen[0] <= Duration::from_secs(2),
        "{seen:?}"
    );
    assert!(seen[1] <= Duration::from_millis(100), "{seen:?}");
    assert!(
        seen[2] <= Duration::from_secs(2),
        "the server never extends its limit: {seen:?}"
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn graceful_shutdown_answers_every_request_in_flight() {
    let release = Arc::new(Barrier::new(3));
    let entered = Arc::new(AtomicUsize::new(0));
    let (r, e) = (Arc::clone(&release), Arc::clone(&entered));
    let service = service_fn(move |_cx, _req, resp: &mut Response<Vec<u8>>| {
        e.fetch_add(1, Ordering::SeqCst);
        r.wait();
        resp.body_mut().extend_from_slice(b"finished");
    });
    let config = ServerConfig {
        workers: 2,
        ..ServerConfig::default()
    };
    let server = Server::new(service).bind("127.0.0.1:0", &config).unwrap();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                exchange(
                    addr,
                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    Duration::from_secs(5),
                )
            })
        })
        .collect();
    assert!(eventually(Duration::from_secs(5), || entered
        .load(Ordering::SeqCst)
        == 2));
    let stopper = std::thread::spawn(move || server.shutdown(Duration::from_secs(5)));
    // New connections are refused once the listener is gone.
    assert!(eventually(Duration::from_secs(5), || {
        std::net::TcpStream::connect(addr).is_err()
    }));
    release.wait();
    for c in clients {
        let got = c.join().unwrap();
        assert_eq!(got.statuses(), [200], "{}", got.text());
        assert!(got.text().contains("connection: close"));
        assert!(got.closed);
    }
    stopper.join().unwrap();
}

#[test]
fn connections_beyond_the_limit_are_refused_politely() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let server = Server::new(router(Strings))
        .bind("127.0.0.1:0", &config)
        .unwrap();
    let mut first = std::net::TcpStream::connect(server.local_addr()).unwrap();
    std::io::Write::write_all(&mut first, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_until_quiet(&mut first, QUIET).statuses(), [200]);
    let second = exchange(
        server.local_addr(),
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        QUIET,
    );
    assert_eq!(second.statuses(), [503]);
    assert!(second.closed);
    drop(first);
    assert!(eventually(Duration::from_secs(5), || {
        exchange(
            server.local_addr(),
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            QUIET,
        )
        .statuses()
            == [200]
    }));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn idle_keep_alive_connections_are_closed_on_the_servers_clock() {
    // The server's timers read its clock: a manual one, moved by the test.
    let clock = Arc::new(ManualClock::new());
    let config = ServerConfig {
        clock: ServerClock::new(Arc::clone(&clock)),
        ..ServerConfig::default()
    };
    let server = Server::new(router(Strings))
        .bind("127.0.0.1:0", &config)
        .unwrap();
    let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
    std::io::Write::write_all(&mut stream, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let got = read_until_quiet(&mut stream, QUIET);
    assert_eq!(got.statuses(), [200]);
    assert!(!got.closed, "kept alive");
    clock.advance(Duration::from_secs(59));
    let got = read_until_quiet(&mut stream, QUIET);
    assert!(!got.closed, "59 s idle is within the 60 s timeout");
    clock.advance(Duration::from_secs(2));
    let got = read_until_quiet(&mut stream, Duration::from_secs(5));
    assert!(
        got.closed && got.bytes.is_empty(),
        "closed, silently, past 60 s"
    );
    // The server lingers until the client closes too (on its clock, which
    // only the test moves), so close before shutting down.
    drop(stream);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_request_whose_deadline_passes_in_the_queue_gets_504_without_running() {
    let w = blocked_worker(8);
    let addr = w.server.local_addr();
    let busy = w.occupy();
    let hurried = in_background(
        addr,
        b"GET /quick HTTP/1.1\r\nHost: x\r\nX-Request-Timeout-Ms: 1\r\n\r\n",
    );
    wait_for_requests(&w.server, 2);
    // Hold the worker until the queued request's millisecond is surely gone.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(20) {
        std::thread::yield_now();
    }
    w.gate.wait();
    assert_eq!(busy.join().unwrap().statuses(), [200]);
    assert_eq!(hurried.join().unwrap().statuses(), [504]);
    assert_eq!(
        w.ran.load(Ordering::SeqCst),
        0,
        "the expired request never reached the service"
    );
    assert_eq!(w.server.stats().expired_in_queue.load(Ordering::Relaxed), 1);
    w.server.shutdown(Duration::from_secs(1));
}
