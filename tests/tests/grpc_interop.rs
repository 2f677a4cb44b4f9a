//! gRPC over h2c against Python's grpcio (Debian's `python3-grpcio`, run
//! by the system Python): addsvc's `pb.Add` called as Go kit's addsvc
//! proto has it, many calls at once on one channel, deadlines, unknown
//! methods, oversized messages and the health check.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use synkit_examples::addsvc::Adder;
use synkit_transports::grpc::Handle;
use synkit_transports::http::server::ServerConfig;

const CLIENT: &str = r#"
def sum_request(a, b):
    return b"\x08" + varint(a) + b"\x10" + varint(b)

def text(tag, s):
    s = s.encode()
    return bytes([tag << 3 | 2]) + varint(len(s)) + s

ch = grpc.insecure_channel(sys.argv[1], options=[("grpc.max_send_message_length", 8 << 20)])
def method(path):
    return ch.unary_unary(path, request_serializer=ident, response_deserializer=ident)
out = {}
out["sum"] = method("/pb.Add/Sum")(sum_request(1, 2), timeout=5).hex()
out["sum_negative"] = method("/pb.Add/Sum")(sum_request(-5, 2), timeout=5).hex()
out["zeroes"] = method("/pb.Add/Sum")(sum_request(0, 0), timeout=5).hex()
out["concat"] = method("/pb.Add/Concat")(text(1, "go") + text(2, "kit"), timeout=5).hex()
out["health"] = method("/grpc.health.v1.Health/Check")(b"", timeout=5).hex()
def status(path, body, timeout=5):
    try:
        method(path)(body, timeout=timeout)
        return "OK"
    except grpc.RpcError as e:
        return [str(e.code()), e.details()]
out["unknown"] = status("/pb.Add/Nope", b"")
out["garbage"] = status("/pb.Add/Sum", b"\xff\xff\xff")
out["huge"] = status("/pb.Add/Concat", text(1, "x" * (5 << 20)))
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    sums = list(pool.map(lambda i: method("/pb.Add/Sum")(sum_request(i, 1), timeout=10), range(1, 501)))
out["concurrent_ok"] = all(s == b"\x08" + varint(i + 1) for i, s in zip(range(1, 501), sums))
print(json.dumps(out))
"#;

fn python(script: &str, addr: &str) -> Value {
    synkit_tests::grpcio::run(script, &[addr])
}

fn ours() -> Handle {
    synkit_examples::addsvc::grpc::server(Adder)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap()
}

#[test]
fn pythons_grpcio_calls_synkits_server() {
    let server = ours();
    let got = python(CLIENT, &server.local_addr().to_string());
    assert_eq!(got["sum"], "0803");
    // -3 as a protobuf int64: ten bytes of two's complement varint.
    assert_eq!(got["sum_negative"], "08fdffffffffffffffff01");
    // Go kit's addsvc: the business error in the reply's `err`.
    assert_eq!(got["zeroes"], hex("\x12\x14can't sum two zeroes"));
    assert_eq!(got["concat"], hex("\x0a\x05gokit"));
    assert_eq!(got["health"], "0801");
    assert_eq!(
        got["unknown"],
        json!([
            "StatusCode.UNIMPLEMENTED",
            "unknown method Nope for service pb.Add"
        ])
    );
    assert_eq!(got["garbage"][0], "StatusCode.INVALID_ARGUMENT");
    assert_eq!(got["huge"][0], "StatusCode.RESOURCE_EXHAUSTED");
    assert_eq!(got["concurrent_ok"], true);
    server.shutdown(Duration::from_secs(1));
}

fn hex(s: &str) -> String {
    s.bytes().fold(String::new(), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    })
}

const SERVER: &str = r#"
def sum_(request, context):
    f = fields(request)
    a, b = f.get(1, 0), f.get(2, 0)
    if a == 0 and b == 0:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "two zeroes, 100% refused")
    if a == 999:
        time.sleep(2)
    return b"\x08" + varint(a + b)

def concat(request, context):
    f = fields(request)
    v = f.get(1, b"") + f.get(2, b"")
    return b"\x0a" + varint(len(v)) + v

