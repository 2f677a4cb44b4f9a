//! synkit's client reading server streams: from Go's grpc server, from
//! Python's grpcio server, and from synkit's own. The same three streams
//! from each (thousands of messages, one failing midway, an empty one),
//! then a reader that stops (the server is held back by the window) and
//! a stream dropped early (the server is told at once).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use synkit_core::Context;
use synkit_core::time::{ManualClock, SystemClock};
use synkit_examples::addsvc::grpc::{SumReply, SumRequest};
use synkit_tests::registry::within;
use synkit_transports::grpc::{Client, Code, Handle, Server, ServerStream, Status};
use synkit_transports::http::server::ServerConfig;

/// `count(A, B)` as a Python server: what `/pb.Stream/Count` is in Go.
const PYTHON_SERVER: &str = r#"
def count(request, context):
    f = fields(request)
    a, b = f.get(1, 0), f.get(2, 0)
    context.send_initial_metadata((("x-stream", "py"),))
    pad = b"\x12" + varint(b) + b"x" * b if b > 0 else b""
    for i in range(a):
        yield b"\x08" + varint(i) + pad
    if b < 0:
        context.abort(grpc.StatusCode.ABORTED, "stopped on purpose")
    context.set_trailing_metadata((("x-done", "py"),))

handler = grpc.method_handlers_generic_handler("pb.Stream", {
    "Count": grpc.unary_stream_rpc_method_handler(count, request_deserializer=ident, response_serializer=ident),
})
serve(handler)
"#;

/// The messages' values and how the stream ended.
fn read_all(client: &Client, path: &str, a: i64, b: i64) -> (Vec<i64>, Option<Status>) {
    let cx = Context::background();
    let cx = cx.with_timeout(synkit_core::time::Duration::from_secs(20));
    let request = SumRequest { a, b };
    let mut values = Vec::new();
    let stream = client.server_streaming::<_, SumReply>(&cx, path, &request);
    for reply in stream.expect("the call starts") {
        match reply {
            Ok(r) => values.push(r.v),
            Err(status) => return (values, Some(status)),
        }
    }
    (values, None)
}

/// The three streams every server must give alike; `who` is the value
/// its header and trailer metadata carry.
fn check_streams(client: &Client, path: &str, who: &str) {
    let (values, end) = read_all(client, path, 2000, 10);
    assert_eq!(end, None);
    assert_eq!(values, (0..2000).collect::<Vec<_>>());
    let (values, end) = read_all(client, path, 3, -1);
    assert_eq!(values, [0, 1, 2], "sent before the error");
    let end = end.expect("the error");
    assert_eq!(
        (end.code, end.message.as_str()),
        (Code::Aborted, "stopped on purpose")
    );
    let (values, end) = read_all(client, path, 0, 0);
    assert_eq!((values.len(), end), (0, None));
    // Metadata both ways.
    let cx = Context::background();
    let mut stream = client
        .server_streaming::<_, SumReply>(&cx, path, &SumRequest { a: 2, b: 1 })
        .unwrap();
    assert_eq!(stream.by_ref().filter_map(Result::ok).count(), 2);
    assert_eq!(stream.header().and_then(|m| m.get("x-stream")), Some(who));
    assert_eq!(stream.trailer().and_then(|m| m.get("x-done")), Some(who));
}

#[test]
fn synkits_client_reads_gos_streams() {
    let addr = synkit_tests::gokit::free_addr();
    let _go = synkit_tests::examples::Process::start_command(
        std::process::Command::new(synkit_tests::gokit::binary("kitgrpc"))
            .args(["-listen", &addr.to_string()]),
    );
    assert!(within(Duration::from_secs(10), || {
        std::net::TcpStream::connect(addr).is_ok()
    }));
    let client = Client::new(addr);
    check_streams(&client, "/pb.Stream/Count", "go");
    // 100 kB messages, past every window.
    let (values, end) = read_all(&client, "/pb.Stream/Count", 40, 100_000);
    assert_eq!((values.len(), end), (40, None));
}

#[test]
fn synkits_client_reads_pythons_streams() {
    let python = synkit_tests::grpcio::Server::start(PYTHON_SERVER);
    let client = Client::new(python.addr);
    check_streams(&client, "/pb.Stream/Count", "py");
}

/// What synkit's server saw: messages sent, and how each stream ended.
#[derive(Default)]
struct Seen {
    sent: AtomicUsize,
    ended: Mutex<Vec<Code>>,
}

fn ours(seen: &Arc<Seen>) -> Handle {
    ours_with(seen, Server::new())
}

fn ours_with(seen: &Arc<Seen>, server: Server) -> Handle {
    let seen = Arc::clone(seen);
    let count = move |_: &Context<'_>, r: SumRequest, out: &mut ServerStream<'_, SumReply>| {
        if let Some(header) = out.header() {
            header.insert("x-stream", "synkit");
        }
        let pad = "x".repeat(usize::try_from(r.b).unwrap_or(0));
        for v in 0..r.a {
            if let Err(status) = out.send(&SumReply {
                v,
                err: pad.clone(),
            }) {
                seen.ended.lock().unwrap().push(status.code);
                return Err(status);
            }
            seen.sent.fetch_add(1, Ordering::Relaxed);
        }
        if r.b < 0 {
            seen.ended.lock().unwrap().push(Code::Aborted);
            return Err(Status::new(Code::Aborted, "stopped on purpose"));
        }
        seen.ended.lock().unwrap().push(Code::Ok);
        Ok(())
    };
    server
        .server_streaming("/pb.Stream/Count", count)
        .after(|_, _, trailer| trailer.insert("x-done", "synkit"))
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap()
}

