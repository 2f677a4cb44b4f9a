//! JSON-RPC 2.0 against Go kit 0.10's `transport/http/jsonrpc`: Go kit's
//! client calling synkit's addsvc, synkit's client calling Go kit's, the
//! same bytes where Go kit follows the spec, and the one place it does not.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use synkit_core::{Context, Endpoint, Error};
use synkit_examples::addsvc::{Adder, jsonrpc};
use synkit_tests::examples::Process;
use synkit_tests::gokit::{binary, free_addr};
use synkit_tests::registry::within;
use synkit_tests::wire::exchange;
use synkit_transports::http::server::{Server, ServerConfig};
use synkit_transports::jsonrpc::client::{CallError, client};

fn kit_client(url: &str, method: &str, params: &str) -> String {
    synkit_tests::gokit::run(
        "kitjsonrpc",
        &[
            "-mode", "client", "-url", url, "-method", method, "-params", params,
        ],
    )
}

fn kit_server() -> (Process, SocketAddr) {
    let addr = free_addr();
    let process = Process::start_command(
        Command::new(binary("kitjsonrpc")).args(["-listen", &addr.to_string()]),
    );
    assert!(within(Duration::from_secs(10), || {
        std::net::TcpStream::connect(addr).is_ok()
    }));
    (process, addr)
}

fn post(addr: SocketAddr, body: &str) -> String {
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let text = exchange(addr, request.as_bytes(), Duration::from_secs(2)).text();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[test]
fn go_kits_client_calls_synkits_server() {
    let ours = Server::new(jsonrpc::server(Adder))
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let url = format!("http://{}/", ours.local_addr());
    assert_eq!(
        kit_client(&url, "sum", r#"{"a":2,"b":3}"#),
        r#"{"result":{"v":5}}"#
    );
    assert_eq!(
        kit_client(&url, "concat", r#"{"a":"go","b":"kit"}"#),
        r#"{"result":{"v":"gokit"}}"#
    );
    assert_eq!(
        kit_client(&url, "sum", r#"{"a":0,"b":0}"#),
        r#"{"error":{"code":-32000,"message":"can't sum two zeroes"}}"#
    );
    assert_eq!(
        kit_client(&url, "nope", "{}"),
        r#"{"error":{"code":-32601,"message":"Method nope was not found."}}"#
    );
    ours.shutdown(Duration::from_secs(1));
}

#[test]
fn synkits_client_calls_go_kits_server() {
    let (_kit, addr) = kit_server();
    let url: synkit_transports::http::Uri = format!("http://{addr}/").parse().unwrap();
    let cx = Context::background();
    let sum = client::<Value, Value>(url.clone(), "sum");
    assert_eq!(
        sum.call(&cx, json!({"a": 2, "b": 3})).unwrap(),
        json!({"v": 5})
    );
    match sum.call(&cx, json!({"a": 0, "b": 0})) {
        Err(CallError::Rpc(e)) => assert_eq!(
            (e.code, e.message.as_str()),
            (-32000, "can't sum two zeroes")
        ),
        other => panic!("{other:?}"),
    }
    let nope = client::<Value, Value>(url.clone(), "nope");
    match nope.call(&cx, json!({})) {
        Err(CallError::Rpc(e)) => assert_eq!(
            (e.code, e.message.as_str()),
            (-32601, "Method nope was not found.")
        ),
        other => panic!("{other:?}"),
    }
    let concat = client::<Value, Value>(url, "concat");
    assert_eq!(
        concat.call(&cx, json!({"a": "a", "b": "b"})).unwrap(),
        json!({"v": "ab"})
    );
}

#[test]
fn both_servers_answer_alike_but_for_the_id_of_an_error() {
    let (_kit, kit) = kit_server();
    let ours = Server::new(jsonrpc::server(Adder))
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let ok = r#"{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":1}"#;
    assert_eq!(post(ours.local_addr(), ok), post(kit, ok));
    assert_eq!(
        post(kit, ok),
        "{\"jsonrpc\":\"2.0\",\"result\":{\"v\":3},\"id\":1}\n"
    );
    let string_id = r#"{"jsonrpc":"2.0","method":"concat","params":{"a":"x","b":"y"},"id":"abc"}"#;
    assert_eq!(post(ours.local_addr(), string_id), post(kit, string_id));
    // The spec says an error answers with the request's id; Go kit sends null.
    let failing = r#"{"jsonrpc":"2.0","method":"nope","id":7}"#;
    assert_eq!(
        post(kit, failing),
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"Method nope was not found.\"},\"id\":null}\n"
    );
    assert_eq!(
        post(ours.local_addr(), failing),
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"Method nope was not found.\"},\"id\":7}\n"
    );
    ours.shutdown(Duration::from_secs(1));
}

#[test]
fn a_call_past_its_deadline_fails_in_time() {
    // A server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap())
        .parse()
        .unwrap();
    let sum = client::<Value, Value>(url, "sum");
    let root = Context::background();
    let cx = root.with_timeout(synkit_core::time::Duration::from_millis(300));
    let started = Instant::now();
    match sum.call(&cx, json!({"a": 1, "b": 2})) {
        Err(CallError::Client(e)) => assert_eq!(e.kind(), Some(Error::DeadlineExceeded), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
