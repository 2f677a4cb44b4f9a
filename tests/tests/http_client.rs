//! The HTTP client endpoint against synkit's own server: success, status
//! and transport failures mapped to synkit's kinds, deadlines, hooks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use synkit_core::time::ManualClock;
use synkit_core::{CancelToken, Context, Endpoint, Error};
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};
use synkit_transports::http::server::{Handle, Server, ServerConfig, service_fn};
use synkit_transports::http::{HeaderValue, Method, Request, Response, StatusCode};

#[derive(serde::Serialize)]
struct Ask {
    s: String,
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Reply {
    v: String,
}

/// Echoes `s` upper-cased; `/status/N` answers status N; `/slow` waits for
/// the context to expire. Counts the requests it sees.
fn server(seen: Arc<AtomicUsize>) -> Handle {
    let answer = move |cx: &Context<'_>, req: &Request<Vec<u8>>| -> Response<Vec<u8>> {
        seen.fetch_add(1, Ordering::SeqCst);
        let path = req.uri().path().to_owned();
        if let Some(code) = path.strip_prefix("/status/") {
            let mut resp = Response::new(b"{\"error\":\"nope\"}".to_vec());
            *resp.status_mut() = StatusCode::from_u16(code.parse().unwrap()).unwrap();
            return resp;
        }
        if path == "/slow" {
            while cx.check().is_ok() {
                std::thread::yield_now();
            }
        }
        let ask: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        let mut resp = Response::new(
            format!(
                "{{\"v\":\"{}\"}}",
                ask["s"].as_str().unwrap().to_uppercase()
            )
            .into_bytes(),
        );
        if let Some(v) = req.headers().get("x-trace") {
            resp.headers_mut().insert("x-trace-echo", v.clone());
        }
        resp
    };
    let service = service_fn(move |cx, req, resp| *resp = answer(cx, req));
    Server::new(service)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap()
}

fn client(
    server: &Handle,
    path: &str,
) -> impl Endpoint<Ask, Response = Reply, Error = ClientError> + use<> {
    Client::new(
        Method::POST,
        format!("http://{}{path}", server.local_addr())
            .parse()
            .unwrap(),
        encode_json_request::<Ask, ClientError>,
        decode_json_response::<Reply, ClientError>,
    )
}

fn ask(s: &str) -> Ask {
    Ask { s: s.into() }
}

#[test]
fn a_call_round_trips_and_the_connection_is_pooled() {
    let seen = Arc::new(AtomicUsize::new(0));
    let server = server(Arc::clone(&seen));
    let up = client(&server, "/up");
    let cx = Context::background();
    for word in ["go", "kit", "rust"] {
        assert_eq!(
            up.call(&cx, ask(word)),
            Ok(Reply {
                v: word.to_uppercase()
            })
        );
    }
    assert_eq!(
        server.stats().connections.load(Ordering::Relaxed),
        1,
        "one pooled connection"
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn statuses_map_to_synkit_kinds() {
    let server = server(Arc::new(AtomicUsize::new(0)));
    let cx = Context::background();
    for (code, kind) in [
        (429, Some(Error::RateLimited)),
        (503, Some(Error::Unavailable)),
        (504, Some(Error::DeadlineExceeded)),
        (400, None),
        (500, None),
    ] {
        let err = client(&server, &format!("/status/{code}"))
            .call(&cx, ask("x"))
            .unwrap_err();
        assert!(
            matches!(&err, ClientError::Status(s, body) if s.as_u16() == code && body.contains("nope")),
            "{err}"
        );
        assert_eq!(err.kind(), kind, "{code}");
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn an_unreachable_server_is_unavailable() {
    // Bind and drop a listener to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let up = Client::new(
        Method::POST,
        format!("http://127.0.0.1:{port}/up").parse().unwrap(),
        encode_json_request::<Ask, ClientError>,
        decode_json_response::<Reply, ClientError>,
    );
    let err = up.call(&Context::background(), ask("x")).unwrap_err();
    assert_eq!(err.kind(), Some(Error::Unavailable), "{err}");
}

#[test]
fn the_remaining_deadline_becomes_the_timeout() {
    let server = server(Arc::new(AtomicUsize::new(0)));
    let root = Context::background();
    let cx = root.with_timeout(Duration::from_millis(200));
    let err = client(&server, "/slow").call(&cx, ask("x")).unwrap_err();
    assert_eq!(err.kind(), Some(Error::DeadlineExceeded), "{err}");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn no_request_is_sent_without_time_left_or_once_cancelled() {
    let seen = Arc::new(AtomicUsize::new(0));
    let server = server(Arc::clone(&seen));
    let up = client(&server, "/up");
    let clock = ManualClock::new();
    let root = Context::new(&clock);
    let expired = root.with_timeout(Duration::from_millis(5));
    clock.advance(Duration::from_millis(5));
    assert_eq!(
        up.call(&expired, ask("x")).unwrap_err().kind(),
        Some(Error::DeadlineExceeded)
    );
    let token = CancelToken::new();
    token.cancel();
    let background = Context::background();
    let cancelled = background.with_cancel(&token);
    assert_eq!(
        up.call(&cancelled, ask("x")).unwrap_err().kind(),
        Some(Error::Cancelled)
    );
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing reached the server");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn before_after_and_finalizer_hooks_see_the_exchange() {
    let server = server(Arc::new(AtomicUsize::new(0)));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2) = (Arc::clone(&log), Arc::clone(&log));
    let up = Client::new(
        Method::POST,
        format!("http://{}/up", server.local_addr())
            .parse()
            .unwrap(),
        encode_json_request::<Ask, ClientError>,
        decode_json_response::<Reply, ClientError>,
    )
    .before(|_cx, req| {
        req.headers_mut()
            .insert("x-trace", HeaderValue::from_static("abc"));
    })
    .after(move |_cx, resp| {
        let echo = resp
            .headers()
            .get("x-trace-echo")
            .map(|v| v.to_str().unwrap().to_owned());
        l1.lock().unwrap().push(format!("after: {echo:?}"));
    })
    .finalizer(move |_cx, status| l2.lock().unwrap().push(format!("final: {status:?}")));
    up.call(&Context::background(), ask("x")).unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["after: Some(\"abc\")", "final: Some(200)"]
    );
    server.shutdown(Duration::from_secs(1));
}
