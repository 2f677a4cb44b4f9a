//! NATS request-reply against a real `nats-server`, with Go's own NATS
//! client (nats.go, the `natspeer`) on the other side both ways, queue
//! groups, a server restart mid-request, a subscriber that cannot keep up,
//! and servers that send garbage.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use synkit_core::endpoint::endpoint_fn;
use synkit_core::{CancelToken, Context, Endpoint, Error};
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::endpoints::{UppercaseRequest, count_endpoint};
use synkit_examples::stringsvc::transport::{UppercaseReply, uppercase_reply_endpoint};
use synkit_tests::examples::Process;
use synkit_tests::gokit::binary;
use synkit_tests::nats::NatsServer;
use synkit_tests::registry::within;
use synkit_transports::nats::{Connection, NatsError, Options, Publisher, Subscriber};

fn connect(server: &NatsServer) -> Connection {
    Connection::connect(&server.url(), Options::default()).expect("connect to nats-server")
}

fn go_request(server: &NatsServer, subject: &str, data: &str) -> String {
    let url = server.url();
    synkit_tests::gokit::run(
        "natspeer",
        &[
            "-mode", "request", "-url", &url, "-subject", subject, "-data", data,
        ],
    )
}

fn go_responder(server: &NatsServer, subject: &str, queue: &str, tag: &str) -> Process {
    let mut cmd = Command::new(binary("natspeer"));
    cmd.args(["-mode", "serve", "-url", &server.url(), "-subject", subject]);
    if !queue.is_empty() {
        cmd.args(["-queue", queue]);
    }
    if !tag.is_empty() {
        cmd.args(["-tag", tag]);
    }
    Process::start_command(&mut cmd)
}