handler = grpc.method_handlers_generic_handler("pb.Add", {
    "Sum": grpc.unary_unary_rpc_method_handler(sum_, request_deserializer=ident, response_serializer=ident),
    "Concat": grpc.unary_unary_rpc_method_handler(concat, request_deserializer=ident, response_serializer=ident),
})
serve(handler, options=[("grpc.max_receive_message_length", 8 << 20), ("grpc.max_send_message_length", 8 << 20)])
"#;

use synkit_core::{Context, Endpoint};
use synkit_examples::addsvc::grpc::{ConcatReply, ConcatRequest, SumReply, SumRequest};
use synkit_transports::grpc::{Client, Code};

#[test]
fn synkits_client_calls_pythons_grpcio_server() {
    let python = synkit_tests::grpcio::Server::start(SERVER);
    let client = std::sync::Arc::new(Client::new(python.addr));
    let sum = client
        .clone()
        .endpoint::<SumRequest, SumReply>("/pb.Add/Sum");
    let root = Context::background();
    let cx = root.with_timeout(Duration::from_secs(10));
    assert_eq!(sum.call(&cx, SumRequest { a: 1, b: 2 }).unwrap().v, 3);
    assert_eq!(sum.call(&cx, SumRequest { a: -10, b: 2 }).unwrap().v, -8);
    let refused = sum.call(&cx, SumRequest { a: 0, b: 0 }).unwrap_err();
    assert_eq!(
        (refused.code, refused.message.as_str()),
        (Code::InvalidArgument, "two zeroes, 100% refused")
    );
    let big = "x".repeat(3 << 20);
    let concat = client
        .clone()
        .endpoint::<ConcatRequest, ConcatReply>("/pb.Add/Concat");
    let joined = concat
        .call(
            &cx,
            ConcatRequest {
                a: big.clone(),
                b: "!".into(),
            },
        )
        .unwrap();
    assert_eq!(joined.v.len(), big.len() + 1);
    let unknown = client
        .call::<_, SumReply>(&cx, "/pb.Add/Nope", &SumRequest { a: 1, b: 1 })
        .unwrap_err();
    assert_eq!(unknown.code, Code::Unimplemented, "{unknown}");
    // The deadline ends a slow call, and the connection serves on.
    let short = root.with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    assert_eq!(
        sum.call(&short, SumRequest { a: 999, b: 1 })
            .unwrap_err()
            .code,
        Code::DeadlineExceeded
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    concurrent_sums(&sum, 8, 50);
    drop(python);
}

/// `threads` threads each make `calls` sums at once through `sum`, every
/// answer checked.
fn concurrent_sums(
    sum: &(
         impl Endpoint<SumRequest, Response = SumReply, Error = synkit_transports::grpc::Status> + Sync
     ),
    threads: i64,
    calls: i64,
) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..calls {
                    let a = t * 1000 + i + 1;
                    let reply = sum.call(&Context::background(), SumRequest { a, b: 1 });
                    assert_eq!(reply.unwrap().v, a + 1);
                }
            });
        }
    });
}

#[test]
fn synkits_client_calls_synkits_server_under_load() {
    let server = ours();
    let client = std::sync::Arc::new(Client::new(server.local_addr()));
    let sum = client
        .clone()
        .endpoint::<SumRequest, SumReply>("/pb.Add/Sum");
    concurrent_sums(&sum, 16, 200);
    let zero = sum
        .call(&Context::background(), SumRequest { a: 0, b: 0 })
        .unwrap();
    assert_eq!(zero.err, "can't sum two zeroes");
    server.shutdown(Duration::from_secs(1));
}

fn go_kit_client(addr: &str, method: &str, a: &str, b: &str) -> Value {
    let out = synkit_tests::gokit::run(
        "kitgrpc",
        &[
            "-mode", "client", "-addr", addr, "-method", method, "-a", a, "-b", b,
        ],
    );
    serde_json::from_str(&out).unwrap()
}

