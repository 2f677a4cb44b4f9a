//! Traces that cross between synkit and real Go kit (0.10's
//! `tracing/zipkin` on zipkin-go), reported to a collector that checks
//! Zipkin's v2 schema; malformed trace headers; a collector that is down,
//! failing or slow.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use synkit_core::time::SystemClock;
use synkit_core::trace::{Kind, Reporter, Tracer};
use synkit_core::{Context, Endpoint};
use synkit_tests::examples::{Process, curl, scratch, wait_healthy};
use synkit_tests::gokit::{binary, free_addr};
use synkit_tests::registry::within;
use synkit_tests::zipkin::{Answer, Collector};
use synkit_transports::export::zipkin::{ZipkinOptions, ZipkinReporter};
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};

fn by_service<'a>(spans: &'a [Value], service: &str, kind: &str) -> Vec<&'a Value> {
    spans
        .iter()
        .filter(|s| s["localEndpoint"]["serviceName"] == service && s["kind"] == kind)
        .collect()
}

#[test]
fn a_go_kit_client_and_a_synkit_server_share_one_trace() {
    let collector = Collector::start();
    let dir = scratch("kitclient");
    let addr = free_addr();
    let _svc = Process::start(
        "stringsvc",
        &[
            "--addr",
            &addr.to_string(),
            "--zipkin-url",
            &collector.url(),
        ],
        &dir.join("stringsvc.log"),
    );
    wait_healthy(addr);
    let (url, zipkin) = (format!("http://{addr}"), collector.url());
    let out = synkit_tests::gokit::run(
        "kittrace",
        &[
            "-mode", "client", "-url", &url, "-zipkin", &zipkin, "-service", "kitcli",
        ],
    );
    assert_eq!(out, "TRACED");

    let arrived = |spans: &[Value]| {
        spans.iter().any(|s| s["name"] == "kitcli")
            && by_service(spans, "stringsvc", "SERVER")
                .iter()
                .any(|s| s["tags"]["http.path"] == "/uppercase")
    };
    assert!(
        within(Duration::from_secs(10), || arrived(&collector.spans())),
        "{:?}",
        collector.spans()
    );
    let spans = collector.spans();
    assert_eq!(collector.problems(), Vec::<String>::new());
    let root = spans
        .iter()
        .find(|s| s["name"] == "kitcli")
        .expect("Go kit's root span");
    let client = by_service(&spans, "kitcli", "CLIENT")[0];
    let server = *by_service(&spans, "stringsvc", "SERVER")
        .iter()
        .find(|s| s["tags"]["http.path"] == "/uppercase")
        .expect("stringsvc's span");
    let trace = &root["traceId"];
    assert_eq!(client["traceId"], *trace);
    assert_eq!(server["traceId"], *trace, "{spans:?}");
    assert_eq!(client["parentId"], root["id"]);
    // zipkin-go's convention, followed: the server shares the client's id.
    assert_eq!(server["id"], client["id"]);
    assert_eq!(server["parentId"], root["id"]);
    assert_eq!(server["shared"], true);
    assert_eq!(server["name"], "POST");
    let tags = &server["tags"];
    assert_eq!(tags["http.method"], "POST");
    assert_eq!(tags["http.path"], "/uppercase");
    assert_eq!(tags["http.status_code"], "200");
    assert_eq!(tags["http.response.size"], "15");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_synkit_client_and_a_go_kit_server_share_one_trace() {
    let collector = Collector::start();
    let kit = free_addr();
    let _kit = Process::start_command(Command::new(binary("kittrace")).args([
        "-mode",
        "server",
        "-listen",
        &kit.to_string(),
        "-zipkin",
        &collector.url(),
    ]));
    let reporter = Arc::new(ZipkinReporter::new(&collector.url()));
    let tracer = Arc::new(Tracer::system("synkit-client", reporter.clone()));
    let client = Client::new(
        Method::POST,
        format!("http://{kit}/uppercase").parse().unwrap(),
        encode_json_request::<serde_json::Value, ClientError>,
        decode_json_response::<serde_json::Value, ClientError>,
    )
    .traced(tracer.clone());
    // A local root span, and the call made inside it.
    let root = tracer.start("work", Kind::Local, None);
    let root_cx = *root.context();
    let background = Context::background();
    let cx = background.with_value(&root_cx);
    let answered = within(Duration::from_secs(30), || {
        client
            .call(&cx, serde_json::json!({ "s": "traced" }))
            .is_ok_and(|v| v["v"] == "TRACED")
    });
    assert!(answered, "the Go kit server never answered");
    root.finish();
    reporter.flush(Duration::from_secs(5));

    assert!(
        within(Duration::from_secs(10), || !by_service(
            &collector.spans(),
            "kitsvc",
            "SERVER"
        )
        .is_empty()),
        "{:?}",
        collector.spans()
    );
    assert_eq!(collector.problems(), Vec::<String>::new());
    let spans = collector.spans();
    let root = spans
        .iter()
        .find(|s| s["name"] == "work")
        .expect("our root span");
    let server = *by_service(&spans, "kitsvc", "SERVER")
        .last()
        .expect("Go kit's server span");
    let ours = by_service(&spans, "synkit-client", "CLIENT");
    let client = ours
        .iter()
        .find(|c| c["id"] == server["id"])
        .expect("Go kit shares our client span's id");
    assert_eq!(server["traceId"], root["traceId"]);
    assert_eq!(client["traceId"], root["traceId"]);
    assert_eq!(client["parentId"], root["id"]);
    assert_eq!(
        server["parentId"], root["id"],
        "Go kit's server span hangs under our root"
    );
    assert_eq!(
        client["tags"]["http.url"],
        format!("http://{kit}/uppercase")
    );
    assert_eq!(client["tags"]["http.status_code"], "200");
    assert_eq!(client["tags"]["http.method"], "POST");
}

#[test]
fn malformed_trace_headers_start_a_new_trace_and_w3c_is_joined() {
    let collector = Collector::start();
    let dir = scratch("headers");
    let addr = free_addr();
    let _svc = Process::start(
        "stringsvc",
        &[
            "--addr",
            &addr.to_string(),
            "--zipkin-url",
            &collector.url(),
        ],
        &dir.join("stringsvc.log"),
    );
    wait_healthy(addr);
    let url = format!("http://{addr}/count");
    for bad in [
        "traceparent: 00-zz-00f067aa0ba902b7-01",
        "b3: not-a-b3-header-at-all",
        "X-B3-TraceId: 0000000000000000",
        "traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        let out = curl(&[
            "-w",
            " %{http_code}",
            "-H",
            bad,
            "-XPOST",
            &url,
            "-d",
            r#"{"s":"abc"}"#,
        ]);
        assert_eq!(out, "{\"v\":3}\n 200", "{bad}");
    }
    curl(&[
        "-H",
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "-XPOST",
        &url,
        "-d",
        r#"{"s":"abc"}"#,
    ]);
    assert!(
        collector.wait_for(6, Duration::from_secs(10)),
        "{:?}",
        collector.spans()
    );
    assert_eq!(collector.problems(), Vec::<String>::new());
    let spans = collector.spans();
    let servers: Vec<&Value> = spans
        .iter()
        .filter(|s| s["kind"] == "SERVER" && s["tags"]["http.path"] == "/count")
        .collect();
    assert_eq!(servers.len(), 5);
    for s in &servers[..4] {
        assert!(s["parentId"].is_null(), "a new root: {s}");
    }
    let joined = servers[4];
    assert_eq!(joined["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        joined["parentId"], "00f067aa0ba902b7",
        "a W3C caller's span is the parent"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tracer(reporter: Arc<dyn Reporter>) -> Tracer<SystemClock> {
    Tracer::system("faults", reporter)
}

#[test]
fn a_collector_down_failing_or_slow_costs_only_counted_spans() {
    // Down: nothing listens there.
    let down = Arc::new(ZipkinReporter::new(&format!(
        "http://{}/api/v2/spans",
        free_addr()
    )));
    let t = tracer(down.clone());
    for _ in 0..10 {
        t.start("x", Kind::Server, None).finish();
    }
    down.flush(Duration::from_secs(5));
    assert_eq!((down.sent(), down.failed(), down.dropped()), (0, 10, 0));

    // Failing: 500 for every batch.
    let collector = Collector::start();
    collector.answer(Answer::Fail);
    let failing = Arc::new(ZipkinReporter::new(&collector.url()));
    let t = tracer(failing.clone());
    for _ in 0..10 {
        t.start("x", Kind::Server, None).finish();
    }
    failing.flush(Duration::from_secs(5));
    assert_eq!((failing.sent(), failing.failed()), (0, 10));

    // Slow: each POST takes a second; a queue of 50 overflows, and the
    // spans that do not fit are counted, while finishing a span stays
    // instant.
    collector.answer(Answer::Slow(Duration::from_secs(1)));
    let options = ZipkinOptions {
        queue: 50,
        batch: 10,
        ..ZipkinOptions::default()
    };
    let slow = Arc::new(ZipkinReporter::with_options(&collector.url(), options));
    let t = tracer(slow.clone());
    let started = Instant::now();
    for _ in 0..1_000 {
        t.start("x", Kind::Server, None).finish();
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(200),
        "1000 spans took {took:?}"
    );
    assert!(slow.dropped() >= 900, "dropped {}", slow.dropped());
    collector.answer(Answer::Accept);
    slow.flush(Duration::from_secs(30));
    assert_eq!(slow.sent() + slow.dropped() + slow.failed(), 1_000);
    assert_eq!(collector.problems(), Vec::<String>::new());
}