#[test]
fn gos_client_calls_synkits_subscriber() {
    let server = NatsServer::start();
    let conn = connect(&server);
    let _upper = Subscriber::json(uppercase_reply_endpoint(Strings))
        .serve(&conn, "stringsvc.uppercase", None, 2)
        .unwrap();
    let _count = Subscriber::json(count_endpoint(Strings))
        .serve(&conn, "stringsvc.count", None, 2)
        .unwrap();
    conn.flush(Duration::from_secs(5)).unwrap();
    let ask = |subject: &str, data: &str| -> Value {
        serde_json::from_str(&go_request(&server, subject, data)).unwrap()
    };
    assert_eq!(
        ask("stringsvc.uppercase", r#"{"s":"hello"}"#),
        json!({"v": "HELLO"})
    );
    assert_eq!(
        ask("stringsvc.uppercase", r#"{"s":""}"#),
        json!({"v": "", "err": "empty string"})
    );
    assert_eq!(ask("stringsvc.count", r#"{"s":"héllo"}"#), json!({"v": 6}));
    // Not JSON: Go kit's default error encoder's body.
    let bad = ask("stringsvc.uppercase", "not json");
    assert!(bad["err"].as_str().is_some_and(|e| !e.is_empty()), "{bad}");
    assert_eq!(bad.as_object().unwrap().len(), 1, "{bad}");
    // Nobody on the subject: Go's client hears "no responders" at once.
    let none = ask("stringsvc.nobody", "{}");
    assert!(
        none["error"].as_str().unwrap().contains("no responders"),
        "{none}"
    );
}

#[test]
fn synkits_publisher_calls_gos_responder() {
    let server = NatsServer::start();
    let _go = go_responder(&server, "stringsvc.uppercase", "", "");
    let _go_count = go_responder(&server, "stringsvc.count", "", "");
    let conn = connect(&server);
    let upper =
        Publisher::<UppercaseRequest, UppercaseReply>::json(conn.clone(), "stringsvc.uppercase");
    let count = Publisher::<Value, Value>::json(conn.clone(), "stringsvc.count");
    let cx = Context::background();
    let hello = || UppercaseRequest { s: "hello".into() };
    // Until the Go responder has subscribed, nobody answers.
    assert!(within(Duration::from_secs(10), || upper
        .call(&cx, hello())
        .is_ok()));
    assert_eq!(upper.call(&cx, hello()).unwrap().v, "HELLO");
    let empty = upper
        .call(&cx, UppercaseRequest { s: String::new() })
        .unwrap();
    assert_eq!(empty.err.as_deref(), Some("empty string"));
    assert!(within(Duration::from_secs(10), || count
        .call(&cx, json!({"s": "abc"}))
        .is_ok()));
    assert_eq!(
        count.call(&cx, json!({"s": "abc"})).unwrap(),
        json!({"v": 3})
    );
    // Go's error body ({"err": …}) is our Remote error.
    let wrong = Publisher::<Value, UppercaseReply>::json(conn.clone(), "stringsvc.uppercase");
    match wrong.call(&cx, json!("not an object")) {
        Err(NatsError::Remote(text)) => assert!(text.contains("cannot unmarshal"), "{text}"),
        other => panic!("{other:?}"),
    }
    let started = Instant::now();
    let nobody = Publisher::<Value, Value>::json(conn.clone(), "nobody.here");
    assert_eq!(nobody.call(&cx, json!({})), Err(NatsError::NoResponders));
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// An endpoint that counts its calls and upper-cases.
fn counted(
    calls: &Arc<AtomicUsize>,
) -> impl Endpoint<UppercaseRequest, Response = UppercaseReply, Error = Error> + use<> {
    let calls = calls.clone();
    endpoint_fn(move |_: &Context<'_>, req: UppercaseRequest| {
        calls.fetch_add(1, Ordering::Relaxed);
        Ok::<_, Error>(UppercaseReply {
            v: req.s.to_uppercase(),
            err: None,
        })
    })
}

#[test]
fn a_queue_group_shares_requests_and_a_plain_subscriber_sees_them_all() {
    let server = NatsServer::start();
    let (a_conn, b_conn, caller) = (connect(&server), connect(&server), connect(&server));
    let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let _a = Subscriber::json(counted(&a))
        .serve(&a_conn, "svc.upper", Some("workers"), 2)
        .unwrap();
    let _b = Subscriber::json(counted(&b))
        .serve(&b_conn, "svc.upper", Some("workers"), 2)
        .unwrap();
    let _go = go_responder(&server, "svc.upper", "workers", "go");
    let watcher = caller.subscribe("svc.upper", None).unwrap();
    a_conn.flush(Duration::from_secs(5)).unwrap();
    b_conn.flush(Duration::from_secs(5)).unwrap();
    caller.flush(Duration::from_secs(5)).unwrap();
    let call = Publisher::<UppercaseRequest, Value>::json(caller.clone(), "svc.upper");
    let cx = Context::background();
    // Wait for the Go member to join: its answers carry "by".
    let mut by_go = 0;
    assert!(within(Duration::from_secs(10), || {
        let v = call.call(&cx, UppercaseRequest { s: "x".into() }).unwrap();
        v["by"] == "go"
    }));
    let before = a.load(Ordering::Relaxed) + b.load(Ordering::Relaxed);
    let seen_before = watcher.messages().len();
    for i in 0..300 {
        let v = call
            .call(&cx, UppercaseRequest { s: format!("m{i}") })
            .unwrap();
        assert_eq!(v["v"], format!("M{i}"));
        if v["by"] == "go" {
            by_go += 1;
        }
    }
    let (a, b) = (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
    assert_eq!(
        a + b - before + by_go,
        300,
        "each request served once: {a} {b} {by_go}"
    );
    assert!(
        a > 0 && b > 0 && by_go > 0,
        "every member served: {a} {b} {by_go}"
    );
    // Outside the group, a plain subscription gets every one.
    assert!(within(Duration::from_secs(5), || watcher.messages().len()
        >= seen_before + 300));
}

#[test]
fn a_server_restart_fails_calls_in_flight_at_once_and_serving_resumes() {
    let mut server = NatsServer::start();
    let (svc_conn, caller) = (connect(&server), connect(&server));
    let slow = endpoint_fn(|_: &Context<'_>, req: UppercaseRequest| {
        if req.s == "slow" {
            std::thread::sleep(Duration::from_millis(1500));
        }
        Ok::<_, Error>(UppercaseReply {
            v: req.s.to_uppercase(),
            err: None,
        })
    });
    let _serving = Subscriber::json(slow)
        .serve(&svc_conn, "svc.upper", None, 4)
        .unwrap();
    svc_conn.flush(Duration::from_secs(5)).unwrap();
    let call = Arc::new(Publisher::<UppercaseRequest, UppercaseReply>::json(
        caller.clone(),
        "svc.upper",
    ));
    let cx = Context::background();
    assert_eq!(
        call.call(&cx, UppercaseRequest { s: "a".into() })
            .unwrap()
            .v,
        "A"
    );

    let in_flight = {
        let call = call.clone();
        std::thread::spawn(move || {
            let root = Context::background();
            let cx = root.with_timeout(Duration::from_secs(10));
            let started = Instant::now();
            (
                call.call(&cx, UppercaseRequest { s: "slow".into() }),
                started.elapsed(),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    server.kill();
    let (outcome, took) = in_flight.join().unwrap();
    assert_eq!(outcome, Err(NatsError::Disconnected));
    assert!(
        took < Duration::from_secs(2),
        "failed after {took:?}, not at its 10 s deadline"
    );
    // While the server is down: a clear error, at once.
    let started = Instant::now();
    assert_eq!(
        call.call(&cx, UppercaseRequest { s: "b".into() }),
        Err(NatsError::Disconnected)
    );
    assert!(started.elapsed() < Duration::from_millis(500));

    server.restart();
    assert!(
        within(Duration::from_secs(10), || call
            .call(&cx, UppercaseRequest { s: "c".into() })
            .is_ok()),
        "serving did not resume after the restart"
    );
    assert_eq!(
        call.call(&cx, UppercaseRequest { s: "d".into() })
            .unwrap()
            .v,
        "D"
    );
    assert!(svc_conn.reconnects() >= 1 && caller.reconnects() >= 1);
}

#[test]
fn a_subscriber_that_cannot_keep_up_never_stalls_its_connection() {
    let server = NatsServer::start();
    let options = Options {
        pending_messages: 16,
        ..Options::default()
    };
    let conn = Connection::connect(&server.url(), options).unwrap();
    let gate = Arc::new(std::sync::Mutex::new(()));
    let held = gate.lock().unwrap();
    let stuck = {
        let gate = gate.clone();
        endpoint_fn(move |_: &Context<'_>, _: Value| {
            drop(gate.lock());
            Ok::<_, Error>(Value::Null)
        })
    };
    let slow = Subscriber::json(stuck)
        .serve(&conn, "svc.stuck", None, 1)
        .unwrap();
    let _fast = Subscriber::json(uppercase_reply_endpoint(Strings))
        .serve(&conn, "svc.upper", None, 2)
        .unwrap();
    conn.flush(Duration::from_secs(5)).unwrap();
    // A flood the stuck subscriber cannot take.
    let flooder = connect(&server);
    for _ in 0..5000 {
        flooder.publish("svc.stuck", b"{}").unwrap();
    }
    flooder.flush(Duration::from_secs(5)).unwrap();
    // The same connection serves its other subject, promptly.
    let call = Publisher::<UppercaseRequest, UppercaseReply>::json(flooder.clone(), "svc.upper");
    let cx = Context::background();
    for i in 0..20 {
        let started = Instant::now();
        assert_eq!(
            call.call(&cx, UppercaseRequest { s: format!("q{i}") })
                .unwrap()
                .v,
            format!("Q{i}")
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    assert!(
        within(Duration::from_secs(5), || slow.dropped() > 4000),
        "dropped {}",
        slow.dropped()
    );
    assert!(conn.is_connected());
    drop(held);
}

#[test]
fn a_panicking_endpoint_fails_its_call_and_the_worker_serves_on() {
    let server = NatsServer::start();
    let conn = connect(&server);
    let fragile = endpoint_fn(|_: &Context<'_>, req: UppercaseRequest| {
        assert!(req.s != "boom", "the endpoint gave up");
        Ok::<_, Error>(UppercaseReply {
            v: req.s.to_uppercase(),
            err: None,
        })
    });
    // One worker: if it died, nothing after the panic would be served.
    let _serving = Subscriber::json(fragile)
        .serve(&conn, "svc.fragile", None, 1)
        .unwrap();
    conn.flush(Duration::from_secs(5)).unwrap();
    let call = Publisher::<UppercaseRequest, UppercaseReply>::json(conn.clone(), "svc.fragile");
    let cx = Context::background();
    for _ in 0..3 {
        assert_eq!(
            call.call(&cx, UppercaseRequest { s: "boom".into() }),
            Err(NatsError::Remote("the service failed".into()))
        );
        assert_eq!(
            call.call(&cx, UppercaseRequest { s: "ok".into() })
                .unwrap()
                .v,
            "OK"
        );
    }
}

#[test]
fn calls_end_at_their_deadline_or_when_cancelled() {
    let server = NatsServer::start();
    let conn = connect(&server);
    // Subscribed, never answering.
    let _silent = conn.subscribe("svc.silent", None).unwrap();
    conn.flush(Duration::from_secs(5)).unwrap();
    let call = Publisher::<Value, Value>::json(conn.clone(), "svc.silent");
    let root = Context::background();
    let cx = root.with_timeout(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(call.call(&cx, json!({})), Err(NatsError::DeadlineExceeded));
    assert!(
        started.elapsed() >= Duration::from_millis(200)
            && started.elapsed() < Duration::from_secs(1)
    );
    // Without a deadline, the publisher's own timeout.
    let short = Publisher::<Value, Value>::json(conn.clone(), "svc.silent")
        .timeout(Duration::from_millis(100));
    assert_eq!(
        short.call(&root, json!({})),
        Err(NatsError::DeadlineExceeded)
    );
    // Cancelled from another thread.
    let token = CancelToken::new();
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            token.cancel();
        });
        let cx = root.with_cancel(&token);
        assert_eq!(call.call(&cx, json!({})), Err(NatsError::Cancelled));
    });
    assert!(started.elapsed() < Duration::from_secs(1));
    // Bad subjects and payloads are refused before anything is sent.
    assert!(matches!(
        conn.publish("a b", b""),
        Err(NatsError::InvalidSubject(_))
    ));
    assert!(matches!(
        conn.subscribe("", None),
        Err(NatsError::InvalidSubject(_))
    ));
    assert_eq!(
        conn.publish("big", &vec![0; 2 << 20]),
        Err(NatsError::PayloadTooLarge(2 << 20))
    );
    assert!(conn.is_connected());
}

/// What a fake server answers, one write per read from the client.
type Script = &'static [&'static [u8]];

/// A fake server's first words.
const INFO: &[u8] = b"INFO {\"server_id\":\"fake\",\"max_payload\":1048576}\r\n";

/// A fake NATS server on a free port: it says `hello`, then each of
/// `replies` after reading from the client.
fn fake_server(hello: &'static [u8], replies: Script) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let _ = s.write_all(hello);
        let mut buf = [0; 4096];
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        for reply in replies {
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
        let _ = s.read(&mut buf);
    });
    (url, thread)
}

#[test]
fn servers_that_send_garbage_give_errors_not_panics() {
    let quick = Options {
        connect_timeout: Duration::from_millis(500),
        ..Options::default()
    };
    let cases: [(&'static [u8], Script, &str); 5] = [
        (b"HELLO there\r\n", &[], "protocol"),
        (b"INFO not json\r\n", &[], "protocol"),
        (INFO, &[b"\x00\x01\x02 garbage\r\n"], "protocol"),
        (INFO, &[b"-ERR 'Authorization Violation'\r\n"], "server"),
        (b"", &[], "io"),
    ];
    for (hello, after, want) in cases {
        let (url, fake) = fake_server(hello, after);
        let started = Instant::now();
        let err = Connection::connect(&url, quick.clone()).unwrap_err();
        let kind = match err {
            NatsError::Protocol(_) => "protocol",
            NatsError::Server(_) => "server",
            NatsError::Io(_) => "io",
            _ => "other",
        };
        assert_eq!(kind, want, "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let _ = fake.join();
    }
    // A good handshake, then a message far over the announced limit: the
    // reader drops the connection and tries again; nothing panics.
    let (url, fake) = fake_server(INFO, &[b"PONG\r\n", b"MSG a 1 99999999\r\n"]);
    let conn = Connection::connect(&url, quick).unwrap();
    assert!(within(Duration::from_secs(5), || !conn.is_connected()));
    conn.close();
    let _ = fake.join();
}
