//! Go kit's zipkin gRPC hooks on synkit's client and server: one trace
//! across the call, the server's span sharing the client's id (zipkin-go's
//! convention, as over HTTP), Go kit's names and tags, B3 in the metadata,
//! checked at a Zipkin v2 collector.

use std::sync::Arc;
use std::time::Duration;

use synkit_core::trace::{SpanContext, Tracer};
use synkit_core::{Context, Endpoint};
use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::grpc::{SumReply, SumRequest};
use synkit_tests::zipkin::Collector;
use synkit_transports::export::zipkin::ZipkinReporter;
use synkit_transports::grpc::{Client, Code, metadata};
use synkit_transports::http::server::ServerConfig;

#[test]
fn one_trace_spans_the_client_and_the_server() {
    let collector = Collector::start();
    let reporter = Arc::new(ZipkinReporter::new(&collector.url()));
    let server_tracer = Arc::new(Tracer::system("addsvc", reporter.clone()));
    let client_tracer = Arc::new(Tracer::system("addcli", reporter.clone()));
    // The endpoint sees the server span's context and the B3 metadata.
    let seen = Arc::new(std::sync::Mutex::new(None));
    let seen_by_endpoint = seen.clone();
    let inner = synkit_examples::addsvc::grpc::sum_endpoint(Adder);
    let sum = synkit_core::endpoint::endpoint_fn(move |cx: &Context<'_>, req: SumRequest| {
        let trace_header = metadata(cx)
            .and_then(|md| md.get("x-b3-traceid"))
            .map(str::to_owned);
        *seen_by_endpoint.lock().unwrap() =
            Some((cx.value::<SpanContext>().copied(), trace_header));
        inner.call(cx, req)
    });
    let server = synkit_transports::grpc::Server::new()
        .method("/pb.Add/Sum", sum)
        .traced(server_tracer)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let client = Client::new(server.local_addr()).traced(client_tracer);
    let cx = Context::background();
    assert_eq!(
        client
            .call::<_, SumReply>(&cx, "/pb.Add/Sum", &SumRequest { a: 1, b: 2 })
            .unwrap()
            .v,
        3
    );
    let failed = client
        .call::<_, SumReply>(&cx, "/pb.Add/Nope", &SumRequest { a: 1, b: 2 })
        .unwrap_err();
    assert_eq!(failed.code, Code::Unimplemented);
    reporter.flush(Duration::from_secs(5));
    assert!(collector.wait_for(1, Duration::from_secs(10)));
    assert!(synkit_tests::registry::within(
        Duration::from_secs(10),
        || collector.spans().len() >= 4
    ));
    let spans = collector.spans();
    assert_eq!(collector.problems(), Vec::<String>::new());
    let of = |service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s["localEndpoint"]["serviceName"] == service && s["name"] == name)
            .unwrap_or_else(|| panic!("no {service} span {name}: {spans:?}"))
            .clone()
    };
    let (client_span, server_span) = (of("addcli", "/pb.Add/Sum"), of("addsvc", "/pb.Add/Sum"));
    assert_eq!(client_span["kind"], "CLIENT");
    assert_eq!(server_span["kind"], "SERVER");
    assert_eq!(client_span["traceId"], server_span["traceId"]);
    assert_eq!(
        client_span["id"], server_span["id"],
        "shared span, as zipkin-go does"
    );
    assert_eq!(server_span["tags"]["grpc.method"], "/pb.Add/Sum");
    let (endpoint_context, trace_header) = seen.lock().unwrap().take().unwrap();
    let endpoint_context = endpoint_context.expect("the span's context in the endpoint's context");
    assert_eq!(
        format!("{}", endpoint_context.trace_id),
        server_span["traceId"].as_str().unwrap()
    );
    assert_eq!(trace_header.as_deref(), server_span["traceId"].as_str());
    // A failed call: Go kit's status-code and error tags on both sides.
    let (client_fail, server_fail) = (of("addcli", "/pb.Add/Nope"), of("addsvc", "/pb.Add/Nope"));
    for span in [&client_fail, &server_fail] {
        assert_eq!(span["tags"]["grpc.status_code"], "12");
        assert_eq!(
            span["tags"]["error"],
            "unknown method Nope for service pb.Add"
        );
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_streaming_call_is_one_trace_whose_client_span_lasts_the_stream() {
    use synkit_transports::grpc::{ServerStream, Status};
    let collector = Collector::start();
    let reporter = Arc::new(ZipkinReporter::new(&collector.url()));
    let server_tracer = Arc::new(Tracer::system("counter", reporter.clone()));
    let client_tracer = Arc::new(Tracer::system("reader", reporter.clone()));
    // `a` replies; a negative `b` fails the stream after them.
    let count = |_: &Context<'_>, r: SumRequest, out: &mut ServerStream<'_, SumReply>| {
        for v in 0..r.a {
            out.send(&SumReply {
                v,
                err: String::new(),
            })?;
        }
        if r.b < 0 {
            return Err(Status::new(Code::Aborted, "stopped on purpose"));
        }
        Ok(())
    };
    let server = synkit_transports::grpc::Server::new()
        .server_streaming("/pb.Stream/Count", count)
        .traced(server_tracer)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let client = Client::new(server.local_addr()).traced(client_tracer);
    let cx = Context::background();
    let read = |a: i64, b: i64| -> usize {
        client
            .server_streaming::<_, SumReply>(&cx, "/pb.Stream/Count", &SumRequest { a, b })
            .unwrap()
            .flatten()
            .count()
    };
    assert_eq!(read(50, 0), 50);
    assert_eq!(read(3, -1), 3);
    // Dropped after one message: the client span ends CANCELLED.
    let mut dropped = client
        .server_streaming::<_, SumReply>(&cx, "/pb.Stream/Count", &SumRequest { a: 100_000, b: 0 })
        .unwrap();
    dropped.next().unwrap().unwrap();
    drop(dropped);
    reporter.flush(Duration::from_secs(5));
    assert!(synkit_tests::registry::within(
        Duration::from_secs(10),
        || collector.spans().len() >= 6
    ));
    assert_eq!(collector.problems(), Vec::<String>::new());
    let spans = collector.spans();
    let clients: Vec<_> = spans
        .iter()
        .filter(|s| s["localEndpoint"]["serviceName"] == "reader")
        .collect();
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s["localEndpoint"]["serviceName"] == "counter")
        .collect();
    assert_eq!((clients.len(), servers.len()), (3, 3), "{spans:?}");
    for c in &clients {
        assert_eq!(c["kind"], "CLIENT");
        assert_eq!(c["name"], "/pb.Stream/Count");
        assert_eq!(c["tags"]["grpc.method"], "/pb.Stream/Count");
        // Its server span shares its id in its trace, as for unary calls.
        assert!(
            servers
                .iter()
                .any(|s| s["traceId"] == c["traceId"] && s["id"] == c["id"]),
            "{spans:?}"
        );
    }
    let codes: Vec<_> = clients
        .iter()
        .map(|c| c["tags"]["grpc.status_code"].clone())
        .collect();
    assert!(
        codes.contains(&serde_json::Value::Null),
        "the stream that ended well: {codes:?}"
    );
    assert!(codes.contains(&"10".into()), "ABORTED: {codes:?}");
    assert!(
        codes.contains(&"1".into()),
        "CANCELLED when dropped: {codes:?}"
    );
    server.shutdown(Duration::from_secs(1));
}
