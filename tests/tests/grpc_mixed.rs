//! HTTP (1.1 and 2) and gRPC on one port (`grpc::Server::bind_with_http`): curl,
//! Go kit's gRPC client, Python's grpcio, nghttp2's h2load and synkit's
//! own client (a stream too) all served on the same listener, at once.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use synkit_core::Context;
use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::grpc::{SumReply, SumRequest};
use synkit_transports::grpc::{Client, Handle, ServerStream, Status};
use synkit_transports::http::server::ServerConfig;

fn both() -> Handle {
    let count = |_: &Context<'_>, r: SumRequest, out: &mut ServerStream<'_, SumReply>| {
        for v in 0..r.a {
            out.send(&SumReply {
                v,
                err: String::new(),
            })?;
        }
        Ok::<_, Status>(())
    };
    synkit_examples::addsvc::grpc::server(Adder)
        .server_streaming("/pb.Stream/Count", count)
        .bind_with_http(
            "127.0.0.1:0",
            &ServerConfig::default(),
            synkit_examples::addsvc::transport::router(Adder),
        )
        .unwrap()
}

fn curl_sum(addr: &str, http: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            http,
            "-XPOST",
            &format!("http://{addr}/sum"),
            "-d",
            r#"{"a":1,"b":2}"#,
        ])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_client_is_served_on_the_one_port() {
    let server = both();
    let addr = server.local_addr().to_string();
    assert_eq!(curl_sum(&addr, "--http1.1").trim(), r#"{"v":3}"#);
    // HTTP/2 that is not gRPC reaches the HTTP service too.
    assert_eq!(
        curl_sum(&addr, "--http2-prior-knowledge").trim(),
        r#"{"v":3}"#
    );
    // Go kit's gRPC client.
    let out = synkit_tests::gokit::run(
        "kitgrpc",
        &[
            "-mode", "client", "-addr", &addr, "-method", "Sum", "-a", "1", "-b", "2",
        ],
    );
    assert_eq!(out, r#"{"err":"","v":3}"#);
    // Python's grpcio.
    let got = synkit_tests::grpcio::run(
        r#"
ch = grpc.insecure_channel(sys.argv[1])
m = ch.unary_unary("/pb.Add/Sum", request_serializer=ident, response_deserializer=ident)
print(json.dumps(m(b"\x08\x01\x10\x02", timeout=5).hex()))
"#,
        &[&addr],
    );
    assert_eq!(got, "0803");
    // synkit's client, a stream included.
    let client = Client::new(server.local_addr());
    let cx = Context::background();
    let values: Vec<i64> = client
        .server_streaming::<_, SumReply>(&cx, "/pb.Stream/Count", &SumRequest { a: 500, b: 0 })
        .unwrap()
        .map(|r| r.unwrap().v)
        .collect();
    assert_eq!(values, (0..500).collect::<Vec<_>>());
    // Every request the engine served, whatever carried it: two curls,
    // Go kit's and grpcio's calls, and the stream.
    let requests = server
        .stats()
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(requests, 5);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn both_protocols_under_load_at_once() {
    let server = both();
    let addr = server.local_addr().to_string();
    let body = synkit_tests::examples::scratch("mixed").join("sum.bin");
    std::fs::write(&body, [0, 0, 0, 0, 4, 0x08, 1, 0x10, 2]).unwrap();
    // HTTP/1.1 calls from four threads while h2load makes 10 000 gRPC
    // calls on 4 connections × 16 streams.
    let http = Arc::new(addr.clone());
    let curls: Vec<_> = (0..4)
        .map(|_| {
            let addr = Arc::clone(&http);
            std::thread::spawn(move || {
                (0..25).all(|_| curl_sum(&addr, "--http1.1").trim() == r#"{"v":3}"#)
            })
        })
        .collect();
    let out = Command::new("h2load")
        .args(["-n", "10000", "-c", "4", "-m", "16", "-t", "1", "-d"])
        .arg(&body)
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg(format!("http://{addr}/pb.Add/Sum"))
        .output()
        .expect("run h2load (apt-get install nghttp2-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "10000 total, 10000 started, 10000 done, 10000 succeeded, 0 failed, 0 errored"
        ),
        "{text}"
    );
    for c in curls {
        assert!(
            c.join().unwrap(),
            "every HTTP/1.1 call answered {{\"v\":3}}"
        );
    }
    server.shutdown(Duration::from_secs(1));
}
