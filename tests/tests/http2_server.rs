//! HTTP services over HTTP/2 (h2c with prior knowledge): the same
//! `Service` an HTTP/1.1 client reaches, on the same port, for curl's
//! `--http2-prior-knowledge`, nghttp2's h2load and Go's `x/net/http2`
//! client — as Go's `net/http` serves HTTP/2 to any handler.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use synkit_tests::h2::h2load;
use synkit_transports::http::server::{Handle, Protocols, Server, ServerConfig, service_fn};
use synkit_transports::http::{Request, Response};

/// An echo server on `config`.
fn echo(config: &ServerConfig) -> Handle {
    Server::new(echo_service())
        .bind("127.0.0.1:0", config)
        .unwrap()
}

/// Says what the request looked like to the service.
fn echo_service() -> impl synkit_transports::http::server::Service {
    service_fn(
        |_cx, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>| {
            let field = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let said = json!({
                "version": format!("{:?}", req.version()),
                "method": req.method().as_str(),
                "host": field("host"),
                "path": req.uri().path(),
                "query": req.uri().query().unwrap_or(""),
                "len": req.body().len(),
                "x-note": field("x-note"),
            });
            resp.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            // A field HTTP/2 must not carry: the server drops it.
            resp.headers_mut()
                .insert("connection", "keep-alive".parse().unwrap());
            serde_json::to_writer(resp.body_mut(), &said).unwrap();
        },
    )
}

/// curl's `-w` line and body: (status, HTTP version, headers, body).
fn curl(args: &[&str]) -> (u16, String, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-w", "\n%{http_code} %{http_version}"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rest, tail) = text.rsplit_once('\n').unwrap();
    let (code, version) = tail.split_once(' ').unwrap();
    let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (
        code.parse().unwrap(),
        version.to_owned(),
        head.to_ascii_lowercase(),
        body.to_owned(),
    )
}

#[test]
fn curl_gets_the_same_service_over_http2_and_http1_on_one_port() {
    for workers in [0, 2] {
        let server = echo(&ServerConfig {
            workers,
            ..ServerConfig::default()
        });
        let url = format!("http://{}/things?x=1", server.local_addr());
        let (code, version, head, body) = curl(&[
            "--http2-prior-knowledge",
            "-H",
            "x-note: hi",
            "-d",
            "12345",
            &url,
        ]);
        assert_eq!((code, version.as_str()), (200, "2"), "{head}");
        let said: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(said["version"], "HTTP/2.0");
        assert_eq!(said["method"], "POST");
        assert_eq!(said["host"], server.local_addr().to_string());
        assert_eq!(said["path"], "/things");
        assert_eq!(said["query"], "x=1");
        assert_eq!(said["len"], 5);
        assert_eq!(said["x-note"], "hi");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("\ndate: "), "{head}");
        assert!(
            !head.contains("connection:"),
            "HTTP/1.1's fields are dropped: {head}"
        );
        // HEAD: the length of what GET would send, no body.
        let (code, _, head, body) = curl(&["--http2-prior-knowledge", "-I", &url]);
        assert_eq!(code, 200);
        assert!(head.contains("content-length: "), "{head}");
        // (`-I` prints the head again where the body would be.)
        assert!(!body.contains("version"), "no body: {body}");
        // HTTP/1.1 on the same port.
        let (code, version, _, body) = curl(&["--http1.1", &url]);
        assert_eq!((code, version.as_str()), (200, "1.1"));
        let said: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(said["version"], "HTTP/1.1");
        server.shutdown(Duration::from_secs(1));
    }
}

