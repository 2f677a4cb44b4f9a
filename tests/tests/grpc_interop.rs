//! gRPC over h2c against Python's grpcio (Debian's `python3-grpcio`, run
//! by the system Python): addsvc's `pb.Add` called as Go kit's addsvc
//! proto has it, many calls at once on one channel, deadlines, unknown
//! methods, oversized messages and the health check.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use synkit_examples::addsvc::Adder;
use synkit_transports::grpc::GrpcHandle;
use synkit_transports::http::server::ServerConfig;

/// The Debian Python, which has `python3-grpcio` (a `python3` earlier on
/// the PATH may not).
const PYTHON: &str = "/usr/bin/python3";

const CLIENT: &str = r#"
import concurrent.futures, grpc, json, sys

def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def sum_request(a, b):
    return b"\x08" + varint(a) + b"\x10" + varint(b)

def text(tag, s):
    s = s.encode()
    return bytes([tag << 3 | 2]) + varint(len(s)) + s

ident = lambda b: b
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
    let out = Command::new(PYTHON)
        .args(["-c", script, addr])
        .output()
        .expect("run the system python3 (apt-get install python3-grpcio)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ours() -> GrpcHandle {
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
        json!(["StatusCode.UNIMPLEMENTED", "unknown method /pb.Add/Nope"])
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