/// Go kit's own addsvc gRPC server on a free port.
fn go_kit_server() -> (synkit_tests::examples::Process, std::net::SocketAddr) {
    let addr = synkit_tests::gokit::free_addr();
    let process = synkit_tests::examples::Process::start_command(
        Command::new(synkit_tests::gokit::binary("kitgrpc")).args(["-listen", &addr.to_string()]),
    );
    assert!(synkit_tests::registry::within(
        Duration::from_secs(10),
        || { std::net::TcpStream::connect(addr).is_ok() }
    ));
    (process, addr)
}

#[test]
fn go_kits_client_gets_the_same_answers_from_synkit_as_from_go_kit() {
    let server = ours();
    let (_kit, kit) = go_kit_server();
    let (ours, kit) = (server.local_addr().to_string(), kit.to_string());
    for (method, a, b) in [
        ("Sum", "1", "2"),
        ("Sum", "-7", "3"),
        ("Sum", "0", "0"),
        ("Sum", "2147483647", "1"),
        ("Concat", "ab", "cd"),
        ("Concat", "123456", "789012"),
        ("Nope", "a", "b"),
    ] {
        let theirs = go_kit_client(&kit, method, a, b);
        let mine = go_kit_client(&ours, method, a, b);
        assert_eq!(mine, theirs, "{method}({a}, {b})");
    }
    assert_eq!(
        go_kit_client(&ours, "Sum", "1", "2"),
        json!({"v": 3, "err": ""})
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn synkits_client_calls_go_kits_server() {
    let (_kit, kit) = go_kit_server();
    let client = std::sync::Arc::new(Client::new(kit));
    let root = Context::background();
    let cx = root.with_timeout(Duration::from_secs(5));
    let sum = client
        .clone()
        .endpoint::<SumRequest, SumReply>("/pb.Add/Sum");
    assert_eq!(
        sum.call(&cx, SumRequest { a: 40, b: 2 }).unwrap(),
        SumReply {
            v: 42,
            err: String::new()
        }
    );
    assert_eq!(
        sum.call(&cx, SumRequest { a: 0, b: 0 }).unwrap().err,
        "can't sum two zeroes"
    );
    let concat = client
        .clone()
        .endpoint::<ConcatRequest, ConcatReply>("/pb.Add/Concat");
    assert_eq!(
        concat
            .call(
                &cx,
                ConcatRequest {
                    a: "go".into(),
                    b: "kit".into()
                }
            )
            .unwrap()
            .v,
        "gokit"
    );
    let unknown = client
        .call::<_, SumReply>(&cx, "/pb.Add/Nope", &SumRequest::default())
        .unwrap_err();
    assert_eq!(
        (unknown.code, unknown.message.as_str()),
        (
            Code::Unimplemented,
            "unknown method Nope for service pb.Add"
        )
    );
    concurrent_sums(&sum, 8, 100);
}

#[test]
fn a_call_the_client_gives_up_on_is_cancelled_in_the_server() {
    use std::sync::mpsc;
    let (seen_tx, seen_rx) = mpsc::channel::<(bool, Duration)>();
    let seen_tx = std::sync::Mutex::new(seen_tx);
    let patient = synkit_core::endpoint::endpoint_fn(move |cx: &Context<'_>, req: SumRequest| {
        let started = std::time::Instant::now();
        while !cx.is_cancelled() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = seen_tx
            .lock()
            .unwrap()
            .send((cx.is_cancelled(), started.elapsed()));
        Ok::<_, synkit_core::Error>(SumReply {
            v: req.a + req.b,
            err: String::new(),
        })
    });
    // A long server timeout, so only the client's reset can end the wait.
    let config = ServerConfig {
        request_timeout: Duration::from_secs(30),
        ..ServerConfig::default()
    };
    let server = synkit_transports::grpc::Server::new()
        .method("/pb.Add/Sum", patient)
        .bind("127.0.0.1:0", &config)
        .unwrap();
    let client = Client::new(server.local_addr());
    let root = Context::background();
    let cx = root.with_timeout(Duration::from_millis(200));
    let err = client
        .call::<_, SumReply>(&cx, "/pb.Add/Sum", &SumRequest { a: 1, b: 1 })
        .unwrap_err();
    assert_eq!(err.code, Code::DeadlineExceeded);
    // The client's grpc-timeout (200 ms) or its RST_STREAM reaches the
    // endpoint's context well before its own 5 s.
    let (cancelled, after) = seen_rx.recv_timeout(Duration::from_secs(6)).unwrap();
    assert!(
        after < Duration::from_secs(2),
        "the endpoint waited {after:?}"
    );
    let _ = cancelled;
    server.shutdown(Duration::from_secs(1));
}

/// A server whose hooks speak metadata: the endpoint answers with the
/// caller's `x-user`, the after hook sets a header and a trailer, a
/// finalizer counts calls by code.
fn hooked(finished: std::sync::Arc<std::sync::Mutex<Vec<(String, Code)>>>) -> Handle {
    use synkit_transports::grpc::{Metadata, metadata};
    let greet = synkit_core::endpoint::endpoint_fn(|cx: &Context<'_>, _: ConcatRequest| {
        let user = metadata(cx)
            .and_then(|md| md.get("x-user"))
            .unwrap_or("nobody");
        Ok::<_, synkit_core::Error>(ConcatReply {
            v: format!("hello {user}"),
            err: String::new(),
        })
    });
    synkit_transports::grpc::Server::new()
        .method("/pb.Add/Concat", greet)
        .before(|_: &Context<'_>, md: &mut Metadata| {
            if md.get("x-user") == Some("root") {
                md.set("x-user", "(refused)");
            }
        })
        .after(
            |cx: &Context<'_>, header: &mut Metadata, trailer: &mut Metadata| {
                header.insert("x-greeting", "hi");
                let user = metadata(cx).and_then(|md| md.get("x-user")).unwrap_or("");
                trailer.insert("x-served-for", user);
            },
        )
        .finalizer(move |_: &Context<'_>, path: &str, code: Code| {
            finished.lock().unwrap().push((path.to_owned(), code));
        })
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap()
}

