//! Go's net/rpc JSON codec: Go's own `jsonrpc.Dial` client calling
//! synkit's server, the same bytes as Go's server for the same calls, a
//! stream that turns to garbage, and a thousand calls on one connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::transport::{concat_endpoint, sum_endpoint};
use synkit_tests::examples::Process;
use synkit_tests::gokit::{binary, free_addr};
use synkit_tests::registry::within;
use synkit_transports::http::server::ServerConfig;
use synkit_transports::netrpc::{self, Handle};

fn ours() -> Handle {
    netrpc::Server::new()
        .method("addsvc.Sum", sum_endpoint(Adder))
        .method("addsvc.Concat", concat_endpoint(Adder))
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap()
}

fn go_client(addr: SocketAddr, method: &str, params: &str) -> String {
    let addr = addr.to_string();
    synkit_tests::gokit::run(
        "kitnetrpc",
        &[
            "-mode", "client", "-addr", &addr, "-method", method, "-params", params,
        ],
    )
}

/// Sends `bytes` on a new connection and reads until it closes or goes
/// quiet.
fn raw(addr: SocketAddr, bytes: &[u8]) -> (String, bool) {
    raw_then(addr, bytes, false)
}

/// As [`raw`], ending the stream after `bytes` if `end`.
fn raw_then(addr: SocketAddr, bytes: &[u8], end: bool) -> (String, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.write_all(bytes).unwrap();
    if end {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

/// `addsvc.Sum(i, 1)` with id `i`, on the wire.
fn call(i: i64) -> String {
    format!(r#"{{"method":"addsvc.Sum","params":[{{"a":{i},"b":1}}],"id":{i}}}"#)
}

#[test]
fn gos_client_calls_synkits_server_and_reads_gos_errors() {
    let server = ours();
    let addr = server.local_addr();
    assert_eq!(
        go_client(addr, "addsvc.Sum", r#"{"a":2,"b":3}"#),
        r#"{"reply":{"v":5}}"#
    );
    assert_eq!(
        go_client(addr, "addsvc.Concat", r#"{"a":"go","b":"rpc"}"#),
        r#"{"reply":{"v":"gorpc"}}"#
    );
    assert_eq!(
        go_client(addr, "addsvc.Sum", r#"{"a":0,"b":0}"#),
        r#"{"error":"can't sum two zeroes"}"#
    );
    assert_eq!(
        go_client(addr, "addsvc.Nope", "{}"),
        r#"{"error":"rpc: can't find method addsvc.Nope"}"#
    );
    assert_eq!(
        go_client(addr, "Foo.Bar", "{}"),
        r#"{"error":"rpc: can't find service Foo.Bar"}"#
    );
    assert_eq!(
        go_client(addr, "nodot", "{}"),
        r#"{"error":"rpc: service/method request ill-formed: nodot"}"#
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn both_servers_write_the_same_bytes_and_close_on_garbage() {
    let go = free_addr();
    let _go = Process::start_command(
        Command::new(binary("kitnetrpc")).args(["-listen", &go.to_string()]),
    );
    assert!(within(Duration::from_secs(10), || TcpStream::connect(go).is_ok()));
    let server = ours();
    let synkit = server.local_addr();
    for call in [
        r#"{"method":"addsvc.Sum","params":[{"a":1,"b":2}],"id":7}"#,
        r#"{"method":"addsvc.Concat","params":[{"a":"x","b":"y"}],"id":"s"}"#,
        r#"{"method":"addsvc.Nope","params":[{}],"id":8}"#,
    ] {
        let (theirs, _) = raw(go, call.as_bytes());
        let (mine, _) = raw(synkit, call.as_bytes());
        assert_eq!(mine, theirs, "{call}");
    }
    // A good call, then garbage: the call is answered, the connection closed.
    let stream = br#"{"method":"addsvc.Sum","params":[{"a":1,"b":2}],"id":1}garbage"#;
    let (theirs, go_closed) = raw(go, stream);
    let (mine, closed) = raw(synkit, stream);
    assert_eq!(mine, theirs);
    assert!(closed && go_closed, "both close the connection");
    // A call cut off, then the end of the stream: closed, nothing answered.
    let (mine, closed) = raw_then(synkit, br#"{"method":"addsvc.Sum","params":[{"a""#, true);
    assert!(
        closed && mine.is_empty(),
        "closed {closed}, answered {mine:?}"
    );
    // And the server serves on.
    let (mine, _) = raw(
        synkit,
        br#"{"method":"addsvc.Sum","params":[{"a":4,"b":4}],"id":2}"#,
    );
    assert_eq!(mine, "{\"id\":2,\"result\":{\"v\":8},\"error\":null}\n");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_thousand_calls_on_one_connection_are_all_answered_by_id() {
    let server = ours();
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut batch = String::new();
    for i in 1..=1000 {
        batch += &call(i);
    }
    stream.write_all(batch.as_bytes()).unwrap();
    let mut lines = BufReader::new(stream.try_clone().unwrap());
    let mut answers = HashMap::new();
    for _ in 0..1000 {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        answers.insert(
            v["id"].as_i64().unwrap(),
            v["result"]["v"].as_i64().unwrap(),
        );
    }
    assert_eq!(answers.len(), 1000);
    assert!((1..=1000).all(|i| answers[&i] == i + 1));
    // The engine counts every call it served, as it does HTTP requests.
    let requests = server
        .stats()
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(requests, 1000);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn calls_sent_before_the_stream_ends_are_all_answered() {
    let server = ours();
    let mut calls = String::new();
    for i in 1..=100 {
        calls += &call(i);
    }
    let (answers, closed) = raw_then(server.local_addr(), calls.as_bytes(), true);
    assert!(closed);
    assert_eq!(answers.lines().count(), 100);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn synkits_client_calls_gos_server_in_time_and_in_parallel() {
    use std::sync::Arc;
    use synkit_core::{Context, Endpoint};
    use synkit_transports::netrpc::{self, NetRpcError};

    let go = free_addr();
    let _go = Process::start_command(
        Command::new(binary("kitnetrpc")).args(["-listen", &go.to_string()]),
    );
    assert!(within(Duration::from_secs(10), || TcpStream::connect(go).is_ok()));
    let client = Arc::new(netrpc::Client::new(go));
    let cx = Context::background();
    let sum = client.clone().endpoint::<Value, Value>("addsvc.Sum");
    assert_eq!(
        sum.call(&cx, serde_json::json!({"a": 2, "b": 3})).unwrap(),
        serde_json::json!({"v": 5})
    );
    assert_eq!(
        sum.call(&cx, serde_json::json!({"a": 0, "b": 0})),
        Err(NetRpcError::Server("can't sum two zeroes".into()))
    );
    assert_eq!(
        client.call::<_, Value>(&cx, "addsvc.Nope", &serde_json::json!({})),
        Err(NetRpcError::Server(
            "rpc: can't find method addsvc.Nope".into()
        ))
    );
    // Eight threads, a hundred calls each, on the one connection.
    std::thread::scope(|s| {
        for t in 0..8i64 {
            let sum = &sum;
            s.spawn(move || {
                let cx = Context::background();
                for i in 0..100i64 {
                    let a = t * 1000 + i + 1;
                    let v = sum.call(&cx, serde_json::json!({"a": a, "b": 1})).unwrap();
                    assert_eq!(v["v"], a + 1);
                }
            });
        }
    });

    // A server that never answers: the deadline ends the call.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let quiet = netrpc::Client::new(silent.local_addr().unwrap());
    let root = Context::background();
    let cx = root.with_timeout(synkit_core::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    assert_eq!(
        quiet.call::<_, Value>(&cx, "addsvc.Sum", &serde_json::json!({"a": 1, "b": 1})),
        Err(NetRpcError::DeadlineExceeded)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_call_longer_than_the_limit_closes_its_connection_only() {
    let server = ours();
    let mut huge = br#"{"method":"addsvc.Sum","params":[{"a":""#.to_vec();
    huge.extend(std::iter::repeat_n(
        b'7',
        synkit_transports::netrpc::MAX_CALL + 4096,
    ));
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server may close while this is still being written.
    let _ = s.write_all(&huge);
    let mut rest = Vec::new();
    // Closed: the end of the stream, or a reset; not a read timing out.
    let outcome = s.read_to_end(&mut rest);
    let closed = match &outcome {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(
        closed && rest.is_empty(),
        "{outcome:?}, answered {:?}",
        String::from_utf8_lossy(&rest)
    );
    let (mine, _) = raw(server.local_addr(), call(5).as_bytes());
    assert_eq!(mine, "{\"id\":5,\"result\":{\"v\":6},\"error\":null}\n");
    server.shutdown(Duration::from_secs(1));
}