#[test]
fn synkits_client_reads_synkits_streams_and_holds_back_a_fast_server() {
    let seen = Arc::new(Seen::default());
    let server = ours(&seen);
    let client = Client::new(server.local_addr());
    check_streams(&client, "/pb.Stream/Count", "synkit");
    seen.sent.store(0, Ordering::Relaxed);
    seen.ended.lock().unwrap().clear();
    // Read 5 of 100 000 messages of 1 kB, then stop reading: the server
    // gets only as far as the windows and its queue let it.
    let clock = SystemClock;
    let root = Context::new(&clock);
    let mut stream = client
        .server_streaming::<_, SumReply>(
            &root,
            "/pb.Stream/Count",
            &SumRequest {
                a: 100_000,
                b: 1000,
            },
        )
        .unwrap();
    for _ in 0..5 {
        stream.next().unwrap().unwrap();
    }
    let mut last = usize::MAX;
    let ahead = loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = seen.sent.load(Ordering::Relaxed);
        if now == last {
            break now;
        }
        last = now;
    };
    eprintln!("sent while the client read 5: {ahead} messages");
    assert!(ahead < 10_000, "{ahead} messages sent to a stalled reader");
    assert!(seen.ended.lock().unwrap().is_empty(), "the server waits");
    // Another call on the same connection is not held up by it.
    let (values, end) = read_all(&client, "/pb.Stream/Count", 3, 1);
    assert_eq!((values.len(), end), (3, None));
    // Dropped early: the server is told, and stops.
    drop(stream);
    assert!(within(Duration::from_secs(2), || seen
        .ended
        .lock()
        .unwrap()
        .len()
        == 2));
    assert_eq!(*seen.ended.lock().unwrap(), [Code::Ok, Code::Cancelled]);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_stream_past_its_deadline_ends_with_deadline_exceeded() {
    let seen = Arc::new(Seen::default());
    let server = ours(&seen);
    let client = Client::new(server.local_addr());
    // The reader's time on a manual clock: it dawdles by advancing it.
    let clock = ManualClock::new();
    let root = Context::new(&clock);
    let cx = root.with_timeout(synkit_core::time::Duration::from_millis(300));
    let stream = client
        .server_streaming::<_, SumReply>(
            &cx,
            "/pb.Stream/Count",
            &SumRequest {
                a: 100_000,
                b: 1000,
            },
        )
        .unwrap();
    let mut got = 0;
    let mut end = None;
    for reply in stream {
        match reply {
            Ok(_) => {
                got += 1;
                if got == 5 {
                    // A slow reader: the deadline passes while it dawdles.
                    clock.advance(synkit_core::time::Duration::from_millis(400));
                }
            }
            Err(status) => end = Some(status.code),
        }
    }
    assert!(got >= 5);
    assert_eq!(end, Some(Code::DeadlineExceeded));
    assert!(within(Duration::from_secs(2), || seen
        .ended
        .lock()
        .unwrap()
        .len()
        == 1));
    let ended = seen.ended.lock().unwrap()[0];
    assert!(
        matches!(ended, Code::DeadlineExceeded | Code::Cancelled),
        "{ended:?}"
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn streams_past_the_limit_are_refused_and_unary_calls_still_served() {
    let seen = Arc::new(Seen::default());
    let server = ours_with(&seen, Server::new().max_streams(1));
    let client = Client::new(server.local_addr());
    let cx = Context::background();
    let mut held = client
        .server_streaming::<_, SumReply>(
            &cx,
            "/pb.Stream/Count",
            &SumRequest {
                a: 100_000,
                b: 1000,
            },
        )
        .unwrap();
    held.next().unwrap().unwrap();
    // The one stream allowed is taken (its reader stalls): another is
    // refused at once, while a unary call is served.
    let (values, end) = read_all(&client, "/pb.Stream/Count", 3, 1);
    let end = end.expect("refused");
    assert_eq!(
        (values.len(), end.code),
        (0, Code::ResourceExhausted),
        "{end:?}"
    );
    let health: SumReply = client
        .call(&cx, "/grpc.health.v1.Health/Check", &())
        .expect("the health check");
    assert_eq!(health.v, 1, "SERVING");
    // Once the first ends, streams are taken again.
    drop(held);
    assert!(within(Duration::from_secs(2), || seen
        .ended
        .lock()
        .unwrap()
        .len()
        == 1));
    let (values, end) = read_all(&client, "/pb.Stream/Count", 3, 1);
    assert_eq!((values.len(), end), (3, None));
    server.shutdown(Duration::from_secs(1));
}