#[test]
fn metadata_travels_both_ways_through_go_kits_hooks() {
    use synkit_transports::grpc::Metadata;
    let finished = std::sync::Arc::default();
    let server = hooked(std::sync::Arc::clone(&finished));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen_by_hook = seen.clone();
    let client = Client::new(server.local_addr())
        .before(|_: &Context<'_>, md: &mut Metadata| md.insert("X-User", "ada"))
        .after(
            move |_: &Context<'_>, header: &Metadata, trailer: &Metadata| {
                seen_by_hook.lock().unwrap().push((
                    header.get("x-greeting").map(str::to_owned),
                    trailer.get("x-served-for").map(str::to_owned),
                ));
            },
        );
    let cx = Context::background();
    let reply: ConcatReply = client
        .call(&cx, "/pb.Add/Concat", &ConcatRequest::default())
        .unwrap();
    assert_eq!(reply.v, "hello ada");
    assert_eq!(
        *seen.lock().unwrap(),
        [(Some("hi".to_owned()), Some("ada".to_owned()))]
    );
    // Python's grpcio sends and reads metadata the same way.
    let script = r#"
ch = grpc.insecure_channel(sys.argv[1])
m = ch.unary_unary("/pb.Add/Concat", request_serializer=lambda b: b, response_deserializer=lambda b: b)
out = []
for user in ["py", "root"]:
    reply, call = m.with_call(b"", metadata=(("x-user", user),), timeout=5)
    out.append([reply.decode()[2:], dict(call.initial_metadata()).get("x-greeting"), dict(call.trailing_metadata()).get("x-served-for")])
print(json.dumps(out))
"#;
    let got = python(script, &server.local_addr().to_string());
    assert_eq!(
        got,
        json!([
            ["hello py", "hi", "py"],
            ["hello (refused)", "hi", "(refused)"]
        ])
    );
    let _ = client.call::<_, ConcatReply>(&cx, "/pb.Add/Nope", &ConcatRequest::default());
    let finished = finished.lock().unwrap().clone();
    assert_eq!(finished.len(), 4);
    assert_eq!(
        finished[3],
        ("/pb.Add/Nope".to_owned(), Code::Unimplemented)
    );
    server.shutdown(Duration::from_secs(1));
}