#[test]
fn requests_the_server_refuses_over_http2_get_the_statuses_http1_gets() {
    let server = echo(&ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    });
    let url = format!("http://{}/", server.local_addr());
    let big = "x".repeat(4096);
    let (code, _, _, body) = curl(&["--http2-prior-knowledge", "-d", &big, &url]);
    assert_eq!(code, 413, "{body}");
    let (code, _, _, body) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "X-Request-Timeout-Ms: soon",
        &url,
    ]);
    assert_eq!(code, 400, "{body}");
    let (code, _, _, body) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "X-Request-Timeout-Ms: 0",
        &url,
    ]);
    assert_eq!(code, 504, "{body}");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn h2load_reads_every_answer_on_many_streams() {
    let body = synkit_tests::examples::scratch("http2-h2load").join("body.json");
    std::fs::write(&body, br#"{"s":"hello"}"#).unwrap();
    for workers in [0, 2] {
        let server = echo(&ServerConfig {
            workers,
            ..ServerConfig::default()
        });
        let url = format!("http://{}/echo", server.local_addr());
        let body = body.to_str().unwrap();
        let (counts, ok, text) = h2load(&[
            "-n", "10000", "-c", "4", "-m", "16", "-t", "1", "-d", body, &url,
        ]);
        assert_eq!(counts, (10_000, 10_000, 0, 0), "workers {workers}: {text}");
        assert_eq!(ok, 10_000);
        // GETs, tiny windows: answers leave in pieces as the windows open.
        let (counts, ok, text) = h2load(&[
            "-n", "1000", "-c", "2", "-m", "8", "-t", "1", "-w", "4", "-W", "16", &url,
        ]);
        assert_eq!(counts, (1000, 1000, 0, 0), "workers {workers}: {text}");
        assert_eq!(ok, 1000);
        server.shutdown(Duration::from_secs(1));
    }
}

/// Go's `x/net/http2` client's answers, one JSON object per request.
fn go_h2(args: &[&str]) -> Vec<Value> {
    synkit_tests::gokit::run("h2client", args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn gos_http2_client_is_served_many_requests_at_once_on_one_connection() {
    let server = echo(&ServerConfig {
        workers: 4,
        ..ServerConfig::default()
    });
    let url = format!("http://{}/go?n=1", server.local_addr());
    let body = "y".repeat(100_000);
    for no_length in [false, true] {
        let mut args = vec!["-url", &url, "-method", "PUT", "-body", &body, "-n", "50"];
        if no_length {
            // No content-length: the body's length is where its DATA ends.
            args.push("-unsized");
        }
        let got = go_h2(&args);
        assert_eq!(got.len(), 50);
        for r in &got {
            assert_eq!(r["err"], "", "{r}");
            assert_eq!(r["status"], 200, "{r}");
            assert_eq!(r["proto"], "HTTP/2.0");
            assert_eq!(r["content_type"], "application/json");
            let said: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            assert_eq!(said["len"], 100_000);
            assert_eq!(said["method"], "PUT");
            assert_eq!(said["query"], "n=1");
            assert_eq!(r["content_length"], r["body"].as_str().unwrap().len());
        }
    }
    server.shutdown(Duration::from_secs(1));
}

/// What a raw client gets for `bytes` before the server closes.
fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    synkit_tests::wire::exchange(addr, bytes, Duration::from_millis(300)).bytes
}

/// The error code of the GOAWAY among HTTP/2 frames.
fn goaway_code(mut frames: &[u8]) -> Option<u32> {
    while frames.len() >= 9 {
        let len =
            usize::from(frames[0]) << 16 | usize::from(frames[1]) << 8 | usize::from(frames[2]);
        let (head, rest) = frames.split_at(9);
        let payload = rest.get(..len)?;
        if head[3] == 7 {
            return Some(u32::from_be_bytes(payload.get(4..8)?.try_into().unwrap()));
        }
        frames = &rest[len..];
    }
    None
}

#[test]
fn a_server_speaks_only_the_protocols_it_is_told() {
    const BAD_PREFACE: &[u8] = b"INVALID CONNECTION PREFACE\r\n\r\n";
    let url = |s: &Handle| format!("http://{}/", s.local_addr());
    // HTTP/2 only: a mangled preface is a connection error (h2spec 3.5/2):
    // GOAWAY (type 7) with PROTOCOL_ERROR (1), then the close.
    let h2 = Server::new(echo_service())
        .protocols(Protocols::Http2)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let got =
        synkit_tests::wire::exchange(h2.local_addr(), BAD_PREFACE, Duration::from_millis(300));
    assert!(got.closed);
    assert_eq!(goaway_code(&got.bytes), Some(1), "{:?}", got.bytes);
    let (code, version, _, _) = curl(&["--http2-prior-knowledge", &url(&h2)]);
    assert_eq!((code, version.as_str()), (200, "2"));
    let out = Command::new("curl")
        .args(["-s", "--http1.1", &url(&h2)])
        .output()
        .unwrap();
    assert!(!out.status.success(), "HTTP/1.1 is refused");
    // Both (the default): the same bytes are a malformed HTTP/1.1 request,
    // 400 — where Go's h2c handler answers the same, and h2spec would
    // rather see a GOAWAY.
    let both = echo(&ServerConfig::default());
    let got = String::from_utf8_lossy(&raw(both.local_addr(), BAD_PREFACE)).into_owned();
    assert!(got.starts_with("HTTP/1.1 400 "), "{got}");
    // HTTP/1.1 only: the preface is a request HTTP/1.1 cannot read.
    let h1 = Server::new(echo_service())
        .protocols(Protocols::Http1)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let out = Command::new("curl")
        .args(["-s", "--http2-prior-knowledge", &url(&h1)])
        .output()
        .unwrap();
    assert!(!out.status.success(), "HTTP/2 is refused");
    let (code, version, _, _) = curl(&["--http1.1", &url(&h1)]);
    assert_eq!((code, version.as_str()), (200, "1.1"));
    for server in [h2, both, h1] {
        server.shutdown(Duration::from_secs(1));
    }
}
