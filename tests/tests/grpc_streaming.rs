//! Server streaming against real clients: Python's grpcio and Go's grpc
//! read a stream to its end (thousands of messages, messages larger than
//! the flow-control windows, a stream that fails midway, an empty one);
//! a client that stops reading holds the service back rather than filling
//! memory, and keeps its other calls working; a client that cancels, or
//! whose deadline passes, ends the service's stream at once.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use synkit_core::Context;
use synkit_examples::addsvc::grpc::{SumReply, SumRequest};
use synkit_tests::grpcio;
use synkit_tests::registry::within;
use synkit_transports::grpc::{Code, Handle, Server, ServerStream, Status};
use synkit_transports::http::server::ServerConfig;

/// What the service saw: messages sent, and how each stream ended.
#[derive(Default)]
struct Seen {
    sent: AtomicUsize,
    ended: Mutex<Vec<Result<usize, Code>>>,
}

/// `/pb.Add/Count`: `a` replies `SumReply{v: i, err: <b bytes>}`, i from
/// 0; a negative `b` fails the stream with `ABORTED` after `a` replies.
fn server(seen: &Arc<Seen>, config: &ServerConfig) -> Handle {
    let seen = Arc::clone(seen);
    let count = move |_: &Context<'_>, r: SumRequest, out: &mut ServerStream<'_, SumReply>| {
        if let Some(header) = out.header() {
            header.insert("x-stream", "counting");
        }
        let pad = "x".repeat(usize::try_from(r.b).unwrap_or(0));
        for v in 0..r.a {
            let reply = SumReply {
                v,
                err: pad.clone(),
            };
            if let Err(status) = out.send(&reply) {
                seen.ended.lock().unwrap().push(Err(status.code));
                return Err(status);
            }
            seen.sent.fetch_add(1, Ordering::Relaxed);
        }
        if r.b < 0 {
            seen.ended.lock().unwrap().push(Err(Code::Aborted));
            return Err(Status::new(Code::Aborted, "stopped on purpose"));
        }
        seen.ended.lock().unwrap().push(Ok(out.sent()));
        Ok(())
    };
    Server::new()
        .server_streaming("/pb.Add/Count", count)
        .after(|_, _, trailer| trailer.insert("x-done", "yes"))
        .bind("127.0.0.1:0", config)
        .unwrap()
}

const READ_ALL: &str = r#"
ch = grpc.insecure_channel(sys.argv[1])
count = ch.unary_stream("/pb.Add/Count", request_serializer=ident, response_deserializer=ident)
def field1(m):
    # SumReply.v; absent means 0.
    return fields(m).get(1, 0)
def req(a, b):
    return b"\x08" + varint(a) + b"\x10" + varint(b)
def run(a, b):
    call = count(req(a, b), timeout=20)
    values, sizes = [], 0
    try:
        for m in call:
            values.append(field1(m)); sizes += len(m)
        code, details = "OK", ""
    except grpc.RpcError as e:
        code, details = str(e.code()), e.details()
    return {"values": values, "bytes": sizes, "code": code, "details": details,
            "header": dict(call.initial_metadata()), "trailer": dict(call.trailing_metadata() or ())}
out = {
    "many": run(2000, 10),
    "large": run(40, 100000),
    "failing": run(3, -1),
    "empty": run(0, 0),
}
print(json.dumps(out))
"#;

#[test]
fn pythons_grpcio_reads_streams_to_their_end() {
    let seen = Arc::new(Seen::default());
    let server = server(&seen, &ServerConfig::default());
    let got = grpcio::run(READ_ALL, &[&server.local_addr().to_string()]);
    let many = &got["many"];
    assert_eq!(many["code"], "OK");
    assert_eq!(many["values"], json!((0..2000).collect::<Vec<i64>>()));
    assert_eq!(many["header"]["x-stream"], "counting");
    assert_eq!(many["trailer"]["x-done"], "yes");
    // 40 messages of 100 kB each: far past the 64 KiB windows.
    let large = &got["large"];
    assert_eq!(large["code"], "OK");
    assert_eq!(large["values"], json!((0..40).collect::<Vec<i64>>()));
    assert!(large["bytes"].as_u64().unwrap() > 40 * 100_000);
    let failing = &got["failing"];
    assert_eq!(failing["values"], json!([0, 1, 2]), "sent before the error");
    assert_eq!(failing["code"], "StatusCode.ABORTED");
    assert_eq!(failing["details"], "stopped on purpose");
    assert_eq!(failing["header"]["x-stream"], "counting");
    let empty = &got["empty"];
    assert_eq!(
        (
            empty["code"].as_str(),
            empty["values"].as_array().map(Vec::len)
        ),
        (Some("OK"), Some(0))
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn gos_grpc_reads_a_stream_to_its_end() {
    let seen = Arc::new(Seen::default());
    let server = server(&seen, &ServerConfig::default());
    let addr = server.local_addr().to_string();
    let run = |a: &str, b: &str| -> Value {
        let args = [
            "-mode",
            "stream",
            "-addr",
            &addr,
            "-method",
            "/pb.Add/Count",
        ];
        let out = synkit_tests::gokit::run("kitgrpc", &[&args[..], &["-a", a, "-b", b]].concat());
        serde_json::from_str(&out).unwrap()
    };
    let got = run("3000", "20");
    assert_eq!(got["code"], 0, "{got}");
    assert_eq!(got["values"], json!((0..3000).collect::<Vec<i64>>()));
    assert_eq!(got["header"]["x-stream"], "counting");
    assert_eq!(got["trailer"]["x-done"], "yes");
    let got = run("2", "-1");
    assert_eq!(got["values"], json!([0, 1]));
    assert_eq!(
        (got["code"].as_u64(), got["message"].as_str()),
        (Some(10), Some("stopped on purpose"))
    );
    server.shutdown(Duration::from_secs(1));
}

/// Reads 5 messages of a 100 000-message stream, says so, waits for a
/// line, makes a unary-stream call on the same channel, says what it got,
/// waits for a line, then cancels the big stream (or lets its deadline
/// pass, with `deadline` as the second argument).
const STALL: &str = r#"
ch = grpc.insecure_channel(sys.argv[1])
count = ch.unary_stream("/pb.Add/Count", request_serializer=ident, response_deserializer=ident)
deadline = len(sys.argv) > 2
call = count(b"\x08\xa0\x8d\x06\x10\xe8\x07", timeout=2 if deadline else 60)
it = iter(call)
for _ in range(5):
    next(it)
print("stalled", flush=True)
sys.stdin.readline()
small = [m for m in count(b"\x08\x03\x10\x01", timeout=5)]
print(json.dumps({"small": len(small)}), flush=True)
if deadline:
    try:
        for _ in it:
            pass
        print("OK", flush=True)
    except grpc.RpcError as e:
        print(str(e.code()), flush=True)
else:
    sys.stdin.readline()
    call.cancel()
    print("cancelled", flush=True)
sys.stdin.readline()
"#;

struct Stalled {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Stalled {
    fn start(addr: &str, deadline: bool) -> Stalled {
        let args: &[&str] = if deadline {
            &[addr, "deadline"]
        } else {
            &[addr]
        };
        let mut cmd = grpcio::command(STALL, args);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the system python3");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Stalled {
            child,
            stdin,
            lines,
        }
    }

    fn line(&mut self) -> String {
        self.lines.next().expect("a line from the client").unwrap()
    }

    fn go_on(&mut self) {
        writeln!(self.stdin).unwrap();
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the service's count of sent messages stops moving.
fn settled(seen: &Seen) -> usize {
    let mut last = usize::MAX;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = seen.sent.load(Ordering::Relaxed);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn a_client_that_stops_reading_holds_the_service_back_then_cancels_it() {
    let seen = Arc::new(Seen::default());
    let server = server(&seen, &ServerConfig::default());
    let mut client = Stalled::start(&server.local_addr().to_string(), false);
    assert_eq!(client.line(), "stalled");
    // 1 000-byte messages: the service may run ahead only by the windows,
    // the socket buffers and the per-call queue, not the whole 100 MB.
    let ahead = settled(&seen);
    eprintln!("sent while the client read 5: {ahead} messages");
    assert!(ahead < 20_000, "{ahead} messages sent to a stalled reader");
    assert!(seen.ended.lock().unwrap().is_empty(), "the service waits");
    // The same connection still serves another call.
    client.go_on();
    assert_eq!(client.line(), r#"{"small": 3}"#);
    client.go_on();
    assert_eq!(client.line(), "cancelled");
    assert!(
        within(Duration::from_secs(2), || seen.ended.lock().unwrap().len()
            == 2),
        "the waiting service is told"
    );
    let ended = seen.ended.lock().unwrap().clone();
    assert_eq!(ended, vec![Ok(3), Err(Code::Cancelled)]);
    drop(client);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_deadline_that_passes_while_the_client_is_behind_ends_the_stream() {
    let seen = Arc::new(Seen::default());
    let server = server(&seen, &ServerConfig::default());
    let mut client = Stalled::start(&server.local_addr().to_string(), true);
    assert_eq!(client.line(), "stalled");
    client.go_on();
    assert_eq!(client.line(), r#"{"small": 3}"#);
    assert_eq!(client.line(), "StatusCode.DEADLINE_EXCEEDED");
    assert!(
        within(Duration::from_secs(3), || seen.ended.lock().unwrap().len()
            == 2),
        "the service's stream ends too"
    );
    let ended = seen.ended.lock().unwrap().clone();
    assert_eq!(ended[0], Ok(3));
    // grpcio resets the stream at its deadline as ours passes: either word.
    assert!(
        matches!(ended[1], Err(Code::DeadlineExceeded | Code::Cancelled)),
        "{ended:?}"
    );
    drop(client);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn streaming_methods_on_a_server_without_workers_are_refused_at_bind() {
    // No worker pool: nothing could go before the call returned, so a
    // stream would be buffered whole. The server says so instead.
    let inline = ServerConfig {
        workers: 0,
        ..ServerConfig::default()
    };
    let err =
        Server::new()
            .server_streaming(
                "/pb.Stream/Count",
                |_: &Context<'_>, _: SumRequest, _: &mut ServerStream<'_, SumReply>| {
                    Ok::<_, Status>(())
                },
            )
            .bind("127.0.0.1:0", &inline)
            .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("/pb.Stream/Count"), "{err}");
    // Unary methods alone are served inline.
    let unary = synkit_examples::addsvc::grpc::server(synkit_examples::addsvc::Adder)
        .bind("127.0.0.1:0", &inline)
        .unwrap();
    let client = synkit_transports::grpc::Client::new(unary.local_addr());
    let reply: SumReply = client
        .call(
            &Context::background(),
            "/pb.Add/Sum",
            &SumRequest { a: 1, b: 2 },
        )
        .unwrap();
    assert_eq!(reply.v, 3);
}

#[test]
fn a_second_error_handler_replaces_the_first_as_in_go_kit() {
    let (first, second) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (f, s) = (Arc::clone(&first), Arc::clone(&second));
    let fail = synkit_core::endpoint::endpoint_fn(|_: &Context<'_>, _: SumRequest| {
        Err::<SumReply, _>(Status::new(Code::InvalidArgument, "no"))
    });
    let server = Server::new()
        .method("/pb.Add/Sum", fail)
        .error_handler(move |_, _| {
            f.fetch_add(1, Ordering::Relaxed);
        })
        .error_handler(move |_, status| {
            assert_eq!(status.code, Code::InvalidArgument);
            s.fetch_add(1, Ordering::Relaxed);
        })
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let client = synkit_transports::grpc::Client::new(server.local_addr());
    let got = client.call::<_, SumReply>(
        &Context::background(),
        "/pb.Add/Sum",
        &SumRequest { a: 1, b: 2 },
    );
    assert_eq!(got.unwrap_err().code, Code::InvalidArgument);
    assert_eq!(first.load(Ordering::Relaxed), 0);
    assert_eq!(second.load(Ordering::Relaxed), 1);
}
